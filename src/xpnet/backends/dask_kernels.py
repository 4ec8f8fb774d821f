"""Dask overrides of the kernel contract: one task per chunk, never ``__setitem__``.

A training step's data are chunked along the examples (columns) with every row in one
chunk, and the parameters are single-chunk arrays. Written with the generic array-API
operations, a step is already a flat graph, but every reduction (softmax's max and sum
over the rows of a chunk, ``db`` over the columns, the contraction of ``dW``) becomes two
or three task layers per chunk, and each task costs scheduler and client time that does
not shrink with the work it holds. Here each layer's forward and backward is ONE
``blockwise`` layer per chunk, the chunk's own library doing the math (so NumPy or CuPy
chunks alike):

* :meth:`dense_forward`: ``g(W A_prev + b)`` per chunk, the product included (softmax too:
  its sums run down the rows of the chunk), and :meth:`bias_activation` likewise;
* :meth:`activation_backward`: ``dA * g'(Z)`` per chunk;
* :meth:`linear_backward`: ``dA_prev = W^T dZ`` per chunk, and ``[dW | db]`` as one partial
  product per chunk summed by a single tree reduction (one reduction for both, not two);
* :meth:`loss_cost`: each chunk's share of J (its cost, weighted by its share of the
  denominator), summed by one tree reduction;
* :meth:`all_finite`: every parameter checked in one task;
* :meth:`dropout_mask`: each chunk hashes its own global indices, so the masks are the same
  bits as on every other backend.

Arrays outside that layout (sequences, data chunked along the rows) take the generic path.
"""

from __future__ import annotations

from ._generic_kernels import Kernels, keep_threshold

__all__ = ["DaskKernels"]

#: Partial sums combined per task in the trees that sum ``[dW | db]`` and the cost over the
#: chunks. Consecutive chunks live on the same worker, so with a small fan-in the first
#: levels add up on each worker and about one partial per worker travels (a fan-in as
#: large as the number of chunks would send every chunk's partial to one worker).
SPLIT_EVERY = 4


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


# -- per-chunk functions (run on the workers; plain module functions so that they pickle) ------
def _bias(Z, b):
    return Z + b


def _bias_activation(Z, b, activation):
    return activation.forward(Z + b)


def _dense(W, A_prev, b, activation, keep_Z, kernels_of):
    """Z = W A_prev + b (``keep_Z``) or A = g(Z), by the chunk library's kernels: the product
    is this task's own array, so they may work in its memory."""
    Z = W @ A_prev
    if keep_Z:  # A is the next task's: Z has other readers (the cost, the backward pass)
        Z += b
        return Z
    return kernels_of(Z).bias_activation(Z, b, activation, keep_Z=False)[1]


def _activation(Z, activation):
    return activation.forward(Z)


def _activation_backward(dA, *arrays, activation, with_Z):
    Z, A = arrays if with_Z else (None, arrays[0])
    return activation.backward(dA, Z, A)


def _weights_T_dZ(W, dZ):
    return W.T @ dZ


def _dW_db_partial(dZ, A_prev, kernels_of):
    """This chunk's share of ``[dW | db]`` (1, n, n_prev + 1), by the chunk library's kernels."""
    from array_api_compat import array_namespace

    xp = array_namespace(dZ)
    _, dW, db = kernels_of(dZ).linear_backward(dZ, A_prev, None, need_dA_prev=False)
    return xp.expand_dims(xp.concat([dW, db], axis=1), axis=0)


def _cost_share(A, Y, loss, from_logits, total):
    """This chunk's share of J: its own cost, reweighted from its denominator to the whole set's."""
    from array_api_compat import array_namespace

    J = loss.cost_from_logits(A, Y) if from_logits else loss.cost(A, Y)
    return array_namespace(J).reshape(J * (loss.denominator(Y) / total), (1,))


def _all_finite(*blocks):
    from array_api_compat import array_namespace

    xp = array_namespace(*blocks)
    return xp.all(xp.stack([xp.all(xp.isfinite(W)) for W in blocks]))


def _generic_kernels(x):
    return Kernels()


def _meta(x, ndim=None):
    from dask.array.utils import meta_from_array

    return meta_from_array(x, ndim=x.ndim if ndim is None else ndim)


def _examples_layout(*arrays) -> bool:
    """2-D dask arrays with all their rows in one chunk (chunked along the examples only)."""
    return all(getattr(a, "ndim", 0) == 2 and len(a.chunks[0]) == 1 for a in arrays)


def _single_chunk(x) -> bool:
    return all(len(c) == 1 for c in x.chunks)


class DaskKernels(Kernels):
    """Dask kernels: one ``blockwise`` task per chunk for each layer's forward and backward."""

    name = "dask"

    def __init__(self, chunk_kernels=None):
        # kernels_of, handed in by the kernels module (importing it here would be a loop):
        # each task picks the kernels of its chunks' library (NumPy or CuPy).
        self.chunk_kernels = chunk_kernels or _generic_kernels

    def dense_forward(self, W, A_prev, b, activation, keep_Z=True):
        import dask.array as da

        if not (_examples_layout(A_prev) and _single_chunk(W) and getattr(b, "ndim", 0) == 2 and _single_chunk(b)):
            return super().dense_forward(W, A_prev, b, activation, keep_Z)
        # The product's inner axis ("k") and b's column axis ("z") are not in the output:
        # blockwise hands each task their one block, so a layer is one task per chunk.
        out = da.blockwise(_dense, "ij", W, "ik", A_prev, "kj", b, "iz", activation=activation, keep_Z=keep_Z,
                           kernels_of=self.chunk_kernels, concatenate=True, dtype=A_prev.dtype, meta=_meta(A_prev))
        if not keep_Z:
            return None, out
        return out, da.blockwise(_activation, "ij", out, "ij", activation=activation, dtype=out.dtype, meta=_meta(out))

    def bias_activation(self, Z, b, activation, keep_Z=True):
        import dask.array as da

        if not (_examples_layout(Z) and getattr(b, "ndim", 0) == 2 and _single_chunk(b)):
            return super().bias_activation(Z, b, activation, keep_Z)
        # b's column axis ("k") is not in the output: blockwise hands the task b's one block.
        if not keep_Z:
            A = da.blockwise(_bias_activation, "ij", Z, "ij", b, "ik", activation=activation,
                             concatenate=True, dtype=Z.dtype, meta=_meta(Z))
            return None, A
        Z = da.blockwise(_bias, "ij", Z, "ij", b, "ik", concatenate=True, dtype=Z.dtype, meta=_meta(Z))
        return Z, da.blockwise(_activation, "ij", Z, "ij", activation=activation, dtype=Z.dtype, meta=_meta(Z))

    def activation_backward(self, activation, dA, Z, A):
        import dask.array as da

        with_Z = Z is not None
        arrays = (dA, Z, A) if with_Z else (dA, A)
        if not _examples_layout(*arrays) or len({a.chunks for a in arrays}) != 1:
            return super().activation_backward(activation, dA, Z, A)
        pairs = [p for a in arrays for p in (a, "ij")]
        return da.blockwise(_activation_backward, "ij", *pairs, activation=activation, with_Z=with_Z,
                            dtype=dA.dtype, meta=_meta(dA))

    def linear_backward(self, dZ, A_prev, W, need_dA_prev=True, db=None):
        import dask.array as da

        if not (_examples_layout(dZ, A_prev) and dZ.chunks[1] == A_prev.chunks[1] and _single_chunk(W)):
            return super().linear_backward(dZ, A_prev, W, need_dA_prev, db=db)
        n_prev = int(A_prev.shape[0])
        # One (1, n, n_prev + 1) partial per chunk ("c" runs over the chunks of the examples).
        partial = da.blockwise(_dW_db_partial, "cij", dZ, "ic", A_prev, "jc", kernels_of=self.chunk_kernels,
                               adjust_chunks={"c": 1, "j": n_prev + 1}, dtype=dZ.dtype, meta=_meta(dZ, 3))
        both = da.sum(partial, axis=0, split_every=SPLIT_EVERY)
        # A given db is kept (the contract); summing it again with dW costs nothing extra here.
        dW, db = both[:, :n_prev], (both[:, n_prev:] if db is None else db)
        dA_prev = None
        if need_dA_prev:
            # W's row axis ("i") is contracted inside each task: W is one block.
            dA_prev = da.blockwise(_weights_T_dZ, "jc", W, "ij", dZ, "ic", concatenate=True, dtype=dZ.dtype,
                                   meta=_meta(dZ))
        return dA_prev, dW, db

    def loss_cost(self, loss, A, Y, from_logits=False):
        import dask.array as da

        # Only the built-in losses are known to be sums over the examples (see the contract).
        builtin = type(loss).__module__ == "xpnet.losses"
        if not (builtin and _examples_layout(A, Y) and A.chunks == Y.chunks):
            return super().loss_cost(loss, A, Y, from_logits)
        # One share per chunk ("c"); the rows ("i") are one block, handed whole to the task.
        shares = da.blockwise(_cost_share, "c", A, "ic", Y, "ic", loss=loss, from_logits=from_logits,
                              total=loss.denominator(Y), adjust_chunks={"c": 1}, concatenate=True, dtype=A.dtype,
                              meta=_meta(A, 1))
        return da.sum(shares, split_every=SPLIT_EVERY)

    def all_finite(self, arrays):
        import dask.array as da

        arrays = list(arrays)
        if not arrays or not all(hasattr(W, "chunks") and W.ndim and _single_chunk(W) for W in arrays):
            return super().all_finite(arrays)
        # Every parameter whole in one task: each gets indices of its own, none in the output.
        pairs, k = [], 0
        for W in arrays:
            pairs += [W, tuple(range(k, k + W.ndim))]
            k += W.ndim
        return da.blockwise(_all_finite, (), *pairs, concatenate=True, dtype=bool, meta=_meta(arrays[0], 0).astype(bool))

    def dropout_mask(self, like, keep_prob, seed, step):
        return like.map_blocks(_chunk_mask, keep_prob, seed, step, dtype=like.dtype, meta=_meta(like))
