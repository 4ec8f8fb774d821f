"""Tests written against bugs that the rest of the suite let through (a hand mutation audit).

Each one compares with a value computed here, independently of the code under test:

* the cost of a sequence batch is averaged over m AND T (a loss that divides by m alone
  still passes every gradient check, since its gradient is scaled the same way);
* L2 regularisation penalises every weight matrix of every layer (a recurrent layer that
  forgets one gate's W in its ``regularized`` tuple passes every test that fits Dense only);
* shuffled mini-batches keep each Y column with its X column;
* tests that a model CANNOT learn something get a positive control: the same model and
  budget DO learn a task within its reach (a fit that learns nothing would pass otherwise).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import xpnet as xn


def TD(k, activation="linear"):
    return xn.TimeDistributed(xn.Dense(k, activation=activation))


# -- the cost of sequence targets --------------------------------------------------------------
@pytest.mark.parametrize("output, loss", [("softmax", "categorical_crossentropy"),
                                          ("sigmoid", "binary_crossentropy"),
                                          ("linear", "mean_squared_error")])
@pytest.mark.parametrize("T", [None, 5])
def test_cost_is_the_mean_over_examples_and_time_steps(output, loss, T):
    g = np.random.default_rng(0)
    m, k = 7, (3 if output == "softmax" else 2)
    if T is None:
        net = xn.Sequential([xn.Dense(k, activation=output)], input_size=4, backend="numpy", dtype="float64", seed=1)
        X = g.normal(size=(4, m))
        shape = (k, m)
    else:
        net = xn.Sequential([TD(k, output)], input_size=(4, T), backend="numpy", dtype="float64", seed=1)
        X = g.normal(size=(4, m, T))
        shape = (k, m, T)
    if output == "softmax":
        labels = g.integers(0, k, size=shape[1:])
        Y = np.eye(k)[:, labels]
    elif output == "sigmoid":
        Y = (g.random(shape) > 0.5) * 1.0
    else:
        Y = g.normal(size=shape)
    A = net.predict_proba(X)
    steps = 1 if T is None else T
    # The course's formulas, with the sum over time steps added and averaged as Keras does.
    if loss == "categorical_crossentropy":
        expected = -np.sum(Y * np.log(A)) / (m * steps)
    elif loss == "binary_crossentropy":
        expected = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / (k * m * steps)
    else:
        expected = np.sum((A - Y) ** 2) / (k * m * steps)
    assert net.compute_cost(X, Y, loss=loss) == pytest.approx(expected, rel=1e-12)


# -- L2 on every layer's weights ---------------------------------------------------------------
def _regularised(key):
    """The reference rule: every weight matrix (W..., an embedding E) is penalised; biases
    (b...) and LayerNorm's gain and shift (gamma, beta) are not."""
    local = re.sub(r"\d+$", "", key)
    return local.startswith("W") or local == "E"


L2_CASES = {
    "dense": (lambda: [xn.Dense(3, activation="tanh"), xn.Dense(2, activation="softmax")], 3, "columns"),
    "simple_rnn": (lambda: [xn.SimpleRNN(3, return_sequences=True), TD(2, "softmax")], (3, 4), "sequences"),
    "lstm": (lambda: [xn.LSTM(3, return_sequences=True), TD(2, "softmax")], (3, 4), "sequences"),
    "gru": (lambda: [xn.GRU(3), xn.Dense(2, activation="softmax")], (3, 4), "sequences"),
    "conv1d": (lambda: [xn.Conv1D(3, 2, activation="tanh"), xn.GlobalAveragePooling1D(),
                        xn.Dense(2, activation="softmax")], (3, 4), "sequences"),
    "attention": (lambda: [xn.MultiHeadAttention(4, heads=2), TD(2, "softmax")], (4, 3), "sequences"),
    "transformer": (lambda: [xn.TransformerEncoderBlock(4, heads=2, d_ff=3), TD(2, "softmax")], (4, 3), "sequences"),
    "embedding": (lambda: [xn.Embedding(5, 3), xn.LSTM(2, return_sequences=True), TD(2, "softmax")], 4, "ids"),
}


def _l2_problem(kind, input_size, m=6):
    g = np.random.default_rng(2)
    if kind == "columns":
        X, target_shape = g.normal(size=(input_size, m)), (m,)
    elif kind == "ids":
        X, target_shape = g.integers(0, 5, size=(m, input_size)), (m, input_size)
    else:
        X, target_shape = g.normal(size=(input_size[0], m, input_size[1])), (m, input_size[1])
    return X, np.eye(2)[:, g.integers(0, 2, size=target_shape)]


@pytest.mark.parametrize("case", list(L2_CASES))
def test_l2_penalises_every_weight_matrix_of_every_layer(case):
    make, input_size, kind = L2_CASES[case]
    net = xn.Sequential(make(), input_size=input_size, backend="numpy", dtype="float64", seed=4)
    # Batch only the last layer's output is examples-first for token ids; sequences in the
    # middle of the output need one softmax per step, so the target is (2, m[, T]).
    if case in ("gru", "conv1d"):
        X, Y = _l2_problem(kind, input_size)
        Y = Y[:, :, 0]
    else:
        X, Y = _l2_problem(kind, input_size)
    m, lam, lr = 6, 0.7, 0.3
    before = {k: np.array(v) for k, v in net.parameters().items()}
    grads = net.gradients(X, Y)
    cost = net.compute_cost(X, Y)
    penalised = [k for k in before if _regularised(k)]
    assert penalised, "the case must hold weights"
    penalty = lam / (2 * m) * sum(np.sum(before[k] ** 2) for k in penalised)
    hist = net.fit(X, Y, optimizer=xn.GradientDescent(lr), epochs=1, l2=lam)
    assert hist.costs[0] == pytest.approx(cost + penalty, rel=1e-10)
    after = net.parameters()
    for k, W in before.items():
        dW = grads["d" + k] + (lam / m * W if _regularised(k) else 0.0)
        np.testing.assert_allclose(after[k], W - lr * dW, rtol=1e-9, atol=1e-12, err_msg=k)


# -- shuffling keeps the pairs -----------------------------------------------------------------
def test_shuffled_batches_keep_each_label_with_its_example():
    m = 23
    ids = np.arange(m, dtype=np.float64)
    X = np.vstack([ids, np.random.default_rng(0).normal(size=m)])
    Y = (10.0 * ids + 1.0).reshape(1, m)  # a target that names its example
    net = xn.Sequential([xn.Dense(1)], input_size=2, backend="numpy", dtype="float64", seed=0)
    pairs = []
    inner = net.cost

    def cost(AL, Yb, caches, loss):
        pairs.append(np.asarray(Yb)[0].tolist())
        return inner(AL, Yb, caches, loss)

    net.cost = cost
    seen = []
    forward = net.forward

    def record(Xb, training=False):
        if training:
            seen.append(np.asarray(Xb)[0].tolist())
        return forward(Xb, training=training)

    net.forward = record
    net.fit(X, Y, epochs=2, batch_size=5, learning_rate=1e-4)
    assert len(seen) == len(pairs) == 10
    assert seen[0] != ids[:5].tolist()  # shuffled
    for x_ids, y in zip(seen, pairs):
        assert y == [10.0 * i + 1.0 for i in x_ids]


# -- positive controls for the "cannot learn" tests ----------------------------------------------
def test_logistic_regression_learns_what_a_line_can_with_the_xor_budget():
    g = np.random.default_rng(2)
    X = g.uniform(-1.0, 1.0, size=(2, 400))
    Y = (X[0:1] + 0.5 * X[1:2] > 0.1).astype(np.float64)
    logreg = xn.Sequential([xn.Dense(1, activation="sigmoid", init="zeros")], input_size=2, backend="numpy",
                           dtype="float64")
    hist = logreg.fit(X, Y, learning_rate=1.2, epochs=3000)
    assert hist.costs[0] == pytest.approx(math.log(2.0))
    assert logreg.evaluate(X, Y)["accuracy"] > 0.97


def _memory(m, T, seed):
    g = np.random.default_rng(seed)
    X = np.zeros((3, m, T))
    X[:2, :, 1:] = g.normal(size=(2, m, T - 1))
    bit = g.integers(0, 2, size=m)
    X[2, :, 0] = 2.0 * bit - 1.0
    return X, bit.reshape(1, -1).astype(np.float64)


def test_simple_rnn_remembers_a_token_two_steps_back_with_the_lstm_budget():
    # The 39-step memory test says a SimpleRNN stays at chance; over 2 steps it must learn.
    X, Y = _memory(512, 3, 0)
    Xt, Yt = _memory(256, 3, 100)
    net = xn.Sequential([xn.SimpleRNN(8), xn.Dense(1, activation="sigmoid")], input_size=(3, 3), backend="numpy",
                        dtype="float64", seed=0)
    net.fit(X, Y, optimizer=xn.Adam(learning_rate=0.01), epochs=15, batch_size=32)
    assert net.evaluate(Xt, Yt)["accuracy"] > 0.97


def test_attention_without_positions_learns_an_order_free_task_with_the_reversal_budget():
    # Without positions, reversal stays out of reach (another test); copying each step's own
    # token needs no order, and the same model and budget must learn it.
    V, T = 6, 5
    g = np.random.default_rng(0)
    ids, ids_test = g.integers(0, V, size=(1024, T)), g.integers(0, V, size=(256, T))
    Y = np.eye(V)[:, ids]
    net = xn.Sequential([xn.Embedding(V, 16), xn.TransformerEncoderBlock(16, heads=2, d_ff=32),
                         xn.TimeDistributed(xn.Dense(V, activation="softmax"))],
                        input_size=T, backend="numpy", dtype="float64", seed=0)
    net.fit(ids, Y, optimizer=xn.Adam(learning_rate=0.01), epochs=10, batch_size=64)
    predicted = net.predict(ids_test)[0]
    assert (predicted == ids_test).all(axis=1).mean() > 0.95  # whole sequences right
