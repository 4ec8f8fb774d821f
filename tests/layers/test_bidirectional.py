"""Bidirectional recurrent layers and stacked (deep) RNNs."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from test_recurrent_states import gru_loop, lstm_loop, rnn_loop
from test_sequence_layers import TD, _targets, check_gradients

LOOPS = {"SimpleRNN": rnn_loop, "LSTM": lstm_loop, "GRU": gru_loop}


def _bi(cell, merge, return_sequences=True, backend="numpy", n_x=3, T=4):
    layer = xn.Bidirectional(getattr(xn, cell)(2, return_sequences=return_sequences), merge=merge)
    return xn.Sequential([layer], input_size=(n_x, T), backend=backend, dtype="float64", seed=5), layer


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_equals_two_loops_one_over_the_reversed_sequence(cell, merge, return_sequences):
    X = np.random.default_rng(0).normal(size=(3, 3, 4))
    net, layer = _bi(cell, merge, return_sequences)
    p_fw = {k[:-3]: np.asarray(v) for k, v in layer.params.items() if k.endswith("_fw")}
    p_bw = {k[:-3]: np.asarray(v) for k, v in layer.params.items() if k.endswith("_bw")}
    zeros = [np.zeros((2, 3))] * (2 if cell == "LSTM" else 1)
    A_fw = LOOPS[cell](X, p_fw, *zeros)[0]
    A_bw = LOOPS[cell](X[:, :, ::-1], p_bw, *zeros)[0][:, :, ::-1]  # back in input order
    if not return_sequences:
        A_fw, A_bw = A_fw[:, :, -1], A_bw[:, :, 0]  # the backward pass ends at step 1
    expected = {"concat": np.concatenate([A_fw, A_bw]), "sum": A_fw + A_bw, "mul": A_fw * A_bw,
                "ave": (A_fw + A_bw) / 2}[merge]
    np.testing.assert_allclose(net.predict_proba(X), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("merge", ["concat", "mul"])
def test_gradients_match_centred_differences(backend, merge):
    X = np.random.default_rng(0).normal(size=(3, 2, 4))
    layers = [TD(3), xn.Bidirectional(xn.LSTM(2, return_sequences=True), merge=merge), TD(2, "softmax")]
    net = xn.Sequential(layers, input_size=(3, 4), backend=backend, dtype="float64", seed=1)
    check_gradients(net, X, _targets(net, 2))


def test_gradients_last_step_gru(backend):
    X = np.random.default_rng(0).normal(size=(3, 2, 4))
    layers = [TD(3), xn.Bidirectional(xn.GRU(2), merge="sum"), xn.Dense(2, activation="softmax")]
    net = xn.Sequential(layers, input_size=(3, 4), backend=backend, dtype="float64", seed=1)
    check_gradients(net, X, _targets(net, 2))


def test_stacked_bidirectional_and_deep_rnn_gradients(backend):
    X = np.random.default_rng(0).normal(size=(3, 2, 4))
    layers = [xn.Bidirectional(xn.SimpleRNN(3, return_sequences=True)), xn.LSTM(3, return_sequences=True),
              xn.GRU(3, return_sequences=True), TD(2, "softmax")]
    net = xn.Sequential(layers, input_size=(3, 4), backend=backend, dtype="float64", seed=1)
    check_gradients(net, X, _targets(net, 2))


def test_names_shapes_and_config():
    net, layer = _bi("LSTM", "concat")
    shapes = net.parameter_shapes()
    assert shapes["Wf_fw1"] == shapes["Wf_bw1"] == (2, 5)
    assert layer.output_shape == (4, 4)
    assert layer.params["Wi_bw"] is layer.backward_layer.params["Wi"]
    assert not np.allclose(layer.params["Wi_fw"], layer.params["Wi_bw"])  # two sets of weights
    again = xn.layers.layer_from_config("Bidirectional", layer.get_config())
    assert again.merge == "concat" and isinstance(again.forward_layer, xn.LSTM)


def test_save_and_load_round_trip(tmp_path):
    net, _ = _bi("GRU", "ave")
    X = np.random.default_rng(0).normal(size=(3, 3, 4))
    xn.save(net, tmp_path / "bi.npz")
    np.testing.assert_allclose(xn.load(tmp_path / "bi.npz").predict_proba(X), net.predict_proba(X), rtol=1e-12)


def test_needs_the_whole_sequence_to_classify_it():
    """Label = the first token of the sequence; a forward-only last-state RNN must carry it
    across every step, a bidirectional one has just read it."""
    g = np.random.default_rng(0)
    m, T = 400, 12
    X = g.normal(size=(2, m, T)) * 0.5
    Y = (X[0:1, :, 0] > 0).astype(float)
    net = xn.Sequential([xn.Bidirectional(xn.GRU(4), merge="concat"), xn.Dense(1, activation="sigmoid")],
                        input_size=(2, T), backend="numpy", dtype="float64", seed=0)
    net.fit(X, Y, epochs=60, optimizer=xn.Adam(learning_rate=0.05), batch_size=100)
    assert net.evaluate(X, Y)["accuracy"] > 0.95


def test_bad_arguments():
    with pytest.raises(xn.XpnetValueError, match="merge must be one of"):
        xn.Bidirectional(xn.LSTM(2), merge="max")
    with pytest.raises(xn.XpnetTypeError, match="Bidirectional wraps"):
        xn.Bidirectional(xn.Dense(2))
    with pytest.raises(xn.ShapeError, match="return_sequences=True to stack"):
        xn.Sequential([xn.LSTM(3), xn.LSTM(2)], input_size=(2, 5), backend="numpy")


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM"])
def test_states_in_and_out_with_their_gradients(backend, cell):
    from layer_gradcheck import check_layer_gradients

    layer = xn.Bidirectional(getattr(xn, cell)(2, return_sequences=True, return_state=True), merge="concat")
    backend = xn.Sequential([layer], input_size=(3, 4), backend=backend, dtype="float64", seed=2).backend
    g = np.random.default_rng(1)
    k = layer.n_states
    inputs = {"X": g.normal(size=(3, 2, 4)), **{f"s{i}": g.normal(size=(2, 2)) for i in range(k)}}

    def forward(layer, X, **s):
        A, final, cache = layer.forward_with_state(X, [s[f"s{i}"] for i in range(k)])
        return [A, *final], cache

    def backward(layer, d, cache):
        dX, d0, grads = layer.backward_with_state(d[0], tuple(d[1:]), cache)
        return {"X": dX, **{f"s{i}": v for i, v in enumerate(d0)}}, grads

    check_layer_gradients(layer, backend, inputs, forward, backward)
    out = layer(backend.asarray(inputs["X"], "float64"))
    assert len(out) == 1 + k
