"""CuPy overrides of the kernel contract: one ``ElementwiseKernel`` launch per operation.

Each generic kernel is a chain of element-wise array operations, and on a GPU every one of
them is a kernel launch and a full pass through device memory. These overrides compute the
same formula in a single launch (CuPy's documented ``cupy.ElementwiseKernel``; ``T`` is the
arrays' float type, scalars are cast to it). The kernels are compiled on first use and
cached by CuPy; nothing here imports CuPy before a CuPy array reaches it.

Written against CuPy's API and checked by ``tools/gpu-check.sh`` (parity with the generic
path on a GPU); the CPU-only test suite cannot run them.
"""

from __future__ import annotations

from functools import lru_cache

from ._generic_kernels import MIX_A, MIX_B, Kernels, dropout_keys, keep_threshold

__all__ = ["CupyKernels"]


def _builtin(activation) -> str | None:
    return activation.name if type(activation).__module__ == "xpnet.activations" else None


# Forward activations written into z (NaN propagates as in xp.maximum).
_FORWARD = {
    "relu": "T t = z + b; z = (t > (T)0 || t != t) ? t : (T)0;",
    "tanh": "z = tanh(z + b);",
    "linear": "z = z + b;",
}
# dZ = dA * g'(Z), written into d (a is the layer's output A).
_BACKWARD = {
    "relu": "d = d * (T)(a > (T)0);",
    "tanh": "d = d * ((T)1 - a * a);",
    "sigmoid": "d = d * a * ((T)1 - a);",
}


@lru_cache(maxsize=None)
def _kernel(in_params: str, out_params: str, body: str, name: str):
    import cupy

    return cupy.ElementwiseKernel(in_params, out_params, body, name)


class CupyKernels(Kernels):
    """Fused single-launch CuPy kernels (the generic formulas, in the same order)."""

    name = "cupy"

    def bias_activation(self, Z, b, activation, keep_Z=True):
        kind = _builtin(activation)
        if keep_Z or kind not in _FORWARD:
            return super().bias_activation(Z, b, activation, keep_Z)
        _kernel("T b", "T z", _FORWARD[kind], f"xpnet_bias_{kind}")(b, Z)
        return None, Z

    def activation_backward(self, activation, dA, Z, A):
        kind = _builtin(activation)
        if kind not in _BACKWARD or dA.shape != A.shape:
            return super().activation_backward(activation, dA, Z, A)
        _kernel("T a", "T d", _BACKWARD[kind], f"xpnet_{kind}_backward")(A, dA)
        return dA

    def cross_entropy_dZ(self, A, Y, denominator):
        return _kernel("T a, T y, T den", "T dz", "dz = (a - y) / den;", "xpnet_xent_dz")(A, Y, denominator)

    def gd_update(self, W, dW, learning_rate, reuse_dW=False):
        return _kernel("T w, T g, T lr", "T w_new", "w_new = w - lr * g;", "xpnet_gd")(W, dW, learning_rate)

    def momentum_update(self, W, dW, v, learning_rate, beta, reuse_dW=False):
        body = "v_new = first ? keep * g : beta * v + keep * g; w_new = w - lr * v_new;"
        kernel = _kernel("T w, T g, T v, T lr, T beta, T keep, bool first", "T w_new, T v_new", body, "xpnet_momentum")
        return kernel(W, dW, 0.0 if v is None else v, learning_rate, beta, 1.0 - beta, v is None)

    def rmsprop_update(self, W, dW, s, learning_rate, beta, epsilon, reuse_dW=False):
        body = ("s_new = first ? keep * g * g : beta * s + keep * g * g; "
                "w_new = w - lr * g / (sqrt(s_new) + eps);")
        kernel = _kernel("T w, T g, T s, T lr, T beta, T keep, T eps, bool first", "T w_new, T s_new", body,
                         "xpnet_rmsprop")
        return kernel(W, dW, 0.0 if s is None else s, learning_rate, beta, 1.0 - beta, epsilon, s is None)

    def adam_update(self, W, dW, v, s, learning_rate, beta1, beta2, epsilon, correction1, correction2,
                    reuse_dW=False):
        body = ("v_new = first ? keep1 * g : b1 * v + keep1 * g; "
                "s_new = first ? keep2 * g * g : b2 * s + keep2 * g * g; "
                "w_new = w - lr * (v_new / c1) / (sqrt(s_new / c2) + eps);")
        kernel = _kernel(
            "T w, T g, T v, T s, T lr, T b1, T b2, T keep1, T keep2, T eps, T c1, T c2, bool first",
            "T w_new, T v_new, T s_new", body, "xpnet_adam",
        )
        first = v is None or s is None
        return kernel(W, dW, 0.0 if first else v, 0.0 if first else s, learning_rate, beta1, beta2,
                      1.0 - beta1, 1.0 - beta2, epsilon, correction1, correction2, first)

    def dropout_mask(self, like, keep_prob, seed, step):
        import cupy

        k1, k2 = dropout_keys(seed, step)
        # ``i`` is the element's row-major index: the counter of the generic generator.
        body = (
            "unsigned int x = ((unsigned int)i ^ k1) * k2; "
            f"x ^= x >> 16; x *= {MIX_A}u; x ^= x >> 15; x *= {MIX_B}u; x ^= x >> 16; "
            "d = x < thr ? (T)scale : (T)0;"
        )
        kernel = _kernel("uint32 k1, uint32 k2, uint32 thr, float64 scale", "T d", body, "xpnet_dropout_mask")
        D = cupy.empty(like.shape, dtype=like.dtype)
        kernel(cupy.uint32(k1), cupy.uint32(k2), cupy.uint32(keep_threshold(keep_prob)), 1.0 / keep_prob, D)
        return D
