"""The fully connected layer of the course: Z = W A_prev + b, A = g(Z)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import activations as _activations
from .. import initializers as _initializers
from .._validation import check_positive_int
from ..backends.kernels import kernels_of
from ..errors import XpnetTypeError, XpnetValueError
from .base import Layer, register_layer

__all__ = ["Dense"]


@dataclass(slots=True)
class DenseCache:
    """What Dense.backward needs. Mutable so that backward can drop A and Z as soon as dZ
    exists: on a wide layer that frees an (n_l, m) array before dA_prev is allocated."""

    A_prev: object
    #: None when neither the activation's backward nor a fused loss needs it (see Dense.keeps_Z).
    Z: object
    A: object


_FUSED: list = []


def _fused_output_activations() -> frozenset:
    # Built once: every forward asks, and the built-in losses do not change.
    if not _FUSED:
        from .. import losses

        _FUSED.append(frozenset(cls.fused_activation for cls in losses.LOSSES.values() if cls.fused_activation))
    return _FUSED[0]


@register_layer
class Dense(Layer):
    """A fully connected layer: Z = W A_prev + b, A = g(Z).

    Parameters
    ----------
    units : int
        n_l, the number of units.
    activation : str or Activation
        ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"linear"``, ``"softmax"``
        or an :class:`~xpnet.activations.Activation` such as ``LeakyReLU(slope=0.2)``.
    init : str or callable, optional
        Weight initialiser (``"zeros"``, ``"small_random"``, ``"xavier"``, ``"he"``);
        default He for the ReLU family, Xavier otherwise. Biases start at zero.

    Notes
    -----
    Shapes (course notation): W is ``(n_l, n_{l-1})``, b is ``(n_l, 1)``, A_prev is
    ``(n_{l-1}, m)`` and A is ``(n_l, m)``.
    """

    has_parameters = True
    #: Parameters that L2 regularisation penalises (weights, not biases).
    regularized = ("W",)

    def __init__(self, units: int, activation="linear", init=None):
        super().__init__()
        self.units = check_positive_int(units, "Dense units")
        self.activation = _activations.get(activation)
        self.init_name = init if init is not None else _initializers.default_for(self.activation.name)
        self.init = _initializers.get(self.init_name)

    def build(self, input_shape, *, backend, dtype, rng):
        if len(input_shape) != 1:
            raise XpnetValueError(
                f"Dense expects 2-D input (n_prev, m), got per-example shape {tuple(input_shape)}; "
                "wrap it in TimeDistributed for sequences"
            )
        (n_prev,) = input_shape
        self.input_shape = (n_prev,)
        self.output_shape = (self.units,)
        W = self.init((self.units, n_prev), n_prev, rng)
        self.params = {
            "W": backend.asarray(W, dtype),
            "b": backend.asarray([[0.0]] * self.units, dtype),
        }
        return self.output_shape

    def parameter_shapes(self):
        return {"W": (self.units, self.input_shape[0]), "b": (self.units, 1)}

    @property
    def keeps_Z(self) -> bool:
        """Whether the cache keeps Z: the activation's backward reads it, or a loss may
        want it as logits (sigmoid, softmax outputs). ReLU/tanh layers keep only A."""
        return self.activation.backward_needs_Z or self.activation.name in _fused_output_activations()

    def forward(self, A_prev, training=False):
        W, b = self.params["W"], self.params["b"]
        Z, A = kernels_of(A_prev).dense_forward(W, A_prev, b, self.activation, keep_Z=self.keeps_Z)
        return A, DenseCache(A_prev, Z, A)

    def backward(self, dA, cache, need_dA_prev=True):
        # dA is the network's own temporary (the loss's gradient or the next layer's
        # dA_prev), so the kernel may overwrite it to make dZ.
        dZ, db = kernels_of(dA).activation_backward_db(self.activation, dA, cache.Z, cache.A)
        cache.Z = cache.A = None  # consumed: free them before dA_prev is allocated
        return self.backward_from_dZ(dZ, cache, need_dA_prev, db)

    def backward_from_dZ(self, dZ, cache, need_dA_prev=True, db=None):
        """The linear part of backward, from dZ (used directly by fused output pairs); ``db``
        when the activation's backward already summed dZ's columns."""
        # The 1/m of the course's dW = (1/m) dZ A_prev^T is already inside dZ (see losses).
        kernels, W = kernels_of(dZ), self.params["W"]
        if db is None:  # the short call, which every backend's linear_backward takes
            dA_prev, dW, db = kernels.linear_backward(dZ, cache.A_prev, W, need_dA_prev)
        else:
            dA_prev, dW, db = kernels.linear_backward(dZ, cache.A_prev, W, need_dA_prev, db=db)
        return dA_prev, {"W": dW, "b": db}

    def logits(self, cache):
        if cache.Z is None:
            raise XpnetValueError(
                f"this Dense layer's cache has no Z: its {self.activation.name} activation does not pair with a "
                "loss computed from logits"
            )
        return cache.Z

    def get_config(self) -> dict:
        init_name = _initializers.name_of(self.init_name)
        if init_name is None:
            raise XpnetTypeError("a Dense layer with a custom init callable cannot be serialised")
        return {"units": self.units, "activation": self.activation.get_config(), "init": init_name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["activation"] = _activations.get(config["activation"])
        return cls(**config)
