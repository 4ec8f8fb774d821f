"""Layer normalisation over the feature axis of ``(d, m)`` batches and ``(d, m, T)`` sequences."""

from __future__ import annotations

from typing import NamedTuple

from array_api_compat import array_namespace

from .._validation import check_positive
from ..backends.kernels import kernels_of
from .base import Layer, register_layer
from .sequence import SequenceInput

__all__ = ["LayerNorm"]


def _feature_column(xp, v, ndim):
    """A (d, 1) parameter shaped to broadcast over (d, m) or (d, m, T)."""
    return xp.reshape(v, (v.shape[0],) + (1,) * (ndim - 1))


class LayerNormCache(NamedTuple):
    Xhat: object
    inv_std: object


@register_layer
class LayerNorm(SequenceInput, Layer):
    """Normalise each example's (and step's) feature vector, then scale and shift.

    y = gamma * (x - mean) / sqrt(var + eps) + beta, the mean and variance taken over the
    feature axis 0. Works on ``(d, m)`` and ``(d, m, T)``; parameters ``gamma`` (ones) and
    ``beta`` (zeros), both ``(d, 1)``.

    Parameters
    ----------
    eps : float, optional
        Added to the variance before the square root; default 1e-5.
    """

    has_parameters = True
    accepts_2d = True

    def __init__(self, eps: float = 1e-5):
        # 1e-5 is PyTorch's default; the course's Keras LayerNormalization uses 1e-6.
        super().__init__()
        self.eps = check_positive(eps, "LayerNorm eps")

    def build(self, input_shape, *, backend, dtype, rng):
        self.input_shape = self.output_shape = tuple(input_shape)
        d = self.input_shape[0]
        self.params = {"gamma": backend.asarray([[1.0]] * d, dtype), "beta": backend.asarray([[0.0]] * d, dtype)}
        return self.output_shape

    def parameter_shapes(self):
        d = self.input_shape[0]
        return {"gamma": (d, 1), "beta": (d, 1)}

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        gamma = _feature_column(xp, self.params["gamma"], A_prev.ndim)
        beta = _feature_column(xp, self.params["beta"], A_prev.ndim)
        Y, Xhat, inv_std = kernels_of(A_prev).layer_norm(A_prev, gamma, beta, self.eps)
        return Y, LayerNormCache(Xhat, inv_std)

    def backward(self, dA, cache, need_dA_prev=True):
        xp = array_namespace(dA)
        gamma = _feature_column(xp, self.params["gamma"], dA.ndim)
        dX, dgamma, dbeta = kernels_of(dA).layer_norm_backward(dA, cache.Xhat, cache.inv_std, gamma, need_dA_prev)
        return dX, {"gamma": dgamma, "beta": dbeta}

    def get_config(self):
        return {"eps": self.eps}
