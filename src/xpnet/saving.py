"""``xn.save`` and ``xn.load``: models to files and back.

The file format and its checks live in :mod:`xpnet.io` (which knows a training state, not
a model); moving a state in and out of a model lives in :mod:`xpnet.checkpoint`. This module,
above the models, is the one that builds a new :class:`~xpnet.Sequential`,
:class:`~xpnet.Seq2Seq` or :class:`~xpnet.Transformer` from a file (``config.model`` says
which; files without it hold a Sequential).
"""

from __future__ import annotations

from .checkpoint import build_arguments, check_architecture, restore, save_state
from .errors import ModelFileError, XpnetTypeError
from .functional import Seq2Seq
from .io import read_header, read_state
from .layers import layer_from_config
from .model import Sequential
from .transformer import Transformer

_MODELS = {"Seq2Seq": Seq2Seq, "Transformer": Transformer}

__all__ = ["save", "load", "read_header"]


def save(net, path, metadata=None, *, history=None) -> str:
    """Write ``net`` to ``path`` (an ``.npz`` archive), atomically.

    Parameters
    ----------
    net : Sequential, Seq2Seq or Transformer
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
    if not isinstance(net, (Sequential, Seq2Seq)):
        raise XpnetTypeError(f"save needs an xpnet Sequential, Seq2Seq or Transformer, got {type(net).__name__}")
    return save_state(net, path, metadata, history)


def load(path, backend=None):
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
    Sequential, Seq2Seq or Transformer
        The class that was saved, with its parameters, loss, optimiser (and state), ``epochs_trained`` and shuffle
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
    if config.get("model") in _MODELS:
        return restore(_encoder_decoder(state, backend), state)
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


def _encoder_decoder(state, backend):
    """A Seq2Seq or Transformer built from a checked file, its layers exactly the file's."""
    config = state.header["config"]
    depth = (config.get("transformer") or {}).get("num_layers", 1)
    if not isinstance(depth, int) or depth > len(config["layers"]):  # refused before it makes objects
        raise ModelFileError(f"{state.path!r}: config.transformer.num_layers: {depth!r} blocks, but the file "
                             f"lists {len(config['layers'])} layers")
    try:
        net = _MODELS[config["model"]].from_config(config, backend=backend)
    except Exception as exc:  # a Transformer's own arguments, checked by its constructor
        raise ModelFileError(f"{state.path!r}: config: {type(exc).__name__}: {exc}") from None
    mine = net.get_config()
    # A Transformer rebuilds its layers from its arguments: they must be the ones the file's
    # arrays were checked against, or the arguments could declare a model the file never held.
    for key in ("layers", "encoder_layers", "mask_zero"):
        if mine[key] != config[key]:
            raise ModelFileError(f"{state.path!r}: config.{key}: does not match the model's own "
                                 f"(config.transformer?): {mine[key]!r} != {config[key]!r}")
    net.build(*build_arguments(config))
    return net
