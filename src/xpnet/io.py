"""Save and load models and training checkpoints, safely.

File format: a NumPy ``.npz`` archive (read with ``allow_pickle=False``; never pickle)
holding

* ``__xpnet__``: a JSON header (UTF-8 bytes as uint8): the format name and version, the
  architecture (``net.get_config()``), the loss, the optimiser (class, config, step count),
  ``epochs_trained``, the mini-batch shuffle generator's state, the per-epoch history, the
  caller's ``metadata`` and a SHA-256 digest of everything else;
* ``param/W1``, ``param/b1``, ...: the parameters, on the host, in the model's dtype;
* ``opt/v_W1``, ...: the optimiser's state arrays (Momentum, RMSprop and Adam moments).

Saves are atomic: the archive is written to a temporary file in the same directory,
flushed to disk (fsync) and renamed over the target with ``os.replace``, so a crash or a
kill mid-save leaves the previous file intact. Every way a file can be unusable (missing,
truncated, corrupted, edited, another kind of ``.npz``, a newer format) raises
:class:`~xpnet.errors.ModelFileError`. The digest detects accidental damage and edits made
without updating it; it is not a signature against a deliberate forger.

Resuming (``fit(..., resume_from=PATH)``) restores parameters, optimiser state,
``epochs_trained`` and the shuffle generator, then continues at epoch ``epochs_trained``:
``epochs`` is the TOTAL number of epochs (as Keras's ``initial_epoch``), so the resumed run
ends with exactly the parameters of an uninterrupted run of ``epochs`` epochs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np

from . import losses as _losses
from . import optim as _optim
from .errors import ModelFileError, XpnetError, XpnetTypeError, XpnetValueError

__all__ = ["save", "load", "read_header", "Checkpoint", "FORMAT", "FORMAT_VERSION"]

FORMAT = "xpnet-model"
FORMAT_VERSION = 1
_HEADER = "__xpnet__"
_OPTIMIZERS = {cls.__name__: cls for cls in (_optim.GradientDescent, _optim.Momentum, _optim.RMSprop, _optim.Adam)}


# -- writing ---------------------------------------------------------------------------------------
def _digest(header: dict, arrays: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(header, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _state(net, history=None, metadata=None):
    """The header (without digest) and the arrays that describe ``net`` completely."""
    from .model import Sequential

    if not isinstance(net, Sequential):
        raise XpnetTypeError(f"save needs an xpnet Sequential, got {type(net).__name__}")
    net._require_built()
    arrays = {f"param/{k}": net.backend.to_numpy(v) for k, v in net.parameters().items()}
    optimizer = None
    if net.optimizer is not None:
        opt = net.optimizer
        if type(opt).__name__ not in _OPTIMIZERS:
            raise XpnetTypeError(f"cannot save the optimizer {type(opt).__name__}: only {', '.join(_OPTIMIZERS)}")
        optimizer = {"class_name": type(opt).__name__, "config": opt.get_config(), "iterations": opt.iterations,
                     "state": sorted(opt.state)}
        arrays.update({f"opt/{k}": net.backend.to_numpy(v) for k, v in opt.state.items()})
    if metadata is not None:
        try:
            json.dumps(metadata)
        except (TypeError, ValueError) as exc:
            raise XpnetTypeError(f"metadata must be JSON-serialisable (dicts, lists, str, numbers): {exc}") from None
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": net.get_config(),
        "loss": None if net.loss is None else net.loss.name,
        "optimizer": optimizer,
        "epochs_trained": int(net.epochs_trained),
        "shuffle_rng": net._shuffle_rng.bit_generator.state,
        "history": history or {},
        "metadata": metadata or {},
        "parameters": sorted(net.parameters()),
    }
    return header, arrays


def save(net, path, metadata=None, *, history=None) -> str:
    """Write ``net`` to ``path`` (an ``.npz`` archive), atomically.

    Parameters
    ----------
    net : Sequential
        A built model; its optimiser state, loss, ``epochs_trained`` and shuffle
        generator are saved with it, so training can resume exactly.
    path : str or PathLike
        The file to write (conventionally ``*.npz``); its directory must exist. A previous
        file at ``path`` is replaced only once the new one is completely on disk.
    metadata : dict, optional
        JSON-serialisable extras stored beside the model (``xn.read_header(path)["metadata"]``).
    history : dict, optional
        Per-epoch metrics to store (what checkpoints use to keep the learning curve).

    Returns
    -------
    str
        The path written.

    Examples
    --------
    >>> import os, tempfile, xpnet as xn
    >>> net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=3, seed=0, backend="numpy")
    >>> path = xn.save(net, os.path.join(tempfile.mkdtemp(), "model.npz"))
    >>> xn.load(path).parameters()["W1"].shape
    (1, 3)
    """
    path = os.fspath(path)
    header, arrays = _state(net, history, metadata)
    header["digest"] = _digest(header, arrays)
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise XpnetValueError(f"cannot save to {path!r}: the directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    return path


def _fsync_dir(directory):
    # Make the rename itself durable; not possible on every platform (e.g. Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading ---------------------------------------------------------------------------------------
def _read(path):
    """(header, arrays) from a file, every failure as ModelFileError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"model file {path!r} does not exist")
    try:
        # Our own file handle: np.load leaks its handle when it refuses a damaged file.
        with open(path, "rb") as fh:
            f = np.load(fh, allow_pickle=False)
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{path!r} is a single .npy array, not an xpnet model (.npz)")
            with f:
                arrays = {k: f[k] for k in f.files}  # reading every member checks its CRC
    except ModelFileError:
        raise
    except Exception as exc:  # zipfile, struct, numpy's header parser...: every one means a damaged file
        if isinstance(exc, FileNotFoundError):
            raise ModelFileError(f"model file {path!r} does not exist") from None
        raise ModelFileError(f"{path!r} is not a readable xpnet model file (truncated or corrupted?): {exc}") from None
    if _HEADER not in arrays:
        raise ModelFileError(f"{path!r} is a .npz archive but not an xpnet model (no {_HEADER!r} entry)")
    raw = arrays.pop(_HEADER)
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path!r} has a damaged header: {exc}") from None
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path!r} is not an xpnet model file (format {header.get('format')!r})")
    version = header.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has format version {version!r}; this xpnet reads versions <= {FORMAT_VERSION}: upgrade xpnet"
        )
    digest = header.pop("digest", None)
    if digest != _digest(header, arrays):
        raise ModelFileError(f"{path!r} failed its integrity check (SHA-256 digest mismatch): the file was altered")
    return header, arrays


def read_header(path) -> dict:
    """The JSON header of a saved model (architecture, optimiser, epochs, metadata), checked."""
    header, _ = _read(path)
    return header


def _restore(net, header, arrays, path, optimizer=None):
    """Put parameters, optimiser state, loss, epochs and shuffle state from a file into ``net``."""
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    if sorted(params) != header.get("parameters"):
        raise ModelFileError(f"{path!r}: the parameter list does not match its header")
    try:
        net.set_parameters(params)
    except XpnetError as exc:
        raise ModelFileError(f"{path!r} does not fit its architecture: {exc}") from None
    spec = header.get("optimizer")
    if spec is not None:
        cls = _OPTIMIZERS.get(spec.get("class_name"))
        if cls is None:
            raise ModelFileError(f"{path!r} names an unknown optimizer {spec.get('class_name')!r}")
        if optimizer is None:
            optimizer = cls(**spec["config"])
        elif type(optimizer) is not cls or optimizer.get_config() != spec["config"]:
            raise XpnetValueError(
                f"the checkpoint {path!r} was trained with {cls.__name__}({spec['config']}), not {optimizer!r}; "
                "pass the same optimizer (or none) to resume"
            )
        state_keys = spec.get("state", [])
        missing = [k for k in state_keys if f"opt/{k}" not in arrays]
        if missing:
            raise ModelFileError(f"{path!r} lacks the optimizer state {missing}")
        with net.backend.context():
            optimizer.state = {k: net.backend.asarray(arrays[f"opt/{k}"], net.dtype) for k in state_keys}
        optimizer.iterations = int(spec["iterations"])
        net.optimizer = optimizer
    if header.get("loss") is not None:
        net.loss = _losses.get(header["loss"])
    net.epochs_trained = int(header.get("epochs_trained", 0))
    if header.get("shuffle_rng"):
        try:
            net._shuffle_rng.bit_generator.state = header["shuffle_rng"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{path!r} has an unusable shuffle-generator state: {exc}") from None
    return net


def load(path, backend=None):
    """Read a model written by :func:`save` onto any backend.

    Parameters
    ----------
    path : str or PathLike
    backend : str or Backend, optional
        Where the parameters go (``"numpy"``, ``"gpu"``, ...); default as for
        :class:`~xpnet.Sequential` (the ``use_backend`` scope, ``XPNET_BACKEND``, auto).

    Returns
    -------
    Sequential
        With its parameters, loss, optimiser (and state), ``epochs_trained`` and shuffle
        generator restored; ``fit`` continues training it.

    Raises
    ------
    ModelFileError
        The file is missing, truncated, corrupted, altered or not an xpnet model.
    """
    from .model import Sequential

    header, arrays = _read(path)
    try:
        net = Sequential.from_config(header["config"], backend=backend)
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{os.fspath(path)!r} has an unusable architecture: {exc!r}") from None
    if not net.built:
        raise ModelFileError(f"{os.fspath(path)!r} holds a model without input_size")
    return _restore(net, header, arrays, os.fspath(path))


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
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise XpnetValueError(f"checkpoint_every must be a positive int (epochs between saves), got {every!r}")
        self.path = os.fspath(path)
        self.every = every
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
        save(self.net, self.path, self.metadata, history=self.history)
        self._saved_at = self.net.epochs_trained


def prepare_resume(net, path, optimizer, learning_rate, loss):
    """Restore ``net`` from the checkpoint at ``path`` for ``fit(resume_from=path)``.

    Returns ``(optimizer, loss, history)``: the optimiser with its saved state (the one
    given, if it matches the checkpoint's), the loss (given, else saved) and the saved
    per-epoch history, which ``fit`` prepends to the new one.
    """
    header, arrays = _read(path)
    path = os.fspath(path)
    config = header.get("config", {})
    if not net.built:
        try:
            net.build(config["input_size"])
        except (KeyError, TypeError):
            raise ModelFileError(f"{path!r} holds a model without input_size") from None
    mine = net.get_config()
    if mine["layers"] != config.get("layers") or mine["input_size"] != config.get("input_size"):
        raise XpnetValueError(
            f"cannot resume from {path!r}: it holds a different architecture "
            f"({config.get('input_size')} inputs, {config.get('layers')}) than this model "
            f"({mine['input_size']} inputs, {mine['layers']})"
        )
    if mine["dtype"] != config.get("dtype"):
        raise XpnetValueError(f"cannot resume from {path!r}: it was trained in {config.get('dtype')}, this model is {mine['dtype']}")
    if optimizer is not None and not isinstance(optimizer, _optim.Optimizer):
        optimizer = _optim.get(optimizer, learning_rate)
    elif learning_rate is not None:
        raise XpnetValueError("resume_from restores the optimizer; pass learning_rate through the optimizer object")
    if optimizer is not None and header.get("optimizer") is not None:
        optimizer.reset()
    net.optimizer = None
    _restore(net, header, arrays, path, optimizer)
    if loss is None:
        loss = net.loss
    return (net.optimizer if net.optimizer is not None else optimizer), loss, header.get("history") or {}
