"""Generation: sampling from a language model, greedy and beam-search decoding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import xpnet as xn

V = 4


def one_hot_lm(backend="numpy"):
    net = xn.Sequential([xn.SimpleRNN(6, return_sequences=True), xn.TimeDistributed(xn.Dense(V, activation="softmax"))],
                        input_size=(V, 5), backend=backend, dtype="float64", seed=0)
    g = np.random.default_rng(5)  # every weight and bias random: distinct, non-uniform distributions
    return net.set_parameters({k: g.normal(size=v.shape) for k, v in net.parameters().items()})


def seq2seq(backend="numpy", V_out=3):
    model = xn.Seq2Seq([xn.Embedding(5, 4), xn.LSTM(6, return_sequences=True, return_state=True)],
                       [xn.Embedding(V_out, 4), xn.LSTM(6, return_sequences=True), xn.CrossAttention(6),
                        xn.TimeDistributed(xn.Dense(V_out, activation="softmax"))],
                       backend=backend, dtype="float64", seed=2)
    model.build((4,), (3,))
    g = np.random.default_rng(0)  # sharper, more varied distributions than the initial weights give
    model.set_parameters({k: np.asarray(xn.to_numpy(v)) * 3 + 0.1 * g.normal(size=v.shape)
                          for k, v in model.parameters().items()})
    return model


def test_samples_are_reproducible_and_seed_dependent(backend):
    net = one_hot_lm(backend)
    a = xn.sample(net, 4, max_length=6, seed=3)
    assert a == xn.sample(net, 4, max_length=6, seed=3)
    assert a != xn.sample(net, 4, max_length=6, seed=4)
    assert a == xn.sample(one_hot_lm("numpy"), 4, max_length=6, seed=3)  # the same text on every backend


def test_first_tokens_follow_the_models_distribution():
    net = one_hot_lm()
    p0 = net.forward(np.zeros((V, 1, 1)))[0][:, 0, 0]  # the course's x<1> = 0
    draws = xn.sample(net, 3000, max_length=1, seed=0)
    freq = np.bincount([d[0] for d in draws], minlength=V) / 3000
    np.testing.assert_allclose(freq, p0, atol=0.03)


def test_low_temperature_picks_the_most_likely_token():
    net = one_hot_lm()
    seq = xn.sample(net, 1, max_length=5, temperature=1e-3, seed=0)[0]
    prefix = []
    for token in seq:  # re-derive every argmax by teacher forcing
        X = np.zeros((V, 1, len(prefix) + 1))
        for t, i in enumerate(prefix):
            X[i, 0, t + 1] = 1.0
        assert token == int(np.argmax(net.forward(X)[0][:, 0, -1]))
        prefix.append(token)


def test_stop_token_ends_a_sample():
    net = one_hot_lm()
    for s in xn.sample(net, 20, max_length=30, stop_id=0, seed=1):
        assert 0 not in s
    assert any(len(s) < 30 for s in xn.sample(net, 20, max_length=30, stop_id=0, seed=1))


def test_embedding_language_model_needs_a_start_token():
    net = xn.Sequential([xn.Embedding(V, 3), xn.GRU(4, return_sequences=True),
                         xn.TimeDistributed(xn.Dense(V, activation="softmax"))], input_size=5, backend="numpy", seed=0)
    assert len(xn.sample(net, 2, max_length=4, start=[1], seed=0)[1]) == 4
    with pytest.raises(xn.XpnetValueError, match="start="):
        xn.sample(net, 1)
    with pytest.raises(xn.XpnetValueError, match="temperature"):
        xn.sample(net, 1, start=[1], temperature=0)


def _log_prob(model, src, seq, start=0):
    dec_in = np.array([[start] + seq[:-1]])
    P = model.predict_proba(src[None], dec_in)
    return sum(np.log(P[tok, 0, t]) for t, tok in enumerate(seq))


def test_beam_search_finds_the_most_probable_sentence(backend):
    model = seq2seq(backend)
    X = np.array([[1, 2, 3, 4], [4, 3, 0, 0], [2, 2, 1, 0]])
    found = xn.beam_search(model, X, start_id=0, max_length=3, beam_width=9)
    oracle = seq2seq("numpy")  # the same weights; scoring 27 sentences one by one is slow on dask
    for j, src in enumerate(X):
        scores = {seq: _log_prob(oracle, src, list(seq)) for seq in itertools.product(range(3), repeat=3)}
        best = max(scores, key=scores.get)
        assert tuple(found[j]) == best  # beam 9 = every prefix of length 2 over 3 tokens: exhaustive


def test_greedy_is_beam_width_one_and_never_beats_the_beam():
    model = seq2seq()
    X = np.random.default_rng(1).integers(1, 5, size=(6, 4))
    greedy = xn.greedy_decode(model, X, start_id=0, max_length=4)
    assert greedy == xn.beam_search(model, X, start_id=0, max_length=4, beam_width=1)
    beam = xn.beam_search(model, X, start_id=0, max_length=4, beam_width=3)
    for src, g, b in zip(X, greedy, beam):
        assert _log_prob(model, src, b) >= _log_prob(model, src, g) - 1e-12


def test_decoding_stops_at_the_stop_token():
    model = seq2seq()
    X = np.random.default_rng(1).integers(1, 5, size=(6, 4))
    for out in (xn.greedy_decode(model, X, 0, 6, stop_id=2), xn.beam_search(model, X, 0, 6, 2, stop_id=2)):
        assert all(2 not in s and len(s) <= 6 for s in out)


def test_decoding_needs_a_seq2seq_model():
    with pytest.raises(xn.XpnetTypeError, match="Seq2Seq"):
        xn.greedy_decode(one_hot_lm(), np.zeros((1, 3), dtype=int), 0, 3)
