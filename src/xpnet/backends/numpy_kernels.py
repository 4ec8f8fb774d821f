"""NumPy overrides of the kernel contract: in place, ``out=`` and fewer passes over memory.

The element-wise overrides compute exactly the generic formula, in the same order of
operations, so their results are bit-for-bit the generic path's; they only save temporaries
(an update given its gradient, ``reuse_dW``, builds the new parameters in the gradient's
memory). The matrix products may take a transposed formulation where OpenBLAS is faster,
which sums in another order: equal to rounding only. Element-wise passes
over large arrays run in blocks of about 64k elements (whole rows for the activations, runs
of memory for Adam's and RMSprop's updates), so their scratch arrays stay in cache and never
add a full-size array to a training step's peak memory. Shuffled mini-batches are gathered
as whole rows from a copy of X with its examples outermost (:meth:`NumpyKernels.examples_outermost`).
"""

from __future__ import annotations

import math
import os

import numpy as np

from ._generic_kernels import MIX_A, MIX_B, Kernels, dropout_keys, keep_threshold
from .numpy_memory import given_up, memory_mapped, product, reusing_buffers
from .numpy_sequence_kernels import NumpySequenceKernels

__all__ = ["NumpyKernels"]

_BLOCK = 1 << 16
# Below this many elements a new array costs less than checking whether dW may be reused.
_SMALL = 1 << 12


def _builtin(activation) -> str | None:
    """The name of a built-in activation; None for user classes (they keep their own math)."""
    return activation.name if type(activation).__module__ == "xpnet.activations" else None


def _row_blocks(A):
    """Slices of whole rows, about ``_BLOCK`` elements each."""
    rows = A.shape[0] if A.ndim else 1
    per_row = max(1, A.size // max(1, rows))
    step = max(1, _BLOCK // per_row)
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]


class NumpyKernels(NumpySequenceKernels, Kernels):
    """In-place NumPy kernels: the dense ones bit-identical to the generic ones, the sequence
    ones (:class:`NumpySequenceKernels`) equal to them up to rounding."""

    name = "numpy"

    def examples_outermost(self, A, axis):
        # The course's (n_x, m) X in C order keeps one example's n_x values m elements apart:
        # gathering 64 shuffled examples of a 784 x 8192 float32 X took 188 us, against 8.7 us
        # of whole-row copies from this layout (one copy of X per fit call).
        moved = np.moveaxis(A, axis, 0)
        if moved.flags.c_contiguous or memory_mapped(A):  # a file may be larger than memory
            return A
        try:
            return np.moveaxis(np.ascontiguousarray(moved), 0, axis)
        except MemoryError:  # no room for the copy: batches are gathered from A as it is
            return A

    def take_examples(self, A, cols, axis):
        moved = np.moveaxis(A, axis, 0)
        if moved.flags.c_contiguous:  # examples outermost: each one a contiguous block
            return np.moveaxis(moved.take(cols, axis=0), 0, axis)
        return np.take(A, cols, axis=axis)  # a strided gather along an inner axis

    def bias_activation(self, Z, b, activation, keep_Z=True):
        kind = _builtin(activation)
        if keep_Z or kind not in ("relu", "tanh", "leaky_relu", "linear"):
            np.add(Z, b, out=Z)
            if kind == "softmax":
                return (Z if keep_Z else None), _softmax(Z)
            if kind == "sigmoid":
                return (Z if keep_Z else None), _sigmoid(Z)
            return (Z if keep_Z else None), activation.forward(Z)
        # Z is dropped: A takes its memory, and each block gets its activation while the bias
        # add has just left it in cache (one trip through memory instead of two).
        per_row = Z.size > _BLOCK and Z.ndim == 2 and b.shape == (Z.shape[0], 1)
        for rows in _row_blocks(Z) if per_row else (None,):
            block = Z if rows is None else Z[rows]
            np.add(block, b if rows is None else b[rows], out=block)
            if kind == "relu":
                np.maximum(block, 0.0, out=block)
            elif kind == "tanh":
                np.tanh(block, out=block)
            elif kind == "leaky_relu":
                np.copyto(block, np.where(block > 0, block, activation.slope * block))
        return None, Z

    def dense_forward(self, W, A_prev, b, activation, keep_Z=True):
        if _deep_and_short(W, A_prev):
            return self.bias_activation((A_prev.T @ W.T).T, b, activation, keep_Z)
        return self.bias_activation(product(W, A_prev), b, activation, keep_Z)

    def reusing_buffers(self):
        return reusing_buffers()

    def activation_backward(self, activation, dA, Z, A):
        return self.activation_backward_db(activation, dA, Z, A, with_db=False)[0]

    def activation_backward_db(self, activation, dA, Z, A, with_db=True):
        kind = _builtin(activation)
        if kind == "linear":
            return dA, None
        if kind == "softmax":
            s = np.sum(dA * A, axis=0, keepdims=True)
            np.subtract(dA, s, out=dA)
            np.multiply(A, dA, out=dA)
            return dA, None
        if kind not in ("relu", "tanh", "sigmoid", "leaky_relu") or dA.shape != A.shape or not dA.flags.writeable:
            return activation.backward(dA, Z, A), None
        # Each block's row sums (db) are taken while the block is still in cache; a row lies
        # whole in one block, so every sum is the one np.sum makes over the full array.
        db = np.empty((dA.shape[0], 1), dtype=dA.dtype) if with_db and dA.ndim == 2 else None
        for rows in _row_blocks(A) if A.size > _BLOCK else (None,):
            d, a = (dA, A) if rows is None else (dA[rows], A[rows])
            if kind == "relu":
                np.multiply(d, a > 0, out=d)
            elif kind == "tanh":
                t = np.multiply(a, a)
                np.subtract(1.0, t, out=t)
                np.multiply(d, t, out=d)
            elif kind == "sigmoid":
                t = np.subtract(1.0, a)
                np.multiply(d, a, out=d)
                np.multiply(d, t, out=d)
            else:  # leaky_relu: dA * (slope + (1 - slope) * [A > 0])
                slope = activation.slope
                t = (a > 0).astype(d.dtype)
                np.multiply(t, 1.0 - slope, out=t)
                np.add(slope, t, out=t)
                np.multiply(d, t, out=d)
            if db is not None:
                np.add.reduce(d, axis=1, keepdims=True, out=db if rows is None else db[rows])
        return dA, db

    def linear_backward(self, dZ, A_prev, W, need_dA_prev=True, db=None):
        # (A_prev dZ^T)^T is dZ A_prev^T computed as OpenBLAS's faster "N,T" product: 1.3x to
        # 1.6x quicker for a short dZ (few units, many inputs: the course net's first layer),
        # never slower for square ones. dW (and so the updated W) is then Fortran-ordered,
        # which NumPy and BLAS take as they come.
        dW = (A_prev @ dZ.T).T if A_prev.ndim == 2 else dZ @ A_prev.T
        if db is None:
            db = np.add.reduce(dZ, axis=1, keepdims=True)  # np.sum without its Python wrapper
        return (product(W.T, dZ) if need_dA_prev else None), dW, db

    def cross_entropy_dZ(self, A, Y, denominator):
        dZ = np.subtract(A, Y)
        np.divide(dZ, denominator, out=dZ)
        return dZ

    def gd_update(self, W, dW, learning_rate, reuse_dW=False):
        out = given_up(dW, W) if reuse_dW and dW.size >= _SMALL else None  # a statement of its own: see given_up
        new = np.multiply(dW, learning_rate, out=out)
        np.subtract(W, new, out=new)
        return new

    def momentum_update(self, W, dW, v, learning_rate, beta, reuse_dW=False):
        out = given_up(dW, W) if reuse_dW and dW.size >= _SMALL else None
        v_new = np.multiply(dW, 1.0 - beta, out=out)
        if v is not None:
            v_new = _axpy(v, beta, v_new)
        new = np.multiply(v_new, learning_rate)
        np.subtract(W, new, out=new)
        return new, v_new

    def rmsprop_update(self, W, dW, s, learning_rate, beta, epsilon, reuse_dW=False):
        out = given_up(dW, W) if reuse_dW and dW.size >= _SMALL else None
        # In blocks above 64k elements: 0.59x the generic time on a 1024 x 1024 float32 W, 0.73x on 256 x 784.
        return _update(_rmsprop_pass, (W, dW, s), out, (learning_rate, beta, epsilon))

    def adam_update(self, W, dW, v, s, learning_rate, beta1, beta2, epsilon, correction1, correction2,
                    reuse_dW=False):
        out = given_up(dW, W) if reuse_dW and dW.size >= _SMALL else None
        # The bias corrections as scalars, in the generic order (a division costs about twice a
        # product on the course net's W1). In blocks above 64k elements: 0.70x the time of
        # whole-array passes on a 1024 x 1024 float32 W, 0.86x on 20 x 12288, 0.96x on 256 x 784.
        return _update(_adam_pass, (W, dW, v, s), out,
                       (beta1, beta2, epsilon, 1.0 / math.sqrt(correction2), learning_rate / correction1))

    def is_finite(self, A) -> bool:
        if not isinstance(A, np.ndarray):
            return super().is_finite(A)
        return self._all_finite([A])  # 1.1 ms instead of 2.0 ms for a 784 x 8192 float32 X

    def all_finite(self, arrays):
        return np.asarray(self._all_finite(arrays))

    @staticmethod
    def _all_finite(arrays) -> bool:
        # A sum of squares is finite only if every element is: BLAS's dot gives it in one
        # threaded pass, 2-3x quicker than isfinite + all, and the sums of all the arrays are
        # added up so that one test settles them all. A non-finite total (or an overflow of
        # huge finite values) is settled by the exact element-wise check.
        arrays = list(arrays)
        total = 0.0
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow here is no error
            for W in arrays:
                if W.dtype.kind == "f" and W.size:
                    flat = W.ravel(order="K")
                    total = total + np.dot(flat, flat)
                elif not np.isfinite(W).all():
                    return False
            if np.isfinite(total):
                return True
        return all(bool(np.isfinite(W).all()) for W in arrays)

    def cost_and_finite(self, cost, arrays, to_host):
        return float(cost), self._all_finite(arrays)

    def dropout_mask(self, like, keep_prob, seed, step):
        k1, k2 = dropout_keys(seed, step)
        threshold = np.uint32(keep_threshold(keep_prob))
        scale = 1.0 / keep_prob
        D = np.empty(like.shape, dtype=like.dtype)
        flat = D.reshape(-1)
        n = flat.size
        x = np.empty(min(n, _BLOCK), dtype=np.uint32)
        y = np.empty_like(x)
        kept = np.empty(x.shape, dtype=bool)
        counter = np.arange(x.size, dtype=np.uint32)
        u32 = np.uint32
        for start in range(0, n, _BLOCK):
            size = min(_BLOCK, n - start)
            xs, ys, ks = x[:size], y[:size], kept[:size]
            np.add(counter[:size], u32(start), out=xs)
            np.bitwise_xor(xs, u32(k1), out=xs)
            np.multiply(xs, u32(k2), out=xs)
            for shift, factor in ((16, MIX_A), (15, MIX_B)):
                np.right_shift(xs, u32(shift), out=ys)
                np.bitwise_xor(xs, ys, out=xs)
                np.multiply(xs, u32(factor), out=xs)
            np.right_shift(xs, u32(16), out=ys)
            np.bitwise_xor(xs, ys, out=xs)
            np.less(xs, threshold, out=ks)
            np.multiply(ks, scale, out=flat[start:start + size])
        return D


def _flat_views(*arrays):
    """1-D views of arrays of one shape laid out alike (all C- or all Fortran-ordered; None
    entries pass through), so that equal flat indices are equal elements; else None."""
    present = [a for a in arrays if a is not None]
    first = present[0]
    for order, flag in (("C", "C_CONTIGUOUS"), ("F", "F_CONTIGUOUS")):
        if all(a.shape == first.shape and a.flags[flag] for a in present):
            return [None if a is None else a.ravel(order=order) for a in arrays]
    return None


def _update(body, inputs, out, hyper):
    """``(W_new, *state_new)`` of an optimiser update written as ``body``, element-wise.

    ``body(*inputs, *state_outs, new, scratch, *hyper)`` takes its outputs as ``out=``
    arguments and returns ``(new, *state)``. Given None it lets each pass allocate (small
    arrays: one call, no set-up); ``out`` is dW's memory when the update may take it.
    Above ``_BLOCK`` elements, with every array in one layout (each step after the first), it
    runs on blocks of ``_BLOCK`` elements of their memory, each block through every pass
    while it is in cache.
    """
    dW = inputs[1]
    flat = _flat_views(*inputs) if dW.size > _BLOCK else None
    n_state = len(inputs) - 2
    if flat is None:
        return body(*inputs, *([None] * n_state), out, None, *hyper)
    outputs = [np.empty_like(dW) for _ in range(n_state)] + [np.empty_like(dW) if out is None else out]
    flat_out = [a.ravel(order="K") for a in outputs]  # dW's layout, as the inputs'
    scratch = np.empty(_BLOCK, dtype=dW.dtype)
    for start in range(0, dW.size, _BLOCK):
        block = slice(start, start + _BLOCK)
        body(*(None if a is None else a[block] for a in flat), *(a[block] for a in flat_out),
             scratch[:min(_BLOCK, dW.size - start)], *hyper)
    return (outputs[-1], *outputs[:-1])


def _adam_pass(w, g, v, s, v_new, s_new, new, t, beta1, beta2, epsilon, root2, step):
    v_new = np.multiply(g, 1.0 - beta1, out=v_new)
    s_new = np.multiply(g, 1.0 - beta2, out=s_new)
    np.multiply(s_new, g, out=s_new)
    if v is not None:
        np.add(np.multiply(v, beta1, out=t), v_new, out=v_new)
        np.add(np.multiply(s, beta2, out=t), s_new, out=s_new)
    t = np.sqrt(s_new, out=t)
    np.multiply(t, root2, out=t)
    np.add(t, epsilon, out=t)
    new = np.divide(v_new, t, out=new)  # dW is read no more: its memory may take W_new's
    np.multiply(new, step, out=new)
    np.subtract(w, new, out=new)
    return new, v_new, s_new


def _rmsprop_pass(w, g, s, s_new, new, t, learning_rate, beta, epsilon):
    s_new = np.multiply(g, 1.0 - beta, out=s_new)
    np.multiply(s_new, g, out=s_new)
    if s is not None:
        np.add(np.multiply(s, beta, out=t), s_new, out=s_new)
    t = np.sqrt(s_new, out=t)
    np.add(t, epsilon, out=t)
    new = np.multiply(g, learning_rate, out=new)  # dW is read no more after this pass
    np.divide(new, t, out=new)
    np.subtract(w, new, out=new)
    return new, s_new


def _blas_threads() -> int:
    # OpenBLAS's own order: its variable, then OpenMP's, else one thread per core.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


# Read once, at import, as OpenBLAS itself reads them (a later threadpoolctl limit is not seen).
_THREADED = _blas_threads() > 1


def _deep_and_short(W, A_prev) -> bool:
    """Whether W A_prev is faster in OpenBLAS as (A_prev^T W^T)^T: a Fortran-ordered W (the
    layout the updates leave, from dW's) times a deep A_prev over few examples, with BLAS
    running on several threads.

    Measured on the 2-core Xeon with 2 threads: 0.56x to 0.67x the direct product's time for
    the course net's first layer (20 x 12288 times 12288 x 209), 0.51x to 0.84x from 20 to 100
    units and 64 to 256 examples; even or slower below 2048 inputs, with a C-ordered W, or
    with many examples (1.7x slower for 100 x 784 times 784 x 64), which keep the direct
    product. With one thread it is 1.07x slower on the course net, so it is not used then.
    """
    if not _THREADED or A_prev.ndim != 2 or W.ndim != 2:
        return False
    k, m = A_prev.shape
    if k < 2048 or k < 4 * m:
        return False
    return W.T.flags.c_contiguous


def _axpy(old, beta, fresh):
    """beta * old + fresh, into fresh (the generic ``beta * v + (1 - beta) * dW`` order)."""
    return np.add(np.multiply(old, beta), fresh, out=fresh)


def _sigmoid(Z):
    # The generic formula (exp(-|z|) never overflows), with its temporaries reused.
    E = np.abs(Z)
    np.negative(E, out=E)
    np.exp(E, out=E)
    D = np.add(E, 1.0)
    positive = np.divide(1.0, D)
    np.divide(E, D, out=D)
    return np.where(Z >= 0, positive, D)


def _softmax(Z):
    E = np.subtract(Z, np.max(Z, axis=0, keepdims=True))
    np.exp(E, out=E)
    np.divide(E, np.sum(E, axis=0, keepdims=True), out=E)
    return E
