"""Dask's kernels on data chunked along the examples, against the generic array-API path.

``test_kernels.py`` runs every backend's kernels on single-chunk arrays; here the arrays
have several chunks of examples, so each override's per-chunk tasks and its sums across
the chunks (``[dW | db]``, the cost's shares) are what is checked, in float32 and float64,
with the gradients checked against centred differences in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from gradcheck import check_network_gradients
from xpnet import activations, losses
from xpnet.backends.kernels import Kernels

pytest.importorskip("dask.array", reason="dask is not installed: pip install 'xpnet[dask]'")

GENERIC = Kernels()
DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}
ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "linear", "softmax"]
M, CHUNK = 23, 6  # four chunks, the last one short


@pytest.fixture(scope="module")
def dask_backend():
    return xn.get_backend("dask", chunks=CHUNK)


def _examples(backend, host, dtype):
    return backend.asarray_examples(np.asarray(host), dtype)


def _host(backend, x):
    return backend.to_numpy(x)


def _data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _tasks_of_one_layer(x) -> int:
    """Tasks in the last layer of ``x``'s graph (its own layer, not its inputs')."""
    graph = x.__dask_graph__()
    return len(graph.layers[x.name])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keep_Z", [True, False])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_dense_forward_matches_generic(dask_backend, name, keep_Z, dtype):
    act = activations.get(name)
    A_h, W_h, b_h = _data((5, M), 0), _data((4, 5), 1), _data((4, 1), 2)
    A_prev = _examples(dask_backend, A_h, dtype)
    W, b = dask_backend.asarray(W_h, dtype), dask_backend.asarray(b_h, dtype)
    kernels = dask_backend.kernels
    Z, A = kernels.dense_forward(W, A_prev, b, act, keep_Z=keep_Z)
    Z_ref, A_ref = GENERIC.dense_forward(W, A_prev, b, act, keep_Z=keep_Z)
    assert A.numblocks == A_prev.numblocks and _tasks_of_one_layer(A) == A_prev.numblocks[1]
    np.testing.assert_allclose(_host(dask_backend, A), _host(dask_backend, A_ref), **TOL[dtype])
    if keep_Z:
        np.testing.assert_allclose(_host(dask_backend, Z), W_h @ A_h + b_h, **TOL[dtype])
    else:
        assert Z is None and Z_ref is None
    want = act.forward(xn.get_backend("numpy").asarray(W_h @ A_h + b_h, dtype))
    np.testing.assert_allclose(_host(dask_backend, A), want, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_bias_activation_and_activation_backward_match_generic(dask_backend, name, dtype):
    act = activations.get(name)
    Z_h, b_h, dA_h = _data((4, M), 3), _data((4, 1), 4), _data((4, M), 5)
    Z, b = _examples(dask_backend, Z_h, dtype), dask_backend.asarray(b_h, dtype)
    for keep_Z in (True, False):
        got = dask_backend.kernels.bias_activation(Z, b, act, keep_Z=keep_Z)[1]
        want = GENERIC.bias_activation(Z, b, act, keep_Z=keep_Z)[1]
        np.testing.assert_allclose(_host(dask_backend, got), _host(dask_backend, want), **TOL[dtype])
    A = act.forward(Z)
    Z_arg = Z if act.backward_needs_Z else None
    dA = _examples(dask_backend, dA_h, dtype)
    got = dask_backend.kernels.activation_backward(act, dA, Z_arg, A)
    want = GENERIC.activation_backward(act, dA, Z_arg, A)
    assert _tasks_of_one_layer(got) == Z.numblocks[1]
    np.testing.assert_allclose(_host(dask_backend, got), _host(dask_backend, want), **TOL[dtype])


@pytest.mark.parametrize("need_dA_prev", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_backward_sums_the_chunks_like_one_product(dask_backend, dtype, need_dA_prev):
    dZ_h, A_h, W_h = _data((4, M), 6), _data((30, M), 7), _data((4, 30), 8)
    dZ, A_prev = _examples(dask_backend, dZ_h, dtype), _examples(dask_backend, A_h, dtype)
    W = dask_backend.asarray(W_h, dtype)
    got = dask_backend.kernels.linear_backward(dZ, A_prev, W, need_dA_prev)
    ref = GENERIC.linear_backward(dZ, A_prev, W, need_dA_prev)
    exact = (W_h.T @ dZ_h, dZ_h @ A_h.T, dZ_h.sum(axis=1, keepdims=True))
    for g, r, e in zip(got, ref, exact):
        if not need_dA_prev and r is None:
            assert g is None
            continue
        g = _host(dask_backend, g)
        assert g.dtype == np.dtype(dtype) and g.shape == e.shape
        np.testing.assert_allclose(g, _host(dask_backend, r), **TOL[dtype])
        # float32 sums of +-1-sized terms: absolute error ~ eps32 * sqrt(M) where they cancel.
        np.testing.assert_allclose(g, e, rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=1e-5 if dtype == "float32" else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,from_logits", [("binary_crossentropy", True), ("binary_crossentropy", False),
                                              ("categorical_crossentropy", True), ("categorical_crossentropy", False),
                                              ("mean_squared_error", False)])
def test_loss_cost_adds_up_the_chunks_shares(dask_backend, name, from_logits, dtype):
    loss = losses.get(name)
    g = np.random.default_rng(9)
    rows = 1 if name == "binary_crossentropy" else 3
    Z_h = g.standard_normal((rows, M))
    if name == "categorical_crossentropy":
        Y_h = np.eye(rows)[:, g.integers(0, rows, M)]
        A_h = np.exp(Z_h) / np.exp(Z_h).sum(axis=0, keepdims=True)
    else:
        Y_h = (g.random((rows, M)) < 0.5) * 1.0
        A_h = 1.0 / (1.0 + np.exp(-Z_h))
    first = Z_h if from_logits else A_h
    A, Y = _examples(dask_backend, first, dtype), _examples(dask_backend, Y_h, dtype)
    got = dask_backend.kernels.loss_cost(loss, A, Y, from_logits=from_logits)
    want = GENERIC.loss_cost(loss, A, Y, from_logits=from_logits)
    on_host = loss.cost_from_logits(first, Y_h) if from_logits else loss.cost(first, Y_h)
    got = float(_host(dask_backend, got))
    np.testing.assert_allclose(got, float(_host(dask_backend, want)), **TOL[dtype])
    np.testing.assert_allclose(got, float(on_host), rtol=1e-5 if dtype == "float32" else 1e-12)


def test_a_users_loss_keeps_its_own_cost(dask_backend):
    """A loss the kernels do not know may not be a sum over examples: it is asked whole."""

    class MaxError(losses.Loss):
        name = "max_error"

        def cost(self, A, Y):
            from array_api_compat import array_namespace

            xp = array_namespace(A, Y)
            return xp.max(xp.abs(A - Y))

    A_h, Y_h = _data((2, M), 10), _data((2, M), 11)
    got = dask_backend.kernels.loss_cost(MaxError(), _examples(dask_backend, A_h, "float64"),
                                         _examples(dask_backend, Y_h, "float64"))
    assert float(_host(dask_backend, got)) == pytest.approx(np.abs(A_h - Y_h).max(), rel=1e-15)


def test_data_chunked_along_the_rows_takes_the_generic_path(dask_backend):
    import dask.array as da

    A_h, W_h, b_h = _data((6, M), 12), _data((4, 6), 13), _data((4, 1), 14)
    A_prev = da.from_array(A_h, chunks=(3, CHUNK))  # two chunks of rows
    W, b = dask_backend.asarray(W_h, "float64"), dask_backend.asarray(b_h, "float64")
    relu = activations.get("relu")
    _, A = dask_backend.kernels.dense_forward(W, A_prev, b, relu, keep_Z=False)
    np.testing.assert_allclose(_host(dask_backend, A), np.maximum(W_h @ A_h + b_h, 0.0), rtol=1e-13)
    dZ = da.from_array(_data((4, M), 15), chunks=(4, CHUNK))
    _, dW, db = dask_backend.kernels.linear_backward(dZ, A_prev, W, need_dA_prev=False)
    np.testing.assert_allclose(_host(dask_backend, dW), _host(dask_backend, dZ) @ A_h.T, rtol=1e-12)


@pytest.mark.parametrize("hidden,output,loss", [("relu", "softmax", "categorical_crossentropy"),
                                                 ("tanh", "sigmoid", "binary_crossentropy"),
                                                 ("leaky_relu", "linear", "mean_squared_error")])
def test_gradients_on_chunked_data_pass_the_gradient_check(dask_backend, hidden, output, loss):
    g = np.random.default_rng(16)
    n_out = 3 if output == "softmax" else 1
    X = g.standard_normal((4, M))
    Y = np.eye(3)[:, g.integers(0, 3, M)] if output == "softmax" else (g.random((1, M)) < 0.5) * 1.0
    net = xn.Sequential([xn.Dense(5, activation=hidden), xn.Dense(n_out, activation=output)],
                        input_size=4, backend=dask_backend, dtype="float64", seed=3)
    Xd, Yd = _examples(dask_backend, X, "float64"), _examples(dask_backend, Y, "float64")
    assert Xd.numblocks[1] == 4
    check_network_gradients(net, Xd, Yd, loss=loss, tol=1e-7)
    twin = xn.Sequential([xn.Dense(5, activation=hidden), xn.Dense(n_out, activation=output)],
                         input_size=4, backend="numpy", dtype="float64", seed=3)
    want = twin.gradients(X, Y, loss=loss)
    for key, value in net.gradients(Xd, Yd, loss=loss).items():
        np.testing.assert_allclose(xn.to_numpy(value), want[key], rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_all_finite_checks_every_parameter_in_one_task(dask_backend, bad):
    hosts = [_data((4, 5), 17), _data((4, 1), 18), _data((2, 4), 19)]
    if bad is not None:
        hosts[2][1, 3] = bad
    params = [dask_backend.asarray(h, dtype) for h, dtype in zip(hosts, ["float64", "float64", "float32"])]
    got = dask_backend.kernels.all_finite(params)
    assert _tasks_of_one_layer(got) == 1
    assert bool(_host(dask_backend, got)) is (bad is None)
    assert bool(_host(dask_backend, GENERIC.all_finite(params))) is (bad is None)
