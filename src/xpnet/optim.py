"""Optimisers: turn gradients into new parameters.

Updates are functional (``W = W - learning_rate * dW`` builds a new array), which every
backend supports, lazy ones included. An optimiser keeps its state (velocities, moments)
keyed by parameter name, on the model's device.

The optimiser protocol: ``update(params, grads) -> new params`` where ``params`` maps
``"W1"`` to W1 and ``grads`` maps ``"dW1"`` to dW1 (the course's names).
"""

from __future__ import annotations

import math

from .errors import XpnetTypeError, XpnetValueError

__all__ = ["Optimizer", "GradientDescent", "get"]


def check_positive(name: str, value) -> float:
    """A finite, positive Python float, or an XpnetValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise XpnetTypeError(f"{name} must be a positive number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise XpnetValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


class Optimizer:
    """Base class: subclasses implement :meth:`update`."""

    def __init__(self, learning_rate: float = 0.01):
        self.learning_rate = check_positive("learning_rate", learning_rate)
        self.state: dict = {}

    def update(self, params: dict, grads: dict) -> dict:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class GradientDescent(Optimizer):
    """Plain (batch) gradient descent: W = W - learning_rate * dW.

    Parameters
    ----------
    learning_rate : float
        alpha, the step size (> 0).
    """

    def update(self, params, grads):
        lr = self.learning_rate
        return {name: W - lr * grads["d" + name] for name, W in params.items()}


OPTIMIZERS = {"gradient_descent": GradientDescent, "sgd": GradientDescent, "gd": GradientDescent}


def get(optimizer, learning_rate=None) -> Optimizer:
    """An optimiser from an instance, a name (``"gradient_descent"``) or None (gradient descent)."""
    if isinstance(optimizer, Optimizer):
        if learning_rate is not None:
            raise XpnetValueError("give learning_rate to the optimizer object, not to fit(), when passing both")
        return optimizer
    kwargs = {} if learning_rate is None else {"learning_rate": learning_rate}
    if optimizer is None:
        return GradientDescent(**kwargs)
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key in OPTIMIZERS:
            return OPTIMIZERS[key](**kwargs)
        raise XpnetValueError(f"unknown optimizer {optimizer!r}; valid names are: {', '.join(OPTIMIZERS)}")
    raise XpnetTypeError(f"optimizer must be an xpnet Optimizer or a name, got {type(optimizer).__name__}")
