"""The kernel contract: the few fused operations a training step is made of.

:class:`Kernels` holds the generic array-API implementation of each one. It is the portable
reference: the array-api-strict suite runs it, the gradient checks check it, and every
backend gets it unless that backend overrides an operation where the override measurably
wins (in place and ``out=`` on NumPy, fused element-wise kernels on CuPy, one task per chunk
on dask, native in-place ops on torch), the way thinc's ``CupyOps`` overrides only the hot
paths of its base ``Ops``. Layers, losses and optimisers call these methods and never ask
which library they run on.

Ownership rules every implementation keeps (the training loop's rollback relies on them):

* parameters and optimiser state passed in are never written: updates return new arrays;
* only the arrays a method's docstring names as "may be overwritten" are reused as scratch.

Dropout masks come from a counter-based generator written with integer array operations
(:func:`dropout_keys`, :meth:`Kernels.dropout_mask`): a keyed 32-bit hash of each element's
index, so a mask is a pure function of (seed, step, shape) and is the same on every backend,
drawn where the activations live.
"""

from __future__ import annotations

import contextlib
import math

from ._generic_sequence_kernels import SequenceKernels

__all__ = ["Kernels", "dropout_keys", "mix32", "keep_threshold", "MIX_A", "MIX_B"]

_MASK32 = 0xFFFFFFFF
# The two multipliers of Wellons' "lowbias32" integer hash (a measured low-bias 32-bit mixer).
MIX_A = 0x7FEB352D
MIX_B = 0x846CA68B
_GOLDEN = 0x9E3779B9


def mix32(x: int) -> int:
    """The lowbias32 mixer on one Python int (used to derive per-step keys on the host)."""
    x &= _MASK32
    x ^= x >> 16
    x = (x * MIX_A) & _MASK32
    x ^= x >> 15
    x = (x * MIX_B) & _MASK32
    x ^= x >> 16
    return x


def dropout_keys(seed: int, step: int) -> tuple[int, int]:
    """The two 32-bit keys of (seed, step): an XOR key and an odd multiplier.

    Keying both the XOR and the multiplier makes each step's mask a different function of
    the element index, not a shifted or permuted copy of another step's mask.
    """
    k1 = mix32(mix32(seed ^ _GOLDEN) ^ mix32(step + 0x632BE5AB))
    k2 = mix32(k1 ^ mix32((seed >> 32) + 0x85EBCA77) ^ (step >> 32)) | 1
    return k1, k2


def keep_threshold(keep_prob: float) -> int:
    """Keep an element when its 32-bit hash is below this (``keep_prob`` in (0, 1))."""
    return min(_MASK32, int(keep_prob * 4294967296.0))


class Kernels(SequenceKernels):
    """The generic kernels: array-API only, over the namespace of their arguments.

    Subclasses override single methods; whatever they do not override falls back here.
    """

    #: The library whose arrays the overrides are written for ("generic" here).
    name = "generic"

    # -- mini-batches of examples -----------------------------------------------------------
    def examples_outermost(self, A, axis: int):
        """``A``'s values laid out for gathering mini-batches of examples along ``axis``.

        ``fit`` calls it once per call that shuffles mini-batches, on X and Y, and takes every
        batch from the result with :meth:`take_examples`. The array API leaves memory layout
        to the library, so the generic kernels return A as it is; an override may return a
        copy (the same shape and values) whose examples lie outermost in memory, so that a
        batch is a gather of contiguous blocks.
        """
        return A

    def take_examples(self, A, cols, axis: int):
        """The examples ``cols`` (an integer index array) of ``A`` along ``axis``, in that order."""
        return _namespace(A).take(A, cols, axis=axis)

    # -- Dense: Z = W A_prev + b, A = g(Z) ---------------------------------------------------
    def bias_activation(self, Z, b, activation, keep_Z=True):
        """``(Z + b, g(Z + b))``: the bias and the activation of a fresh product ``Z = W A_prev``.

        ``Z`` may be overwritten (it is the caller's temporary). With ``keep_Z=False`` the
        first result is None and an implementation may compute A in Z's memory.
        """
        Z += b  # the fresh product is the caller's: no second (n, m) temporary
        return (Z if keep_Z else None), activation.forward(Z)

    def dense_forward(self, W, A_prev, b, activation, keep_Z=True):
        """``(Z, A)`` of a dense layer: Z = W A_prev + b, A = g(Z) (Z None with ``keep_Z=False``)."""
        return self.bias_activation(W @ A_prev, b, activation, keep_Z)

    def activation_backward(self, activation, dA, Z, A):
        """dZ = dA * g'(Z). ``dA`` may be overwritten (the network's own temporary).

        ``Z`` is None when the activation does not need it (``activation.backward_needs_Z``).
        """
        return activation.backward(dA, Z, A)

    def activation_backward_db(self, activation, dA, Z, A):
        """``(dZ, db)``: :meth:`activation_backward`, plus db = the sum of dZ's columns where an
        implementation gets it cheaper in the same pass over dZ (else None, and
        :meth:`linear_backward` sums). ``dA`` may be overwritten."""
        return self.activation_backward(activation, dA, Z, A), None

    def linear_backward(self, dZ, A_prev, W, need_dA_prev=True, db=None):
        """``(dA_prev, dW, db)`` of Z = W A_prev + b: dW = dZ A_prev^T, db = sum of dZ's columns
        (unless given, from :meth:`activation_backward_db`), dA_prev = W^T dZ (None when not
        needed). The 1/m is already inside dZ."""
        xp = _namespace(dZ)
        dW = dZ @ A_prev.T
        if db is None:
            db = xp.sum(dZ, axis=1, keepdims=True)
        return (W.T @ dZ if need_dA_prev else None), dW, db

    def loss_cost(self, loss, A, Y, from_logits=False):
        """J of ``loss`` for the outputs A (the logits Z with ``from_logits``) and the targets Y.

        Every built-in loss is a sum over the examples divided by ``loss.denominator(Y)``, so
        an override may add up the shares of parts of the examples; this one asks the loss.
        """
        return loss.cost_from_logits(A, Y) if from_logits else loss.cost(A, Y)

    def cross_entropy_dZ(self, A, Y, denominator: float):
        """dJ/dZ of a fused sigmoid/softmax + cross-entropy pair: (A - Y) / denominator."""
        return (A - Y) / denominator

    # -- optimisers (never write W or the state: the training loop keeps them as its snapshot).
    # ``reuse_dW=True``: the caller gives dW up (a training step's own gradient, used by this
    # update alone), so an implementation may build the results in its memory; these generic
    # ones stay functional and ignore it.
    def gd_update(self, W, dW, learning_rate: float, reuse_dW: bool = False):
        """W - learning_rate * dW."""
        return W - learning_rate * dW

    def momentum_update(self, W, dW, v, learning_rate: float, beta: float, reuse_dW: bool = False):
        """``(W_new, v_new)`` with v = beta v + (1 - beta) dW (v None: zeros), W = W - lr v."""
        v = (1.0 - beta) * dW if v is None else beta * v + (1.0 - beta) * dW
        return W - learning_rate * v, v

    def rmsprop_update(self, W, dW, s, learning_rate: float, beta: float, epsilon: float, reuse_dW: bool = False):
        """``(W_new, s_new)`` with s = beta s + (1 - beta) dW^2, W = W - lr dW / (sqrt(s) + eps)."""
        xp = _namespace(dW)
        s = (1.0 - beta) * dW * dW if s is None else beta * s + (1.0 - beta) * dW * dW
        return W - learning_rate * dW / (xp.sqrt(s) + epsilon), s

    def adam_update(self, W, dW, v, s, learning_rate, beta1, beta2, epsilon, correction1, correction2,
                    reuse_dW=False):
        """``(W_new, v_new, s_new)``: Adam with the bias corrections 1 - beta^t given."""
        xp = _namespace(dW)
        v = (1.0 - beta1) * dW if v is None else beta1 * v + (1.0 - beta1) * dW
        s = (1.0 - beta2) * dW * dW if s is None else beta2 * s + (1.0 - beta2) * dW * dW
        # lr (v / c1) / (sqrt(s / c2) + eps) with the bias corrections as scalars: equal to
        # rounding, one pass over the arrays fewer and no division but one.
        step, root2 = learning_rate / correction1, 1.0 / math.sqrt(correction2)
        return W - v / (xp.sqrt(s) * root2 + epsilon) * step, v, s

    # -- memory -------------------------------------------------------------------------------
    def reusing_buffers(self):
        """A context (``fit``'s epochs) in which an implementation may keep a step's large
        temporaries for the next step instead of allocating them afresh; it must never write
        an array that anything else still holds, and lets them go when the context ends.
        The generic kernels keep nothing."""
        return contextlib.nullcontext()

    # -- checks ---------------------------------------------------------------------------------
    def is_finite(self, A) -> bool:
        """Whether every element of ``A`` is finite, on the host: the check of a user's input.

        One read-back (a sync on a GPU, a graph run on dask). Overrides may settle the common
        case with a cheaper reduction, but must answer exactly.
        """
        xp = _namespace(A)
        return bool(xp.all(xp.isfinite(A)))

    def all_finite(self, arrays):
        """A 0-d boolean device array: every element of every array is finite (no host sync)."""
        flag = None
        for W in arrays:
            xp = _namespace(W)
            ok = xp.all(xp.isfinite(W))
            flag = ok if flag is None else xp.logical_and(flag, ok)
        return flag

    def cost_and_finite(self, cost, arrays, to_host):
        """``(float(cost), every element of every array is finite)`` in ONE device -> host
        transfer (``to_host``: the backend's ``to_numpy``): one sync per epoch on a GPU, one
        compute per epoch on dask, whatever the network's size."""
        arrays = list(arrays)
        finite = self.all_finite(arrays) if arrays else None
        if finite is None:
            return float(cost), True
        xp = _namespace(cost)
        value, ok = to_host(xp.stack([cost, xp.astype(finite, cost.dtype)]))
        return float(value), bool(ok)

    # -- dropout ------------------------------------------------------------------------------
    def dropout_mask(self, like, keep_prob: float, seed: int, step: int):
        """D / keep_prob for inverted dropout, in ``like``'s shape, dtype and device.

        D is 1 where the keyed 32-bit hash of the element's row-major index is below
        ``keep_prob * 2**32``. The generic version hashes in int64 with every product split
        into 16-bit halves (no intermediate reaches 2**49), so it needs neither unsigned
        arithmetic nor wrap-around, which the standard leaves unspecified; overrides may use
        wrapping uint32 arithmetic for the same bits.
        """
        xp = _namespace(like)
        shape = tuple(like.shape)
        n = 1
        for size in shape:
            n *= size
        index = xp.arange(n, dtype=xp.int64, device=_device(like))
        kept = self.hash_below(xp, index, seed, step, keep_threshold(keep_prob))
        return xp.reshape(xp.astype(kept, like.dtype), shape) * (1.0 / keep_prob)

    @staticmethod
    def hash_below(xp, index, seed: int, step: int, threshold: int):
        """Boolean ``hash(index) < threshold`` for an array of element indices.

        ``index`` is uint32 (for libraries whose uint32 products wrap, as NumPy's and CuPy's
        do) or int64 in [0, 2**32) (portable: products are split, nothing overflows).
        """
        k1, k2 = dropout_keys(seed, step)
        if index.dtype == xp.uint32:
            x = (index ^ k1) * k2
            x = x ^ (x >> 16)
            x = x * MIX_A
            x = x ^ (x >> 15)
            x = x * MIX_B
        else:
            x = _mul32(index ^ k1, k2)
            x = _mul32(x ^ (x >> 16), MIX_A)
            x = _mul32(x ^ (x >> 15), MIX_B)
        x = x ^ (x >> 16)
        return x < threshold

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _mul32(x, k: int):
    """(x * k) mod 2**32 for int64 x in [0, 2**32) and a 32-bit constant k, without overflow."""
    low = (x & 0xFFFF) * k
    high = ((x >> 16) * (k & 0xFFFF)) << 16
    return (low + high) & _MASK32


def _namespace(x):
    from array_api_compat import array_namespace

    return array_namespace(x)


def _device(x):
    from array_api_compat import device

    return device(x)
