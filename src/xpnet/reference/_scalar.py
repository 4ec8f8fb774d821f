"""The reference's own math: activations and losses written out with ``math`` and NumPy.

Nothing here calls :mod:`xpnet.activations` or :mod:`xpnet.losses`: an oracle that shared
their code would share their bugs (a wrong sigmoid derivative would pass its own check).
Activations and losses are named as in xpnet, so one spelling works for both.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..errors import XpnetTypeError, XpnetValueError

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax")
LOSS_NAMES = {
    "binary_crossentropy": "binary_crossentropy", "bce": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy", "cce": "categorical_crossentropy",
    "mean_squared_error": "mean_squared_error", "mse": "mean_squared_error",
}
#: The loss that pairs with each output activation (the same defaults as ``fit``).
DEFAULT_LOSS = {"sigmoid": "binary_crossentropy", "softmax": "categorical_crossentropy"}


class Act(NamedTuple):
    """An activation as the reference sees it: its name and, for leaky ReLU, its slope."""

    name: str
    slope: float = 0.01


def activation(spec) -> Act:
    """An :class:`Act` from a name (``"relu"``) or any object with ``name`` (and ``slope``)."""
    if isinstance(spec, Act):
        return spec
    name = spec if isinstance(spec, str) else getattr(spec, "name", None)
    if not isinstance(name, str):
        raise XpnetTypeError(f"activations must be names such as 'relu', got {type(spec).__name__}")
    if name.lower() not in ACTIVATION_NAMES:
        raise XpnetValueError(f"unknown activation {name!r}; valid names are: {', '.join(ACTIVATION_NAMES)}")
    return Act(name.lower(), float(getattr(spec, "slope", 0.01)))


def loss_name(loss, output: Act | None = None) -> str:
    """The loss's canonical name; None picks the default for the ``output`` activation."""
    if loss is None:
        return DEFAULT_LOSS.get(output.name if output else "linear", "mean_squared_error")
    name = loss if isinstance(loss, str) else getattr(loss, "name", None)
    if not isinstance(name, str) or name.lower() not in LOSS_NAMES:
        raise XpnetValueError(f"unknown loss {loss!r}; valid names are: {', '.join(sorted(set(LOSS_NAMES.values())))}")
    return LOSS_NAMES[name.lower()]


def denominator(loss: str, shape) -> float:
    """What the summed loss is divided by: every element, but classes are summed for CCE."""
    return float(math.prod(shape[1:] if loss == "categorical_crossentropy" else shape))


# -- one scalar at a time (the loop version) -----------------------------------------------
def g(act: Act, z: float) -> float:
    """g(z) of an element-wise activation."""
    if act.name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    if act.name == "tanh":
        return math.tanh(z)
    if act.name == "relu":
        return z if z > 0 else 0.0
    if act.name == "leaky_relu":
        return z if z > 0 else act.slope * z
    if act.name == "linear":
        return z
    raise XpnetValueError(f"{act.name} is not element-wise")


def g_prime(act: Act, z: float) -> float:
    """g'(z), from the definition's derivative (never from xpnet's)."""
    if act.name == "sigmoid":
        s = g(act, z)
        return s * (1.0 - s)
    if act.name == "tanh":
        return 1.0 - math.tanh(z) ** 2
    if act.name == "relu":
        return 1.0 if z > 0 else 0.0
    if act.name == "leaky_relu":
        return 1.0 if z > 0 else act.slope
    return 1.0  # linear


def _clip(a: float, eps: float) -> float:
    return min(max(a, eps), 1.0 - eps)


def element_loss(loss: str, a: float, y: float, eps: float) -> float:
    """The loss of one output element (before the division by :func:`denominator`)."""
    if loss == "binary_crossentropy":
        a = _clip(a, eps)
        return -(y * math.log(a) + (1.0 - y) * math.log(1.0 - a))
    if loss == "categorical_crossentropy":
        return -y * math.log(_clip(a, eps))
    return (a - y) * (a - y)


def element_gradient(loss: str, a: float, y: float, eps: float) -> float:
    """dloss/da of one output element (before the division by :func:`denominator`)."""
    if loss == "binary_crossentropy":
        a = _clip(a, eps)
        return -(y / a) + (1.0 - y) / (1.0 - a)
    if loss == "categorical_crossentropy":
        return -y / _clip(a, eps)
    return 2.0 * (a - y)


# -- one column at a time (the per-example version) ----------------------------------------
def column_forward(act: Act, z: np.ndarray) -> np.ndarray:
    """A = g(z) for one example's column z (n, 1)."""
    if act.name == "softmax":
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    if act.name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if act.name == "tanh":
        return np.tanh(z)
    if act.name == "relu":
        return np.maximum(z, 0.0)
    if act.name == "leaky_relu":
        return np.where(z > 0, z, act.slope * z)
    return z.copy()


def column_backward(act: Act, da: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """dz = da * g'(z) for one column; softmax's Jacobian-vector product a (da - a.da)."""
    if act.name == "softmax":
        return a * (da - np.sum(da * a, axis=0, keepdims=True))
    if act.name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return da * s * (1.0 - s)
    if act.name == "tanh":
        return da * (1.0 - np.tanh(z) ** 2)
    if act.name == "relu":
        return da * (z > 0)
    if act.name == "leaky_relu":
        return da * np.where(z > 0, 1.0, act.slope)
    return da.copy()


def column_loss(loss: str, a: np.ndarray, y: np.ndarray, eps: float) -> float:
    """The summed loss of one column (before the division by :func:`denominator`)."""
    if loss == "binary_crossentropy":
        a = np.clip(a, eps, 1.0 - eps)
        return float(-np.sum(y * np.log(a) + (1.0 - y) * np.log(1.0 - a)))
    if loss == "categorical_crossentropy":
        return float(-np.sum(y * np.log(np.clip(a, eps, 1.0 - eps))))
    return float(np.sum((a - y) ** 2))


def column_gradient(loss: str, a: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """dloss/da of one column (before the division by :func:`denominator`)."""
    if loss == "binary_crossentropy":
        a = np.clip(a, eps, 1.0 - eps)
        return -(y / a) + (1.0 - y) / (1.0 - a)
    if loss == "categorical_crossentropy":
        return -y / np.clip(a, eps, 1.0 - eps)
    return 2.0 * (a - y)
