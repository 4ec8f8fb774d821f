"""Training sets that do not fit in memory: files opened lazily as dask arrays in course layout.

Each loader returns ``X`` (n_x, m) with one example per column, chunked along the examples,
without reading the data: dask reads a chunk when a step needs it. Files usually store one
example per ROW (m, n_x), as NumPy, h5py and Zarr users write them; pass ``examples="rows"``
(the default) and the loader returns the lazy transpose, or ``examples="columns"`` for files
already in course layout. Pass the result to ``fit`` on a ``backend="dask"`` model.

Paths are local files or, for ``.npy`` and Zarr, URLs of any fsspec filesystem
(``s3://bucket/X.npy`` with s3fs, ``gs://`` with gcsfs, ``file://``, ``memory://``): only the
path travels in the task graph and each worker reads just the bytes of its own chunk. So
the path or URL must be readable from every worker (a shared filesystem or an object store,
with the credentials in ``storage_options`` or the workers' environment), and the workers
need xpnet (and s3fs/gcsfs for those URLs) installed.

>>> X = open_npy("X.npy", chunks=10_000)                    # doctest: +SKIP
>>> X = open_npy("s3://bucket/X.npy", chunks=10_000, storage_options={"anon": True})  # doctest: +SKIP
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

    def __init__(self, kind, path, key, shape, dtype, storage_options=None):
        self.kind, self.path, self.key = kind, path if _is_url(path) else os.fspath(path), key
        self.shape, self.dtype, self.ndim = tuple(shape), dtype, len(shape)
        self.storage_options = storage_options or {}

    def __getitem__(self, index):
        import numpy as np

        if self.kind == "npy-url":
            return _read_npy_block(self.path, self.key, self.shape, self.dtype, index, self.storage_options)
        if self.kind == "npy":
            return np.array(np.load(self.path, mmap_mode="r")[index])
        import h5py

        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.key][index])


def _is_url(path) -> bool:
    return isinstance(path, str) and "://" in path


def _filesystem(url, storage_options):
    try:
        import fsspec
    except ImportError:
        raise XpnetValueError(f"reading {url!r} needs fsspec: pip install fsspec (and s3fs or gcsfs for s3:// or gs://)") from None
    try:
        return fsspec.core.url_to_fs(url, **(storage_options or {}))
    except (ImportError, ValueError) as exc:
        raise XpnetValueError(f"cannot open {url!r}: {exc}") from None


def _npy_header(url, storage_options):
    """(offset, shape, fortran_order, dtype) of a remote .npy file, reading only its header."""
    import numpy as np

    fs, path = _filesystem(url, storage_options)
    if not fs.exists(path):
        raise XpnetValueError(f".npy file {url!r} does not exist")
    with fs.open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
        except ValueError as exc:
            raise XpnetValueError(f"{url!r} is not a readable .npy file ({exc})") from None
        return f.tell(), shape, fortran, dtype


def _read_npy_block(url, header, shape, dtype, index, storage_options):
    """The block ``index`` (a tuple of unit-step slices) of a remote .npy, fetching only its bytes."""
    import numpy as np

    offset, fortran = header
    if fortran:  # column-major on disk: read the transposed block of the row-major view
        return _read_npy_block(url, (offset, False), shape[::-1], dtype, tuple(index)[::-1], storage_options).T
    fs, path = _filesystem(url, storage_options)
    index = tuple(index) + (slice(None),) * (len(shape) - len(tuple(index)))
    bounds = [s.indices(n)[:2] for s, n in zip(index, shape)]
    item = dtype.itemsize
    if len(shape) == 1:
        (a, b), rows, row_len = bounds[0], [0], shape[0]
        starts, width = [offset + a * item], (b - a) * item
    else:
        (r0, r1), (c0, c1) = bounds
        rows, row_len = range(r0, r1), shape[1]
        if c0 == 0 and c1 == row_len:  # whole rows: one contiguous range
            rows, starts, width = [r0], [offset + r0 * row_len * item], (r1 - r0) * row_len * item
        else:
            starts, width = [offset + (r * row_len + c0) * item for r in rows], (c1 - c0) * item
    blobs = fs.cat_ranges([path] * len(starts), starts, [s + width for s in starts])
    out_shape = tuple(b - a for a, b in bounds)
    return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(out_shape).copy()


def _exists(path, what):
    if not isinstance(path, (str, os.PathLike)):
        raise XpnetTypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not _is_url(path) and not os.path.exists(path):
        raise XpnetValueError(f"{what} {os.fspath(path)!r} does not exist")


def open_npy(path, *, examples: str = "rows", chunks: int | None = None, storage_options: dict | None = None):
    """A ``.npy`` file, read lazily chunk by chunk; see :func:`from_array`.

    ``path`` is a local path (memory-mapped) or an fsspec URL (``s3://``, ``gs://``,
    ``file://``, ...) whose chunks are fetched as byte ranges; ``storage_options`` go to fsspec.
    """
    _exists(path, ".npy file")
    _check(examples, chunks)
    import numpy as np

    if _is_url(path):
        offset, shape, fortran, dtype = _npy_header(path, storage_options)
        source = _FileSlice("npy-url", path, (offset, fortran), shape, dtype, storage_options)
        return from_array(source, examples=examples, chunks=chunks, name=path)
    try:
        mm = np.load(path, mmap_mode="r")
    except ValueError as exc:
        raise XpnetValueError(f"{os.fspath(path)!r} is not a readable .npy file ({exc})") from None
    source = _FileSlice("npy", path, None, mm.shape, mm.dtype)
    return from_array(source, examples=examples, chunks=chunks, name=os.fspath(path))


def open_hdf5(path, dataset: str, *, examples: str = "rows", chunks: int | None = None):
    """The dataset ``dataset`` of an HDF5 file (h5py), wrapped lazily; see :func:`from_array`.

    Each chunk read opens the file by path, so the array works on any worker that sees it
    (a local or shared filesystem; for object stores use :func:`open_npy` or :func:`open_zarr`).
    """
    if _is_url(path):
        raise XpnetValueError(
            f"open_hdf5 reads local or shared-filesystem paths, got the URL {path!r}; "
            "store the data as .npy or Zarr for object stores (open_npy, open_zarr)"
        )
    _exists(path, "HDF5 file")
    _check(examples, chunks)
    import h5py

    with h5py.File(path, "r") as handle:
        if dataset not in handle:
            raise XpnetValueError(f"HDF5 file {os.fspath(path)!r} has no dataset {dataset!r}; it has {list(handle.keys())}")
        shape, dtype = handle[dataset].shape, handle[dataset].dtype
    source = _FileSlice("hdf5", path, dataset, shape, dtype)
    return from_array(source, examples=examples, chunks=chunks, name=f"{os.fspath(path)}:{dataset}")


def open_zarr(path, component: str | None = None, *, examples: str = "rows", chunks: int | None = None,
              storage_options: dict | None = None):
    """A Zarr array (or ``component`` of a Zarr group), wrapped lazily; see :func:`from_array`.

    ``path`` is a local path or an fsspec URL (``s3://``, ``gs://``, ``file://``, ...);
    ``storage_options`` go to fsspec. Pick ``chunks`` as a multiple of the store's own chunks
    along the examples, so each worker reads whole Zarr chunks.
    """
    _exists(path, "Zarr store")
    _check(examples, chunks)
    import zarr

    try:
        if _is_url(path):
            store = zarr.open(path, mode="r", storage_options=storage_options)
        else:
            store = zarr.open(os.fspath(path), mode="r")
    except (FileNotFoundError, KeyError) as exc:
        raise XpnetValueError(f"Zarr store {os.fspath(path)!r} does not exist or holds no array ({exc})") from None
    array = store[component] if component is not None else store
    return from_array(array, examples=examples, chunks=chunks, name=os.fspath(path))
