"""1-D convolution over the time axis of ``(n_x, m, T)`` sequences."""

from __future__ import annotations

from typing import NamedTuple

from array_api_compat import array_namespace

from .. import activations as _activations
from .. import initializers as _initializers
from ..errors import ShapeError, XpnetTypeError, XpnetValueError
from .base import Layer, register_layer
from ._time import SequenceInput, positive_int, require_sequence_shape

__all__ = ["Conv1D", "conv1d_geometry"]

_PADDINGS = ("valid", "same")


def conv1d_geometry(T: int, kernel_size: int, stride: int, padding: str):
    """(T_out, pad_left, pad_right) for a 1-D convolution (TensorFlow's "same" split)."""
    if padding == "valid":
        if T < kernel_size:
            raise ShapeError(f"Conv1D with padding='valid' needs T >= kernel_size = {kernel_size}, got T = {T}")
        return (T - kernel_size) // stride + 1, 0, 0
    T_out = -(-T // stride)  # ceil(T / stride)
    pad = max((T_out - 1) * stride + kernel_size - T, 0)
    return T_out, pad // 2, pad - pad // 2


class Conv1DCache(NamedTuple):
    cols: object  # the receptive fields, (n_x * K, m * T_out)
    Z: object
    A: object
    m: int
    T_padded: int


@register_layer
class Conv1D(SequenceInput, Layer):
    """Cross-correlation over T: Z[f, j, t] = sum_{c, k} W[f, c, k] X_pad[c, j, t*s + k] + b[f].

    Parameters
    ----------
    filters : int
        Number of filters F (output channels).
    kernel_size : int
        K, the width of each filter in time steps.
    stride : int
        s, the step between windows.
    padding : {"valid", "same"}
        "valid": no padding, T_out = floor((T - K) / s) + 1. "same": zero padding so that
        T_out = ceil(T / s) (the extra zero goes on the right when the total is odd).
    activation : str or Activation
        Applied element-wise (default linear).

    Notes
    -----
    Shapes: X ``(n_x, m, T)`` -> A ``(F, m, T_out)``; W ``(F, n_x, K)``, b ``(F, 1)``.
    The K shifted windows are gathered into one ``(n_x K, m T_out)`` matrix (im2col), so
    forward and backward are each one matrix product plus a K-step loop of slicing.
    """

    has_parameters = True
    regularized = ("W",)

    def __init__(self, filters: int, kernel_size: int, stride: int = 1, padding: str = "valid",
                 activation="linear", init=None):
        super().__init__()
        self.filters = positive_int(filters, "Conv1D filters")
        self.kernel_size = positive_int(kernel_size, "Conv1D kernel_size")
        self.stride = positive_int(stride, "Conv1D stride")
        if padding not in _PADDINGS:
            raise XpnetValueError(f"Conv1D padding must be one of {_PADDINGS}, got {padding!r}")
        self.padding = padding
        self.activation = _activations.get(activation)
        if not self.activation.elementwise:
            raise XpnetValueError("Conv1D takes an element-wise activation; put softmax in a TimeDistributed Dense")
        self.init_name = init if init is not None else _initializers.default_for(self.activation.name)
        self.init = _initializers.get(self.init_name)

    def build(self, input_shape, *, backend, dtype, rng):
        n_x, T = require_sequence_shape(input_shape, "Conv1D")
        T_out, _, _ = conv1d_geometry(T, self.kernel_size, self.stride, self.padding)
        self.input_shape = (n_x, T)
        self.output_shape = (self.filters, T_out)
        fan_in = n_x * self.kernel_size
        self.params = {
            "W": backend.asarray(self.init((self.filters, n_x, self.kernel_size), fan_in, rng), dtype),
            "b": backend.asarray([[0.0]] * self.filters, dtype),
        }
        return self.output_shape

    def parameter_shapes(self):
        return {"W": (self.filters, self.input_shape[0], self.kernel_size), "b": (self.filters, 1)}

    def _pad(self, xp, X, left, right):
        if not (left or right):
            return X
        n, m, _ = X.shape
        zeros = lambda k: xp.zeros((n, m, k), dtype=X.dtype, device=_device(X))  # noqa: E731
        parts = ([zeros(left)] if left else []) + [X] + ([zeros(right)] if right else [])
        return xp.concat(parts, axis=2)

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        n_x, m, T = A_prev.shape
        K, s = self.kernel_size, self.stride
        T_out, left, right = conv1d_geometry(T, K, s, self.padding)
        Xp = self._pad(xp, A_prev, left, right)
        last = s * (T_out - 1) + 1
        windows = [Xp[:, :, k : k + last : s] for k in range(K)]  # K of (n_x, m, T_out)
        cols = xp.reshape(xp.stack(windows, axis=1), (n_x * K, m * T_out))
        W2 = xp.reshape(self.params["W"], (self.filters, n_x * K))
        Z = xp.reshape(W2 @ cols + self.params["b"], (self.filters, m, T_out))
        A = self.activation.forward(Z)
        return A, Conv1DCache(cols, Z, A, m, int(Xp.shape[2]))

    def backward(self, dA, cache, need_dA_prev=True):
        dZ = self.activation.backward(dA, cache.Z, cache.A)
        return self.backward_from_dZ(dZ, cache, need_dA_prev)

    def backward_from_dZ(self, dZ, cache, need_dA_prev=True):
        xp = array_namespace(dZ)
        F, m, T_out = dZ.shape
        n_x, T = self.input_shape
        K, s = self.kernel_size, self.stride
        dZ2 = xp.reshape(dZ, (F, m * T_out))
        grads = {
            "W": xp.reshape(dZ2 @ cache.cols.T, (F, n_x, K)),
            "b": xp.sum(dZ2, axis=1, keepdims=True),
        }
        if not need_dA_prev:
            return None, grads
        W2 = xp.reshape(self.params["W"], (F, n_x * K))
        dcols = xp.reshape(W2.T @ dZ2, (n_x, K, m, T_out))
        # Each window k was X_pad[:, :, k : k + last : s]; its gradient adds back there.
        dXp = xp.zeros((n_x, m, cache.T_padded), dtype=dZ.dtype, device=_device(dZ))
        last = s * (T_out - 1) + 1
        for k in range(K):
            dXp[:, :, k : k + last : s] = dXp[:, :, k : k + last : s] + dcols[:, k, :, :]
        _, left, _ = conv1d_geometry(T, K, s, self.padding)
        return dXp[:, :, left : left + T], grads

    def logits(self, cache):
        return cache.Z

    def get_config(self):
        init_name = _initializers.name_of(self.init_name)
        if init_name is None:
            raise XpnetTypeError("a Conv1D layer with a custom init callable cannot be serialised")
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "activation": self.activation.get_config(),
            "init": init_name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["activation"] = _activations.get(config["activation"])
        return cls(**config)


def _device(x):
    from array_api_compat import device

    return device(x)
