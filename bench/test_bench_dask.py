"""Dask vs NumPy: what a training step costs, and where dask starts to pay.

Each case times ``fit(X, Y, epochs=EPOCHS)`` of the same float64 network on data already on
the backend (so no host copies are timed), full batch: divide by EPOCHS for one step.

* ``numpy``: the baseline, pure compute.
* ``dask-threads``: the default threaded scheduler on this machine.
* ``dask-cluster``: a ``LocalCluster`` of 2 worker processes on loopback (started once per
  session, outside the timer): adds serialisation and network hops to every step; each
  chunk's tasks run on the worker that holds it, and the bytes the workers sent per step
  are recorded in ``extra_info``.

At small m a dask step is almost all scheduling overhead (building the graph of one
forward/backward pass and running ~100 tiny tasks); as m grows the per-chunk matmuls
dominate and the chunks run in parallel. The crossover is the smallest m where a dask
group beats ``numpy``. Run::

    python -m pytest bench/test_bench_dask.py --benchmark-enable --benchmark-group-by=param:m
    XPNET_BENCH_DASK_SIZES=1000,100000,1000000 python -m pytest bench/test_bench_dask.py --benchmark-enable

CI runs it once with ``--benchmark-disable`` (tiny sizes) so it cannot rot.

The scaling table of the deployment guide (1 vs 2 worker processes, compute per chunk,
bytes per step) comes from running this file as a script::

    python bench/test_bench_dask.py --sizes 10000,100000,1000000 --reps 3
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import xpnet as xn

dask = pytest.importorskip("dask", reason="pip install 'xpnet[dask]'")
distributed = pytest.importorskip("distributed", reason="pip install 'xpnet[dask]'")

EPOCHS = 5
N_X, HIDDEN = 64, (32, 16)
SIZES = [int(s) for s in os.environ.get("XPNET_BENCH_DASK_SIZES", "256,20000").split(",")]
CHUNK = int(os.environ.get("XPNET_BENCH_DASK_CHUNK", "50000"))


@pytest.fixture(scope="session")
def cluster_client():
    # ":0", not None: with None the scheduler still binds 8787 (and warns when it is taken).
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster, distributed.Client(
            cluster, set_as_default=False) as client:
        yield client


def _data(m):
    g = np.random.default_rng(0)
    X = g.normal(size=(N_X, m))
    Y = (X[0:1] * X[1:2] > 0).astype(np.float64)
    return X, Y


def _net(backend):
    layers = [xn.Dense(h, activation="relu") for h in HIDDEN] + [xn.Dense(1, activation="sigmoid")]
    return xn.Sequential(layers, input_size=N_X, backend=backend, dtype="float64", seed=0)


@pytest.mark.parametrize("m", SIZES)
@pytest.mark.parametrize("engine", ["numpy", "dask-threads", "dask-cluster"])
def test_bench_training_step(benchmark, request, engine, m):
    if engine == "numpy":
        backend = xn.get_backend("numpy")
    elif engine == "dask-threads":
        backend = xn.get_backend("dask", chunks=CHUNK)
    else:
        backend = xn.get_backend("dask", client=request.getfixturevalue("cluster_client"), chunks=CHUNK)
    X, Y = _data(m)
    if backend.name == "dask":
        X, Y = backend.asarray_examples(X, "float64"), backend.asarray_examples(Y, "float64")
    net = _net(backend)
    benchmark.group = f"fit {EPOCHS} full-batch epochs, m={m}"
    benchmark.extra_info.update(epochs=EPOCHS, m=m, n_x=N_X)
    hist = benchmark(net.fit, X, Y, learning_rate=0.01, epochs=EPOCHS)
    if engine == "dask-cluster":  # one more fit, outside the timer, for the traffic
        sent = _sent(backend)
        net.fit(X, Y, learning_rate=0.01, epochs=EPOCHS)
        benchmark.extra_info["bytes_sent_per_step"] = (_sent(backend) - sent) / EPOCHS
    assert len(hist.costs) == EPOCHS and np.isfinite(hist.costs[-1])


def _sent(backend) -> int:
    return sum(w["outgoing_bytes"] for w in backend.metrics().values()) if backend.name == "dask" else 0


def _tanh_net(backend):
    layers = [xn.Dense(h, activation="tanh") for h in HIDDEN] + [xn.Dense(1, activation="sigmoid")]
    return xn.Sequential(layers, input_size=N_X, backend=backend, dtype="float64", seed=0)


def scaling(sizes, reps, chunk, epochs=2):
    """Seconds per full-batch step and bytes sent per step: NumPy, 1 and 2 worker processes.

    Interleaved (numpy, 1 worker, 2 workers for each repetition), minimum over ``reps``.
    Also the compute per chunk: one chunk's forward + backward in NumPy, timed alone.
    """
    import time

    rows = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", scheduler_port=0) as one, \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=":0", scheduler_port=0) as two, \
            distributed.Client(one, set_as_default=False) as c1, distributed.Client(two, set_as_default=False) as c2:
        for m in sizes:
            X, Y = _data(m)
            per = min(chunk, -(-m // 2))
            runs = {"numpy": (xn.get_backend("numpy"), X, Y)}
            for label, client in (("1 worker", c1), ("2 workers", c2)):
                b = xn.get_backend("dask", client=client, chunks=per)
                runs[label] = (b, b.asarray_examples(X, "float64"), b.asarray_examples(Y, "float64"))
            best = {k: (float("inf"), 0.0) for k in runs}
            for _ in range(reps):
                for label, (b, Xb, Yb) in runs.items():
                    net = _tanh_net(b)
                    net.fit(Xb, Yb, learning_rate=0.01, epochs=1)  # warm-up: parameters reach the workers
                    sent = _sent(b)
                    start = time.perf_counter()
                    net.fit(Xb, Yb, learning_rate=0.01, epochs=epochs)
                    step = (time.perf_counter() - start) / epochs
                    best[label] = min(best[label], (step, (_sent(b) - sent) / epochs))
            Xc, Yc = np.ascontiguousarray(X[:, :per]), np.ascontiguousarray(Y[:, :per])
            net, times = _tanh_net("numpy"), []
            for _ in range(6):  # the first builds the network and warms up
                start = time.perf_counter()
                AL, caches = net.forward(Xc, training=True)
                net.backward(AL, Yc, caches, net._resolve_loss(None))
                times.append(time.perf_counter() - start)
            per_chunk = min(times[1:])
            rows.append((m, per, -(-m // per), per_chunk, best))
            print(f"m={m:>8} chunk={per} chunks={-(-m // per)} compute/chunk={per_chunk * 1e3:.1f} ms | "
                  + " | ".join(f"{k}: {v[0]:.3f} s/step, {v[1] / 1e3:.1f} kB/step" for k, v in best.items()),
                  flush=True)
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=scaling.__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=125_000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    scaling([int(v) for v in args.sizes.split(",")], args.reps, args.chunk, args.epochs)
