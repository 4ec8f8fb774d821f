"""Callbacks: code that ``fit`` runs around every epoch (Sequential, Seq2Seq and Transformer alike).

The protocol (every method optional; :class:`Callback` gives no-op defaults):
``set_model(net)``, ``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``,
``on_epoch_end(epoch, logs) -> stop?`` and ``on_train_end(logs)``. ``logs`` at the end of
an epoch holds ``"cost"``, ``"learning_rate"`` and, with validation data, ``"val_cost"``
and ``"val_accuracy"``.
"""

from __future__ import annotations

import math

from ._validation import check_int, check_non_negative, check_positive, check_positive_int
from .errors import XpnetTypeError, XpnetValueError

__all__ = ["Callback", "EarlyStopping", "LearningRateSchedule", "StepDecay", "InverseTimeDecay", "LambdaCallback"]


class Callback:
    """Base class: override the hooks you need. ``self.model`` is the network being trained."""

    def __init__(self):
        self.model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs):
        """Return True to stop training after this epoch."""
        return False

    def on_train_end(self, logs) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs: ``"val_cost"`` (default; needs ``validation_data`` or
        ``validation_split``), ``"cost"``, ``"val_accuracy"``.
    patience : int
        Stop after this many consecutive epochs without improvement (as Keras counts it:
        0 and 1 both stop at the first epoch that does not improve).
    min_delta : float
        An improvement must beat the best value by more than this.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; auto: larger for names with "accuracy".
    restore_best : bool
        When training ends, put back the parameters of the best epoch.

    Attributes
    ----------
    best : float
        The best value seen. ``best_epoch``: its epoch. ``stopped_epoch``: the epoch after
        which training stopped (None if it ran to the end).

    Examples
    --------
    >>> import xpnet as xn
    >>> stop = xn.EarlyStopping(monitor="val_cost", patience=10)
    >>> # net.fit(X, Y, validation_split=0.2, epochs=1000, callbacks=[stop])
    """

    def __init__(self, monitor: str = "val_cost", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best: bool = True):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise XpnetTypeError(f"monitor must be the name of a logged metric such as 'val_cost', got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise XpnetValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.patience = check_int(patience, "patience", 0)
        self.min_delta = check_non_negative(min_delta, "min_delta")
        self.mode = ("max" if "accuracy" in monitor else "min") if mode == "auto" else mode
        self.restore_best = bool(restore_best)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.best_parameters = None
        self.stopped_epoch = None
        self.wait = 0

    def on_train_begin(self, logs):
        self._reset()

    def _improved(self, value) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise XpnetValueError(
                f"EarlyStopping monitors {self.monitor!r}, which fit did not record (this epoch logged: "
                f"{', '.join(logs)}); pass validation_data=(X_val, Y_val) or validation_split=..., "
                "or monitor='cost'"
            )
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                # Updates are functional: the arrays held here are never modified in place.
                self.best_parameters = dict(self.model.parameters())
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, logs):
        if self.restore_best and self.best_parameters is not None:
            self.model.assign_parameters(self.best_parameters)


class LearningRateSchedule(Callback):
    """Set ``optimizer.learning_rate = rate(epoch)`` at the start of every epoch.

    Parameters
    ----------
    initial_learning_rate : float, optional
        lr0; default: the optimiser's learning rate when training begins.
    """

    def __init__(self, initial_learning_rate: float | None = None):
        super().__init__()
        if initial_learning_rate is not None:
            initial_learning_rate = check_positive(initial_learning_rate, "initial_learning_rate")
        self.initial_learning_rate = initial_learning_rate
        self._lr0 = initial_learning_rate

    def rate(self, epoch: int) -> float:
        raise NotImplementedError

    def on_train_begin(self, logs):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise XpnetTypeError(f"{type(self).__name__} needs a model whose optimizer has a learning_rate")
        self._lr0 = self.initial_learning_rate if self.initial_learning_rate is not None else optimizer.learning_rate

    def on_epoch_begin(self, epoch, logs):
        self.model.optimizer.learning_rate = float(self.rate(epoch))


class StepDecay(LearningRateSchedule):
    """lr = lr0 * factor ** floor(epoch / interval): multiply by ``factor`` every ``interval`` epochs.

    Examples
    --------
    >>> import xpnet as xn
    >>> s = xn.StepDecay(factor=0.5, interval=10, initial_learning_rate=0.1)
    >>> s.rate(0), s.rate(10), s.rate(25)
    (0.1, 0.05, 0.025)
    """

    def __init__(self, factor: float = 0.5, interval: int = 10, initial_learning_rate: float | None = None):
        super().__init__(initial_learning_rate)
        self.factor = check_positive(factor, "factor")
        self.interval = check_positive_int(interval, "interval")

    def rate(self, epoch):
        return self._lr0 * self.factor ** (epoch // self.interval)


class InverseTimeDecay(LearningRateSchedule):
    """The course's decay: lr = lr0 / (1 + decay_rate * floor(epoch / interval)).

    ``interval=1`` is the plain ``lr0 / (1 + decay_rate * epoch)``; a larger interval is the
    course's "fixed interval scheduling".

    Examples
    --------
    >>> import xpnet as xn
    >>> s = xn.InverseTimeDecay(decay_rate=1.0, interval=1000, initial_learning_rate=0.1)
    >>> s.rate(0), s.rate(999), s.rate(1000)
    (0.1, 0.1, 0.05)
    """

    def __init__(self, decay_rate: float = 1.0, interval: int = 1, initial_learning_rate: float | None = None):
        super().__init__(initial_learning_rate)
        self.decay_rate = check_non_negative(decay_rate, "decay_rate")
        self.interval = check_positive_int(interval, "interval")

    def rate(self, epoch):
        return self._lr0 / (1.0 + self.decay_rate * (epoch // self.interval))


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. a per-epoch hook.

    Parameters
    ----------
    on_epoch_end : callable(epoch, logs), optional
        Return True to stop training.
    on_epoch_begin : callable(epoch, logs), optional
    on_train_begin, on_train_end : callable(logs), optional

    Examples
    --------
    >>> import xpnet as xn
    >>> seen = []
    >>> hook = xn.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["cost"]))
    """

    def __init__(self, on_epoch_end=None, on_epoch_begin=None, on_train_begin=None, on_train_end=None):
        super().__init__()
        hooks = {"on_epoch_end": on_epoch_end, "on_epoch_begin": on_epoch_begin,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end}
        for name, fn in hooks.items():
            if fn is not None and not callable(fn):
                raise XpnetTypeError(f"LambdaCallback {name} must be callable, got {type(fn).__name__}")
        self._hooks = hooks

    def on_train_begin(self, logs):
        if self._hooks["on_train_begin"]:
            self._hooks["on_train_begin"](logs)

    def on_epoch_begin(self, epoch, logs):
        if self._hooks["on_epoch_begin"]:
            self._hooks["on_epoch_begin"](epoch, logs)

    def on_epoch_end(self, epoch, logs):
        fn = self._hooks["on_epoch_end"]
        return bool(fn(epoch, logs)) if fn else False

    def on_train_end(self, logs):
        if self._hooks["on_train_end"]:
            self._hooks["on_train_end"](logs)
