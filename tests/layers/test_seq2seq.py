"""Seq2Seq and Transformer models: end to end against independent implementations of the
same math, float64 gradient checks through both halves, backend parity, learning."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from gradcheck import numeric_gradient, relative_error
from test_attention_masks import attention_loop
from test_recurrent_states import lstm_loop

V_IN, V_OUT, T_ENC, T_DEC, M = 7, 6, 5, 4, 3


def _ids(seed=0):
    g = np.random.default_rng(seed)
    Xe = g.integers(1, V_IN, size=(M, T_ENC))
    Xe[0, 3:] = 0  # padding
    Xe[2, 2:] = 0
    Xd = g.integers(1, V_OUT, size=(M, T_DEC))
    Y = g.integers(0, V_OUT, size=(M, T_DEC))
    return Xe, Xd, Y


def rnn_seq2seq(backend="numpy", mask_zero=True, seed=0):
    return xn.Seq2Seq(
        encoder=[xn.Embedding(V_IN, 3), xn.LSTM(4, return_sequences=True, return_state=True)],
        decoder=[xn.Embedding(V_OUT, 3), xn.LSTM(4, return_sequences=True), xn.CrossAttention(4, heads=2),
                 xn.TimeDistributed(xn.Dense(V_OUT, activation="softmax"))],
        backend=backend, dtype="float64", seed=seed, mask_zero=mask_zero)


def transformer(backend="numpy", seed=0):
    return xn.Transformer(1, 4, 2, 6, V_IN, V_OUT, backend=backend, dtype="float64", seed=seed)


MODELS = {"rnn": rnn_seq2seq, "transformer": transformer}


def _softmax_cols(Z):
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def _layernorm(X, g, b, eps):
    mu = X.mean(axis=0, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=0, keepdims=True)
    return g[:, :, None] * (X - mu) / np.sqrt(var + eps) + b[:, :, None]


def _ffn(X, W1, b1, W2, b2):
    out = np.zeros((W2.shape[0],) + X.shape[1:])
    for j in range(X.shape[1]):
        for t in range(X.shape[2]):
            out[:, j, t] = W2 @ np.maximum(W1 @ X[:, j, t] + b1[:, 0], 0.0) + b2[:, 0]
    return out


def _positions(d, T):
    P = np.zeros((d, T))
    for t in range(T):
        for i in range(d):
            angle = t / 10000 ** (2 * (i // 2) / d)
            P[i, t] = np.sin(angle) if i % 2 == 0 else np.cos(angle)
    return P


def _embed(E, ids):
    return np.stack([E[:, ids[j]] for j in range(ids.shape[0])], axis=1)  # (d, m, T)


def _sub(p, suffix, index):
    return {k: p[k + suffix + str(index)] for k in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")}


def transformer_reference(Xe, Xd, p, eps=1e-6):
    """The course's Transformer (1 layer each side, no sqrt(d) scaling), example by example."""
    mask = Xe != 0
    X = _embed(p["E1"], Xe) + _positions(4, T_ENC)[:, None, :]
    Y1 = _layernorm(X + attention_loop(X, X, _sub(p, "", 2), 2, mask), p["gamma_attn2"], p["beta_attn2"], eps)
    enc = _layernorm(Y1 + _ffn(Y1, p["W_ff2"], p["b_ff2"], p["W_out2"], p["b_out2"]), p["gamma_ff2"], p["beta_ff2"], eps)
    D = _embed(p["E3"], Xd) + _positions(4, T_DEC)[:, None, :]
    S1 = _layernorm(D + attention_loop(D, D, _sub(p, "_self", 4), 2, causal=True), p["gamma_self4"], p["beta_self4"], eps)
    S2 = _layernorm(S1 + attention_loop(S1, enc, _sub(p, "_cross", 4), 2, mask), p["gamma_cross4"], p["beta_cross4"],
                    eps)
    S3 = _layernorm(S2 + _ffn(S2, p["W_ff4"], p["b_ff4"], p["W_out4"], p["b_out4"]), p["gamma_ff4"], p["beta_ff4"], eps)
    out = np.stack([_softmax_cols(p["W5"] @ S3[:, :, t] + p["b5"]) for t in range(T_DEC)], axis=2)
    return out


def rnn_seq2seq_reference(Xe, Xd, p):
    """Embedding -> LSTM (final state after the last real step) -> decoder LSTM from that state
    -> attention -> softmax."""
    mask = Xe != 0
    gates = ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")
    n = p["bf2"].shape[0]
    A_enc, (a_T, c_T), _ = _lstm(_embed(p["E1"], Xe), {g: p[g + "2"] for g in gates}, n, mask=mask)
    A_dec, _, _ = _lstm(_embed(p["E3"], Xd), {g: p[g + "4"] for g in gates}, n, a_T, c_T)
    ctx = attention_loop(A_dec, A_enc, _sub(p, "", 5), 2, mask)
    H = np.concatenate([A_dec, ctx])
    return np.stack([_softmax_cols(p["W6"] @ H[:, :, t] + p["b6"]) for t in range(T_DEC)], axis=2)


def _lstm(X, params, n, a0=None, c0=None, mask=None):
    import test_recurrent_states as trs

    m = X.shape[1]
    old = trs.N_A
    trs.N_A = n
    try:
        a0 = np.zeros((n, m)) if a0 is None else a0
        c0 = np.zeros((n, m)) if c0 is None else c0
        return lstm_loop(X, params, a0, c0, mask)
    finally:
        trs.N_A = old


@pytest.mark.parametrize("kind", list(MODELS))
def test_equals_an_independent_implementation(backend, kind):
    Xe, Xd, _ = _ids()
    model = MODELS[kind](backend)
    A = model.predict_proba(Xe, Xd)
    p = {k: xn.to_numpy(v) for k, v in model.parameters().items()}
    ref = (transformer_reference if kind == "transformer" else rnn_seq2seq_reference)(Xe, Xd, p)
    np.testing.assert_allclose(A, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", list(MODELS))
def test_gradients_through_both_halves_match_centred_differences(kind):
    Xe, Xd, Y = _ids()
    model = MODELS[kind]().build((T_ENC,), (T_DEC,))
    params = {k: np.array(v) for k, v in model.parameters().items()}
    # Larger embeddings: attention scores far from 0, so dWq and dWk are not ~1e-5, where the
    # cost's round-off would swamp the centred differences.
    params["E1"], params["E3"] = 4 * params["E1"], 4 * params["E3"]
    model.set_parameters(params)
    analytic = model.gradients(Xe, Xd, Y)
    assert set(analytic) == {"d" + k for k in params}
    bad = {}
    for name in params:
        def cost_at(value, name=name):
            model.set_parameters({**params, name: value})
            return model.compute_cost(Xe, Xd, Y)

        numeric = numeric_gradient(cost_at, params[name], eps=1e-5)
        model.set_parameters(params)
        if np.abs(numeric).max() < 1e-9 and np.abs(analytic["d" + name]).max() < 1e-12:
            continue  # the key biases: exactly zero
        err = relative_error(analytic["d" + name], numeric)
        if not err < 1e-7:
            bad[name] = err
    assert not bad, bad


@pytest.mark.parametrize("kind", list(MODELS))
def test_backends_agree_with_numpy(backend, kind):
    if backend.name == "dask" and kind == "rnn":
        pytest.skip("dask: the LSTM time loops build a ~35 s graph here; the recurrent layers' state "
                    "gradients are checked on dask in test_recurrent_states.py, Seq2Seq's wiring by the transformer case")
    Xe, Xd, Y = _ids()
    ref = MODELS[kind]("numpy").gradients(Xe, Xd, Y)
    got = MODELS[kind](backend).gradients(Xe, Xd, Y)
    for k in ref:
        np.testing.assert_allclose(xn.to_numpy(got[k]), ref[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_the_encoder_state_reaches_the_decoder():
    """Without attention, the decoder knows the source only through the handed-on state."""
    Xe, Xd, Y = _ids()
    model = xn.Seq2Seq([xn.Embedding(V_IN, 3), xn.GRU(4, return_state=True)],
                       [xn.Embedding(V_OUT, 3), xn.GRU(4, return_sequences=True),
                        xn.TimeDistributed(xn.Dense(V_OUT, activation="softmax"))], backend="numpy", dtype="float64",
                       seed=0)
    A1 = model.predict_proba(Xe, Xd)
    Xe2 = Xe.copy()
    Xe2[1, 0] = (Xe2[1, 0] % (V_IN - 1)) + 1
    A2 = model.predict_proba(Xe2, Xd)
    assert np.abs(A1[:, 1] - A2[:, 1]).max() > 1e-6 and np.abs(A1[:, 0] - A2[:, 0]).max() == 0.0
    assert model.gradients(Xe, Xd, Y)["dWu2"].any()


def test_rnn_seq2seq_learns_to_reverse():
    g = np.random.default_rng(0)
    m, T, V = 600, 4, 6
    src = g.integers(1, V, size=(m, T))
    tgt = src[:, ::-1]
    dec_in = np.concatenate([np.zeros((m, 1), dtype=int), tgt[:, :-1]], axis=1)  # 0 is the start token
    model = xn.Seq2Seq([xn.Embedding(V, 8), xn.LSTM(16, return_sequences=True, return_state=True)],
                       [xn.Embedding(V, 8), xn.LSTM(16, return_sequences=True), xn.CrossAttention(16),
                        xn.TimeDistributed(xn.Dense(V, activation="softmax"))], backend="numpy", seed=0)
    model.fit(src, dec_in, tgt, epochs=30, optimizer=xn.Adam(learning_rate=0.02), batch_size=100)
    assert model.evaluate(src, dec_in, tgt)["accuracy"] > 0.95


def test_bad_wiring_gets_clear_errors():
    Xe, Xd, Y = _ids()
    with pytest.raises(xn.XpnetValueError, match="belongs in the decoder"):
        xn.Seq2Seq([xn.Embedding(5, 4), xn.CrossAttention(4)], [xn.Embedding(5, 4)])
    bad = xn.Seq2Seq([xn.Embedding(V_IN, 3), xn.LSTM(4)], [xn.Embedding(V_OUT, 4), xn.CrossAttention(4)],
                     backend="numpy")
    with pytest.raises(xn.ShapeError, match="return_sequences=True"):
        bad.predict_proba(Xe, Xd)
    states = xn.Seq2Seq([xn.Embedding(V_IN, 3), xn.LSTM(4, return_state=True)],
                        [xn.Embedding(V_OUT, 3), xn.LSTM(5, return_sequences=True)], backend="numpy")
    with pytest.raises(xn.ShapeError, match="same cell type and units"):
        states.predict_proba(Xe, Xd)
    with pytest.raises(xn.ShapeError, match="one target sentence per source"):
        rnn_seq2seq().predict_proba(Xe, Xd[:2])
    with pytest.raises(xn.ShapeError, match="one-hot"):
        rnn_seq2seq().fit(Xe, Xd, np.zeros((V_OUT, M)), epochs=1)


def test_transformer_learns_to_reverse():
    g = np.random.default_rng(0)
    m, T, V = 600, 4, 6
    src = g.integers(1, V, size=(m, T))
    tgt = src[:, ::-1]
    dec_in = np.concatenate([np.zeros((m, 1), dtype=int), tgt[:, :-1]], axis=1)
    model = xn.Transformer(1, 16, 2, 32, V, V, dropout=0.05, backend="numpy", seed=0)
    model.fit(src, dec_in, tgt, epochs=25, optimizer=xn.Adam(learning_rate=0.005), batch_size=50)
    test = g.integers(1, V, size=(200, T))
    decoded = np.array(xn.greedy_decode(model, test, 0, T))
    assert (decoded == test[:, ::-1]).mean() > 0.95


@pytest.mark.parametrize("kind", list(MODELS))
def test_float32_survives_both_halves(backend, kind):
    if backend.name == "dask" and kind == "rnn":
        pytest.skip("dask: the LSTM time loops build a ~35 s graph here; dtypes on dask: the transformer case")
    Xe, Xd, Y = _ids()
    model = MODELS[kind](backend)
    model.dtype = "float32"
    assert model.predict_proba(Xe, Xd).dtype == np.float32
    for name, g in model.gradients(Xe, Xd, Y).items():
        assert g.dtype == backend.dtype("float32"), name


def test_divergence_is_reported_and_rolled_back():
    Xe, Xd, Y = _ids()
    model = rnn_seq2seq().build((T_ENC,), (T_DEC,))
    with pytest.raises(xn.TrainingDivergedError, match="gradient clipping"):
        model.fit(Xe, Xd, Y, epochs=5, learning_rate=1e300)
    for k, v in model.parameters().items():
        assert np.isfinite(v).all(), k


def bidirectional_seq2seq(backend="numpy", cell="LSTM"):
    return xn.Seq2Seq(
        [xn.Embedding(V_IN, 3), xn.Bidirectional(getattr(xn, cell)(3, return_sequences=True, return_state=True))],
        [xn.Embedding(V_OUT, 3), getattr(xn, cell)(6, return_sequences=True), xn.CrossAttention(6),
         xn.TimeDistributed(xn.Dense(V_OUT, activation="softmax"))],
        backend=backend, dtype="float64", seed=0, mask_zero=True)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_bidirectional_encoder_hands_both_states_on(cell):
    Xe, Xd, Y = _ids()
    model = bidirectional_seq2seq(cell=cell).build((T_ENC,), (T_DEC,))
    bi = model.encoder[1]
    _, state, _, _ = model.encode(Xe)
    A_bi, state_bi, _ = bi.forward_with_state(model.encoder[0].forward(Xe)[0], mask=Xe != 0)
    with_state = [A_bi, *state_bi]
    k = len(state)
    for i in range(k):  # forward layer's array over its backward twin's
        np.testing.assert_array_equal(state[i], np.concatenate([with_state[1 + i], with_state[1 + k + i]]))
    params = {k_: np.array(v) for k_, v in model.parameters().items()}
    params["E1"], params["E3"] = 4 * params["E1"], 4 * params["E3"]
    model.set_parameters(params)
    analytic = model.gradients(Xe, Xd, Y)
    bad = {}
    for name in params:
        def cost_at(value, name=name):
            model.set_parameters({**params, name: value})
            return model.compute_cost(Xe, Xd, Y)

        numeric = numeric_gradient(cost_at, params[name], eps=1e-5)
        model.set_parameters(params)
        if np.abs(numeric).max() < 1e-9 and np.abs(analytic["d" + name]).max() < 1e-12:
            continue
        err = relative_error(analytic["d" + name], numeric)
        if not err < 1e-7:
            bad[name] = err
    assert not bad, bad


def test_bidirectional_encoder_needs_twice_the_decoder_units():
    Xe, Xd, _ = _ids()
    model = xn.Seq2Seq([xn.Embedding(V_IN, 3), xn.Bidirectional(xn.LSTM(3, return_state=True))],
                       [xn.Embedding(V_OUT, 3), xn.LSTM(3, return_sequences=True)], backend="numpy")
    with pytest.raises(xn.ShapeError, match="twice the units"):
        model.predict_proba(Xe, Xd)
