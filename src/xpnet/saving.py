"""``xn.save`` and ``xn.load``: models to files and back.

The file format and its checks live in :mod:`xpnet.io` (which knows a training state, not
a model); moving a state in and out of a model lives in :mod:`xpnet.checkpoint`. This module,
above the model, is the one that builds a new :class:`~xpnet.Sequential` from a file.
"""

from __future__ import annotations

from .checkpoint import check_architecture, restore, save_state
from .errors import ModelFileError, XpnetTypeError
from .io import read_header, read_state
from .layers import layer_from_config
from .model import Sequential

__all__ = ["save", "load", "read_header"]


def save(net, path, metadata=None, *, history=None) -> str:
    """Write ``net`` to ``path`` (an ``.npz`` archive), atomically.

    Parameters
    ----------
    net : Sequential
        A built model; its optimiser state, loss, ``epochs_trained`` and shuffle
        generator are saved with it, so training can resume exactly.
    path : str or PathLike
        The file to write (conventionally ``*.npz``); its directory must exist. A previous
        file at ``path`` is replaced only once the new one is completely on disk, and keeps
        its permission bits; a new file gets the usual ones (``0o666`` less the umask).
    metadata : dict, optional
        JSON-serialisable extras stored beside the model (``xn.read_header(path)["metadata"]``).
    history : dict, optional
        Per-epoch metrics to store (what checkpoints use to keep the learning curve).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    XpnetValueError
        ``path`` is empty, a folder, in a missing or read-only folder, or too long.

    Examples
    --------
    >>> import os, tempfile, xpnet as xn
    >>> net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=3, seed=0, backend="numpy")
    >>> path = xn.save(net, os.path.join(tempfile.mkdtemp(), "model.npz"))
    >>> xn.load(path).parameters()["W1"].shape
    (1, 3)
    """
    if not isinstance(net, Sequential):
        raise XpnetTypeError(f"save needs an xpnet Sequential, got {type(net).__name__}")
    return save_state(net, path, metadata, history)


def load(path, backend=None) -> Sequential:
    """Read a model written by :func:`save` onto any backend.

    The file is validated before anything is built from it: the archive's members, the
    header's schema, every array's dtype and shape against the architecture, and a
    SHA-256 digest over all of it (see the "Model files" guide).

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
        The file is missing, truncated, corrupted, altered or not an xpnet model; the
        message names the file and the field.
    """
    state = read_state(path)
    check_architecture(state)  # before the model allocates: declared sizes against stored arrays
    config = state.header["config"]
    layers = []
    for i, spec in enumerate(config["layers"]):
        try:
            layers.append(layer_from_config(spec["class_name"], spec["config"]))
        except Exception as exc:  # already built once by check_architecture; kept for safety
            raise ModelFileError(f"{state.path!r}: config.layers[{i}]: {exc}") from None
    size = config["input_size"]
    net = Sequential(layers, input_size=size if isinstance(size, int) else tuple(size), backend=backend,
                     dtype=config["dtype"], seed=config["seed"])
    return restore(net, state)
