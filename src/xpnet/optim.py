"""Optimisers: turn gradients into new parameters.

Updates are functional (``W = W - learning_rate * dW`` builds a new array), which every
backend supports, lazy ones included; the arithmetic is the backend's kernel
(:mod:`xpnet.backends.kernels`), which never writes the old parameters or state, so the
training loop can keep them as its snapshot. An optimiser keeps its state (velocities,
moments) keyed by parameter name, on the model's device.

The optimiser protocol: ``update(params, grads) -> new params`` where ``params`` maps
``"W1"`` to W1 and ``grads`` maps ``"dW1"`` to dW1 (the course's names). Gradients passed as
:class:`StepGradients` (what the training step passes) are given up to the update, whose
kernels may then build the new parameters in their memory; any other dict is only read.
"""

from __future__ import annotations


from ._friendly import keras_hints
from ._validation import check_number, check_positive
from .backends.kernels import kernels_of
from .errors import XpnetTypeError, XpnetValueError

__all__ = ["Optimizer", "GradientDescent", "Momentum", "RMSprop", "Adam", "StepGradients", "get"]


class StepGradients(dict):
    """Gradients made for one update alone (a training step's own): after the update they are
    never read again, so the kernels may reuse their memory for the new parameters (one new
    array fewer per parameter and step). The kernels still check that nothing else holds an
    array before writing it."""


def _reuse(grads) -> bool:
    return isinstance(grads, StepGradients)


class Optimizer:
    """Base class: subclasses implement :meth:`update`."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:  # answer lr= and beta_1= with xpnet's names
            cls.__init__ = keras_hints(cls.__init__)

    def __init__(self, learning_rate: float = 0.01):
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        #: Per-parameter arrays (e.g. ``"v_W1"``), on the model's device.
        self.state: dict = {}
        #: Updates made so far (Adam's t).
        self.iterations = 0

    def update(self, params: dict, grads: dict) -> dict:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the accumulated state (velocities, moments, step count)."""
        self.state = {}
        self.iterations = 0

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
        lr, reuse = self.learning_rate, _reuse(grads)
        return {name: kernels_of(W).gd_update(W, grads["d" + name], lr, reuse_dW=reuse) for name, W in params.items()}


def _beta(name, value) -> float:
    return check_number(value, name, low=0.0, high=1.0, high_open=True)


class Momentum(Optimizer):
    """Gradient descent with momentum: v = beta v + (1 - beta) dW; W = W - learning_rate v.

    The velocities start at zero (the course's ``initialize_velocity``).
    """

    def __init__(self, learning_rate: float = 0.01, beta: float = 0.9):
        super().__init__(learning_rate)
        self.beta = _beta("beta", beta)

    def update(self, params, grads):
        lr, beta, reuse = self.learning_rate, self.beta, _reuse(grads)
        self.iterations += 1
        new = {}
        for name, W in params.items():
            new[name], self.state["v_" + name] = kernels_of(W).momentum_update(
                W, grads["d" + name], self.state.get("v_" + name), lr, beta, reuse_dW=reuse
            )
        return new

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta": self.beta}


class RMSprop(Optimizer):
    """RMSprop: s = beta s + (1 - beta) dW^2; W = W - learning_rate dW / (sqrt(s) + epsilon)."""

    def __init__(self, learning_rate: float = 0.001, beta: float = 0.999, epsilon: float = 1e-8):
        super().__init__(learning_rate)
        self.beta = _beta("beta", beta)
        self.epsilon = check_positive(epsilon, "epsilon")

    def update(self, params, grads):
        lr, beta, eps, reuse = self.learning_rate, self.beta, self.epsilon, _reuse(grads)
        self.iterations += 1
        new = {}
        for name, W in params.items():
            new[name], self.state["s_" + name] = kernels_of(W).rmsprop_update(
                W, grads["d" + name], self.state.get("s_" + name), lr, beta, eps, reuse_dW=reuse
            )
        return new

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta": self.beta, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam (Kingma and Ba), with the course's bias correction.

    v = beta1 v + (1 - beta1) dW,  s = beta2 s + (1 - beta2) dW^2,
    v_hat = v / (1 - beta1^t),     s_hat = s / (1 - beta2^t),
    W = W - learning_rate v_hat / (sqrt(s_hat) + epsilon).
    """

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8):
        super().__init__(learning_rate)
        self.beta1 = _beta("beta1", beta1)
        self.beta2 = _beta("beta2", beta2)
        self.epsilon = check_positive(epsilon, "epsilon")

    def update(self, params, grads):
        lr, b1, b2, eps, reuse = self.learning_rate, self.beta1, self.beta2, self.epsilon, _reuse(grads)
        self.iterations += 1
        t = self.iterations
        correction1, correction2 = 1.0 - b1**t, 1.0 - b2**t
        new = {}
        for name, W in params.items():
            v, s = self.state.get("v_" + name), self.state.get("s_" + name)
            new[name], v, s = kernels_of(W).adam_update(
                W, grads["d" + name], v, s, lr, b1, b2, eps, correction1, correction2, reuse_dW=reuse
            )
            self.state["v_" + name], self.state["s_" + name] = v, s
        return new

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}


OPTIMIZERS = {
    "gradient_descent": GradientDescent,
    "sgd": GradientDescent,
    "gd": GradientDescent,
    "momentum": Momentum,
    "rmsprop": RMSprop,
    "adam": Adam,
}


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
