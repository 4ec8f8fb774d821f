"""Sequence layers: gradient checks, loop references, backend parity, shapes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet import reference

from gradcheck import numeric_gradient, numeric_oracle, relative_error


def TD(k, activation="tanh"):
    return xn.TimeDistributed(xn.Dense(k, activation=activation))


def check_gradients(net, X, Y, tol=1e-7):
    """Every parameter's backprop gradient == centred differences (float64).

    The key bias bk of attention has a gradient that is exactly zero (adding q.bk to every
    score of a row leaves its softmax unchanged); there relative error is meaningless, so
    both gradients must be ~0 instead. The step is 1e-5, not 1e-6: some gate gradients are
    ~1e-4 in norm, where the cost's round-off (~1e-16 / eps) would otherwise dominate.
    """
    params = {k: xn.to_numpy(v).astype(np.float64) for k, v in net.parameters().items()}
    analytic = {k: xn.to_numpy(v) for k, v in net.gradients(X, Y).items()}
    assert set(analytic) == {"d" + k for k in params}
    net, X, Y = numeric_oracle(net, X, Y)
    bad = {}
    for name in params:

        def cost_at(value, name=name):
            net.set_parameters({**params, name: value})
            return net.compute_cost(X, Y)

        numeric = numeric_gradient(cost_at, params[name], eps=1e-5)
        net.set_parameters(params)
        if name.startswith("bk"):
            if not (np.abs(analytic["d" + name]).max() < 1e-12 and np.abs(numeric).max() < 1e-8):
                bad[name] = "nonzero"
            continue
        err = relative_error(analytic["d" + name], numeric)
        if not err < tol:
            bad[name] = err
    assert not bad, f"gradient check failed: {bad}"


def one_hot_targets(k, shape, seed=3):
    labels = np.random.default_rng(seed).integers(0, k, size=shape)
    return np.eye(k)[:, labels]


# Each case: (input kind, layers, input_size). A Dense-like layer sits in front of the
# layer under test so its dA_prev is checked too (the first layer gets no dA_prev).
CASES = {
    "rnn_sequences": lambda: [TD(3), xn.SimpleRNN(2, return_sequences=True), TD(2, "softmax")],
    "rnn_last": lambda: [TD(3), xn.SimpleRNN(2), xn.Dense(2, activation="softmax")],
    "lstm_sequences": lambda: [TD(3), xn.LSTM(2, return_sequences=True), TD(2, "softmax")],
    "lstm_last": lambda: [TD(3), xn.LSTM(2), xn.Dense(2, activation="softmax")],
    "gru_sequences": lambda: [TD(3), xn.GRU(2, return_sequences=True), TD(2, "softmax")],
    "gru_last": lambda: [TD(3), xn.GRU(2), xn.Dense(2, activation="softmax")],
    "conv_valid": lambda: [TD(3), xn.Conv1D(2, 2, activation="tanh"), TD(2, "softmax")],
    "conv_valid_stride2": lambda: [TD(3), xn.Conv1D(2, 3, stride=2, activation="tanh"), xn.GlobalAveragePooling1D(),
                                   xn.Dense(2, activation="softmax")],
    "conv_same": lambda: [TD(3), xn.Conv1D(2, 2, padding="same"), TD(2, "softmax")],
    "conv_same_stride2": lambda: [TD(3), xn.Conv1D(2, 3, stride=2, padding="same", activation="sigmoid"),
                                  TD(2, "softmax")],
    "pooling": lambda: [TD(3), xn.GlobalAveragePooling1D(), xn.Dense(2, activation="softmax")],
    "layernorm": lambda: [TD(4), xn.LayerNorm(), TD(2, "softmax")],
    "positional_attention": lambda: [TD(4), xn.PositionalEncoding(), xn.MultiHeadAttention(4, heads=2), TD(2, "softmax")],
    "attention_causal": lambda: [TD(4), xn.MultiHeadAttention(4, heads=2, causal=True), TD(2, "softmax")],
    "transformer_block": lambda: [TD(4), xn.TransformerEncoderBlock(4, heads=2, d_ff=3), TD(2, "softmax")],
    "transformer_block_causal": lambda: [TD(4), xn.TransformerEncoderBlock(4, heads=1, d_ff=3, causal=True),
                                         TD(1, "sigmoid")],
}
T = 4


def _net(layers, backend, input_size=(3, T), seed=1):
    return xn.Sequential(layers, input_size=input_size, backend=backend, dtype="float64", seed=seed)


def _targets(net, m):
    out = net.layers[-1].output_shape
    if out[0] == 1:
        return (np.random.default_rng(4).random((1, m, *out[1:])) > 0.5).astype(np.float64)
    return one_hot_targets(out[0], (m, *out[1:]))


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_match_centred_differences(case, backend):
    X = np.random.default_rng(0).normal(size=(3, 2, T))
    net = _net(CASES[case](), backend)
    check_gradients(net, X, _targets(net, 2))


def test_embedding_gradients(backend):
    ids = np.random.default_rng(0).integers(0, 5, size=(2, T))
    net = _net([xn.Embedding(5, 3), xn.LSTM(2, return_sequences=True), TD(2, "softmax")], backend, input_size=T)
    check_gradients(net, ids, one_hot_targets(2, (2, T)))


def test_regression_output_and_mse_over_steps(backend):
    """A linear per-step output with MSE: the cost averages over k, m and T."""
    g = np.random.default_rng(0)
    X, Y = g.normal(size=(3, 2, T)), g.normal(size=(2, 2, T))
    net = _net([xn.GRU(2, return_sequences=True), TD(2, "linear")], backend)
    check_gradients(net, X, Y)
    A = net.predict_proba(X)
    assert net.compute_cost(X, Y) == pytest.approx(np.mean((A - Y) ** 2), rel=1e-12)


# -- loop references ----------------------------------------------------------------------

@pytest.mark.parametrize("return_sequences", [True, False])
def test_simple_rnn_equals_the_loop_reference(backend, return_sequences):
    X = np.random.default_rng(0).normal(size=(3, 4, 5))
    net = xn.Sequential([xn.SimpleRNN(3, return_sequences=return_sequences)], input_size=(3, 5), backend=backend,
                        dtype="float64", seed=2)
    params = {k[:-1]: xn.to_numpy(v) for k, v in net.parameters().items()}
    expected = reference.rnn_forward_loop(X, params, return_sequences)
    np.testing.assert_allclose(net.predict_proba(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_lstm_equals_the_loop_reference(backend, return_sequences):
    X = np.random.default_rng(0).normal(size=(3, 4, 5))
    net = xn.Sequential([xn.LSTM(3, return_sequences=return_sequences)], input_size=(3, 5), backend=backend,
                        dtype="float64", seed=2)
    params = {k[:-1]: xn.to_numpy(v) for k, v in net.parameters().items()}
    expected = reference.lstm_forward_loop(X, params, return_sequences)
    np.testing.assert_allclose(net.predict_proba(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,padding,T_in", [(1, "valid", 7), (2, "valid", 8), (1, "same", 7), (2, "same", 7),
                                                  (3, "same", 8)])
def test_conv1d_equals_the_loop_reference(backend, stride, padding, T_in):
    X = np.random.default_rng(0).normal(size=(2, 3, T_in))
    net = xn.Sequential([xn.Conv1D(3, 3, stride=stride, padding=padding)], input_size=(2, T_in), backend=backend,
                        dtype="float64", seed=2)
    p = {k: xn.to_numpy(v) for k, v in net.parameters().items()}
    expected = reference.conv1d_forward_loop(X, p["W1"], p["b1"], stride, padding)
    out = net.predict_proba(X)
    assert out.shape == expected.shape == (3, 3, net.layers[0].output_shape[1])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_conv1d_output_lengths():
    cases = {("valid", 1): 5, ("valid", 2): 3, ("same", 1): 7, ("same", 2): 4, ("same", 3): 3}
    for (padding, stride), T_out in cases.items():
        net = xn.Sequential([xn.Conv1D(1, 3, stride=stride, padding=padding)], input_size=(1, 7), backend="numpy")
        assert net.layers[0].output_shape == (1, T_out)


# -- parity --------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["lstm_sequences", "gru_last", "conv_same_stride2", "transformer_block_causal"])
def test_numpy_and_array_api_strict_agree(case):
    X = np.random.default_rng(0).normal(size=(3, 2, T))
    results = {}
    for name in ("numpy", "array_api_strict"):
        net = _net(CASES[case](), name)
        Y = _targets(net, 2)
        results[name] = (net.predict_proba(X), {k: xn.to_numpy(v) for k, v in net.gradients(X, Y).items()})
    (A_np, g_np), (A_st, g_st) = results["numpy"], results["array_api_strict"]
    np.testing.assert_allclose(A_np, A_st, rtol=1e-12, atol=1e-14)
    for k in g_np:
        np.testing.assert_allclose(g_np[k], g_st[k], rtol=1e-10, atol=1e-14)


# -- shapes, names, configs ------------------------------------------------------------------

def test_lstm_parameter_names_and_shapes_follow_the_course():
    net = xn.Sequential([xn.LSTM(5), xn.Dense(1, activation="sigmoid")], input_size=(3, 7), backend="numpy")
    shapes = net.parameter_shapes()
    for g in "fico":
        assert shapes[f"W{g}1"] == (5, 8) and shapes[f"b{g}1"] == (5, 1)
    assert shapes["W2"] == (1, 5)
    np.testing.assert_array_equal(xn.to_numpy(net.parameters()["bf1"]), np.ones((5, 1)))  # forget_bias


def test_rnn_and_gru_parameter_shapes():
    net = xn.Sequential([xn.SimpleRNN(4, return_sequences=True), xn.GRU(2)], input_size=(3, 6), backend="numpy")
    assert net.parameter_shapes() == {
        "Waa1": (4, 4), "Wax1": (4, 3), "ba1": (4, 1),
        "Wu2": (2, 6), "bu2": (2, 1), "Wr2": (2, 6), "br2": (2, 1), "Wc2": (2, 6), "bc2": (2, 1),
    }
    assert net.predict_proba(np.zeros((3, 5, 6))).shape == (2, 5)


def test_attention_and_block_shapes():
    net = xn.Sequential([xn.MultiHeadAttention(4, heads=2), xn.TransformerEncoderBlock(4, heads=2, d_ff=6), xn.LayerNorm()],
                        input_size=(4, 5), backend="numpy")
    shapes = net.parameter_shapes()
    assert shapes["Wq1"] == (4, 4) and shapes["bo1"] == (4, 1)
    assert shapes["W_ff2"] == (6, 4) and shapes["W_out2"] == (4, 6) and shapes["gamma_attn2"] == (4, 1)
    assert shapes["gamma3"] == (4, 1) and shapes["beta3"] == (4, 1)
    assert net.predict_proba(np.ones((4, 3, 5))).shape == (4, 3, 5)


def test_causal_attention_ignores_the_future(backend):
    """Changing step t's input leaves every output before t unchanged."""
    g = np.random.default_rng(0)
    X = g.normal(size=(4, 2, 5))
    net = _net([xn.MultiHeadAttention(4, heads=2, causal=True)], backend, input_size=(4, 5))
    A = net.predict_proba(X)
    X2 = X.copy()
    X2[:, :, 3:] += 1.0
    A2 = net.predict_proba(X2)
    np.testing.assert_allclose(A[:, :, :3], A2[:, :, :3], rtol=1e-12, atol=1e-12)
    assert not np.allclose(A[:, :, 3:], A2[:, :, 3:])


def test_positional_encoding_table():
    net = xn.Sequential([xn.PositionalEncoding()], input_size=(4, 3), backend="numpy", dtype="float64")
    P = net.predict_proba(np.zeros((4, 1, 3)))[:, 0, :]
    t = np.arange(3)
    np.testing.assert_allclose(P[0], np.sin(t))
    np.testing.assert_allclose(P[1], np.cos(t))
    np.testing.assert_allclose(P[2], np.sin(t / 100.0))
    np.testing.assert_allclose(P[3], np.cos(t / 100.0))


def test_layernorm_normalises_each_column():
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(6, 4, 3))
    net = xn.Sequential([xn.LayerNorm()], input_size=(6, 3), backend="numpy", dtype="float64")
    A = net.predict_proba(X)
    np.testing.assert_allclose(A.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(A.std(axis=0), 1.0, rtol=1e-4)


def test_layernorm_first_on_plain_batches(backend):
    g = np.random.default_rng(0)
    X, Y = g.normal(size=(3, 4)), (g.random((1, 4)) > 0.5).astype(np.float64)
    net = _net([xn.LayerNorm(), xn.Dense(1, activation="sigmoid")], backend, input_size=3)
    check_gradients(net, X, Y)
    assert net.predict_proba(X).shape == (1, 4)


def test_embedding_looks_up_columns(backend):
    ids = np.array([[0, 2, 1], [3, 3, 0]])
    net = xn.Sequential([xn.Embedding(4, 2)], input_size=3, backend=backend, dtype="float64", seed=0)
    E = xn.to_numpy(net.parameters()["E1"])
    np.testing.assert_array_equal(net.predict_proba(ids), E[:, ids])


def test_config_round_trip_rebuilds_every_layer():
    layers = [xn.Embedding(7, 4), xn.PositionalEncoding(), xn.TransformerEncoderBlock(4, heads=2, d_ff=5, causal=True),
              xn.Conv1D(3, 2, stride=1, padding="same", activation="relu"), xn.LayerNorm(), xn.GRU(3, return_sequences=True,
              update_bias=-1.0), xn.LSTM(2, return_sequences=True, forget_bias=0.0), xn.SimpleRNN(2, return_sequences=True),
              xn.GlobalAveragePooling1D(), xn.Dense(2, activation="softmax")]
    net = xn.Sequential(layers, input_size=6, backend="numpy", dtype="float64", seed=3)
    clone = xn.Sequential.from_config(net.get_config(), backend="numpy")
    clone.set_parameters({k: xn.to_numpy(v) for k, v in net.parameters().items()})
    ids = np.random.default_rng(0).integers(0, 7, size=(3, 6))
    np.testing.assert_allclose(clone.predict_proba(ids), net.predict_proba(ids), rtol=1e-12)
    wrapped = xn.Sequential([TD(2, "softmax")], input_size=(3, 4), backend="numpy")
    assert xn.Sequential.from_config(wrapped.get_config()).layers[0].layer.units == 2


# -- training plumbing --------------------------------------------------------------------------

def test_token_id_minibatches_and_validation_split(backend):
    g = np.random.default_rng(0)
    ids = g.integers(0, 5, size=(10, 4))
    Y = one_hot_targets(2, (10, 4))
    net = xn.Sequential([xn.Embedding(5, 3), TD(2, "softmax")], backend=backend, dtype="float64", seed=0)
    hist = net.fit(ids, Y, optimizer=xn.Adam(learning_rate=0.01), epochs=3, batch_size=3, validation_split=0.2)
    assert len(hist.history["val_cost"]) == 3
    assert net.predict(ids).shape == (1, 10, 4)


def test_sequence_minibatches_equal_full_batch_gradient_sum(backend):
    """Mini-batches slice the m axis of (n_x, m, T): two halves average to the full gradient."""
    g = np.random.default_rng(0)
    X, Y = g.normal(size=(2, 4, 3)), one_hot_targets(2, (4, 3))
    net = _net([xn.SimpleRNN(2, return_sequences=True), TD(2, "softmax")], backend, input_size=(2, 3))
    full = net.gradients(X, Y)
    a, b = net.gradients(X[:, :2], Y[:, :2]), net.gradients(X[:, 2:], Y[:, 2:])
    for k in full:
        np.testing.assert_allclose(xn.to_numpy(full[k]), (xn.to_numpy(a[k]) + xn.to_numpy(b[k])) / 2, rtol=1e-10)


# -- errors -------------------------------------------------------------------------------------

def test_bad_inputs_get_clear_errors():
    rnn = xn.Sequential([xn.LSTM(2)], input_size=(3, 4), backend="numpy")
    with pytest.raises(xn.ShapeError, match=r"3-D \(n_x, m, T\)"):
        rnn.predict(np.zeros((3, 4)))
    with pytest.raises(xn.ShapeError, match=r"per-example shape \(3, 5\).*built for \(3, 4\)"):
        rnn.predict(np.zeros((3, 2, 5)))
    with pytest.raises(xn.XpnetValueError, match="NaN"):
        rnn.predict(np.full((3, 2, 4), np.nan))
    seq = xn.Sequential([xn.GRU(2, return_sequences=True), TD(1, "sigmoid")], input_size=(3, 4), backend="numpy")
    with pytest.raises(xn.ShapeError, match=r"\(n_out, m, T\) = \(1, 2, 4\)"):
        seq.fit(np.zeros((3, 2, 4)), np.zeros((1, 2)), epochs=1)
    with pytest.raises(xn.XpnetValueError, match="TimeDistributed"):
        xn.Sequential([xn.LSTM(2, return_sequences=True), xn.Dense(1)], input_size=(3, 4), backend="numpy")
    with pytest.raises(xn.ShapeError, match="sequences"):
        xn.Sequential([xn.Dense(2), xn.LSTM(2)], input_size=3, backend="numpy")


def test_bad_token_ids_get_clear_errors():
    net = xn.Sequential([xn.Embedding(5, 2)], input_size=3, backend="numpy")
    with pytest.raises(xn.XpnetValueError, match=r"\[0, 5\].*0 <= id < 5"):
        net.predict(np.array([[0, 1, 5]]))
    with pytest.raises(xn.XpnetValueError, match=r"\[-1, 1\]"):
        net.predict(np.array([[0, 1, -1]]))
    with pytest.raises(xn.XpnetTypeError, match="integer token ids"):
        net.predict(np.array([[0.0, 1.0, 2.0]]))
    with pytest.raises(xn.ShapeError, match=r"2-D token ids \(m, T\)"):
        net.predict(np.array([0, 1, 2]))


def test_bad_layer_arguments():
    with pytest.raises(xn.XpnetValueError, match="divisible"):
        xn.MultiHeadAttention(6, heads=4)
    with pytest.raises(xn.XpnetValueError, match="padding"):
        xn.Conv1D(2, 3, padding="full")
    with pytest.raises(xn.XpnetValueError, match="kernel_size"):
        xn.Conv1D(2, 0)
    with pytest.raises(xn.XpnetValueError, match="units"):
        xn.LSTM(0)
    with pytest.raises(xn.XpnetTypeError, match="return_sequences"):
        xn.GRU(2, return_sequences="yes")
    with pytest.raises(xn.XpnetTypeError, match="TimeDistributed wraps"):
        xn.TimeDistributed("dense")
    with pytest.raises(xn.ShapeError, match="T >= kernel_size"):
        xn.Sequential([xn.Conv1D(2, 5)], input_size=(1, 3), backend="numpy")
    with pytest.raises(xn.ShapeError, match="d_model=4"):
        xn.Sequential([xn.MultiHeadAttention(4)], input_size=(3, 5), backend="numpy")


@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_the_loop_reference(backend, causal):
    X = np.random.default_rng(0).normal(size=(4, 3, 5))
    net = xn.Sequential([xn.MultiHeadAttention(4, heads=2, causal=causal)], input_size=(4, 5), backend=backend,
                        dtype="float64", seed=2)
    params = {k[:-1]: xn.to_numpy(v) for k, v in net.parameters().items()}
    expected = reference.attention_forward_loop(X, params, heads=2, causal=causal)
    np.testing.assert_allclose(net.predict_proba(X), expected, rtol=1e-12, atol=1e-12)


def test_float32_survives_every_layer(backend):
    X = np.random.default_rng(0).normal(size=(3, 2, T))
    for case, make in CASES.items():
        net = xn.Sequential(make(), input_size=(3, T), backend=backend, dtype="float32", seed=1)
        Y = _targets(net, 2)
        assert net.predict_proba(X).dtype == np.float32, case
        for name, g in net.gradients(X, Y).items():
            assert g.dtype == backend.dtype("float32"), (case, name)


@pytest.mark.parametrize("cell,loop", [("SimpleRNN", reference.rnn_backward_loop),
                                       ("LSTM", reference.lstm_backward_loop)])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bptt_equals_the_loop_reference(backend, cell, loop, return_sequences):
    """The vectorized backward pass (dX and every dW, db) == the per-example, per-step loop."""
    g = np.random.default_rng(0)
    X = g.normal(size=(3, 4, 5))
    layer = getattr(xn, cell)(3, return_sequences=return_sequences)
    net = xn.Sequential([layer], input_size=(3, 5), backend=backend, dtype="float64", seed=2)
    dA_host = g.normal(size=(3, 4, 5) if return_sequences else (3, 4))
    with backend.context():
        Xd = backend.asarray(X, "float64")
        A, cache = layer.forward(Xd, training=True)
        dX, grads = layer.backward(backend.asarray(dA_host, "float64"), cache)
    params = {k: xn.to_numpy(v) for k, v in layer.params.items()}
    dX_ref, grads_ref = loop(X, params, dA_host, return_sequences)
    np.testing.assert_allclose(xn.to_numpy(dX), dX_ref, rtol=1e-10, atol=1e-12)
    assert set(grads) == set(grads_ref)
    for k in grads:
        np.testing.assert_allclose(xn.to_numpy(grads[k]), grads_ref[k], rtol=1e-10, atol=1e-12, err_msg=k)
