"""The dask backend on the threaded scheduler: a flat graph, lazy files, options and errors.

Clusters of worker processes are tested in test_dask_cluster.py.
"""

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


@pytest.mark.parametrize("order", ["C", "F"])
def test_npy_and_zarr_urls_read_only_their_chunks(order):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    g = np.random.default_rng(11)
    rows = np.asarray(g.normal(size=(50, 3)), order=order)  # one example per row
    with fs.open(f"/xpnet-{order}/X.npy", "wb") as f:
        np.save(f, rows)
    with fs.open(f"/xpnet-{order}/y.npy", "wb") as f:
        np.save(f, np.arange(50.0))
    try:
        for examples, course in (("rows", rows.T), ("columns", rows)):
            lazy = open_npy(f"memory://xpnet-{order}/X.npy", examples=examples, chunks=7)
            assert lazy.chunks[1][0] == min(7, course.shape[1])
            np.testing.assert_array_equal(lazy.compute(), course)
            np.testing.assert_array_equal(lazy[:, 3:9].compute(), course[:, 3:9])  # part of a chunk
        np.testing.assert_array_equal(open_npy(f"memory://xpnet-{order}/y.npy", chunks=8).compute(),
                                      np.arange(50.0)[None, :])
        zarr = pytest.importorskip("zarr")
        z = zarr.open(f"memory://xpnet-{order}/X.zarr", mode="w", shape=rows.shape, dtype="float64", chunks=(10, 3))
        z[...] = rows
        np.testing.assert_array_equal(open_zarr(f"memory://xpnet-{order}/X.zarr", chunks=10).compute(), rows.T)
    finally:
        fs.rm(f"/xpnet-{order}", recursive=True)


def test_training_from_a_url_matches_numpy():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    X, Y = planar_xor(240, seed=12)
    with fs.open("/xpnet-train/X.npy", "wb") as f:
        np.save(f, X.T.copy())
    with fs.open("/xpnet-train/Y.npy", "wb") as f:
        np.save(f, Y[0])
    try:
        Xu, Yu = open_npy("memory://xpnet-train/X.npy", chunks=60), open_npy("memory://xpnet-train/Y.npy", chunks=60)
        hist = _net("dask").fit(Xu, Yu, learning_rate=0.5, epochs=3, batch_size=120, shuffle=False)
    finally:
        fs.rm("/xpnet-train", recursive=True)
    np.testing.assert_allclose(hist.costs, _numpy_costs(X, Y, 3, learning_rate=0.5, batch_size=120, shuffle=False),
                               rtol=1e-10)


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
    with pytest.raises(xn.XpnetValueError, match="open_hdf5 reads local or shared-filesystem paths"):
        open_hdf5("s3://bucket/x.h5", "A")
    with pytest.raises(xn.XpnetValueError, match="does not exist"):
        open_npy("memory://xpnet-nowhere/x.npy")
    with pytest.raises(xn.XpnetValueError, match="cannot open 'nosuchprotocol://x.npy'"):
        open_npy("nosuchprotocol://x.npy")


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


@pytest.mark.parametrize("loss, Y", [("binary_crossentropy", (np.arange(12) % 2.0)[None, :]),
                                     ("categorical_crossentropy", np.eye(3)[:, np.arange(12) % 3])],
                         ids=["binary", "categorical"])
def test_valid_targets_are_checked_in_one_compute(loss, Y):
    # Each check of fit's targets is a scheduler round trip on dask (about 60 ms on a
    # distributed cluster): NaN, infinity and the loss's domain are settled by one scalar.
    Yd = da.from_array(Y, chunks=4)
    with _Counter() as counter:
        xn.losses.get(loss).check_targets(Yd)
    assert counter.computes == 1
    bad = Y.copy()
    bad[0, 5] = np.nan
    with pytest.raises(xn.XpnetValueError, match="NaN or infinite"):
        xn.losses.get(loss).check_targets(da.from_array(bad, chunks=4))
