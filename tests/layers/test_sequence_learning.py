"""Sequence models learn what each is built for, on data generated here (numpy, float64).

Each task is small enough to train in a few seconds with Adam and mini-batches, and each
test checks held-out data, so a model that memorised the training set would fail.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

T_MEMORY = 40  # the token to remember is 39 steps before the answer is due


def memory_task(m, seed, T=T_MEMORY, noise_channels=2):
    """A +-1 token on the last channel at step 0, then T-1 steps of Gaussian noise on the others.

    The label is the token's sign, needed only at the last step: the gradient must carry
    it back T-1 steps through the recurrence, past the noise.
    """
    g = np.random.default_rng(seed)
    X = np.zeros((noise_channels + 1, m, T))
    X[:noise_channels, :, 1:] = g.normal(size=(noise_channels, m, T - 1))
    bit = g.integers(0, 2, size=m)
    X[noise_channels, :, 0] = 2.0 * bit - 1.0
    return X, bit.reshape(1, -1).astype(np.float64)


def _train_memory(cell, seed=0):
    X, Y = memory_task(512, seed)
    Xt, Yt = memory_task(256, seed + 100)
    net = xn.Sequential([cell, xn.Dense(1, activation="sigmoid")], input_size=(3, T_MEMORY),
                        backend="numpy", dtype="float64", seed=seed)
    net.fit(X, Y, optimizer=xn.Adam(learning_rate=0.01), epochs=15, batch_size=32)
    return net.evaluate(Xt, Yt)["accuracy"]


def test_lstm_remembers_a_token_39_steps_back_where_simple_rnn_fails():
    assert _train_memory(xn.LSTM(8)) > 0.97
    # Same budget, same data, two seeds: the plain RNN's gradient vanishes over 39 tanh
    # steps and it stays at chance.
    for seed in (0, 1):
        assert _train_memory(xn.SimpleRNN(8), seed) < 0.65


def test_gru_remembers_the_token_too():
    # update_bias=-2 starts the update gate mostly shut (keep the memory), the GRU analogue
    # of the LSTM's forget_bias=1; with the course's zero bias the memory halves every step.
    assert _train_memory(xn.GRU(8, update_bias=-2.0)) > 0.97


V_REV, T_REV = 6, 5


def reverse_task(m, seed):
    ids = np.random.default_rng(seed).integers(0, V_REV, size=(m, T_REV))
    return ids, np.eye(V_REV)[:, ids[:, ::-1]]  # one-hot targets (V, m, T)


def _reversal_accuracy(with_positions):
    X, Y = reverse_task(1024, 0)
    Xt, _ = reverse_task(256, 1)
    layers = [xn.Embedding(V_REV, 16)] + ([xn.PositionalEncoding()] if with_positions else [])
    layers += [xn.TransformerEncoderBlock(16, heads=2, d_ff=32), xn.TimeDistributed(xn.Dense(V_REV, activation="softmax"))]
    net = xn.Sequential(layers, input_size=T_REV, backend="numpy", dtype="float64", seed=0)
    net.fit(X, Y, optimizer=xn.Adam(learning_rate=0.01), epochs=10, batch_size=64)
    predicted = net.predict(Xt)  # class index per step, (1, m, T)
    assert predicted.shape == (1, 256, T_REV)
    return (predicted[0] == Xt[:, ::-1]).all(axis=1).mean()  # whole sequences right


def test_transformer_block_learns_to_reverse_sequences():
    assert _reversal_accuracy(with_positions=True) > 0.95


def test_without_positional_encoding_attention_cannot_tell_the_order():
    # Self-attention is permutation-equivariant: without positions, step t sees only its own
    # token and the bag of all tokens, which does not say what token T-1-t was.
    assert _reversal_accuracy(with_positions=False) < 0.3


def motif_task(m, seed, T=20, motif=(0, 1, 2)):
    """One-hot DNA-like strings (4, m, T); label 1 when ``motif`` occurs anywhere."""
    g = np.random.default_rng(seed)
    # Letter 3 never occurs in the motif; draw mostly from it so chance matches are rare.
    letters = g.choice(4, size=(m, T), p=[0.2, 0.2, 0.2, 0.4])
    has = g.integers(0, 2, size=m).astype(bool)
    for j in np.flatnonzero(has):
        start = g.integers(0, T - len(motif) + 1)
        letters[j, start : start + len(motif)] = motif
    windows = np.lib.stride_tricks.sliding_window_view(letters, len(motif), axis=1)
    label = (windows == np.array(motif)).all(axis=2).any(axis=1)
    return np.eye(4)[:, letters], label.reshape(1, -1).astype(np.float64)


def test_conv1d_detects_a_motif_anywhere_in_the_sequence():
    X, Y = motif_task(512, 0)
    Xt, Yt = motif_task(256, 1)
    net = xn.Sequential(
        [xn.Conv1D(8, 3, activation="relu"), xn.GlobalAveragePooling1D(), xn.Dense(1, activation="sigmoid")],
        input_size=(4, 20), backend="numpy", dtype="float64", seed=0,
    )
    net.fit(X, Y, optimizer=xn.Adam(learning_rate=0.1), epochs=60, batch_size=64)
    assert net.evaluate(Xt, Yt)["accuracy"] > 0.95


def test_time_distributed_tags_every_step():
    """Tag each step with whether a 1 has appeared so far (a running OR over the sequence)."""

    def tagging_task(m, seed, T=12):
        bits = (np.random.default_rng(seed).random((m, T)) < 0.08).astype(np.float64)
        seen = np.maximum.accumulate(bits, axis=1).astype(int)
        return bits.reshape(1, m, T), np.eye(2)[:, seen]

    X, Y = tagging_task(512, 0)
    Xt, Yt = tagging_task(256, 1)
    net = xn.Sequential([xn.GRU(6, return_sequences=True), xn.TimeDistributed(xn.Dense(2, activation="softmax"))],
                        input_size=(1, 12), backend="numpy", dtype="float64", seed=0)
    net.fit(X, Y, optimizer=xn.Adam(learning_rate=0.02), epochs=15, batch_size=32)
    result = net.evaluate(Xt, Yt)
    assert result["accuracy"] > 0.98  # over every (example, step)


@pytest.mark.parametrize("backend_name", ["numpy", "array_api_strict"])
def test_every_layer_trains_inside_sequential(backend_name):
    """One short fit per layer kind on each CPU backend: the cost goes down."""
    g = np.random.default_rng(0)
    X = g.normal(size=(3, 32, 6))
    Y = (X[0:1].sum(axis=2, keepdims=True) > 0) * np.ones((1, 1, 6))
    ids = g.integers(0, 5, size=(32, 6))
    stacks = [
        (X, [xn.SimpleRNN(4, return_sequences=True), xn.TimeDistributed(xn.Dense(1, activation="sigmoid"))]),
        (X, [xn.LSTM(4, return_sequences=True), xn.TimeDistributed(xn.Dense(1, activation="sigmoid"))]),
        (X, [xn.GRU(4, return_sequences=True), xn.TimeDistributed(xn.Dense(1, activation="sigmoid"))]),
        (X, [xn.Conv1D(4, 3, padding="same", activation="relu"), xn.LayerNorm(),
             xn.TimeDistributed(xn.Dense(1, activation="sigmoid"))]),
        (X, [xn.TimeDistributed(xn.Dense(4)), xn.PositionalEncoding(), xn.MultiHeadAttention(4, heads=2, causal=True),
             xn.TimeDistributed(xn.Dense(1, activation="sigmoid"))]),
        (ids, [xn.Embedding(5, 4), xn.TransformerEncoderBlock(4, heads=2, d_ff=8),
               xn.TimeDistributed(xn.Dense(1, activation="sigmoid"))]),
    ]
    for inputs, layers in stacks:
        net = xn.Sequential(layers, backend=backend_name, dtype="float32", seed=0)
        hist = net.fit(inputs, Y, optimizer=xn.Adam(learning_rate=0.01), epochs=8, batch_size=16)
        names = [type(layer).__name__ for layer in layers]
        assert hist.costs[-1] < hist.costs[0], f"{names} did not learn: {hist.costs}"
