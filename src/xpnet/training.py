"""The training step and the loop behind :meth:`Sequential.fit`.

:func:`train_step` is one step of gradient descent on one batch: forward propagation, the
cost (plus the L2 penalty), backward propagation, optional gradient-norm clipping and the
optimiser's update. ``fit``, the benchmarks and the reference's vectorized implementation
all run this one function. :func:`train` runs the epochs: (optionally) shuffle the
examples, then one step per mini-batch. The epoch's training cost is the mean over every
example of the epoch, each batch's cost taken before that batch's update; with the full
batch that is exactly the course's "cost after iteration i".

Both work on any model with the public surface of :class:`~xpnet.Sequential`
(``forward``, ``cost``, ``backward``, ``parameters``, ``assign_parameters``, ...); this
module does not import the model. A model with several inputs (:class:`~xpnet.Seq2Seq`)
takes X as a tuple ``(X_enc, X_dec)`` and gives a tuple ``examples_axis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import initializers as _initializers
from ._validation import check_batch_size, check_epochs, check_non_negative, check_positive
from .backends.kernels import kernels_of
from .errors import DeviceOutOfMemoryError, TrainingDivergedError
from .optim import StepGradients

__all__ = ["History", "train_step", "train"]


@dataclass
class History:
    """What :meth:`Sequential.fit` records, one entry per epoch.

    Attributes
    ----------
    costs : list of float
        ``costs[i]`` is epoch i's training cost: the mean over the epoch's examples of the
        cost before each update (full batch: the cost before epoch i's update).
    history : dict of str to list
        Every per-epoch metric by name: ``"cost"`` (the same list as ``costs``) and, with
        validation data, ``"val_cost"`` and ``"val_accuracy"``; ``"learning_rate"``.
    """

    costs: list = field(default_factory=list)
    history: dict = field(default_factory=dict)

    def __post_init__(self):
        self.history.setdefault("cost", self.costs)

    @property
    def epochs(self) -> int:
        return len(self.costs)

    def record(self, logs: dict) -> None:
        for key, value in logs.items():
            if key == "cost":
                self.costs.append(value)
            else:
                self.history.setdefault(key, []).append(value)


def shuffle_rng(seed: int):
    """The host generator that orders mini-batches: derived from the model's seed, not the init stream."""
    return _initializers.host_rng([seed, 1])


def batch_slices(m: int, batch_size, order):
    """The columns of each mini-batch: a slice, or an index array when shuffled.

    The last partial batch is kept. None means the whole set, untouched (no copy).
    """
    if batch_size is None or batch_size >= m:
        return [order] if order is not None else [None]
    bounds = [(start, min(start + batch_size, m)) for start in range(0, m, batch_size)]
    if order is None:
        return [slice(a, b) for a, b in bounds]
    return [order[a:b] for a, b in bounds]


def take_columns(A, cols, axis=1):
    """The examples ``cols`` of A along ``axis`` (1 for (n, m[, T]); 0 for token ids (m, T)).

    ``cols`` is None (all of them: A itself), a slice (a view) or an index array (a gather by
    the backend's kernels). A model with several inputs gives a tuple of arrays and a tuple
    of axes, one per input.
    """
    if cols is None:
        return A
    if isinstance(A, tuple):
        return tuple(take_columns(a, cols, ax) for a, ax in zip(A, axis))
    if isinstance(cols, slice):
        return A[cols, ...] if axis == 0 else A[:, cols, ...]
    return kernels_of(A).take_examples(A, cols, axis)


def examples_outermost(A, axis=1):
    """A (or each input of a tuple) laid out by its kernels for gathering shuffled mini-batches."""
    if isinstance(A, tuple):
        return tuple(examples_outermost(a, ax) for a, ax in zip(A, axis))
    return kernels_of(A).examples_outermost(A, axis)


def hold_out_last(X, Y, n_held: int, x_axis=1):
    """``X, Y, (X_held, Y_held)``: the last ``n_held`` examples held out, in their order.

    ``X`` may be a tuple of inputs with a tuple ``x_axis``, as :func:`take_columns`.
    """
    m = int(Y.shape[1])
    kept, held = slice(0, m - n_held), slice(m - n_held, m)
    return (take_columns(X, kept, x_axis), take_columns(Y, kept, 1),
            (take_columns(X, held, x_axis), take_columns(Y, held, 1)))


def l2_penalty(net, l2: float, m: int):
    """lambda / (2 m) * sum of squared weights (biases are not regularised)."""
    xp = net.xp
    total = None
    for layer in net.layers:
        for name in layer.regularized:
            W = layer.params[name]
            term = xp.sum(W * W)
            total = term if total is None else total + term
    return None if total is None else (l2 / (2.0 * m)) * total


def add_l2_gradients(net, grads: dict, l2: float, m: int) -> None:
    for layer in net.layers:
        for name in layer.regularized:
            key = f"d{name}{layer.index}"
            grads[key] = grads[key] + (l2 / m) * layer.params[name]


def clip_by_global_norm(xp, grads: dict, max_norm: float) -> dict:
    """Scale every gradient by min(1, max_norm / ||all gradients||_2)."""
    total = None
    for g in grads.values():
        s = xp.sum(g * g)
        total = s if total is None else total + s
    norm = xp.sqrt(total)
    scale = xp.minimum(max_norm / (norm + 1e-12), xp.ones_like(norm))
    return {k: g * scale for k, g in grads.items()}


def train_step(net, X, Y, *, loss, optimizer, l2=0.0, clip_norm=None, clip_value=None):
    """One step of gradient descent on one batch; the model then holds the new parameters.

    Parameters
    ----------
    net : Sequential or Seq2Seq
        The model (built).
    X, Y : arrays
        One batch on the model's backend (see :meth:`Sequential.prepare_input` and
        :meth:`Sequential.prepare_targets`): X ``(n_x, mb)``, Y ``(n_out, mb)``; for a model
        with several inputs X is a tuple of them (``(X_enc, X_dec)``) and Y holds the
        examples on axis 1.
    loss : Loss
        The loss object (:func:`xpnet.losses.get`).
    optimizer : Optimizer
        Its ``update`` makes the new parameters (and advances its state).
    l2 : float
        lambda of L2 regularisation (0: none).
    clip_norm : float, optional
        Rescale the gradients whenever their global L2 norm exceeds this.
    clip_value : float, optional
        Then clip every gradient element to ``[-clip_value, clip_value]`` (the course's ``clip``).

    Returns
    -------
    array
        J of this batch before the update, a 0-d array on the model's device (the L2
        penalty included).
    """
    l2 = check_non_negative(l2, "l2")
    clip_norm = None if clip_norm is None else check_positive(clip_norm, "clip_norm")
    clip_value = None if clip_value is None else check_positive(clip_value, "clip_value")
    mb = int(Y.shape[1])  # Y holds the examples on axis 1 for every first layer
    # A model with several inputs (encoder and decoder) receives them as positional arguments.
    AL, caches = net.forward(*X, training=True) if isinstance(X, tuple) else net.forward(X, training=True)
    cost = net.cost(AL, Y, caches, loss)
    grads = net.backward(AL, Y, caches, loss)
    del caches, AL  # free the activations before the update allocates new parameters
    if l2:
        penalty = l2_penalty(net, l2, mb)
        cost = cost if penalty is None else cost + penalty
        add_l2_gradients(net, grads, l2, mb)
    if clip_norm is not None:
        grads = clip_by_global_norm(net.xp, grads, clip_norm)
    if clip_value is not None:
        grads = clip_by_value(net.xp, grads, clip_value)
    # The gradients are this step's own and read no more: the update may reuse their memory
    # (rebound, so that no second dict keeps them).
    grads = StepGradients(grads)
    net.assign_parameters(optimizer.update(net.parameters(), grads))
    return cost


def clip_by_value(xp, grads: dict, max_value: float) -> dict:
    """Clip every gradient element to [-max_value, max_value] (the course's ``clip``)."""
    return {k: xp.clip(g, -max_value, max_value) for k, g in grads.items()}


def train(
    net,
    X,
    Y,
    *,
    loss,
    optimizer,
    epochs,
    batch_size=None,
    shuffle=True,
    validation=None,
    l2=0.0,
    clip_norm=None,
    clip_value=None,
    callbacks=(),
    verbose=0,
    initial_epoch=0,
) -> History:
    """Run the training loop on device arrays ``X``, ``Y`` (already validated)."""
    epochs = check_epochs(epochs)
    m = int(Y.shape[1])  # Y always holds the examples on axis 1; X on net.examples_axis
    x_axis = net.examples_axis
    batch_size = check_batch_size(batch_size, m)
    l2 = check_non_negative(l2, "l2")
    clip_norm = None if clip_norm is None else check_positive(clip_norm, "clip_norm")
    clip_value = None if clip_value is None else check_positive(clip_value, "clip_value")
    backend = net.backend
    # Readable while the loop runs (as Keras's model.history): what an interrupt handler saves.
    history = net.history = History()
    callbacks = list(callbacks)
    for cb in callbacks:
        _call(cb, "set_model", net)
        _call(cb, "on_train_begin", {})
    rng = net.shuffle_rng
    shuffling = shuffle and batch_size is not None and batch_size < m
    if shuffling:  # once per call: each epoch then gathers its batches from this layout
        X, Y = examples_outermost(X, x_axis), examples_outermost(Y, 1)
    # Large temporaries of one step are handed to the next (NumPy: no fresh pages per
    # step); dropped when training ends.
    with backend.kernels.reusing_buffers():
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                _call(cb, "on_epoch_begin", epoch, {})
            # Updates build new arrays (or reuse the step's own gradients' memory), never writing
            # the old parameters or state, so references (and a shallow copy of the optimiser's
            # state) are a free snapshot to roll back to. The generator moves only when shuffling.
            before = net.parameters(), dict(optimizer.state), optimizer.iterations, \
                (rng.bit_generator.state if shuffling else None)
            order = backend.asarray(rng.permutation(m)) if shuffling else None
            epoch_cost = None

            def rollback():
                net.assign_parameters(before[0])
                optimizer.state, optimizer.iterations = before[1], before[2]
                if before[3] is not None:
                    rng.bit_generator.state = before[3]

            try:
                # Overflow/invalid-value warnings from a diverging step are not the user's signal:
                # the non-finite check below is, and it restores the last finite parameters.
                with backend.quiet_float_errors():
                    for cols in batch_slices(m, batch_size, order):
                        Xb, Yb = take_columns(X, cols, x_axis), take_columns(Y, cols)
                        cost = train_step(net, Xb, Yb, loss=loss, optimizer=optimizer, l2=l2, clip_norm=clip_norm,
                                          clip_value=clip_value)
                        weighted = cost if cols is None else cost * (int(Yb.shape[1]) / m)
                        epoch_cost = weighted if epoch_cost is None else epoch_cost + weighted
                        # Lazy backends (dask) evaluate cost, parameters and the optimiser's state
                        # together here, once per step; eager ones return them as they are.
                        params = net.parameters()
                        epoch_cost, persisted, optimizer.state = backend.persist(epoch_cost, params, optimizer.state)
                        if persisted is not params:
                            net.assign_parameters(persisted)
                    value, finite_params = epoch_status(backend, epoch_cost, persisted)
            except KeyboardInterrupt:
                rollback()  # Ctrl-C mid-epoch: the model is exactly the last completed epoch, resumable
                raise
            except Exception as exc:
                if not backend.is_out_of_memory(exc):
                    raise
                rollback()
                backend.free_memory()
                raise out_of_memory_error(backend, epoch, batch_size, m) from exc
            if not math.isfinite(value) or not finite_params:
                rollback()
                what = (f"the training cost became {value}" if not math.isfinite(value)
                        else "a parameter became NaN or infinite")
                raise TrainingDivergedError(
                    f"{what} at epoch {epoch}; the model keeps the parameters from before "
                    f"that epoch. Try a smaller learning rate (now {getattr(optimizer, 'learning_rate', '?')}), "
                    "gradient clipping (clip_norm=...) or standardised inputs"
                )
            logs = {"cost": value, "learning_rate": getattr(optimizer, "learning_rate", None)}
            if validation is not None:
                result = net.compute_metrics(*validation, loss)
                logs.update({"val_" + k: v for k, v in result.items()})
            history.record(logs)
            net.epochs_trained = epoch + 1
            if verbose and (epoch % verbose == 0 or epoch == epochs - 1):
                extra = "".join(f", {k} {v:.6f}" for k, v in logs.items() if k.startswith("val_"))
                print(f"Cost after epoch {epoch}: {value:.6f}{extra}")
            stop = False
            for cb in callbacks:
                stop = bool(_call(cb, "on_epoch_end", epoch, logs)) or stop
            if stop:
                break
    for cb in callbacks:
        _call(cb, "on_train_end", {})
    return history


def epoch_status(backend, epoch_cost, params: dict) -> tuple[float, bool]:
    """The epoch's cost and whether every parameter is finite, in ONE device -> host transfer."""
    return backend.kernels.cost_and_finite(epoch_cost, params.values(), backend.to_numpy)


def out_of_memory_error(backend, epoch: int, batch_size, m: int) -> DeviceOutOfMemoryError:
    """The error that replaces a device's out-of-memory exception during training."""
    current = batch_size or m
    batch = f"batch_size={batch_size}" if batch_size else f"the full batch (all {m} examples at once)"
    return DeviceOutOfMemoryError(
        f"{backend.describe()} ran out of memory at epoch {epoch} with {batch}; "
        f"pass a smaller batch_size (e.g. batch_size={max(1, current // 2)}), fewer or narrower layers, "
        "or dtype='float32'. The model keeps the parameters from before that epoch"
    )


def _call(cb, method, *args):
    fn = getattr(cb, method, None)
    return fn(*args) if fn is not None else None

