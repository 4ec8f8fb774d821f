"""The dask backend on a ``distributed`` cluster: which client, where each task runs, what moved.

A data-parallel step keeps the data where it lives. The examples are split into column
chunks that stay on their workers; every task of a step is pinned to a worker before it is
submitted:

* a task that reads a chunk of the examples (a scattered or persisted chunk, or a task that
  loads one from a file) runs where that chunk lives (or, for a file read, on the worker
  that owns that block: blocks are dealt out to the workers in contiguous runs);
* a task inherits the worker of the chunk-sized inputs it depends on, so each chunk's
  forward and backward pass run on that chunk's worker and no X chunk and no activation
  travels;
* partial sums of the gradients inherit the worker of most of their inputs (dask reduces in
  a tree of consecutive chunks, so the first levels are local), and what is left (the last
  reduction, the update, the cost) runs on one "root" worker.

Parameters then travel once per step to each worker that needs them (a worker fetches a
dependency once, whatever the number of its tasks that read it), and the gradients travel
once per worker to the root: per-step traffic is of the order of (parameters + gradients)
x workers. The pins are strict worker restrictions: the scheduler's work stealing and its
queueing of "root-ish" tasks, which ignore data locality, cannot move them.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

__all__ = ["resolve_client", "active_client", "pinned", "pinned_get", "scatter_examples", "cluster_metrics", "describe_client"]

_BY_ADDRESS: dict = {}
INSTALL_HINT = "pip install 'xpnet[dask]' (dask[array] and distributed)"
_LOCK = threading.Lock()


def resolve_client(client):
    """A ``distributed.Client`` from a Client, a scheduler address, or None (returned as is)."""
    from ..errors import XpnetTypeError, XpnetValueError

    if client is None or (hasattr(client, "persist") and hasattr(client, "scatter")):
        return client
    if not isinstance(client, str):
        raise XpnetTypeError(
            "client must be a dask.distributed Client or a scheduler address such as 'tcp://host:8786', "
            f"got {type(client).__name__}"
        )
    if "://" not in client and ":" not in client:
        raise XpnetValueError(f"scheduler address must look like 'tcp://host:8786', got {client!r}")
    try:
        import distributed
    except ImportError:

        raise XpnetValueError(f"connecting to a scheduler needs dask.distributed: {INSTALL_HINT}") from None
    with _LOCK:  # one client per address and process: every backend for that address shares it
        known = _BY_ADDRESS.get(client)
        if known is not None and known.status == "running":
            return known
        try:
            known = distributed.Client(client, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            import dask

            wait = dask.config.get("distributed.comm.timeouts.connect")
            raise XpnetValueError(
                f"cannot reach a dask scheduler at {client!r} within {wait} ({exc.__class__.__name__}); "
                "start one (`dask scheduler`, or a LocalCluster) or check the address and the firewall"
            ) from None
        _BY_ADDRESS[client] = known
        return known


def active_client():
    """dask.distributed's default client (the one created last with ``set_as_default``), or None."""
    import sys

    distributed = sys.modules.get("distributed")
    if distributed is None:  # no client can exist before distributed is imported
        return None
    try:
        return distributed.default_client()
    except ValueError:
        return None


def describe_client(client) -> str:
    try:
        info = client.scheduler_info()
    except Exception as exc:  # a closed client: say so rather than fail in a repr
        return f"client (unreachable: {exc.__class__.__name__})"
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    return f"scheduler {info.get('address', '?')}, {len(workers)} workers, {threads} threads"


def _workers(client) -> list:
    workers = sorted(client.nthreads())
    if not workers:
        from ..errors import XpnetValueError

        raise XpnetValueError("the dask cluster has no workers; start some (dask worker ADDRESS) or scale the cluster")
    return workers


def _name(key):
    return key[0] if isinstance(key, tuple) else key


def _block(key) -> int:
    # Course-layout data are chunked along one axis only, so the sum of the block indices
    # is the block's position along the examples.
    return sum(i for i in key[1:] if isinstance(i, int)) if isinstance(key, tuple) else 0


def _graph(collections) -> dict:
    dsk = {}
    for c in collections:
        dsk.update(c.__dask_graph__())
    return _nodes(dsk)


def _nodes(dsk) -> dict:
    try:
        from dask._task_spec import convert_legacy_graph

        return convert_legacy_graph(dsk)
    except ImportError:  # an older dask: tasks are tuples, dependencies resolved below
        return dsk


def _deps(dsk, key, node) -> set:
    deps = getattr(node, "dependencies", None)
    if deps is None:
        from dask.core import get_dependencies

        return set(get_dependencies(dsk, key))
    return set(deps)


def _toposort(dsk, deps) -> list:
    order, seen = [], set()
    for root in dsk:
        stack = [(root, False)]
        while stack:
            key, done = stack.pop()
            if done:
                order.append(key)
                continue
            if key in seen:
                continue
            seen.add(key)
            stack.append((key, True))
            stack.extend((d, False) for d in deps[key] if d in dsk and d not in seen)
    return order


def placement(dsk: dict, client, homes_cache: dict) -> defaultdict:
    """Every task's worker (see the module's docstring), as ``{key: [address]}``.

    ``homes_cache`` remembers where the chunks of data already on the cluster live, so the
    scheduler is asked once per chunk, not once per step.
    """
    workers = _workers(client)
    if len(homes_cache) > 100_000:  # keys of data long released: start afresh rather than grow
        homes_cache.clear()
    deps = {k: _deps(dsk, k, v) for k, v in dsk.items()}
    # Inputs already on the cluster: chunks of a collection of several chunks are data
    # (their location is looked up); single-chunk ones (parameters, moments) go where needed.
    external = {d for ds in deps.values() for d in ds if d not in dsk}
    per_name = Counter(_name(k) for k in external)
    data = [k for k in external if per_name[_name(k)] > 1 or k in homes_cache]
    unknown = [k for k in data if k not in homes_cache or homes_cache[k] not in workers]
    if unknown:
        from distributed import Future

        for key, where in client.who_has([Future(k, client) for k in unknown]).items():
            if where:
                homes_cache[key] = sorted(where)[0]
    home = {k: homes_cache[k] for k in data if k in homes_cache}
    # Tasks that depend on no chunk already on the cluster but belong to a chunked collection
    # (reads from a file, lazily generated data): contiguous runs of their blocks per worker.
    blocks = defaultdict(list)
    for key in dsk:
        blocks[_name(key)].append(key)
    rank = {}
    for keys in blocks.values():
        if len(keys) > 1:
            for i, key in enumerate(sorted(keys, key=_block)):
                rank[key] = workers[i * len(workers) // len(keys)]
    for key in _toposort(dsk, deps):
        votes = Counter(home[d] for d in deps[key] if d in home)
        if votes:
            best = max(votes.values())
            home[key] = min(w for w, n in votes.items() if n == best)
        elif key in rank:
            home[key] = rank[key]
    root = min(home.values()) if home else workers[0]
    pins = defaultdict(list(workers).copy)  # a key not seen here (none expected) may run anywhere
    pins.update({k: [home.get(k, root)] for k in dsk})
    return pins


def pinned(client, method: str, collections, homes_cache: dict):
    """``client.persist``/``client.compute`` of ``collections`` with every task pinned (see above)."""
    import dask

    optimized = dask.optimize(*collections)
    pins = placement(_graph(optimized), client, homes_cache)
    # A builtin bound method pickles without xpnet, so the scheduler needs nothing of ours.
    with dask.annotate(workers=pins.__getitem__, allow_other_workers=False):
        return getattr(client, method)(list(optimized), optimize_graph=False)


def pinned_get(client, homes_cache: dict, dsk, keys, **kwargs):
    """A dask scheduler ``get`` (for ``dask.config.set(scheduler=...)``) that pins like :func:`pinned`.

    Every ``compute``, ``float()`` or ``bool()`` of a dask array inside ``fit`` and
    ``predict`` (input checks, the epoch's cost) then keeps the data where they live too.
    """
    import dask

    graph = dsk.__dask_graph__() if hasattr(dsk, "__dask_graph__") else dsk
    pins = placement(_nodes(dict(graph)), client, homes_cache)
    with dask.annotate(workers=pins.__getitem__, allow_other_workers=False):
        return client.get(dsk, keys, **kwargs)


def scatter_examples(client, blocks: list, homes_cache: dict) -> list:
    """Futures for ``blocks`` (consecutive column chunks), dealt out in contiguous runs per worker."""
    workers = _workers(client)
    futures = []
    for i, block in enumerate(blocks):
        where = workers[min(len(workers) - 1, i * len(workers) // len(blocks))]
        [future] = client.scatter([block], workers=[where])
        homes_cache[future.key] = where
        futures.append(future)
    return futures


def _worker_metrics(dask_worker):
    spill = getattr(dask_worker.data, "cumulative_metrics", {})
    return {
        "outgoing_bytes": int(dask_worker.transfer_outgoing_bytes_total),
        "spilled_bytes": int(spill.get(("disk-write", "bytes"), 0)),
        "memory_limit": dask_worker.memory_manager.memory_limit,
    }


def cluster_metrics(client) -> dict:
    """Per worker: bytes it sent (to other workers, and results to the client), bytes it wrote
    to disk by spilling, and its memory limit.

    Counters are cumulative since each worker started: take differences around a fit.
    """
    return client.run(_worker_metrics)
