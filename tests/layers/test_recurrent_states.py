"""Initial and final states of SimpleRNN, LSTM and GRU: loop references, gradient checks
(into the initial states too), the Keras-style call and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from layer_gradcheck import check_layer_gradients

N_X, N_A, M, T = 3, 2, 3, 4


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


# Independent references: one example, one step at a time, the course's equations.
def rnn_loop(X, p, a0):
    A = np.zeros((N_A, X.shape[1], X.shape[2]))
    for j in range(X.shape[1]):
        a = a0[:, j]
        for t in range(X.shape[2]):
            a = np.tanh(p["Waa"] @ a + p["Wax"] @ X[:, j, t] + p["ba"][:, 0])
            A[:, j, t] = a
    return A, (A[:, :, -1],)


def lstm_loop(X, p, a0, c0, mask=None):
    """The LSTM example by example; ``mask`` (m, T): a padded step (0) keeps a and c as they were."""
    A, C = np.zeros((N_A, X.shape[1], X.shape[2])), np.zeros((N_A, X.shape[1], X.shape[2]))
    for j in range(X.shape[1]):
        a, c = a0[:, j], c0[:, j]
        for t in range(X.shape[2]):
            if mask is not None and not mask[j, t]:
                A[:, j, t], C[:, j, t] = a, c
                continue
            concat = np.concatenate([a, X[:, j, t]])
            f = _sig(p["Wf"] @ concat + p["bf"][:, 0])
            i = _sig(p["Wi"] @ concat + p["bi"][:, 0])
            cc = np.tanh(p["Wc"] @ concat + p["bc"][:, 0])
            o = _sig(p["Wo"] @ concat + p["bo"][:, 0])
            c = f * c + i * cc
            a = o * np.tanh(c)
            A[:, j, t], C[:, j, t] = a, c
    return A, (A[:, :, -1], C[:, :, -1]), C


def gru_loop(X, p, c0):
    A = np.zeros((N_A, X.shape[1], X.shape[2]))
    for j in range(X.shape[1]):
        c = c0[:, j]
        for t in range(X.shape[2]):
            concat = np.concatenate([c, X[:, j, t]])
            gu = _sig(p["Wu"] @ concat + p["bu"][:, 0])
            gr = _sig(p["Wr"] @ concat + p["br"][:, 0])
            cc = np.tanh(p["Wc"] @ np.concatenate([gr * c, X[:, j, t]]) + p["bc"][:, 0])
            c = gu * cc + (1 - gu) * c
            A[:, j, t] = c
    return A, (A[:, :, -1],)


def _layer(cell, backend, **kwargs):
    layer = getattr(xn, cell)(N_A, return_sequences=True, **kwargs)
    net = xn.Sequential([layer], input_size=(N_X, T), backend=backend, dtype="float64", seed=3)
    backend = net.backend
    for k in layer.params:  # biases away from zero so every term of the gradient is exercised
        if k.startswith("b"):
            layer.params[k] = backend.asarray(np.random.default_rng(len(k)).normal(size=(N_A, 1)), "float64")
    return net, layer


def _states(cell, seed=1):
    g = np.random.default_rng(seed)
    return [g.normal(size=(N_A, M)) for _ in range(2 if cell == "LSTM" else 1)]


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_initial_and_final_states_equal_the_loop_reference(backend, cell):
    X = np.random.default_rng(0).normal(size=(N_X, M, T))
    _, layer = _layer(cell, backend, return_state=True)
    states = _states(cell)
    p = {k: xn.to_numpy(v) for k, v in layer.params.items()}
    ref = {"SimpleRNN": rnn_loop, "LSTM": lstm_loop, "GRU": gru_loop}[cell](X, p, *states)
    with backend.context():
        out = layer(backend.asarray(X, "float64"), initial_state=[backend.asarray(s, "float64") for s in states])
    np.testing.assert_allclose(xn.to_numpy(out[0]), ref[0], rtol=1e-12, atol=1e-12)
    assert len(out) == 1 + len(states)
    for got, want in zip(out[1:], ref[1]):
        np.testing.assert_allclose(xn.to_numpy(got), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_gradients_into_inputs_initial_states_and_parameters(backend, cell, return_sequences):
    X = np.random.default_rng(0).normal(size=(N_X, M, T))
    _, layer = _layer(cell, backend)
    layer.return_sequences = return_sequences
    names = ["a0", "c0"][: len(_states(cell))]
    inputs = {"X": X, **dict(zip(names, _states(cell)))}

    def forward(layer, X, **states):
        A, final, cache = layer.forward_with_state(X, [states[n] for n in names])
        return [A, *final], cache

    def backward(layer, d_outputs, cache):
        dX, d_initial, grads = layer.backward_with_state(d_outputs[0], tuple(d_outputs[1:]), cache)
        return {"X": dX, **dict(zip(names, d_initial))}, grads

    check_layer_gradients(layer, backend, inputs, forward, backward)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_only_the_final_state_used(backend, cell):
    """An encoder whose outputs feed nothing: dA is None, the gradient comes from the state."""
    X = np.random.default_rng(0).normal(size=(N_X, M, T))
    _, layer = _layer(cell, backend)

    def forward(layer, X):
        _, final, cache = layer.forward_with_state(X)
        return list(final), cache

    def backward(layer, d_outputs, cache):
        dX, _, grads = layer.backward_with_state(None, tuple(d_outputs), cache)
        return {"X": dX}, grads

    check_layer_gradients(layer, backend, {"X": X}, forward, backward)


def test_lstm_returns_its_cell_sequence():
    X = np.random.default_rng(0).normal(size=(N_X, M, T))
    _, layer = _layer("LSTM", "numpy", return_cell_sequence=True)
    a0, c0 = _states("LSTM")
    A, C = layer(X, initial_state=[a0, c0])
    ref_A, _, ref_C = lstm_loop(X, {k: np.asarray(v) for k, v in layer.params.items()}, a0, c0)
    np.testing.assert_allclose(A, ref_A, rtol=1e-12)
    np.testing.assert_allclose(C, ref_C, rtol=1e-12)
    layer.return_state = True
    assert len(layer(X)) == 4  # A, a_T, c_T, C


def test_zero_initial_state_is_the_default():
    X = np.random.default_rng(0).normal(size=(N_X, M, T))
    _, layer = _layer("LSTM", "numpy")
    np.testing.assert_array_equal(layer(X), layer(X, initial_state=[np.zeros((N_A, M)), np.zeros((N_A, M))]))


def test_bad_initial_states():
    X = np.random.default_rng(0).normal(size=(N_X, M, T))
    _, lstm = _layer("LSTM", "numpy")
    with pytest.raises(xn.ShapeError, match=r"initial_state=\[a0, c0\], got 1"):
        lstm(X, initial_state=[np.zeros((N_A, M))])
    with pytest.raises(xn.ShapeError, match=r"c0 must have shape \(n_a, m\) = \(2, 3\)"):
        lstm(X, initial_state=[np.zeros((N_A, M)), np.zeros((N_A, 1))])
    with pytest.raises(xn.NotFittedError, match="build the GRU first"):
        xn.GRU(2)(X)
    with pytest.raises(xn.XpnetTypeError, match="return_state"):
        xn.SimpleRNN(2, return_state="yes")


def test_return_state_round_trips_through_the_config():
    layer = xn.LSTM(3, return_state=True, return_cell_sequence=True)
    again = xn.layers.layer_from_config("LSTM", layer.get_config())
    assert again.return_state and again.return_cell_sequence
