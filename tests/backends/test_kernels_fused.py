"""The fused kernels against the generic path, at sizes where the NumPy overrides work in blocks.

The NumPy kernels walk arrays of more than 2**16 elements in blocks of rows (the bias add
and the activation together; the activation's backward and db together), so these tests use
shapes with several blocks and a ragged last one, and expect the generic results exactly
on NumPy (the same operations in the same order) and closely elsewhere.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import xpnet as xn
from xpnet import activations
from xpnet.backends.kernels import Kernels

GENERIC = Kernels()
DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=2e-6, atol=1e-7), "float64": dict(rtol=1e-13, atol=1e-15)}
# 131 x 1500: about three blocks of rows and a ragged last one; 3 x 5: one small block.
SHAPES = [(131, 1500), (3, 5)]


def _put(backend, host, dtype):
    return backend.asarray(np.asarray(host), dtype)


def _same(backend, got, want, dtype):
    got, want = backend.to_numpy(got), backend.to_numpy(want)
    assert got.dtype == want.dtype == np.dtype(dtype)
    assert got.shape == want.shape
    if backend.name == "numpy":
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keep_Z", [True, False])
@pytest.mark.parametrize("name", ["relu", "tanh", "leaky_relu", "linear", "sigmoid", "softmax"])
def test_bias_activation_in_blocks_matches_generic(backend, name, keep_Z, dtype, shape):
    g = np.random.default_rng(11)
    act = activations.get(name)
    Z_host, b_host = g.standard_normal(shape) * 3.0, g.standard_normal((shape[0], 1))
    b = _put(backend, b_host, dtype)
    Z_fast, A_fast = backend.kernels.bias_activation(_put(backend, Z_host, dtype), b, act, keep_Z=keep_Z)
    Z_ref, A_ref = GENERIC.bias_activation(_put(backend, Z_host, dtype), b, act, keep_Z=keep_Z)
    _same(backend, A_fast, A_ref, dtype)
    if keep_Z:
        _same(backend, Z_fast, Z_ref, dtype)
    # The reference itself is g(Z + b), computed here without the kernels.
    Zb = (Z_host.astype(dtype) + b_host.astype(dtype)).astype(np.float64)
    expected = {"relu": np.maximum(Zb, 0.0), "tanh": np.tanh(Zb), "linear": Zb,
                "leaky_relu": np.where(Zb > 0, Zb, 0.01 * Zb), "sigmoid": 1.0 / (1.0 + np.exp(-Zb)),
                "softmax": np.exp(Zb - Zb.max(axis=0)) / np.exp(Zb - Zb.max(axis=0)).sum(axis=0)}[name]
    np.testing.assert_allclose(backend.to_numpy(A_fast), expected, rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-14)
    np.testing.assert_array_equal(backend.to_numpy(b), b_host.astype(dtype))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "leaky_relu", "linear", "softmax"])
def test_activation_backward_db_matches_generic(backend, name, dtype, shape):
    g = np.random.default_rng(12)
    act = activations.get(name)
    Z = _put(backend, g.standard_normal(shape), dtype)
    A = act.forward(Z)
    A_before = backend.to_numpy(A)
    dA_host = g.standard_normal(shape)
    dZ, db = backend.kernels.activation_backward_db(act, _put(backend, dA_host, dtype), Z, A)
    dZ_ref = GENERIC.activation_backward(act, _put(backend, dA_host, dtype), Z, A)
    _same(backend, dZ, dZ_ref, dtype)
    if db is not None:  # an implementation that summed in the same pass: exactly the generic sum
        _same(backend, db, GENERIC.linear_backward(dZ_ref, Z, Z, False)[2], dtype)
        np.testing.assert_allclose(backend.to_numpy(db), backend.to_numpy(dZ_ref).sum(axis=1, keepdims=True),
                                   rtol=1e-4 if dtype == "float32" else 1e-11, atol=1e-4 if dtype == "float32" else 1e-11)
    np.testing.assert_array_equal(backend.to_numpy(A), A_before)  # only dA may be overwritten
    assert GENERIC.activation_backward_db(act, _put(backend, dA_host, dtype), Z, A)[1] is None


def test_numpy_sums_db_with_the_activation_backward():
    # The override the GEMM-bound net relies on: no second pass over dZ for db.
    kernels = xn.get_backend("numpy").kernels
    A = np.maximum(np.random.default_rng(13).standard_normal((131, 1500)), 0.0)
    for name in ("relu", "tanh", "sigmoid", "leaky_relu"):
        assert kernels.activation_backward_db(activations.get(name), np.ones_like(A), None, A)[1] is not None


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_backward_keeps_a_given_db(backend, dtype):
    g = np.random.default_rng(14)
    dZ, A_prev, W = (_put(backend, g.standard_normal(s), dtype) for s in ((4, 9), (6, 9), (4, 6)))
    db = _put(backend, g.standard_normal((4, 1)), dtype)
    for kernels in (backend.kernels, GENERIC):
        dA_prev, dW, got = kernels.linear_backward(dZ, A_prev, W, True, db=db)
        assert got is db
        _same(backend, dW, GENERIC.linear_backward(dZ, A_prev, W, True)[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_backward_with_fused_db_matches_generic_kernels(backend, dtype):
    # A whole Dense layer's gradients, through the backend's kernels and through the generic
    # ones, at a size that runs the blocks.
    g = np.random.default_rng(15)
    layer = xn.Dense(130, activation="relu")
    layer.build((40,), backend=backend, dtype=dtype, rng=g)
    A_prev = _put(backend, g.standard_normal((40, 1200)), dtype)
    dA_host = g.standard_normal((130, 1200))
    A, cache = layer.forward(A_prev, training=True)
    _, grads = layer.backward(_put(backend, dA_host, dtype), cache)
    Z = layer.params["W"] @ A_prev + layer.params["b"]
    mask = backend.to_numpy(Z) > 0
    dZ = dA_host.astype(dtype) * mask
    np.testing.assert_allclose(backend.to_numpy(grads["b"]), dZ.sum(axis=1, keepdims=True),
                               rtol=1e-4 if dtype == "float32" else 1e-11, atol=1e-3 if dtype == "float32" else 1e-10)
    np.testing.assert_allclose(backend.to_numpy(grads["W"]), dZ @ backend.to_numpy(A_prev).T,
                               rtol=1e-4 if dtype == "float32" else 1e-11, atol=1e-3 if dtype == "float32" else 1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cost_and_finite_matches_generic(backend, dtype):
    g = np.random.default_rng(16)
    clean = [_put(backend, g.standard_normal((3, 4)), dtype) for _ in range(3)]
    cost = _put(backend, np.asarray(0.25), dtype)
    for kernels in (backend.kernels, GENERIC):
        assert kernels.cost_and_finite(cost, clean, backend.to_numpy) == (0.25, True)
        assert kernels.cost_and_finite(cost, [], backend.to_numpy) == (0.25, True)
        for bad in (math.nan, math.inf, -math.inf):
            host = g.standard_normal((3, 4))
            host[2, 1] = bad
            value, ok = kernels.cost_and_finite(cost, clean + [_put(backend, host, dtype)], backend.to_numpy)
            assert value == 0.25 and ok is False
            value, ok = kernels.cost_and_finite(_put(backend, np.asarray(bad), dtype), clean, backend.to_numpy)
            assert (math.isnan(value) if math.isnan(bad) else value == bad) and ok is True


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_finite_check_in_every_layout(dtype):
    # The NumPy check reads a sum of squares first: any layout, and huge finite values whose
    # squares overflow, must still get the exact answer.
    kernels = xn.get_backend("numpy").kernels
    g = np.random.default_rng(17)
    base = g.standard_normal((6, 40)).astype(dtype)
    huge = np.full((3, 3), np.finfo(dtype).max / 2, dtype=dtype)
    layouts = [base, np.asfortranarray(base), base[:, ::3], base.T]
    for W in layouts:
        assert kernels.cost_and_finite(np.asarray(1.0, dtype=dtype), [huge, W], np.asarray) == (1.0, True)
        for bad in (math.nan, math.inf, -math.inf):
            broken = W.copy(order="K")
            broken[2, 1] = bad
            assert kernels.cost_and_finite(np.asarray(1.0, dtype=dtype), [W, huge, broken], np.asarray)[1] is False
            assert not bool(kernels.all_finite([broken]))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "linear"])
def test_dense_forward_of_a_deep_input_over_few_examples_matches_generic(backend, name, dtype, order, monkeypatch):
    # 2048 inputs over 64 examples with a Fortran-ordered W: NumPy's override takes the
    # transposed product there (with threaded BLAS, as here whatever this machine's threads),
    # which sums in another order, so it matches to rounding.
    from xpnet.backends import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "_THREADED", True)
    if backend.name == "numpy":
        W_probe = np.ones((9, 2048), order=order)
        assert numpy_kernels._deep_and_short(W_probe, np.ones((2048, 64))) == (order == "F")
        assert not numpy_kernels._deep_and_short(W_probe, np.ones((2048, 600)))  # many examples
    g = np.random.default_rng(17)
    act = activations.get(name)
    W_host = g.standard_normal((9, 2048)) / 40.0
    W = _put(backend, np.asfortranarray(W_host) if order == "F" else W_host, dtype)
    A_prev, b = _put(backend, g.standard_normal((2048, 64)), dtype), _put(backend, g.standard_normal((9, 1)), dtype)
    Z, A = backend.kernels.dense_forward(W, A_prev, b, act, keep_Z=True)
    Z_ref, A_ref = GENERIC.dense_forward(W, A_prev, b, act, keep_Z=True)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for got, want in ((Z, Z_ref), (A, A_ref)):
        assert backend.to_numpy(got).dtype == np.dtype(dtype) and tuple(got.shape) == (9, 64)
        np.testing.assert_allclose(backend.to_numpy(got), backend.to_numpy(want), **tol)
    exact = W_host.astype(dtype).astype(np.float64) @ backend.to_numpy(A_prev).astype(np.float64)
    np.testing.assert_allclose(backend.to_numpy(Z), exact + backend.to_numpy(b), **tol)


def _updates_given_up(kernels, W, grads, state, step):
    """Every optimiser kernel with ``reuse_dW=True``, each on its own fresh gradient."""
    v, s = state
    c1, c2 = 1.0 - 0.9**step, 1.0 - 0.999**step
    out = [kernels.gd_update(W, grads.pop(), 0.1, reuse_dW=True)]
    out += list(kernels.momentum_update(W, grads.pop(), v, 0.1, 0.9, reuse_dW=True))
    out += list(kernels.rmsprop_update(W, grads.pop(), s, 0.01, 0.99, 1e-8, reuse_dW=True))
    out += list(kernels.adam_update(W, grads.pop(), v, s, 0.01, 0.9, 0.999, 1e-8, c1, c2, reuse_dW=True))
    out += list(kernels.adam_update(W, grads.pop(), None, None, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.001, reuse_dW=True))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_updates_into_a_given_up_gradient_match_generic(backend, dtype):
    g = np.random.default_rng(18)
    W_host, dW_host, v_host, s_host = (g.standard_normal((70, 64)) for _ in range(4))  # reused: >= 4096
    s_host = np.abs(s_host)
    W, v, s = (_put(backend, h, dtype) for h in (W_host, v_host, s_host))
    fast = _updates_given_up(backend.kernels, W, [_put(backend, dW_host, dtype) for _ in range(5)], (v, s), 3)
    ref = _updates_given_up(GENERIC, W, [_put(backend, dW_host, dtype) for _ in range(5)], (v, s), 3)
    for got, want in zip(fast, ref):
        _same(backend, got, want, dtype)
    for arr, host in ((W, W_host), (v, v_host), (s, s_host)):  # parameters and state are never written
        np.testing.assert_array_equal(backend.to_numpy(arr), host.astype(dtype))


def _adam(kernels, W, dW, state, step, **kw):
    v, s = state
    W, v, s = kernels.adam_update(W, dW, v, s, 0.01, 0.9, 0.999, 1e-8, 1.0 - 0.9**step, 1.0 - 0.999**step, **kw)
    return W, (v, s)


def _rmsprop(kernels, W, dW, state, step, **kw):
    W, s = kernels.rmsprop_update(W, dW, state[1], 0.01, 0.9, 1e-8, **kw)
    return W, (None, s)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layouts", ["CCCC", "FFFF", "CFFF"])
@pytest.mark.parametrize("update", [_adam, _rmsprop])
def test_updates_in_blocks_match_generic(backend, update, dtype, layouts):
    """Adam and RMSprop over several blocks (their arrays in one layout) and over the whole
    array (mixed layouts, as on a first step from C-ordered initial weights): the generic
    results, three steps running, given-up gradients and kept ones alike."""
    g = np.random.default_rng(21)
    hosts = [g.standard_normal(SHAPES[0]) for _ in range(4)]
    W, dW, v, s = (_put(backend, np.asfortranarray(h) if order == "F" else h, dtype) for h, order in zip(hosts, layouts))
    s = abs(s)
    fast = ref = (W, (None, None))
    for step in (1, 2, 3):
        fast = update(backend.kernels, fast[0], dW * step, fast[1], step, reuse_dW=step > 1)
        ref = update(GENERIC, ref[0], dW * step, ref[1], step)
        for got, want in zip((fast[0], *fast[1]), (ref[0], *ref[1])):
            if want is not None:
                _same(backend, got, want, dtype)
    again = update(backend.kernels, W, dW, (v, s), 4)  # state given from outside
    want = update(GENERIC, W, dW, (v, s), 4)
    for got, expected in zip((again[0], *again[1]), (want[0], *want[1])):
        if expected is not None:
            _same(backend, got, expected, dtype)
    for array, host in ((W, hosts[0]), (dW, hosts[1]), (v, hosts[2])):  # inputs never written
        np.testing.assert_array_equal(backend.to_numpy(array), host.astype(dtype))


def _data_address(x):
    return x.__array_interface__["data"][0]


@pytest.mark.parametrize("optimizer", [xn.GradientDescent(0.05), xn.Adam(0.01)])
def test_a_training_step_builds_the_new_parameters_in_its_gradients_memory(optimizer):
    # One new array fewer per parameter and step: the new W takes the memory of its dW (a
    # step's own gradient, no longer needed). Calls made another way (an extra reference)
    # would silently lose this; this test notices.
    from xpnet import losses, training

    g = np.random.default_rng(19)
    net = xn.Sequential([xn.Dense(70, activation="relu"), xn.Dense(1, activation="sigmoid")], input_size=64, seed=0)
    X, Y = g.standard_normal((64, 40)), (g.uniform(size=(1, 40)) > 0.5).astype(float)
    X, Y = net.prepare_input(X), net.prepare_targets(Y, 40)
    addresses, backward = {}, net.backward

    def spy(*args):
        grads = backward(*args)
        addresses.update({key[1:]: _data_address(value) for key, value in grads.items()})
        return grads

    net.backward = spy
    before = {k: np.array(v) for k, v in net.parameters().items()}
    training.train_step(net, X, Y, loss=losses.get("binary_crossentropy"), optimizer=optimizer)
    params = net.parameters()
    # W1 (70 x 64) is large enough to be worth it; a new small array costs less than the check.
    assert _data_address(params["W1"]) == addresses["W1"]
    assert all(_data_address(params[k]) != addresses[k] for k in ("b1", "W2", "b2"))
    assert all(not np.array_equal(params[k], before[k]) for k in ("W1", "W2"))


def test_a_gradient_held_elsewhere_is_never_overwritten():
    from xpnet.optim import StepGradients

    g = np.random.default_rng(20)
    W = g.standard_normal((80, 60))  # large enough for the kernels to consider reuse
    for optimizer in (xn.GradientDescent(0.1), xn.Momentum(0.1), xn.Adam(0.1)):
        # Held by the caller as well as by the step's dict; a plain dict; two views of one buffer.
        held = g.standard_normal((80, 60))
        buffer = g.standard_normal((2, 80, 60))
        expect_buffer = buffer.copy()
        cases = [StepGradients({"dW": held}), {"dW": held.copy()}]
        plain = cases[1]["dW"]
        expect = {"held": held.copy(), "plain": plain.copy()}
        new = [optimizer.update({"W": W}, grads)["W"] for grads in cases]
        shared = StepGradients({"dW": buffer[0], "dV": buffer[1]})
        new.append(optimizer.update({"W": W, "V": W.copy()}, shared)["W"])
        np.testing.assert_array_equal(held, expect["held"])
        np.testing.assert_array_equal(plain, expect["plain"])
        np.testing.assert_array_equal(buffer, expect_buffer)
        for result in new:
            assert not np.shares_memory(result, held) and not np.shares_memory(result, buffer)


@pytest.fixture
def small_buffers(monkeypatch):
    """NumPy's kept product buffers at test sizes (they start at 8 MiB)."""
    from xpnet.backends import numpy_memory

    monkeypatch.setattr(numpy_memory.Buffers, "MIN_BYTES", 1024)
    return numpy_memory


def test_kept_buffers_are_reused_only_when_nothing_holds_them(small_buffers):
    kernels = xn.get_backend("numpy").kernels
    g = np.random.default_rng(21)
    W, A_prev, b = g.standard_normal((40, 30)), g.standard_normal((30, 50)), g.standard_normal((40, 1))
    relu = activations.get("relu")
    want = np.maximum(W @ A_prev + b, 0.0)
    with kernels.reusing_buffers():
        _, held = kernels.dense_forward(W, A_prev, b, relu, keep_Z=False)
        view = held[3:5]
        kept = held.copy()
        for _ in range(3):  # each result while the first is held (and a view of it)
            _, A = kernels.dense_forward(W, A_prev, b, relu, keep_Z=False)
            assert not np.shares_memory(A, held)
            np.testing.assert_array_equal(A, want)
        address = A.__array_interface__["data"][0]
        del A
        _, again = kernels.dense_forward(W, A_prev, b, relu, keep_Z=False)
        assert again.__array_interface__["data"][0] == address  # let go, so handed out again
        np.testing.assert_array_equal(again, want)
        np.testing.assert_array_equal(held, kept)
        np.testing.assert_array_equal(view, kept[3:5])
    assert small_buffers._POOL.get() is None  # nothing is kept after the context


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_with_kept_buffers_matches_fit_without(small_buffers, monkeypatch, dtype):
    import contextlib

    from xpnet.backends.numpy_kernels import NumpyKernels

    g = np.random.default_rng(22)
    X, Y = g.standard_normal((30, 120)), np.eye(4)[:, g.integers(0, 4, 120)]

    def fitted():
        net = xn.Sequential([xn.Dense(40, activation="relu"), xn.Dense(40, activation="tanh"),
                             xn.Dense(4, activation="softmax")], input_size=30, dtype=dtype, seed=3)
        hist = net.fit(X, Y, epochs=4, batch_size=50, optimizer=xn.Adam(0.01), validation_data=(X, Y))
        return hist.costs + hist.history["val_cost"], net.parameters()

    costs, params = fitted()
    monkeypatch.setattr(NumpyKernels, "reusing_buffers", lambda self: contextlib.nullcontext())
    costs_fresh, params_fresh = fitted()
    assert costs == costs_fresh
    for name in params:
        np.testing.assert_array_equal(params[name], params_fresh[name])
