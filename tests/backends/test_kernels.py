"""The kernel contract: every backend's kernels against the generic array-API path.

Each kernel runs twice on the same device arrays, once through the backend's kernels
(``backend.kernels``, with its overrides) and once through the generic :class:`Kernels`,
in float32 and float64; the results must agree, and nothing a kernel promises not to
write may change. The dropout generator is checked against a pure-Python hash, across
backends (bit-identical masks) and statistically.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import xpnet as xn
from xpnet import activations
from xpnet.backends.kernels import Kernels, dropout_keys, keep_threshold, kernels_of, mix32
from xpnet.errors import DeviceOutOfMemoryError, XpnetValueError

GENERIC = Kernels()
DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=2e-6, atol=1e-7), "float64": dict(rtol=1e-13, atol=1e-15)}
ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "linear", "softmax"]


def _put(backend, host, dtype):
    return backend.asarray(np.asarray(host), dtype)


def _host(backend, x):
    return backend.to_numpy(x)


def _close(backend, got, want, dtype):
    got, want = _host(backend, got), _host(backend, want)
    assert got.dtype == want.dtype == np.dtype(dtype)
    if backend.name == "numpy":  # NumPy's overrides keep the generic order of operations
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, want, **TOL[dtype])


def _data(shape=(7, 13), seed=0):
    g = np.random.default_rng(seed)
    return g.standard_normal(shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keep_Z", [True, False])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_bias_activation_matches_generic(backend, name, keep_Z, dtype):
    act = activations.get(name)
    Z_host, b_host = _data(), _data((7, 1), seed=1)
    b = _put(backend, b_host, dtype)
    Z_fast, A_fast = backend.kernels.bias_activation(_put(backend, Z_host, dtype), b, act, keep_Z=keep_Z)
    Z_ref, A_ref = GENERIC.bias_activation(_put(backend, Z_host, dtype), b, act, keep_Z=keep_Z)
    _close(backend, A_fast, A_ref, dtype)
    if keep_Z:
        _close(backend, Z_fast, Z_ref, dtype)
        np.testing.assert_allclose(_host(backend, Z_fast), Z_host + b_host, **TOL[dtype])
    else:
        assert Z_fast is None and Z_ref is None
    np.testing.assert_allclose(_host(backend, A_ref), _host(backend, act.forward(_put(backend, Z_host + b_host, dtype))),
                               **TOL[dtype])
    np.testing.assert_array_equal(_host(backend, b), b_host.astype(dtype))  # b is never written


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_generic(backend, name, dtype):
    act = activations.get(name)
    Z = _put(backend, _data(seed=2), dtype)
    A = act.forward(Z)
    A_before = _host(backend, A)
    dA_host = _data(seed=3)
    fast = backend.kernels.activation_backward(act, _put(backend, dA_host, dtype), Z, A)
    ref = GENERIC.activation_backward(act, _put(backend, dA_host, dtype), Z, A)
    _close(backend, fast, ref, dtype)
    np.testing.assert_array_equal(_host(backend, A), A_before)  # only dA may be overwritten
    if name == "relu":  # and the reference is the derivative itself
        np.testing.assert_allclose(_host(backend, ref), dA_host.astype(dtype) * (A_before > 0), **TOL[dtype])


@pytest.mark.parametrize("need_dA_prev", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_backward_matches_generic(backend, dtype, need_dA_prev):
    dZ_h, A_h, W_h = _data((4, 9), seed=6), _data((30, 9), seed=7), _data((4, 30), seed=8)
    dZ, A_prev, W = (_put(backend, h, dtype) for h in (dZ_h, A_h, W_h))
    fast = backend.kernels.linear_backward(dZ, A_prev, W, need_dA_prev)
    ref = GENERIC.linear_backward(dZ, A_prev, W, need_dA_prev)
    want = (W_h.T @ dZ_h, dZ_h @ A_h.T, dZ_h.sum(axis=1, keepdims=True))
    for got, expected, exact in zip(fast, ref, want):
        if not need_dA_prev and expected is None:
            assert got is None
            continue
        # A product may be summed in another order: close, not bit-equal.
        np.testing.assert_allclose(_host(backend, got), _host(backend, expected), **TOL[dtype])
        np.testing.assert_allclose(_host(backend, got), exact, rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_dZ_matches_generic(backend, dtype):
    A_host = 1.0 / (1.0 + np.exp(-_data((3, 11), seed=4)))
    Y_host = (_data((3, 11), seed=5) > 0) * 1.0
    A, Y = _put(backend, A_host, dtype), _put(backend, Y_host, dtype)
    fast = backend.kernels.cross_entropy_dZ(A, Y, 11.0)
    _close(backend, fast, GENERIC.cross_entropy_dZ(A, Y, 11.0), dtype)
    np.testing.assert_allclose(_host(backend, fast), (A_host - Y_host) / 11.0, rtol=1e-5 if dtype == "float32" else 1e-13)
    np.testing.assert_array_equal(_host(backend, A), A_host.astype(dtype))


def _updates(kernels, W, dW, state, step):
    """Each optimiser kernel once, with and without state; returns every output array."""
    v, s = state
    out = [kernels.gd_update(W, dW, 0.1)]
    out += list(kernels.momentum_update(W, dW, None, 0.1, 0.9))
    out += list(kernels.momentum_update(W, dW, v, 0.1, 0.9))
    out += list(kernels.rmsprop_update(W, dW, None, 0.01, 0.99, 1e-8))
    out += list(kernels.rmsprop_update(W, dW, s, 0.01, 0.99, 1e-8))
    c1, c2 = 1.0 - 0.9**step, 1.0 - 0.999**step
    out += list(kernels.adam_update(W, dW, None, None, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.001))
    out += list(kernels.adam_update(W, dW, v, s, 0.01, 0.9, 0.999, 1e-8, c1, c2))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimiser_updates_match_generic_and_never_write_their_inputs(backend, dtype):
    hosts = [_data((5, 4), seed=k) for k in range(3)] + [np.abs(_data((5, 4), seed=9))]
    W, dW, v, s = (_put(backend, h, dtype) for h in hosts)
    fast = _updates(backend.kernels, W, dW, (v, s), step=3)
    ref = _updates(GENERIC, W, dW, (v, s), step=3)
    assert len(fast) == len(ref) == 15
    for got, want in zip(fast, ref):
        _close(backend, got, want, dtype)
    for arr, host in zip((W, dW, v, s), hosts):  # parameters, gradients and state stay as they were
        np.testing.assert_array_equal(_host(backend, arr), host.astype(dtype))
    # The plain step is the course's formula.
    np.testing.assert_allclose(_host(backend, fast[0]), hosts[0] - 0.1 * hosts[1], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_finite_matches_generic(backend, dtype):
    clean = [_put(backend, _data((3, 4), seed=k), dtype) for k in range(3)]
    for bad in (float("nan"), float("inf"), -float("inf")):
        host = _data((3, 4), seed=5)
        host[1, 2] = bad
        arrays = clean + [_put(backend, host, dtype)]
        for kernels in (backend.kernels, GENERIC):
            assert bool(_host(backend, kernels.all_finite(clean)))
            assert not bool(_host(backend, kernels.all_finite(arrays)))
    big = _put(backend, np.full((3, 4), 1e30 if dtype == "float32" else 1e300), dtype)
    assert bool(_host(backend, backend.kernels.all_finite([big, big])))  # large is not infinite


@pytest.mark.parametrize("dtype", DTYPES)
def test_is_finite_answers_exactly(backend, dtype):
    """The input check's test: a quick reduction may settle it, never decide it wrongly."""
    host = _data((5, 7), seed=6)
    for kernels in (backend.kernels, GENERIC):
        assert kernels.is_finite(_put(backend, host, dtype)) is True
    for bad in (float("nan"), float("inf"), -float("inf")):
        dirty = host.copy()
        dirty[4, 6] = bad
        for kernels in (backend.kernels, GENERIC):
            assert kernels.is_finite(_put(backend, dirty, dtype)) is False
    # Finite values whose sum and sum of squares overflow: a quick test alone would say "not finite".
    huge = np.full((5, 7), np.finfo(dtype).max / 2, dtype=dtype)
    with np.errstate(over="ignore"):
        assert not np.isfinite(huge.sum(dtype=dtype))
    assert backend.kernels.is_finite(_put(backend, huge, dtype)) is True


# -- mini-batches ----------------------------------------------------------------------------
BATCH_INPUTS = {  # (host array, the axis of its examples)
    "X (n_x, m)": (_data((6, 11), seed=7), 1),
    "X.T of row-major data": (np.asfortranarray(_data((6, 11), seed=7)), 1),
    "sequences (n_x, m, T)": (_data((4, 11, 3), seed=8), 1),
    "token ids (m, T)": (np.arange(44.0).reshape(11, 4), 0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(BATCH_INPUTS))
def test_mini_batches_hold_the_same_examples_in_any_layout(backend, name, dtype):
    host, axis = BATCH_INPUTS[name]
    want_host = host.astype(dtype)
    cols = [7, 0, 3, 3, 10]
    A = _put(backend, host, dtype)
    index = backend.asarray(np.array(cols))
    for kernels in (backend.kernels, GENERIC):
        source = kernels.examples_outermost(A, axis)
        np.testing.assert_array_equal(_host(backend, source), want_host)  # a layout, never other values
        for batch in (kernels.take_examples(source, index, axis), kernels.take_examples(A, index, axis)):
            np.testing.assert_array_equal(_host(backend, batch), np.take(want_host, cols, axis=axis))
    np.testing.assert_array_equal(_host(backend, A), want_host)  # the caller's array is never written


def test_numpy_gathers_examples_from_whole_rows():
    kernels = xn.get_backend("numpy").kernels
    X = _data((6, 11))
    source = kernels.examples_outermost(X, 1)
    assert source is not X and np.moveaxis(source, 1, 0).flags.c_contiguous  # one copy, examples outermost
    X_from_rows = np.ascontiguousarray(X.T).T  # the data.T of row-major data
    assert kernels.examples_outermost(X_from_rows, 1) is X_from_rows  # already so: no copy


def test_numpy_never_copies_a_memory_mapped_X(tmp_path):
    """A file may be larger than memory: its batches are gathered from the file's pages."""
    np.save(tmp_path / "X.npy", _data((6, 11)))
    X = np.asarray(np.load(tmp_path / "X.npy", mmap_mode="r"))[:, 1:]  # a view of the mapped file
    kernels = xn.get_backend("numpy").kernels
    assert kernels.examples_outermost(X, 1) is X
    np.testing.assert_array_equal(kernels.take_examples(X, np.array([3, 0]), 1), X[:, [3, 0]])


# -- the dropout generator -------------------------------------------------------------------
def _python_mask(shape, keep_prob, seed, step):
    """The generator written out on Python ints: the specification the kernels implement."""
    k1, k2 = dropout_keys(seed, step)
    threshold = keep_threshold(keep_prob)
    bits = []
    for i in range(int(np.prod(shape))):
        x = ((i ^ k1) * k2) & 0xFFFFFFFF
        bits.append(mix32(x) < threshold)
    return np.array(bits, dtype=bool).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_masks_are_the_specified_bits_on_every_backend(backend, dtype):
    like = _put(backend, np.ones((9, 23)), dtype)
    want = _python_mask((9, 23), 0.7, seed=123456789012, step=5) / 0.7
    for kernels in (backend.kernels, GENERIC):
        D = _host(backend, kernels.dropout_mask(like, 0.7, 123456789012, 5))
        assert D.shape == (9, 23) and D.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(D, want.astype(dtype))


def test_mix32_is_the_lowbias32_hash():
    # Known values of Wellons' lowbias32 (x ^= x>>16; x *= 0x7feb352d; x ^= x>>15; x *= 0x846ca68b; x ^= x>>16).
    def reference(x):
        x ^= x >> 16
        x = (x * 0x7FEB352D) % 2**32
        x ^= x >> 15
        x = (x * 0x846CA68B) % 2**32
        return x ^ (x >> 16)

    for x in (0, 1, 2, 0xDEADBEEF, 2**32 - 1):
        assert mix32(x) == reference(x)
    assert len({mix32(x) for x in range(1000)}) == 1000  # a bijection on 32 bits


@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 0.8, 0.95])
def test_dropout_keep_rate_and_independence(keep_prob):
    like = np.ones((256, 512))
    n = like.size
    masks = [kernels_of(like).dropout_mask(like, keep_prob, seed=7, step=t) > 0 for t in range(4)]
    for D in masks:
        # The kept fraction is Binomial(n, p) / n: within 5 standard deviations.
        assert abs(D.mean() - keep_prob) < 5 * np.sqrt(keep_prob * (1 - keep_prob) / n)
        # Rows and columns are not striped: per-row rates scatter like binomials too.
        rows = D.mean(axis=1)
        assert rows.std() < 2 * np.sqrt(keep_prob * (1 - keep_prob) / D.shape[1])
    for a, b in zip(masks, masks[1:]):
        assert not np.array_equal(a, b)  # a fresh mask every step
        both = np.mean(a & b)  # independent steps: P(kept twice) = p^2
        assert abs(both - keep_prob**2) < 5 * np.sqrt(keep_prob**2 * (1 - keep_prob**2) / n)
    other_seed = kernels_of(like).dropout_mask(like, keep_prob, seed=8, step=0) > 0
    assert not np.array_equal(other_seed, masks[0])


def test_dropout_mask_needs_no_host_copy(monkeypatch):
    """Training-mode dropout never moves a mask from the host (asarray) on any backend."""
    from xpnet.backends.strict_backend import StrictBackend

    net = xn.Sequential([xn.Dense(6, activation="relu"), xn.Dropout(0.5), xn.Dense(1, activation="sigmoid")],
                        input_size=3, backend="array_api_strict", dtype="float64", seed=2)
    X = net.backend.asarray(np.ones((3, 40)), "float64")

    def no_copies(*args, **kwargs):
        raise AssertionError("a host array was copied to the device during the step")

    monkeypatch.setattr(StrictBackend, "asarray", no_copies)
    first, _ = net.layers[1].forward(net.layers[0].forward(X, training=True)[0], training=True)
    assert net.layers[1].step == 1


def test_dropout_on_dask_is_one_task_per_chunk():
    da = pytest.importorskip("dask.array")
    host = np.ones((6, 100))
    like = da.from_array(host, chunks=(6, 30))
    D = xn.get_backend("dask").kernels.dropout_mask(like, 0.6, 11, 3)
    graph = D.__dask_graph__()
    assert len(graph.layers) == 2  # the data, then one map_blocks layer
    assert len(graph.layers[D.name]) == like.numblocks[1]
    np.testing.assert_array_equal(D.compute(), kernels_of(host).dropout_mask(host, 0.6, 11, 3))


# -- dispatch, device checks, memory -----------------------------------------------------------
def test_kernels_are_looked_up_by_library():
    import array_api_strict

    from xpnet.backends.numpy_kernels import NumpyKernels

    assert isinstance(kernels_of(np.ones(2)), NumpyKernels)
    assert type(kernels_of(array_api_strict.ones(2))) is Kernels
    assert isinstance(xn.get_backend("numpy").kernels, NumpyKernels)
    assert type(xn.get_backend("array_api_strict").kernels) is Kernels


def test_user_activations_keep_their_own_math():
    class Cube(activations.Activation):
        name = "relu"  # a user class reusing a built-in name must not get the built-in kernel

        def forward(self, Z):
            return Z * Z * Z

        def backward(self, dA, Z, A):
            return dA * 3.0 * Z * Z

    Z = _data()
    _, A = kernels_of(Z).bias_activation(Z.copy(), 0.0, Cube(), keep_Z=False)
    np.testing.assert_allclose(A, Z**3)
    np.testing.assert_allclose(kernels_of(Z).activation_backward(Cube(), np.ones_like(Z), Z, A), 3 * Z * Z)


class _FakeCupy:
    class cuda:
        @staticmethod
        def is_available():
            return True

        class runtime:
            @staticmethod
            def getDeviceCount():
                return 2


@pytest.mark.parametrize("name", ["cupy:2", "cupy:7", "gpu:2"])
def test_cupy_device_index_is_checked_against_the_device_count(monkeypatch, name):
    monkeypatch.setitem(sys.modules, "cupy", _FakeCupy)
    with pytest.raises(XpnetValueError, match=r"cupy device \d+ does not exist.*2 CUDA devices \(0\.\.1\)"):
        xn.get_backend(name)
    assert xn.get_backend("cupy:1").device == 1


def test_cupy_device_must_be_an_index(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _FakeCupy)
    with pytest.raises(XpnetValueError, match="CUDA device index"):
        xn.get_backend("cupy:first")


def test_memory_is_freed_after_an_out_of_memory_rollback(monkeypatch):
    from xpnet.backends.numpy_backend import NumpyBackend

    freed = []
    monkeypatch.setattr(NumpyBackend, "free_memory", lambda self: freed.append(True))
    net = xn.Sequential([xn.Dense(3, activation="relu"), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend="numpy", seed=0)
    X, Y = np.ones((2, 8)), np.ones((1, 8))
    before = {k: v.copy() for k, v in net.parameters().items()}

    def exhausted(*args, **kwargs):
        raise MemoryError("device full")

    monkeypatch.setattr(net.layers[1], "forward", exhausted)
    with pytest.raises(DeviceOutOfMemoryError):
        net.fit(X, Y, epochs=2)
    assert freed == [True]
    for k, v in net.parameters().items():
        np.testing.assert_array_equal(v, before[k])


def test_a_relu_step_on_dask_is_a_flat_graph():
    """One training step's graph grows with the chunks only, never with a layer's rows."""
    pytest.importorskip("dask.array")
    from xpnet import losses

    def tasks(rows, chunks):
        backend = xn.get_backend("dask", chunks=chunks)
        net = xn.Sequential([xn.Dense(rows, activation="relu"), xn.Dense(3, activation="softmax")],
                            input_size=5, backend=backend, dtype="float32", seed=0)
        g = np.random.default_rng(0)
        X = backend.asarray_examples(g.standard_normal((5, 64)), "float32")
        Y = backend.asarray_examples(np.eye(3)[:, g.integers(0, 3, 64)], "float32")
        AL, caches = net.forward(X, training=True)
        grads = net.backward(AL, Y, caches, losses.get("categorical_crossentropy"))
        keys = set()
        for array in grads.values():
            keys |= set(array.__dask_graph__().keys())
        return len(keys)

    assert tasks(rows=8, chunks=16) == tasks(rows=4096, chunks=16)  # a wide layer adds no tasks
    per_chunk = (tasks(rows=8, chunks=8) - tasks(rows=8, chunks=16)) / 4  # 8 chunks vs 4
    assert 0 < per_chunk < 40
