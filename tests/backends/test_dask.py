"""The dask backend: parity with NumPy on a local cluster, a flat graph, data bigger than a worker."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from conftest import planar_xor

dask = pytest.importorskip("dask", reason="dask is not installed: pip install 'xpnet[dask]'")
distributed = pytest.importorskip("distributed", reason="distributed is not installed: pip install 'xpnet[dask]'")
import dask.array as da  # noqa: E402
from dask.callbacks import Callback  # noqa: E402

from xpnet.data.lazy import from_array, open_hdf5, open_npy, open_zarr  # noqa: E402


def _net(backend, n_x=2, seed=1, **kwargs):
    return xn.Sequential([xn.Dense(5, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                         input_size=n_x, backend=backend, dtype="float64", seed=seed)


def _numpy_costs(X, Y, epochs, **fit):
    return _net("numpy", n_x=X.shape[0]).fit(X, Y, epochs=epochs, **fit).costs


@pytest.fixture(scope="module")
def cluster():
    """Two in-process workers on loopback: starts in well under a second, always closed."""
    with dask.config.set({"distributed.worker.memory.spill": False, "distributed.worker.memory.pause": False,
                          "distributed.worker.memory.terminate": False}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                                      dashboard_address=None, memory_limit="8MB") as c:
            yield c


def test_local_cluster_matches_numpy_for_20_epochs(cluster):
    X, Y = planar_xor(300, seed=4)
    with distributed.Client(cluster, set_as_default=False) as client:
        backend = xn.get_backend("dask", client=client, chunks=64)
        net = _net(backend)
        hist = net.fit(X, Y, learning_rate=0.5, epochs=20)
        assert all(isinstance(v, da.Array) for v in net.parameters().values())
        assert net.parameters()["W1"].numblocks == (1, 1)  # parameters: one chunk
        np.testing.assert_allclose(hist.costs, _numpy_costs(X, Y, 20, learning_rate=0.5), rtol=1e-10, atol=0)
        twin = _net("numpy")
        twin.fit(X, Y, learning_rate=0.5, epochs=20)
        np.testing.assert_allclose(net.predict_proba(X), twin.predict_proba(X), rtol=1e-10)
        assert isinstance(net.predict_proba(X), np.ndarray)  # host in, host out
        # The data were spread over the cluster in chunks of 64 examples.
        assert backend.asarray_examples(X, "float64").chunks[1] == (64, 64, 64, 64, 44)


def test_the_active_client_is_used_and_mini_batches_match(cluster):
    X, Y = planar_xor(200, seed=5)
    fit = dict(optimizer=xn.Adam(learning_rate=0.01), epochs=4, batch_size=48)
    with distributed.Client(cluster) as client:  # the default client: no client= needed
        with xn.use_backend("dask", chunks=50):
            net = _net(None)
        hist = net.fit(X, Y, **fit)
        # The trained parameters were persisted by the active client: futures on its cluster.
        chunks = dict(net.parameters()["W1"].__dask_graph__()).values()
        assert all(isinstance(f, distributed.Future) and f.client is client for f in chunks)
    fit["optimizer"] = xn.Adam(learning_rate=0.01)
    np.testing.assert_allclose(hist.costs, _numpy_costs(X, Y, **fit), rtol=1e-10)


class _Counter(Callback):
    def __init__(self):
        super().__init__()
        self.computes = 0

    def _start(self, dsk):
        self.computes += 1


def _graph_sizes(epochs, optimizer, batch_size=None):
    X, Y = planar_xor(120, seed=6)
    net = _net(xn.get_backend("dask", chunks=40))
    with _Counter() as counter:
        net.fit(X, Y, optimizer=optimizer, epochs=epochs, batch_size=batch_size, shuffle=False)
    sizes = [len(v.__dask_graph__()) for v in net.parameters().values()]
    sizes += [len(v.__dask_graph__()) for v in optimizer.state.values()]
    return sizes, counter.computes


@pytest.mark.parametrize("make", [lambda: xn.GradientDescent(learning_rate=0.1), lambda: xn.Adam(learning_rate=0.01)],
                         ids=["gd", "adam"])
def test_graph_does_not_grow_and_no_step_computes_twice(make):
    sizes_1, computes_1 = _graph_sizes(1, make())
    sizes_8, computes_8 = _graph_sizes(8, make())
    assert sizes_8 == sizes_1
    assert max(sizes_8) == 1  # every parameter (and moment) is one in-memory chunk
    # Per epoch: one persist (cost + parameters + state together) and one float(cost);
    # per fit a fixed few (moving X and Y onto dask, checking they are finite).
    per_fit = computes_1 - 2
    assert computes_8 == per_fit + 8 * 2
    _, computes_batches = _graph_sizes(2, make(), batch_size=30)  # 4 batches an epoch: 4 persists, 1 float
    assert computes_batches == per_fit + 2 * (4 + 1)


def test_training_set_larger_than_a_worker_memory_limit(cluster, tmp_path):
    # 10 x 120_000 float64 = 9.6 MB on disk against an 8 MB limit per worker; read lazily in chunks.
    g = np.random.default_rng(7)
    X_rows = g.normal(size=(120_000, 10))
    w = g.normal(size=10)
    Y_rows = (X_rows @ w > 0).astype(np.float64)
    np.save(tmp_path / "X.npy", X_rows)
    np.save(tmp_path / "Y.npy", Y_rows)
    limit = cluster.workers[0].memory_manager.memory_limit
    assert (tmp_path / "X.npy").stat().st_size > limit
    X, Y = open_npy(tmp_path / "X.npy", chunks=15_000), open_npy(tmp_path / "Y.npy", chunks=15_000)
    assert X.shape == (10, 120_000) and Y.shape == (1, 120_000)
    with distributed.Client(cluster, set_as_default=False) as client:
        net = _net(xn.get_backend("dask", client=client), n_x=10)
        hist = net.fit(X, Y, learning_rate=1.0, epochs=3)
        for worker in cluster.workers.values():  # nothing large was kept on the workers
            assert worker.state.nbytes < limit
    expected = _numpy_costs(X_rows.T.copy(), Y_rows[None, :], 3, learning_rate=1.0)
    np.testing.assert_allclose(hist.costs, expected, rtol=1e-10)


def test_mini_batches_do_not_materialise_the_set():
    X, Y = planar_xor(100, seed=8)
    backend = xn.get_backend("dask", chunks=25)
    Xd = backend.asarray_examples(X, "float64")
    sizes = []

    class Sizes(Callback):
        def _posttask(self, key, result, dsk, state, id):
            if hasattr(result, "shape") and len(getattr(result, "shape", ())) == 2:
                sizes.append(result.shape[1])

    net = _net(backend)
    with Sizes():
        net.fit(Xd, backend.asarray_examples(Y, "float64"), learning_rate=0.1, epochs=1, batch_size=20)
    assert sizes and max(sizes) <= 25  # no task ever held all 100 examples
    assert Xd.chunks[1] == (25, 25, 25, 25)


@pytest.mark.parametrize("examples", ["rows", "columns"])
def test_open_npy_hdf5_zarr_give_course_layout(tmp_path, examples):
    g = np.random.default_rng(9)
    course = g.normal(size=(3, 50))
    stored = course.T.copy() if examples == "rows" else course
    np.save(tmp_path / "x.npy", stored)
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["X"] = stored
    zarr = pytest.importorskip("zarr")
    z = zarr.open(str(tmp_path / "x.zarr"), mode="w", shape=stored.shape, dtype="float64")
    z[...] = stored
    opened = [open_npy(tmp_path / "x.npy", examples=examples, chunks=20),
              open_hdf5(tmp_path / "x.h5", "X", examples=examples, chunks=20),
              open_zarr(tmp_path / "x.zarr", examples=examples, chunks=20)]
    for lazy in opened:
        assert isinstance(lazy, da.Array) and lazy.shape == (3, 50)
        assert lazy.chunks[1] == (20, 20, 10)
        np.testing.assert_array_equal(lazy.compute(), course)
    vector = from_array(np.arange(6.0), chunks=4)
    assert vector.shape == (1, 6)


def test_lazy_loader_errors(tmp_path):
    with pytest.raises(xn.XpnetValueError, match="does not exist"):
        open_npy(tmp_path / "missing.npy")
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))
    with pytest.raises(xn.XpnetValueError, match="examples must be 'rows'"):
        open_npy(tmp_path / "x.npy", examples="cols")
    with pytest.raises(xn.XpnetValueError, match="chunks must be a positive int"):
        open_npy(tmp_path / "x.npy", chunks=0)
    with pytest.raises(xn.XpnetValueError, match="1-D or 2-D"):
        from_array(np.zeros((2, 2, 2)))
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["A"] = np.zeros(3)
    with pytest.raises(xn.XpnetValueError, match="no dataset 'B'.*'A'"):
        open_hdf5(tmp_path / "x.h5", "B")


def test_backend_options_and_errors():
    b = xn.get_backend("dask", chunks=10)
    assert b.name == "dask" and b.device == "cpu" and b.chunks == 10
    assert xn.backend_of(b.asarray(np.zeros((2, 2)))).name == "dask"
    with pytest.raises(xn.XpnetValueError, match="chunks must be a positive int"):
        xn.get_backend("dask", chunks=0)
    with pytest.raises(xn.XpnetValueError, match="dask device must be 'cpu'"):
        xn.get_backend("dask:tpu")
    with pytest.raises(xn.XpnetTypeError, match="client must be a dask.distributed Client or a scheduler address"):
        xn.get_backend("dask", client=object())
    with pytest.raises(xn.XpnetValueError, match="does not take the option"):
        xn.get_backend("numpy", client=object())
    from xpnet.backends.cupy_backend import CupyBackend

    if not CupyBackend.is_available():
        with pytest.raises(xn.BackendUnavailableError, match="CuPy chunks"):
            xn.get_backend("dask:gpu")
    # A dask model refuses another library's arrays with the fix, like every backend.
    net = _net("dask")
    with pytest.raises(xn.XpnetTypeError, match="array_api_strict array"):
        net.fit(xn.get_backend("array_api_strict").asarray(np.zeros((2, 3))), np.zeros((1, 3)), epochs=1)


@pytest.mark.gpu
def test_cupy_chunks_match_numpy():
    from xpnet.backends.cupy_backend import CupyBackend

    if not CupyBackend.is_available():
        pytest.skip("no CUDA device available")
    X, Y = planar_xor(200, seed=10)
    hist = _net("dask:gpu").fit(X, Y, learning_rate=0.5, epochs=5)
    np.testing.assert_allclose(hist.costs, _numpy_costs(X, Y, 5, learning_rate=0.5), rtol=1e-10)
