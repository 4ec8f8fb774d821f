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
