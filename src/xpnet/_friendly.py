"""Help for habits brought from other libraries: Keras-style argument names, integer class
labels, and a printed model summary.

Everything here runs on any backend (the array namespace only), so the model can call it.
"""

from __future__ import annotations

import difflib
import functools
import inspect

from ._validation import check_finite
from .errors import ShapeError, XpnetTypeError

__all__ = ["keras_hints", "class_labels_to_one_hot", "summary"]

#: Names other libraries use for an xpnet argument (Keras, PyTorch, old Keras 1).
ALIASES = {
    "input_shape": "input_size",
    "input_dim": "input_size",
    "n_x": "input_size",
    "lr": "learning_rate",
    "eta": "learning_rate",
    "alpha": "learning_rate",
    "nb_epoch": "epochs",
    "n_epochs": "epochs",
    "num_epochs": "epochs",
    "epoch": "epochs",
    "num_iterations": "epochs",
    "n_iter": "epochs",
    "max_iter": "epochs",
    "batch": "batch_size",
    "minibatch_size": "batch_size",
    "mini_batch_size": "batch_size",
    "clipnorm": "clip_norm",
    "max_norm": "clip_norm",
    "lambd": "l2",
    "weight_decay": "l2",
    "kernel_regularizer": "l2",
    "validation": "validation_data",
    "valid_data": "validation_data",
    "loss_fn": "loss",
    "criterion": "loss",
    "optimiser": "optimizer",
    "opt": "optimizer",
    "random_state": "seed",
    "random_seed": "seed",
    "device": "backend",
    "output_dim": "units",
    "n_units": "units",
    "num_units": "units",
    "hidden_size": "units",
    "out_features": "units",
    "kernel_initializer": "init",
    "initializer": "init",
    "initialization": "init",
    "rate": "keep_prob",
    "p": "keep_prob",
    "momentum": "beta",
    "beta_1": "beta1",
    "beta_2": "beta2",
    "eps": "epsilon",
    "use_bias": None,
}

# Arguments whose meaning differs, not just their name: say how to convert.
_NOTES = {
    ("rate", "keep_prob"): " (Keras's rate is the fraction DROPPED: keep_prob = 1 - rate)",
    ("p", "keep_prob"): " (PyTorch's p is the fraction DROPPED: keep_prob = 1 - p)",
    ("input_shape", "input_size"): " (n_x, the number of features: input_shape=(64,) is input_size=64)",
    ("kernel_regularizer", "l2"): " (a number, lambda, given to fit: fit(..., l2=0.01))",
    ("weight_decay", "l2"): " (given to fit: fit(..., l2=lambda))",
}


def _hint(where: str, name: str, accepted) -> str:
    target = ALIASES.get(name, "")
    if target and target in accepted:
        note = _NOTES.get((name, target), "")
        return f"{where} got an unexpected argument {name!r}; xpnet calls it {target!r}{note}"
    if name in ALIASES and target is None:
        return f"{where} got an unexpected argument {name!r}; xpnet has no such option"
    close = difflib.get_close_matches(name, accepted, n=1, cutoff=0.6)
    if close:
        return f"{where} got an unexpected argument {name!r}; did you mean {close[0]!r}?"
    return f"{where} got an unexpected argument {name!r}; it accepts: {', '.join(accepted)}"


def keras_hints(fn):
    """Answer an unknown keyword argument with the xpnet name for it (an XpnetTypeError).

    Without this, ``fit(lr=0.1)`` is Python's bare ``TypeError: unexpected keyword``.
    """
    signature = inspect.signature(fn)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return fn  # it takes any keyword: nothing to answer
    accepted = tuple(n for n, p in signature.parameters.items() if n != "self"
                     and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    qualname = fn.__qualname__.replace(".__init__", "")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        unknown = [k for k in kwargs if k not in accepted]
        if unknown:
            raise XpnetTypeError(_hint(f"{qualname}()", unknown[0], accepted))
        return fn(*args, **kwargs)

    return wrapper


def class_labels_to_one_hot(Y, k: int, m: int, name: str = "Y", steps=()):
    """Integer class labels ``(m,)`` or ``(1, m)`` -> one-hot columns ``(k, m)``.

    What Keras calls sparse categorical cross-entropy and PyTorch's ``CrossEntropyLoss``
    takes: labels 0..k-1 for a softmax output of k units. With one softmax per time step
    (``steps = (T,)``), labels ``(m, T)`` or ``(1, m, T)`` give ``(k, m, T)``. Anything
    else of those shapes is refused with the one-hot call that fixes it.
    """
    steps = tuple(steps)
    if k < 2 or tuple(Y.shape) not in ((m, *steps), (1, m, *steps)):
        return Y
    check_finite(Y, name)
    xp = _namespace(Y)
    labels = xp.reshape(Y, (1, m, *steps))
    whole = bool(xp.all(labels == xp.round(labels)))
    low, high = float(xp.min(labels)), float(xp.max(labels))
    if not whole or low < 0 or high > k - 1:
        found = f"values from {low:g} to {high:g}" if whole else "values that are not whole numbers"
        layout = ", ".join(["m", *(str(t) for t in steps)])
        raise ShapeError(
            f"{name} has shape {tuple(Y.shape)} but the softmax output has k = {k} classes: pass one-hot columns "
            f"({k}, {layout}) made with xpnet.data.one_hot(labels, {k}), or integer class labels 0..{k - 1} "
            f"(this {name} has {found})"
        )
    classes = xp.reshape(xp.arange(k, dtype=Y.dtype, device=_device(Y)), (k, 1, *(1 for _ in steps)))
    return xp.astype(labels == classes, Y.dtype)


def _namespace(x):
    from array_api_compat import array_namespace

    return array_namespace(x)


def _device(x):
    from array_api_compat import device

    return device(x)


def _shape_text(shape, examples_axis: int) -> str:
    dims = [str(n) for n in shape]
    dims.insert(examples_axis, "m")
    return "(" + ", ".join(dims) + ")"


def summary(net) -> str:
    """The table :meth:`xpnet.Sequential.summary` prints (see there)."""
    rows = [("#", "layer", "output shape", "parameters")]
    total = 0
    for i, layer in enumerate(net.layers, start=1):
        count = sum(int(_size(v)) for v in layer.params.values())
        total += count
        out = getattr(layer, "output_shape", None)
        rows.append((str(i), _describe(layer), _shape_text(out, 1) if out is not None else "?", f"{count:,}"))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    device = f" ({net.backend.device})" if net.backend.device is not None else ""
    lines = [f"Sequential: input_size={net.input_size}, backend {net.backend.name}{device}, dtype {net.dtype}"]
    for j, row in enumerate(rows):
        lines.append(f"{row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]:>{widths[3]}}")
        if j == 0:
            lines.append("-" * (sum(widths) + 6))
    lines.append(f"Total parameters: {total:,} ({total * (4 if net.dtype == 'float32' else 8):,} bytes)")
    return "\n".join(lines)


def _describe(layer) -> str:
    """``Dense(64, relu)``: the layer's size and activation, the rest left to ``repr``."""
    config = layer.get_config() if hasattr(layer, "get_config") else {}
    parts = [str(v) for k, v in config.items() if k in ("units", "filters", "kernel_size", "keep_prob", "d_model",
                                                         "vocab_size", "dim", "heads")]
    activation = config.get("activation")
    if isinstance(activation, dict):
        activation = activation.get("name")
    if isinstance(activation, str) and activation != "linear":
        parts.append(activation)
    inner = getattr(layer, "layer", None)
    if inner is not None:
        parts.append(_describe(inner))
    if config.get("return_sequences"):
        parts.append("return_sequences")
    return f"{type(layer).__name__}({', '.join(parts)})"


def _size(a) -> int:
    n = 1
    for d in a.shape:
        n *= int(d)
    return n
