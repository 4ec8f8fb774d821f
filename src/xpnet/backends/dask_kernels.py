"""Dask overrides of the kernel contract: one task per chunk, never ``__setitem__``.

The generic kernels are already flat graphs on dask (element-wise operations become one
blockwise layer each, fused by dask's optimiser), so only the dropout mask is overridden:
the generic version builds the element index with one ``arange`` over the whole array and
reshapes it, which rechunks. Here each chunk hashes its own global indices in a single
``map_blocks`` task, with its own library (NumPy or CuPy chunks), so the masks are the same
bits as on every other backend.
"""

from __future__ import annotations

from ._generic_kernels import Kernels, keep_threshold

__all__ = ["DaskKernels"]


def _chunk_mask(block, keep_prob, seed, step, block_info=None):
    from array_api_compat import array_namespace

    xp = array_namespace(block)
    # NumPy and CuPy chunks hash in wrapping uint32 (fewer passes); others in portable int64.
    wraps = type(block).__module__.partition(".")[0] in ("numpy", "cupy")
    itype = xp.uint32 if wraps else xp.int64
    info = block_info[None]
    shape, location = info["shape"], info["array-location"]
    index = None
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        start, stop = location[axis]
        along = xp.arange(start, stop, dtype=itype)
        along = xp.reshape(along, tuple(-1 if k == axis else 1 for k in range(len(shape))))
        term = along * stride if stride != 1 else along
        index = term if index is None else index + term
        stride = (stride * shape[axis]) & 0xFFFFFFFF
    index = xp.broadcast_to(index, tuple(stop - start for start, stop in location))
    kept = Kernels.hash_below(xp, index, seed, step, keep_threshold(keep_prob))
    return xp.astype(kept, block.dtype) * (1.0 / keep_prob)


class DaskKernels(Kernels):
    """Dask kernels: the generic ones, plus a per-chunk dropout mask."""

    name = "dask"

    def dropout_mask(self, like, keep_prob, seed, step):
        from dask.array.utils import meta_from_array

        return like.map_blocks(
            _chunk_mask, keep_prob, seed, step, dtype=like.dtype, meta=meta_from_array(like, ndim=like.ndim)
        )
