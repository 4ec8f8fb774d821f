"""Dask vs NumPy: what a training step costs, and where dask starts to pay.

Each case times ``fit(X, Y, epochs=EPOCHS)`` of the same float64 network on data already on
the backend (so no host copies are timed), full batch: divide by EPOCHS for one step.

* ``numpy``: the baseline, pure compute.
* ``dask-threads``: the default threaded scheduler on this machine.
* ``dask-cluster``: a ``LocalCluster`` of 2 worker processes on loopback (started once per
  session, outside the timer): adds serialisation and network hops to every step.

At small m a dask step is almost all scheduling overhead (building the graph of one
forward/backward pass and running ~100 tiny tasks); as m grows the per-chunk matmuls
dominate and the chunks run in parallel. The crossover is the smallest m where a dask
group beats ``numpy``. Run::

    python -m pytest bench/test_bench_dask.py --benchmark-enable --benchmark-group-by=param:m
    XPNET_BENCH_DASK_SIZES=1000,100000,1000000 python -m pytest bench/test_bench_dask.py --benchmark-enable

CI runs it once with ``--benchmark-disable`` (tiny sizes) so it cannot rot.
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
    assert len(hist.costs) == EPOCHS and np.isfinite(hist.costs[-1])
