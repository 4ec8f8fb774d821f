"""Memory the NumPy kernels reuse instead of allocating, only where nothing else can see it.

* A training step's own gradient takes its update's result (:func:`given_up`), when a
  reference count proves that only the step's gradients dict holds it.
* Inside ``fit``, large product outputs are handed from one step to the next
  (:func:`reusing_buffers`, :func:`product`), again only when nothing else holds them.
* A memory-mapped array (:func:`memory_mapped`) is never copied whole: it may be larger
  than memory.
"""

from __future__ import annotations

import contextlib
import contextvars
import mmap
import sys

import numpy as np

__all__ = ["given_up", "reusing_buffers", "product", "memory_mapped", "Buffers"]


def _reference_counts(dW) -> tuple[int, int]:
    base = dW.base
    return sys.getrefcount(dW), (0 if base is None else sys.getrefcount(base))


def _calibrate() -> tuple[int, int]:
    """The counts :func:`given_up` sees for a gradient held by ONE dict (the step's grads)
    and, like the transposed product's dW, a view of a buffer that only it holds.

    Measured through calls as deep as the kernels' (what an argument adds differs between
    Python versions), so the check needs no constant.
    """

    def kernel(dW):
        out = given_up(dW)
        return out

    def given_up(dW):
        return _reference_counts(dW)

    grads = {"dW": np.empty((2, 3)).T}
    return kernel(grads["dW"])


_SOLE = _calibrate() if hasattr(sys, "getrefcount") else (-1, -1)


def given_up(dW, W):
    """dW's memory, for the update's result, when nothing but the caller's grads holds it.

    ``reuse_dW`` says the caller never reads dW again, but a layer could still keep it (or
    hand the same array, or views of one buffer, for two parameters): only an array held by
    one reference, whose memory no other array holds, is overwritten. Else None (a new
    array), which is always safe. Kernels call it in a statement of its own: inside another
    call's arguments dW would carry one more (temporary) reference and never be reused.
    """
    if dW.dtype != W.dtype or dW.shape != W.shape or not dW.flags.writeable:
        return None
    refs, base_refs = _reference_counts(dW)
    base = dW.base
    if refs > _SOLE[0] or (base is not None and (not isinstance(base, np.ndarray) or base.base is not None
                                                 or base_refs > _SOLE[1])):
        return None
    return dW


class Buffers:
    """Large product outputs (Z, dA_prev) a training step allocated, for the next step.

    A fresh array of 32 MB costs about 3 ms of page faults on the 2-core Xeon before the
    product can write it (the allocator hands memory that large back to the system when it
    is freed); the GEMM-bound net makes four a step. A kept buffer is handed out again only
    when the list's own reference is the only one left (a reference count): an array that a
    cache, the caller or a view still holds is never written.
    """

    MIN_BYTES = 1 << 23
    LIMIT = 6

    def __init__(self, held=()):
        self.held = list(held)

    def _refs(self, i) -> int:
        return sys.getrefcount(self.held[i])

    def take(self, shape, dtype):
        for i in range(len(self.held)):
            if self._refs(i) <= _FREE and self.held[i].shape == shape and self.held[i].dtype == dtype:
                return self.held[i]
        return None

    def keep(self, array) -> None:
        if len(self.held) < self.LIMIT:
            self.held.append(array)


_FREE = Buffers([np.empty(1)])._refs(0) if hasattr(sys, "getrefcount") else -1
_POOL: contextvars.ContextVar = contextvars.ContextVar("xpnet_numpy_buffers", default=None)


@contextlib.contextmanager
def reusing_buffers():
    token = _POOL.set(Buffers())
    try:
        yield
    finally:
        _POOL.reset(token)


def product(W, A):
    """W @ A, into a free kept buffer inside :meth:`NumpyKernels.reusing_buffers`."""
    pool = _POOL.get()
    if pool is None or W.ndim != 2 or A.ndim != 2:
        return W @ A
    shape, dtype = (W.shape[0], A.shape[1]), np.result_type(W, A)
    if shape[0] * shape[1] * dtype.itemsize < pool.MIN_BYTES:
        return W @ A
    out = pool.take(shape, dtype)
    if out is None:
        out = W @ A
        pool.keep(out)
        return out
    return np.matmul(W, A, out=out)


def memory_mapped(A) -> bool:
    """Whether A's memory is a mapped file (np.memmap, np.load(..., mmap_mode=...)), or a view of one."""
    while A is not None:
        if isinstance(A, (np.memmap, mmap.mmap)):
            return True
        A = getattr(A, "base", None)
    return False
