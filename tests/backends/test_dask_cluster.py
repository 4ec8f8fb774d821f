"""The dask backend on a cluster of worker PROCESSES, reached as a user reaches theirs.

A Client object, a scheduler address, the active client and the CLI's --scheduler; each
step keeps the data where they live (measured with the workers' transfer counters); files
read by the workers through a URL; a training set twice the workers' total memory.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import xpnet as xn
from conftest import planar_xor

dask = pytest.importorskip("dask", reason="dask is not installed: pip install 'xpnet[dask]'")
distributed = pytest.importorskip("distributed", reason="distributed is not installed: pip install 'xpnet[dask]'")

from xpnet.data.lazy import open_npy  # noqa: E402


def _net(backend, n_x=2, hidden=5):
    return xn.Sequential([xn.Dense(hidden, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                         input_size=n_x, backend=backend, dtype="float64", seed=1)


def _local_cluster(**kwargs):
    """Worker processes on loopback, no fixed port (scheduler and dashboards on free ones)."""
    kwargs.setdefault("n_workers", 2)
    return distributed.LocalCluster(threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                                    dashboard_address=":0", worker_dashboard_address=":0", **kwargs)


@pytest.fixture(scope="module")
def cluster():
    with _local_cluster() as c:
        yield c


def _sent(client) -> int:
    return sum(w["outgoing_bytes"] for w in xn.get_backend("dask", client=client).metrics().values())


def _data(m, n_x, seed):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n_x, m))
    Y = (X[0:1] * X[1:2] > 0).astype(np.float64)
    return X, Y


def test_each_chunk_is_trained_where_it_lives(cluster):
    """Parity with NumPy, and per step only parameters and gradients cross between workers."""
    n_x, m, per = 20, 2000, 500
    X, Y = _data(m, n_x, seed=3)
    with distributed.Client(cluster, set_as_default=False) as client:
        backend = xn.get_backend("dask", client=client, chunks=per)
        Xd, Yd = backend.asarray_examples(X, "float64"), backend.asarray_examples(Y, "float64")
        assert Xd.chunks[1] == (per,) * 4 and Yd.chunks[1] == (per,) * 4
        where = client.who_has(Xd)
        assert len({w for ws in where.values() for w in ws}) == 2  # the chunks are spread over both workers
        net = _net(backend, n_x=n_x)
        net.fit(Xd, Yd, learning_rate=0.5, epochs=1)  # first step: the workers fetch their first parameters
        before, epochs = _sent(client), 2
        hist = net.fit(Xd, Yd, learning_rate=0.5, epochs=epochs)
        per_step = (_sent(client) - before) / epochs
        assert client.who_has(Xd) == where  # no chunk was copied anywhere
        trained = {name: xn.to_numpy(W) for name, W in net.parameters().items()}
        proba = net.predict_proba(X)  # host in, host out
    twin = _net("numpy", n_x=n_x)
    twin.fit(X, Y, learning_rate=0.5, epochs=1)
    expected = twin.fit(X, Y, learning_rate=0.5, epochs=epochs).costs
    np.testing.assert_allclose(hist.costs, expected, rtol=1e-10)
    for name, W in twin.parameters().items():
        np.testing.assert_allclose(trained[name], W, rtol=0, atol=1.5e-8)
    assert isinstance(proba, np.ndarray)
    np.testing.assert_allclose(proba, twin.predict_proba(X), rtol=1e-10)
    param_bytes = sum(W.nbytes for W in twin.parameters().values())
    chunk_bytes = n_x * per * 8
    # Parameters out and gradients back, per worker, plus the cost: far below one X chunk
    # (80 kB) or one hidden activation chunk (20 kB), which would show if either moved.
    bound = 4 * param_bytes * 2 + 4096
    assert bound < 5 * per * 8 < chunk_bytes
    assert per_step < bound, f"{per_step:.0f} bytes per step moved between workers (parameters: {param_bytes})"


def test_a_scheduler_address_connects_and_is_described(cluster):
    X, Y = planar_xor(300, seed=4)
    address = cluster.scheduler_address
    backend = xn.get_backend("dask", client=address, chunks=150)
    try:
        assert xn.get_backend("dask", client=address).client is backend.client  # one connection per address
        text = backend.describe()
        assert address in text and "2 workers" in text and "NumPy chunks" in text
        assert address in repr(backend)
        net = _net(backend)
        hist = net.fit(X, Y, learning_rate=0.5, epochs=2)
        np.testing.assert_allclose(hist.costs, _net("numpy").fit(X, Y, learning_rate=0.5, epochs=2).costs, rtol=1e-10)
        with pytest.raises(ValueError):  # the address did not become dask's default client
            distributed.default_client()
    finally:
        backend.client.close()


def test_the_active_client_is_used_then_results_compute_through_their_own_client(cluster):
    X, Y = planar_xor(200, seed=5)
    backend = xn.get_backend("dask", chunks=100)
    assert "local threads" in backend.describe()
    fit = dict(epochs=1, batch_size=100)
    with distributed.Client(cluster) as client:  # set as the default client
        assert backend.describe().startswith("dask (NumPy chunks, active client: scheduler ")
        net = _net(backend)
        hist = net.fit(X, Y, optimizer=xn.Adam(learning_rate=0.01), **fit)
        futures = dict(net.parameters()["W1"].__dask_graph__()).values()
        assert all(isinstance(f, distributed.Future) and f.client is client for f in futures)
    np.testing.assert_allclose(hist.costs, _net("numpy").fit(X, Y, optimizer=xn.Adam(learning_rate=0.01), **fit).costs,
                               rtol=1e-10)
    with distributed.Client(cluster, set_as_default=False) as other:  # not dask's default client
        net = _net(xn.get_backend("dask", client=other, chunks=100))
        net.fit(X, Y, learning_rate=0.5, epochs=1)
        W1 = xn.to_numpy(net.parameters()["W1"])  # outside fit: through the futures' own client
    twin = _net("numpy")
    twin.fit(X, Y, learning_rate=0.5, epochs=1)
    np.testing.assert_allclose(W1, twin.parameters()["W1"], rtol=1e-10)


def test_workers_read_their_chunks_from_a_url(cluster, tmp_path):
    X, Y = _data(2000, 4, seed=6)
    np.save(tmp_path / "X.npy", X.T.copy())  # one example per row, as files usually are
    np.save(tmp_path / "Y.npy", Y[0])
    Xu = open_npy(f"file://{tmp_path / 'X.npy'}", chunks=800)
    Yu = open_npy(f"file://{tmp_path / 'Y.npy'}", chunks=800)
    assert Xu.shape == (4, 2000) and Xu.chunks[1] == (800, 800, 400)
    with distributed.Client(cluster, set_as_default=False) as client:
        hist = _net(xn.get_backend("dask", client=client), n_x=4).fit(Xu, Yu, learning_rate=0.5, epochs=2)
    np.testing.assert_allclose(hist.costs, _net("numpy", n_x=4).fit(X, Y, learning_rate=0.5, epochs=2).costs,
                               rtol=1e-10)


@pytest.mark.slow
def test_cli_trains_on_a_scheduler(cluster, tmp_path):
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(xn.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    r = subprocess.run([sys.executable, "-m", "xpnet", "train", "--data", "breast_cancer", "--layers", "4",
                        "--activation", "tanh", "--batch-size", "full", "--epochs", "2", "--quiet",
                        "--out", str(tmp_path / "run"), "--backend", "dask", "--scheduler", cluster.scheduler_address],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"backend: dask (NumPy chunks, scheduler {cluster.scheduler_address}, 2 workers" in r.stdout
    assert (tmp_path / "run" / "model.npz").exists()


def test_cli_scheduler_needs_the_dask_backend(capsys):
    from xpnet import cli

    assert cli.main(["train", "--backend", "numpy", "--scheduler", "tcp://127.0.0.1:1", "--quiet"]) != 0
    assert "--scheduler is for --backend dask" in capsys.readouterr().err


def test_dask_gpu_refuses_workers_without_a_gpu(cluster):
    from xpnet.backends.cupy_backend import CupyBackend

    if CupyBackend.is_available():
        pytest.skip("these workers have a GPU: tools/gpu-check-dask.sh checks dask:gpu there")
    with distributed.Client(cluster, set_as_default=False) as client:
        with pytest.raises(xn.BackendUnavailableError, match="CUDA device on every worker; 2 have none"):
            xn.get_backend("dask:gpu", client=client)


def test_bad_addresses_and_clients():
    with pytest.raises(xn.XpnetTypeError, match="Client or a scheduler address"):
        xn.get_backend("dask", client=8786)
    with pytest.raises(xn.XpnetValueError, match="must look like 'tcp://host:8786'"):
        xn.get_backend("dask", client="localhost")
    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        with pytest.raises(xn.XpnetValueError, match="cannot reach a dask scheduler at 'tcp://127.0.0.1:1'"):
            xn.get_backend("dask", client="tcp://127.0.0.1:1")


def _write_rows(path, m, n_x, w, seed):
    """A (m, n_x) float64 .npy written block by block (never whole in memory), and its labels."""
    g = np.random.default_rng(seed)
    X = np.lib.format.open_memmap(path / "X.npy", mode="w+", dtype=np.float64, shape=(m, n_x))
    Y = np.lib.format.open_memmap(path / "Y.npy", mode="w+", dtype=np.float64, shape=(m,))
    for a in range(0, m, 50_000):
        block = g.normal(size=(min(50_000, m - a), n_x))
        X[a:a + len(block)] = block
        Y[a:a + len(block)] = block @ w > 0
    X.flush(), Y.flush()
    del X, Y


@pytest.mark.slow
def test_a_training_set_twice_the_workers_memory(tmp_path_factory):
    """Worker processes with an enforced 200 MB limit each, an 816 MB file, mini-batches.

    The workers read their chunks from the memory-mapped file; the run must end without a
    worker being restarted (a worker over 95% of its limit is killed by its nanny). 200 MB,
    not less: an idle worker process that has imported xpnet and dask.array already holds
    about 115 MB, and a worker paused at 80% of its limit by unmanaged memory never resumes.
    """
    folder = tmp_path_factory.mktemp("out_of_core")
    m, n_x, per, batch = 340_000, 300, 2_000, 20_000
    w = np.random.default_rng(1).normal(size=n_x)
    try:
        _write_rows(folder, m, n_x, w, seed=2)
        X, Y = open_npy(folder / "X.npy", chunks=per), open_npy(folder / "Y.npy", chunks=per)
        with _local_cluster(memory_limit="200MB") as cluster, distributed.Client(cluster, set_as_default=False) as client:
            backend = xn.get_backend("dask", client=client)
            before = backend.metrics()
            limits = [v["memory_limit"] for v in before.values()]
            assert (folder / "X.npy").stat().st_size >= 2 * sum(limits)
            pids = client.run(os.getpid)
            net = _net(backend, n_x=n_x, hidden=8)
            hist = net.fit(X, Y, learning_rate=0.5, epochs=1, batch_size=batch, shuffle=False)
            assert client.run(os.getpid) == pids  # the same worker processes: none was restarted
            after = backend.metrics()
            spilled = sum(after[k]["spilled_bytes"] - before[k]["spilled_bytes"] for k in after)
            sent = sum(after[k]["outgoing_bytes"] - before[k]["outgoing_bytes"] for k in after)
            print(f"\nout-of-core: {m} examples, {(folder / 'X.npy').stat().st_size / 1e6:.0f} MB on disk, "
                  f"limits {[f'{x / 1e6:.0f} MB' for x in limits]}, spilled {spilled / 1e6:.1f} MB, "
                  f"sent between workers {sent / 1e6:.2f} MB in {-(-m // batch)} steps")
        reference = _net("numpy", n_x=n_x, hidden=8)
        mm_X, mm_Y = np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "Y.npy", mmap_mode="r")
        expected = reference.fit(mm_X.T, mm_Y[None, :], learning_rate=0.5, epochs=1, batch_size=batch, shuffle=False)
        del mm_X, mm_Y
        np.testing.assert_allclose(hist.costs, expected.costs, rtol=1e-9)
    finally:
        for name in ("X.npy", "Y.npy"):
            (folder / name).unlink(missing_ok=True)
