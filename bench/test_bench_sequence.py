"""Benchmarks of the sequence layers: explicit loops vs vectorized (NumPy) vs CuPy.

Run:   pytest bench/test_bench_sequence.py --benchmark-enable --benchmark-group-by=group
Smoke: pytest bench/test_bench_sequence.py --benchmark-disable   (each case once, seconds)

Groups: ``lstm-forward`` and ``attention-forward`` compare the loop reference
(``xpnet.reference``) with the vectorized layer on each backend; ``*-train-step`` time one
forward + backward propagation of the vectorized layer (the loop reference has no
backward). GPU timings synchronise the device before the timer stops, and a warm-up call
runs first (kernel compilation, memory pool). Without a GPU the cupy cases are SKIPPED
with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet import reference

# Small enough that the loop reference finishes in about a second; large enough that the
# vectorized layers' per-call overhead does not dominate.
N_X, N_A, M, T = 16, 32, 32, 20
D_MODEL, HEADS = 32, 4

BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
]


def _backend(name):
    backend = xn.get_backend(name) if name in xn.available_backends() else None
    if backend is None:
        pytest.skip("no CUDA device available" if name == "cupy" else f"backend {name} not available")
    return backend


def _data(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _timed(benchmark, backend, fn):
    def run():
        out = fn()
        backend.synchronize()
        return out

    run()  # warm-up: kernels, memory pool
    return benchmark(run)


def _lstm_net(backend, dtype="float32"):
    return xn.Sequential([xn.LSTM(N_A, return_sequences=True)], input_size=(N_X, T), backend=backend,
                         dtype=dtype, seed=0)


def _attention_net(backend, dtype="float32"):
    return xn.Sequential([xn.MultiHeadAttention(D_MODEL, heads=HEADS)], input_size=(D_MODEL, T), backend=backend,
                         dtype=dtype, seed=0)


def _float64_forward(make_net, X):
    """The same layer (same seed, same weights) in float64 on NumPy: what every timed run must give."""
    return xn.to_numpy(make_net("numpy", "float64").forward(np.asarray(X, dtype=np.float64))[0])


# A timed run in float32 must equal the float64 NumPy result to float32's precision.
F32 = {"rtol": 2e-4, "atol": 2e-5}


@pytest.mark.benchmark(group="lstm-forward")
def test_lstm_forward_loop_reference(benchmark):
    net = _lstm_net("numpy")
    params = {k[:-1]: xn.to_numpy(v) for k, v in net.parameters().items()}
    X = _data((N_X, M, T))
    A = benchmark.pedantic(reference.lstm_forward_loop, args=(X, params, True), rounds=1, iterations=1)
    np.testing.assert_allclose(A, _float64_forward(_lstm_net, X), **F32)


@pytest.mark.benchmark(group="lstm-forward")
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_lstm_forward_vectorized(benchmark, backend_name):
    backend = _backend(backend_name)
    net = _lstm_net(backend)
    X = backend.asarray(_data((N_X, M, T)), "float32")
    A = _timed(benchmark, backend, lambda: net.forward(X)[0])
    np.testing.assert_allclose(backend.to_numpy(A), _float64_forward(_lstm_net, _data((N_X, M, T))), **F32)


@pytest.mark.benchmark(group="attention-forward")
def test_attention_forward_loop_reference(benchmark):
    net = _attention_net("numpy")
    params = {k[:-1]: xn.to_numpy(v) for k, v in net.parameters().items()}
    X = _data((D_MODEL, M, T))
    A = benchmark.pedantic(reference.attention_forward_loop, args=(X, params, HEADS), kwargs={"causal": True},
                           rounds=1, iterations=1)
    causal = xn.Sequential([xn.MultiHeadAttention(D_MODEL, heads=HEADS, causal=True)], input_size=(D_MODEL, T),
                           backend="numpy", dtype="float64", seed=0)
    np.testing.assert_allclose(A, xn.to_numpy(causal.forward(X.astype(np.float64))[0]), **F32)


@pytest.mark.benchmark(group="attention-forward")
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_attention_forward_vectorized(benchmark, backend_name):
    backend = _backend(backend_name)
    net = _attention_net(backend)
    X = backend.asarray(_data((D_MODEL, M, T)), "float32")
    A = _timed(benchmark, backend, lambda: net.forward(X)[0])
    np.testing.assert_allclose(backend.to_numpy(A), _float64_forward(_attention_net, _data((D_MODEL, M, T))), **F32)


# Input shape and output-gradient shape of each layer's forward + backward benchmark.
STEPS = {
    "lstm": (_lstm_net, (N_X, M, T), (N_A, M, T)),
    "attention": (_attention_net, (D_MODEL, M, T), (D_MODEL, M, T)),
}


@pytest.mark.parametrize("kind", list(STEPS))
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_forward_backward_vectorized(benchmark, backend_name, kind):
    benchmark.group = f"{kind}-train-step"
    make_net, x_shape, da_shape = STEPS[kind]
    backend = _backend(backend_name)
    layer = make_net(backend).layers[0]
    X = backend.asarray(_data(x_shape), "float32")
    dA = backend.asarray(_data(da_shape, seed=1), "float32")

    def step():
        A, cache = layer.forward(X, training=True)
        return layer.backward(dA, cache)

    dX, grads = _timed(benchmark, backend, step)
    # The float64 NumPy layer's backward is checked against a centred difference of
    # f(X) = sum(A * dA) along a random direction V; the timed run must agree with it.
    exact = make_net("numpy", "float64").layers[0]
    X64, dA64 = _data(x_shape).astype(np.float64), _data(da_shape, seed=1).astype(np.float64)
    A64, cache = exact.forward(X64, training=True)
    dX64, grads64 = exact.backward(dA64, cache)
    V, h = np.random.default_rng(2).normal(size=x_shape), 1e-6
    f = lambda Z: float(np.sum(xn.to_numpy(exact.forward(Z)[0]) * dA64))  # noqa: E731
    assert (f(X64 + h * V) - f(X64 - h * V)) / (2 * h) == pytest.approx(float(np.sum(dX64 * V)), rel=1e-6)
    np.testing.assert_allclose(backend.to_numpy(dX), dX64, rtol=2e-3, atol=2e-4)
    for name, g in grads.items():
        np.testing.assert_allclose(backend.to_numpy(g), grads64[name], rtol=2e-3, atol=2e-4, err_msg=name)
