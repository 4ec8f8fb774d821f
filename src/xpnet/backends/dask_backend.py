"""Dask arrays: the same model code as a lazy task graph, on threads or a cluster.

Data (X, Y) become dask arrays chunked along the examples (columns), parameters are
single-chunk dask arrays, and forward/backward propagation only *builds* a graph. The
training loop hands each step's cost and new parameters (and the optimiser's state) to
:meth:`DaskBackend.persist`, which evaluates them in ONE call: shared intermediates (the
activations, the gradients) are computed once, and the results come back as in-memory
chunks whose graph is a single task each, so the graph never grows from step to step.

The scheduler is, in this order: a ``client=`` given to the backend (a ``Client`` or a
scheduler address such as ``"tcp://host:8786"``), the active ``dask.distributed`` client,
else dask's configured scheduler (threads). On a cluster each step is data-parallel and
keeps the data where they live (``_dask_cluster``). Chunks are NumPy arrays
(``device="cpu"``, the default) or CuPy arrays (``device="gpu"``: one GPU per worker; the
client itself needs no GPU). Nothing here imports dask until a dask backend is used.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from . import _dask_cluster as _cluster
from ._base import Backend, host_dtype

__all__ = ["DaskBackend"]

INSTALL_HINT = _cluster.INSTALL_HINT
_DEVICES = {"cpu": "cpu", "numpy": "cpu", "gpu": "gpu", "cuda": "gpu", "cupy": "gpu"}
#: Default bytes per chunk of user data: dask's own default chunk size.
DEFAULT_CHUNK_BYTES = 128 * 2**20


def _dask_status() -> tuple[bool, str]:
    try:
        import dask  # noqa: F401
        import dask.array  # noqa: F401
    except Exception as exc:
        return False, f"dask.array is not importable ({exc.__class__.__name__}: {exc}). To use it: {INSTALL_HINT}"
    return True, ""


def _to_cupy(block):
    import cupy

    return cupy.asarray(block)


def _to_host(block):
    return block.get() if hasattr(block, "get") and not isinstance(block, np.ndarray) else np.asarray(block)


def _has_gpu() -> bool:
    from .cupy_backend import CupyBackend

    return CupyBackend.is_available()


@dataclass(frozen=True)
class DaskBackend(Backend):
    """Dask arrays, evaluated by the configured scheduler.

    Parameters
    ----------
    device : {"cpu", "gpu"}
        Where the chunks live: NumPy arrays (``"cpu"``, default) or CuPy arrays (``"gpu"``).
        With a cluster only the workers need a GPU (e.g. dask-cuda's ``LocalCUDACluster``).
    client : distributed.Client or str, optional
        Run on this client's cluster, or connect to the scheduler at this address
        (``"tcp://host:8786"``; one connection per address and process). Default: the active
        client when a computation starts (``distributed.default_client()``), else dask's
        configured scheduler (threads).
    chunks : int, optional
        Examples (columns) per chunk of the data that :func:`fit` copies from the host.
        Default: as many as fit in 128 MiB, and at least one chunk per worker. Dask arrays
        you pass keep their chunks.

    Notes
    -----
    Workers import xpnet, NumPy and array-api-compat to run the tasks: install the same
    xpnet on every worker. Data opened with :mod:`xpnet.data.lazy` are read by the workers,
    so their path or URL must be reachable from every worker.
    """

    name: str = "dask"
    device: object = None
    client: object = field(default=None, compare=False, repr=False)
    chunks: object = None
    # Where scattered data chunks live (key -> worker), and the chunking chosen for each
    # number of examples, so that Y is split exactly like X.
    _homes: dict = field(default_factory=dict, compare=False, repr=False)
    _per_m: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        from .._validation import check_positive_int
        from ..errors import BackendUnavailableError, XpnetValueError

        dev = "cpu" if self.device is None else self.device
        if not isinstance(dev, str) and hasattr(dev, "id"):  # a CuPy Device, from backend_of
            dev = "gpu"
        key = _DEVICES.get(dev.lower()) if isinstance(dev, str) else None
        if key is None:
            raise XpnetValueError(f"dask device must be 'cpu' (NumPy chunks) or 'gpu' (CuPy chunks), got {dev!r}")
        check_positive_int(self.chunks, "chunks", allow_none=True)
        object.__setattr__(self, "client", _cluster.resolve_client(self.client))
        object.__setattr__(self, "device", key)
        if key == "gpu":
            client = self._client()
            if client is None and not _has_gpu():
                from .cupy_backend import CupyBackend

                raise BackendUnavailableError(
                    f"backend 'dask:gpu' needs CuPy chunks: {CupyBackend.unavailable_reason()}; "
                    "or pass client= (a cluster whose workers have GPUs, e.g. dask-cuda's LocalCUDACluster)"
                )
            if client is not None:
                missing = [w for w, ok in client.run(_has_gpu).items() if not ok]
                if missing:
                    raise BackendUnavailableError(
                        f"backend 'dask:gpu' needs CuPy and a CUDA device on every worker; {len(missing)} have none "
                        f"({', '.join(sorted(missing)[:3])}). Start the workers with dask-cuda "
                        "(LocalCUDACluster or `dask cuda worker`) and pip install 'xpnet[cuda12]' there"
                    )

    @classmethod
    def is_available(cls) -> bool:
        return _dask_status()[0]

    @classmethod
    def unavailable_reason(cls) -> str:
        return _dask_status()[1]

    def _namespace(self):
        import array_api_compat.dask.array as xp

        return xp

    # -- host <-> dask ---------------------------------------------------------------------
    def _chunk_library(self, x):
        if self.device != "gpu":
            return x
        # The chunks become CuPy arrays on the workers. A client without a GPU cannot build
        # a CuPy meta, so dask then learns the chunk type when the tasks run.
        from dask.array.utils import meta_from_array

        meta = meta_from_array(x)
        if _has_gpu():
            import cupy

            meta = cupy.empty((0,) * x.ndim, dtype=x.dtype)
        return x.map_blocks(_to_cupy, dtype=x.dtype, meta=meta)

    def asarray(self, host_array, dtype=None):
        """A single-chunk dask array (parameters, small arrays), held in memory."""
        import dask.array as da

        host = np.array(host_array, dtype=host_dtype(dtype), copy=True)
        return self._chunk_library(da.from_array(host, chunks=host.shape or ()))

    def asarray_examples(self, host_array, dtype=None):
        """User data in course layout: chunked along the examples (last axis), kept in memory.

        On a cluster the chunks are scattered once, in contiguous runs per worker, and stay
        there: every step's tasks for a chunk run on its worker.
        """
        import dask.array as da

        host = np.array(host_array, dtype=host_dtype(dtype), copy=True)
        if host.ndim != 2:
            return self.asarray(host)
        client = self._client()
        rows, per = self.example_chunks(host.shape, host.dtype, client)
        if client is None:
            return self._persist_one(self._chunk_library(da.from_array(host, chunks=(rows, per))))
        # To a cluster the data travel once, chunk by chunk (scatter), not inside a task graph.
        blocks = [np.ascontiguousarray(host[:, a:a + per]) for a in range(0, host.shape[1], per)]
        futures = _cluster.scatter_examples(client, blocks, self._homes)
        parts = [da.from_delayed(f, shape=b.shape, dtype=b.dtype, meta=b[:0, :0]) for f, b in zip(futures, blocks)]
        return self._persist_one(self._chunk_library(da.concatenate(parts, axis=1)))

    def example_chunks(self, shape, dtype, client=None) -> tuple:
        """Chunks for a course-layout array: every row together, ``chunks`` columns each.

        By default a set of m examples is split the same way whatever its rows (X and Y
        line up chunk for chunk), into chunks of at most 128 MiB and at least one per worker.
        """
        rows, m = shape
        per = self.chunks
        if per is None:
            per = self._per_m.get(m)
        if per is None:
            per = max(1, DEFAULT_CHUNK_BYTES // max(1, rows * np.dtype(dtype).itemsize))
            if client is not None:
                per = min(per, -(-m // max(1, len(client.nthreads()))))
            self._per_m[m] = per
        return (rows, min(per, m))

    def to_numpy(self, x) -> np.ndarray:
        if self.device == "gpu":  # to host on the workers: the client may have no GPU
            x = x.map_blocks(_to_host, dtype=x.dtype, meta=np.empty((0,) * x.ndim, dtype=x.dtype))
        client = self._client() or _client_of(x)
        if client is None:
            return np.asarray(x.compute())
        [future] = _cluster.pinned(client, "compute", [x], self._homes)
        return np.asarray(future.result())

    def owns(self, x) -> bool:
        import sys

        da = sys.modules.get("dask.array")
        return da is not None and isinstance(x, da.Array)

    def to_device(self, x):
        return x

    # -- evaluation ---------------------------------------------------------------------------
    def _client(self):
        """The explicit client, else the active one (looked up each time: it can change)."""
        return self.client if self.client is not None else _cluster.active_client()

    def _persist_one(self, x):
        client = self._client()
        return _cluster.pinned(client, "persist", [x], self._homes)[0] if client is not None else x.persist()

    def persist(self, cost, params, *state):
        """Evaluate the step's cost, parameters and optimiser state in one call.

        One ``persist`` of everything together: the forward and backward pass they share
        runs once, and each result's graph collapses to its in-memory chunks. On a cluster
        every task is pinned to the worker of its data chunk (``_dask_cluster``).
        """
        import dask

        client = self._client()
        if client is None:  # dask's configured scheduler (threads)
            return dask.persist(cost, params, *state)
        # The flat list of collections: flatten the dicts, then rebuild.
        names = [list(d) for d in (params, *state)]
        flat = [cost] + [d[k] for d, keys in zip((params, *state), names) for k in keys]
        done = iter(_cluster.pinned(client, "persist", flat, self._homes))
        cost = next(done)
        return (cost, *({k: next(done) for k in keys} for keys in names))

    def context(self):
        """Inside ``fit``/``predict``: computations (``float(cost)``) go to this backend's client."""
        client = self._client()
        if client is None:
            return contextlib.nullcontext()
        import functools

        import dask

        return dask.config.set(scheduler=functools.partial(_cluster.pinned_get, client, self._homes))

    def metrics(self) -> dict:
        """Per worker: bytes sent, bytes spilled to disk (cumulative), memory limit; {} without a cluster."""
        client = self._client()
        return {} if client is None else _cluster.cluster_metrics(client)

    def describe(self) -> str:
        client = self._client()
        if client is None:
            import dask

            where = f"local {dask.config.get('scheduler', None) or 'threads'}"
        else:
            where = _cluster.describe_client(client)
            if self.client is None:
                where = f"active client: {where}"
        chunks = "NumPy" if self.device == "cpu" else "CuPy"
        return f"dask ({chunks} chunks, {where})"

    def __repr__(self) -> str:
        return f"DaskBackend(device={self.device!r}, chunks={self.chunks!r}, where={self.describe()!r})"


def _client_of(x):
    """The client of the futures behind a persisted dask array, if any (to compute through it)."""
    for value in dict(x.__dask_graph__()).values():
        client = getattr(value, "client", None)
        if client is not None and hasattr(client, "compute"):
            return client
    return None
