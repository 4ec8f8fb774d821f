"""A model's training state in and out of files: checkpoints and resuming.

This module sits below the model: it uses a network through its public surface
(``parameters``, ``set_parameters``, ``optimizer``, ``loss``, ``epochs_trained``,
``get_config``) and the file format through :mod:`xpnet.io`. ``saving.py`` builds new
models from files on top of it; ``Sequential.fit`` uses :class:`Checkpoint` and
:func:`prepare_resume`.

Before anything is built from a file, :func:`expected_shapes` builds its architecture's
layers on the host under an element budget set by the arrays the file really holds
(:class:`~xpnet.io.BuildBudget`), so a small file that declares huge layers fails before
it can allocate them.
"""

from __future__ import annotations

import json
import math
import os

from . import initializers as _initializers
from . import losses as _losses
from . import optim as _optim
from ._validation import check_positive_int
from .errors import ModelFileError, XpnetError, XpnetTypeError, XpnetValueError
from .io import FORMAT, FORMAT_VERSION, BuildBudget, TrainingState, read_state, write_state
from .layers import Dropout, layer_from_config

__all__ = ["Checkpoint", "fit_setup", "prepend_history", "prepare_resume", "state_of", "restore", "expected_shapes",
           "save_state"]

_OPTIMIZERS = {cls.__name__: cls for cls in (_optim.GradientDescent, _optim.Momentum, _optim.RMSprop, _optim.Adam)}
#: Host elements a file's architecture may draw beyond its stored arrays while being checked.
_BUILD_SLACK = 2**22


# -- model -> state --------------------------------------------------------------------------------
def state_of(net, history=None, metadata=None) -> tuple[dict, dict]:
    """The header (without digest) and the host arrays that describe ``net`` completely."""
    net.require_built()
    arrays = {f"param/{k}": net.backend.to_numpy(v) for k, v in net.parameters().items()}
    optimizer = None
    if net.optimizer is not None:
        opt = net.optimizer
        if type(opt).__name__ not in _OPTIMIZERS:
            raise XpnetTypeError(f"cannot save the optimizer {type(opt).__name__}: only {', '.join(_OPTIMIZERS)}")
        optimizer = {"class_name": type(opt).__name__, "config": opt.get_config(), "iterations": opt.iterations,
                     "state": sorted(opt.state)}
        arrays.update({f"opt/{k}": net.backend.to_numpy(v) for k, v in opt.state.items()})
    for name, value in (("metadata", metadata), ("history", history)):
        if value is not None and not isinstance(value, dict):
            raise XpnetTypeError(f"{name} must be a dict, got {type(value).__name__}")
    header = {
        "format": FORMAT,
        # Sequential files stay version 1 (readable by older xpnet); several-input models need 2.
        "version": FORMAT_VERSION if "model" in net.get_config() else 1,
        "config": net.get_config(),
        "loss": None if net.loss is None else net.loss.name,
        "optimizer": optimizer,
        "epochs_trained": int(net.epochs_trained),
        "shuffle_rng": net.shuffle_rng.bit_generator.state,
        # Dropout masks are a hash of (seed, step, element): a resume needs both to draw the same masks.
        "dropout": {key: [layer.seed, layer.step] for key, layer in _dropouts(net.layers)},
        "history": {k: [_finite_or_none(v) for v in values] for k, values in (history or {}).items()},
        "metadata": metadata or {},
        "parameters": sorted(net.parameters()),
    }
    try:
        json.dumps(header, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise XpnetTypeError(
            f"metadata and history must be JSON-serialisable (dicts, lists, str, finite numbers): {exc}"
        ) from None
    return header, arrays


def _dropouts(layers):
    """``(key, Dropout)`` for every Dropout layer: ``"3"`` for layer 3 itself, ``"3.drop_ff"`` for a
    block's sub-layer (a Transformer block's dropout must resume its mask stream too)."""
    for i, layer in enumerate(layers):
        if isinstance(layer, Dropout):
            yield str(i), layer
        else:
            for attr, sub in sorted(vars(layer).items()):
                if isinstance(sub, Dropout):
                    yield f"{i}.{attr}", sub


def _finite_or_none(value):
    # An infinite validation cost is a fact about one epoch, not a reason to lose the checkpoint.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_state(net, path, metadata=None, history=None) -> str:
    header, arrays = state_of(net, history, metadata)
    return write_state(path, header, arrays)


# -- state -> model --------------------------------------------------------------------------------
def _fail(path, field, why) -> ModelFileError:
    return ModelFileError(f"{path!r}: {field}: {why}")


def expected_shapes(config: dict, stored_elements: int, path: str) -> dict:
    """Parameter name -> shape for the architecture ``config``, built on the host within a budget.

    The budget is what the file stores (plus a little); a header declaring layers larger
    than its arrays fails here, before the real model allocates anything.
    """
    budget = BuildBudget(2 * stored_elements + _BUILD_SLACK, path)

    def first_shape(key):
        size = config[key]
        shape = (size,) if isinstance(size, int) else tuple(size)
        if any(n is not None and n > budget.left for n in shape):
            raise _fail(path, f"config.{key}", f"{size} is larger than anything the file stores")
        return shape

    shape = first_shape("input_size")
    # An encoder-decoder model: the decoder's stack starts again from its own input.
    decoder_starts = config.get("encoder_layers")
    shapes, index = {}, 0
    for i, spec in enumerate(config["layers"]):
        field = f"config.layers[{i}] ({spec['class_name']})"
        if i == decoder_starts:
            shape = first_shape("decoder_input_size")
        try:
            layer = layer_from_config(spec["class_name"], spec["config"])
            shape = layer.build(shape, backend=budget.backend, dtype=config["dtype"], rng=budget.rng)
        except ModelFileError:
            raise
        except Exception as exc:  # a layer's own checks, or a TypeError from an unknown keyword
            raise _fail(path, field, f"{type(exc).__name__}: {exc}") from None
        if layer.has_parameters:
            index += 1
            shapes.update({f"{k}{index}": tuple(s) for k, s in layer.parameter_shapes().items()})
    return shapes


def check_architecture(state: TrainingState) -> None:
    """Raise ModelFileError unless the stored arrays are exactly the architecture's parameters."""
    stored = {k: tuple(v.shape) for k, v in state.params.items()}
    expected = expected_shapes(state.header["config"], sum(v.size for v in state.params.values()), state.path)
    for name in sorted(set(expected) | set(stored)):
        if expected.get(name) != stored.get(name):
            raise _fail(state.path, f"param/{name}", f"the architecture needs shape {expected.get(name)}, "
                                                    f"the file stores {stored.get(name)}")


def restore(net, state: TrainingState, optimizer=None):
    """Put parameters, optimiser state, loss, epochs and shuffle state from ``state`` into ``net``."""
    path, header = state.path, state.header
    try:
        net.set_parameters(state.params)
    except XpnetError as exc:
        raise _fail(path, "parameters", f"do not fit the architecture: {exc}") from None
    spec = header["optimizer"]
    if spec is not None:
        cls = _OPTIMIZERS[spec["class_name"]]
        if optimizer is None:
            try:
                optimizer = cls(**spec["config"])
            except (XpnetError, TypeError) as exc:
                raise _fail(path, "optimizer.config", f"{spec['config']} is not a valid {cls.__name__}: {exc}") from None
        elif type(optimizer) is not cls or optimizer.get_config() != spec["config"]:
            raise XpnetValueError(
                f"the checkpoint {path!r} was trained with {cls.__name__}({spec['config']}), not {optimizer!r}; "
                "pass the same optimizer (or none) to resume"
            )
        with net.backend.context():
            optimizer.state = {k: net.backend.asarray(v, net.dtype) for k, v in state.opt_state.items()}
        optimizer.iterations = spec["iterations"]
        net.optimizer = optimizer
    if header["loss"] is not None:
        try:
            net.loss = _losses.get(header["loss"])
        except XpnetError as exc:
            raise _fail(path, "loss", str(exc)) from None
    net.epochs_trained = header["epochs_trained"]
    if header["shuffle_rng"]:
        rng = _initializers.host_rng(0)
        try:  # a fresh generator first: a bad state must not leave the model's half-set
            rng.bit_generator.state = header["shuffle_rng"]
        except Exception as exc:
            raise _fail(path, "shuffle_rng", f"unusable generator state: {exc}") from None
        net.shuffle_rng.bit_generator.state = header["shuffle_rng"]
    held = dict(_dropouts(net.layers))
    for key, (seed, step) in header.get("dropout", {}).items():
        if key not in held:
            raise _fail(path, "dropout", f"layer {key} is not a Dropout layer")
        held[key].seed, held[key].step = seed, step
    return net


# -- checkpoints and resume ------------------------------------------------------------------------
class Checkpoint:
    """A ``fit`` callback that saves the whole training state every ``every`` epochs.

    ``fit(..., checkpoint_every=N, checkpoint_path=PATH)`` adds one. The file is also written
    at the end of training (so it always holds the last completed epoch) and carries the
    per-epoch history, so a resumed run's ``History`` and learning curve are complete.
    """

    def __init__(self, path, every: int = 1, history: dict | None = None, metadata: dict | None = None):
        if path is None:
            raise XpnetValueError("checkpoint_path is required with checkpoint_every (e.g. 'run/checkpoint.npz')")
        self.path = os.fspath(path)
        self.every = check_positive_int(every, "checkpoint_every")
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self.metadata = metadata
        self.net = None
        self._saved_at = None

    def set_model(self, net):
        self.net = net

    def on_epoch_end(self, epoch, logs):
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if (epoch + 1) % self.every == 0:
            self._save()

    def on_train_end(self, logs):
        if self._saved_at != self.net.epochs_trained:
            self._save()

    def _save(self):
        save_state(self.net, self.path, self.metadata, history=self.history)
        self._saved_at = self.net.epochs_trained


#: The config entries two models must share for one to resume the other's training.
_ARCHITECTURE = ("model", "layers", "encoder_layers", "mask_zero", "transformer")


def build_arguments(config: dict) -> list:
    """The arguments of the model's ``build`` that recreate the input shapes of ``config``."""
    size = config["input_size"]
    if "decoder_input_size" in config:
        return [tuple(size), tuple(config["decoder_input_size"])]
    return [size if isinstance(size, int) else tuple(size)]


def fit_setup(net, *, resume_from, optimizer, learning_rate, loss, epochs, callbacks, checkpoint_every,
              checkpoint_path):
    """What every model's ``fit`` settles before the loop: resuming, checkpoints, the optimiser.

    Returns ``(loss, optimizer, callbacks, initial_epoch, previous)``: ``loss`` as given or
    restored (the model resolves its default), the optimiser to train with, the callbacks
    with a :class:`Checkpoint` appended when asked, the epoch to start at and the restored
    per-epoch history (``fit`` prepends it to the new one).
    """
    initial_epoch, previous = 0, {}
    if resume_from is not None:
        optimizer, loss, previous = prepare_resume(net, resume_from, optimizer, learning_rate, loss, epochs)
        learning_rate, initial_epoch = None, net.epochs_trained
    callbacks = list(callbacks or ())
    if checkpoint_every is not None or checkpoint_path is not None:
        callbacks.append(Checkpoint(checkpoint_path, 1 if checkpoint_every is None else checkpoint_every, previous))
    if optimizer is None and learning_rate is None and net.optimizer is not None:
        optimizer = net.optimizer
    optimizer = _optim.get(optimizer, learning_rate)
    if optimizer is not net.optimizer and optimizer.state:
        raise XpnetValueError(
            "this optimizer already holds state (velocities/moments) from another model; "
            "pass a new optimizer or call optimizer.reset() first"
        )
    return loss, optimizer, callbacks, initial_epoch, previous


def prepend_history(history, previous: dict):
    """A resumed run reports every epoch, not just the new ones: the checkpoint's come first."""
    for key, values in previous.items():
        history.history.setdefault(key, [])[:0] = values
    return history


def _same(a, b) -> bool:
    # JSON turns tuples into lists: (1, 5) in memory equals [1, 5] from a file.
    norm = lambda v: list(v) if isinstance(v, (tuple, list)) else v  # noqa: E731
    return norm(a) == norm(b)


def prepare_resume(net, path, optimizer, learning_rate, loss, epochs=None):
    """Restore ``net`` from the checkpoint at ``path`` for ``fit(resume_from=path)``.

    Returns ``(optimizer, loss, history)``: the optimiser with its saved state (the one
    given, if it matches the checkpoint's), the loss (given, else saved) and the saved
    per-epoch history, which ``fit`` prepends to the new one. ``epochs`` (the total) below
    the checkpoint's ``epochs_trained`` is refused: it would train nothing.
    """
    state = read_state(path)
    header, path = state.header, state.path
    config = header["config"]
    done = header["epochs_trained"]
    if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs < done:
        raise XpnetValueError(
            f"cannot resume from {path!r} with epochs={epochs}: it has already trained {done} epochs and epochs is "
            f"the TOTAL (as for the uninterrupted run); pass epochs > {done} to train more"
        )
    mine = net.get_config()
    sizes = ("input_size", "decoder_input_size") if net.built else ()
    if any(not _same(mine.get(k), config.get(k)) for k in _ARCHITECTURE + sizes):
        raise XpnetValueError(
            f"cannot resume from {path!r}: it holds a different architecture "
            f"({config['input_size']} inputs, {config['layers']}) than this model "
            f"({mine['input_size']} inputs, {mine['layers']})"
        )
    if mine["dtype"] != config["dtype"]:
        raise XpnetValueError(f"cannot resume from {path!r}: it was trained in {config['dtype']}, this model is {mine['dtype']}")
    check_architecture(state)
    if not net.built:
        net.build(*build_arguments(config))
    if optimizer is not None and not isinstance(optimizer, _optim.Optimizer):
        optimizer = _optim.get(optimizer, learning_rate)
    elif learning_rate is not None:
        raise XpnetValueError("resume_from restores the optimizer; pass learning_rate through the optimizer object")
    if optimizer is not None and header["optimizer"] is not None:
        optimizer.reset()
    net.optimizer = None
    restore(net, state, optimizer)
    if loss is None:
        loss = net.loss
    return (net.optimizer if net.optimizer is not None else optimizer), loss, header["history"]
