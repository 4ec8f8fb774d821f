"""Training sets that do not fit in memory: files opened lazily as dask arrays in course layout.

Each loader returns ``X`` (n_x, m) with one example per column, chunked along the examples,
without reading the data: dask reads a chunk when a step needs it. Files usually store one
example per ROW (m, n_x), as NumPy, h5py and Zarr users write them; pass ``examples="rows"``
(the default) and the loader returns the lazy transpose, or ``examples="columns"`` for files
already in course layout. Pass the result to ``fit`` on a ``backend="dask"`` model.

>>> X = open_npy("X.npy", chunks=10_000)                    # doctest: +SKIP
>>> net.fit(X, Y, batch_size=1024)                           # doctest: +SKIP
"""

from __future__ import annotations

import os

from .._validation import check_positive_int
from ..errors import XpnetTypeError, XpnetValueError

__all__ = ["open_npy", "open_hdf5", "open_zarr", "from_array"]

_LAYOUTS = ("rows", "columns")


def _check(examples, chunks):
    if examples not in _LAYOUTS:
        raise XpnetValueError(f"examples must be 'rows' (one example per row in the file) or 'columns', got {examples!r}")
    check_positive_int(chunks, "chunks", allow_none=True)


def from_array(array, *, examples: str = "rows", chunks: int | None = None, name: str = "array"):
    """Wrap any array-like with ``shape``, ``dtype`` and slicing (memmap, h5py dataset, zarr array).

    Parameters
    ----------
    array : array-like
        1-D (one value per example: becomes (1, m)) or 2-D.
    examples : {"rows", "columns"}
        Where the examples lie in ``array``.
    chunks : int, optional
        Examples per chunk; default: about 128 MiB per chunk.

    Returns
    -------
    dask.array.Array, shape (n, m)
    """
    _check(examples, chunks)
    import dask.array as da

    shape = tuple(getattr(array, "shape", ()))
    if len(shape) not in (1, 2):
        raise XpnetValueError(f"{name} must be 1-D or 2-D, got shape {shape}")
    ndim = len(shape)
    m = shape[0] if (ndim == 1 or examples == "rows") else shape[1]
    features = 1 if ndim == 1 else (shape[1] if examples == "rows" else shape[0])
    if chunks is None:
        itemsize = getattr(getattr(array, "dtype", None), "itemsize", 8)
        chunks = max(1, (128 * 2**20) // max(1, features * itemsize))
    chunks = min(chunks, m)
    if ndim == 1:
        return da.from_array(array, chunks=(chunks,), asarray=True, meta=_meta(array))[None, :]
    if examples == "rows":
        return da.from_array(array, chunks=(chunks, features), asarray=True, meta=_meta(array)).T
    return da.from_array(array, chunks=(features, chunks), asarray=True, meta=_meta(array))


def _meta(array):
    import numpy as np

    return np.empty((0,) * len(array.shape), dtype=array.dtype)


class _FileSlice:
    """A picklable stand-in for an on-disk array: only the path travels in the task graph.

    Each read re-opens the file and returns just the requested block, so a distributed
    worker never receives (or keeps) more than the chunk it works on; a memmap or an open
    h5py dataset placed in the graph directly would be pickled whole, or not at all.
    """

    def __init__(self, kind, path, key, shape, dtype):
        self.kind, self.path, self.key = kind, os.fspath(path), key
        self.shape, self.dtype, self.ndim = tuple(shape), dtype, len(shape)

    def __getitem__(self, index):
        import numpy as np

        if self.kind == "npy":
            return np.array(np.load(self.path, mmap_mode="r")[index])
        import h5py

        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.key][index])


def _exists(path, what):
    if not isinstance(path, (str, os.PathLike)):
        raise XpnetTypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not os.path.exists(path):
        raise XpnetValueError(f"{what} {os.fspath(path)!r} does not exist")


def open_npy(path, *, examples: str = "rows", chunks: int | None = None):
    """A ``.npy`` file, memory-mapped (read only) and wrapped lazily; see :func:`from_array`."""
    _exists(path, ".npy file")
    _check(examples, chunks)
    import numpy as np

    try:
        mm = np.load(path, mmap_mode="r")
    except ValueError as exc:
        raise XpnetValueError(f"{os.fspath(path)!r} is not a readable .npy file ({exc})") from None
    source = _FileSlice("npy", path, None, mm.shape, mm.dtype)
    return from_array(source, examples=examples, chunks=chunks, name=os.fspath(path))


def open_hdf5(path, dataset: str, *, examples: str = "rows", chunks: int | None = None):
    """The dataset ``dataset`` of an HDF5 file (h5py), wrapped lazily; see :func:`from_array`.

    Each chunk read opens the file by path, so the array works on any worker that sees it.
    """
    _exists(path, "HDF5 file")
    _check(examples, chunks)
    import h5py

    with h5py.File(path, "r") as handle:
        if dataset not in handle:
            raise XpnetValueError(f"HDF5 file {os.fspath(path)!r} has no dataset {dataset!r}; it has {list(handle.keys())}")
        shape, dtype = handle[dataset].shape, handle[dataset].dtype
    source = _FileSlice("hdf5", path, dataset, shape, dtype)
    return from_array(source, examples=examples, chunks=chunks, name=f"{os.fspath(path)}:{dataset}")


def open_zarr(path, component: str | None = None, *, examples: str = "rows", chunks: int | None = None):
    """A Zarr array (or ``component`` of a Zarr group), wrapped lazily; see :func:`from_array`."""
    _exists(path, "Zarr store")
    _check(examples, chunks)
    import zarr

    store = zarr.open(os.fspath(path), mode="r")
    array = store[component] if component is not None else store
    return from_array(array, examples=examples, chunks=chunks, name=os.fspath(path))
