"""Layers: forward propagation that keeps a cache, backward propagation that uses it.

The layer protocol (the course's ``cache``, used everywhere):

* ``build(input_shape, backend=, dtype=, rng=) -> output_shape`` creates the parameters.
  Shapes leave out the examples axis m: a Dense layer sees ``(n_prev,)``.
* ``forward(A_prev, training=False) -> (A, cache)``: the output, and what backward needs.
* ``backward(dA, cache, need_dA_prev=True) -> (dA_prev, grads)``: ``grads`` maps the
  layer's local parameter names (``"W"``, ``"b"``) to dJ/dW, dJ/db. The first layer passes
  ``need_dA_prev=False`` and gets None, which saves a matrix product per step.

Parameters live in ``layer.params`` (local names). :class:`~xpnet.model.Sequential` gives
each parameterised layer an index l = 1, 2, ... and exposes them as ``W1, b1, W2, ...``.
"""

from __future__ import annotations

from .._friendly import keras_hints
from ..errors import XpnetValueError

__all__ = ["Layer", "register_layer", "layer_from_config"]


class Layer:
    """Base class of every layer."""

    #: Whether the layer owns parameters (and so takes an index l in the network).
    has_parameters = False
    #: Local names of the parameters that L2 regularisation penalises.
    regularized: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:  # answer Keras's names (units=, input_shape=, rate=) in xpnet's
            cls.__init__ = keras_hints(cls.__init__)

    def __init__(self):
        self.params: dict = {}
        self.index: int | None = None
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None

    def build(self, input_shape, *, backend, dtype, rng):
        self.input_shape = tuple(input_shape)
        self.output_shape = self.input_shape
        return self.output_shape

    def parameter_shapes(self) -> dict[str, tuple]:
        """Local name -> shape of each parameter (after :meth:`build`)."""
        return {}

    def forward(self, A_prev, training=False):
        raise NotImplementedError

    def backward(self, dA, cache, need_dA_prev=True):
        raise NotImplementedError

    def logits(self, cache):
        """The pre-activation Z of the layer's output activation, if it has one."""
        return None

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


LAYERS: dict[str, type] = {}


def register_layer(cls):
    """Make a layer class known to :func:`layer_from_config` (and so to ``xn.load``)."""
    LAYERS[cls.__name__] = cls
    return cls


def layer_from_config(class_name: str, config: dict) -> Layer:
    if class_name not in LAYERS:
        raise XpnetValueError(f"unknown layer type {class_name!r}; known: {', '.join(LAYERS)}")
    return LAYERS[class_name].from_config(config)
