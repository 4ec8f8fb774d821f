"""Dask arrays: the same model code as a lazy task graph, on threads or a cluster.

Data (X, Y) become dask arrays chunked along the examples (columns), parameters are
single-chunk dask arrays, and forward/backward propagation only *builds* a graph. The
training loop hands each step's cost and new parameters (and the optimiser's state) to
:meth:`DaskBackend.persist`, which evaluates them in ONE call: shared intermediates (the
activations, the gradients) are computed once, and the results come back as in-memory
chunks whose graph is a single task each, so the graph never grows from step to step.

The scheduler is the one the user configured: the default threaded scheduler, the active
``dask.distributed`` client, or a ``client=`` given to the backend. Chunks are NumPy arrays
(``device="cpu"``, the default) or CuPy arrays (``device="gpu"``: one GPU per worker on a
multi-GPU cluster). Nothing here imports dask until a dask backend is used.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from ._base import Backend, host_dtype

__all__ = ["DaskBackend"]

INSTALL_HINT = "pip install 'xpnet[dask]' (dask[array] and distributed)"
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


@dataclass(frozen=True)
class DaskBackend(Backend):
    """Dask arrays, evaluated by the configured scheduler.

    Parameters
    ----------
    device : {"cpu", "gpu"}
        Where the chunks live: NumPy arrays (``"cpu"``, default) or CuPy arrays (``"gpu"``).
    client : distributed.Client, optional
        Run on this client's cluster. Default: the active client if there is one (the
        one created last), else dask's configured scheduler (threads).
    chunks : int, optional
        Examples (columns) per chunk of the data that :func:`fit` copies from the host.
        Default: as many as fit in 128 MiB. Dask arrays you pass keep their chunks.
    """

    name: str = "dask"
    device: object = None
    client: object = field(default=None, compare=False, repr=False)
    chunks: object = None

    def __post_init__(self):
        from .._validation import check_positive_int
        from ..errors import BackendUnavailableError, XpnetTypeError, XpnetValueError

        dev = "cpu" if self.device is None else self.device
        if not isinstance(dev, str) and hasattr(dev, "id"):  # a CuPy Device, from backend_of
            dev = "gpu"
        key = _DEVICES.get(dev.lower()) if isinstance(dev, str) else None
        if key is None:
            raise XpnetValueError(f"dask device must be 'cpu' (NumPy chunks) or 'gpu' (CuPy chunks), got {dev!r}")
        if key == "gpu":
            from .cupy_backend import CupyBackend

            if not CupyBackend.is_available():
                raise BackendUnavailableError(
                    f"backend 'dask:gpu' needs CuPy chunks: {CupyBackend.unavailable_reason()}"
                )
        object.__setattr__(self, "device", key)
        check_positive_int(self.chunks, "chunks", allow_none=True)
        if self.client is not None and not (hasattr(self.client, "persist") and hasattr(self.client, "compute")):
            raise XpnetTypeError(
                f"client must be a dask.distributed Client, got {type(self.client).__name__}"
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
        import cupy

        return x.map_blocks(cupy.asarray, dtype=x.dtype, meta=cupy.empty((0,) * x.ndim, dtype=x.dtype))

    def asarray(self, host_array, dtype=None):
        """A single-chunk dask array (parameters, small arrays), held in memory."""
        import dask.array as da

        host = np.array(host_array, dtype=host_dtype(dtype), copy=True)
        return self._chunk_library(da.from_array(host, chunks=host.shape or ()))

    def asarray_examples(self, host_array, dtype=None):
        """User data in course layout: chunked along the examples (last axis), kept in memory.

        The chunks are persisted (on the cluster, with a client) once, so every step's graph
        refers to them by key instead of carrying the data along.
        """
        import dask.array as da

        host = np.array(host_array, dtype=host_dtype(dtype), copy=True)
        if host.ndim != 2:
            return self.asarray(host)
        rows, per = self.example_chunks(host.shape, host.dtype)
        client = self._client()
        if client is None:
            return self._persist_one(self._chunk_library(da.from_array(host, chunks=(rows, per))))
        # To a cluster the data travel once, chunk by chunk (scatter), not inside a task graph.
        blocks = [np.ascontiguousarray(host[:, a:a + per]) for a in range(0, host.shape[1], per)]
        futures = client.scatter(blocks)
        parts = [da.from_delayed(f, shape=b.shape, dtype=b.dtype, meta=b[:0, :0]) for f, b in zip(futures, blocks)]
        return self._persist_one(self._chunk_library(da.concatenate(parts, axis=1)))

    def example_chunks(self, shape, dtype) -> tuple:
        """Chunks for a course-layout array: every row together, ``chunks`` columns each."""
        rows, m = shape
        per = self.chunks
        if per is None:
            per = max(1, DEFAULT_CHUNK_BYTES // max(1, rows * np.dtype(dtype).itemsize))
        return (rows, min(per, m))

    def to_numpy(self, x) -> np.ndarray:
        out = self._client().compute(x).result() if self._client() is not None else x.compute()
        if self.device == "gpu":
            return out.get()
        return np.asarray(out)

    def owns(self, x) -> bool:
        import sys

        da = sys.modules.get("dask.array")
        return da is not None and isinstance(x, da.Array)

    def to_device(self, x):
        return x

    # -- evaluation ---------------------------------------------------------------------------
    def _client(self):
        if self.client is not None:
            return self.client
        return None

    def _persist_one(self, x):
        client = self._client()
        return client.persist(x) if client is not None else x.persist()

    def persist(self, cost, params, *state):
        """Evaluate the step's cost, parameters and optimiser state in one call.

        One ``persist`` of everything together: the forward and backward pass they share
        runs once, and each result's graph collapses to its in-memory chunks.
        """
        import dask

        client = self._client()
        if client is None:  # the configured scheduler: threads, or the active client
            return dask.persist(cost, params, *state)
        # Client.persist takes a flat list of collections: flatten the dicts, then rebuild.
        names = [list(d) for d in (params, *state)]
        flat = [cost] + [d[k] for d, keys in zip((params, *state), names) for k in keys]
        done = iter(client.persist(flat))
        cost = next(done)
        return (cost, *({k: next(done) for k in keys} for keys in names))

    def context(self):
        """Inside ``fit``/``predict``: computations (``float(cost)``) go to this backend's client."""
        if self.client is None:
            return contextlib.nullcontext()
        import dask

        return dask.config.set(scheduler=self.client)

    def describe(self) -> str:
        where = "threads" if self.client is None else f"client {getattr(self.client, 'scheduler_info', lambda: {})().get('address', '?')}"
        chunks = "NumPy" if self.device == "cpu" else "CuPy"
        return f"dask ({chunks} chunks, {where})"
