"""The course's numbers, number for number: its weight stream (init_rng="course") and its
published rnn_forward / lstm_forward outputs (initial states, the cell sequence)."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn


def test_deep_network_draws_the_course_initialize_parameters_deep():
    net = xn.Sequential([xn.Dense(4, activation="relu", init="small_random"),
                         xn.Dense(3, activation="sigmoid", init="small_random")],
                        input_size=5, backend="numpy", dtype="float64", seed=3, init_rng="course")
    # The course's published output of initialize_parameters_deep([5, 4, 3]) (seed 3).
    np.testing.assert_allclose(net.parameters()["W1"][0], [0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388],
                               atol=5e-9)
    legacy = np.random.RandomState(3)  # np.random.seed(3), then randn in the notebook's order
    W1 = legacy.randn(4, 5) * 0.01
    W2 = legacy.randn(3, 4) * 0.01
    np.testing.assert_array_equal(net.parameters()["W1"], W1)
    np.testing.assert_array_equal(net.parameters()["W2"], W2)


def test_rnn_language_model_draws_the_course_initialize_parameters():
    n_a, n_x = 50, 27
    net = xn.Sequential([xn.SimpleRNN(n_a, return_sequences=True, init="small_random"),
                         xn.TimeDistributed(xn.Dense(n_x, activation="softmax", init="small_random"))],
                        input_size=(n_x, 5), backend="numpy", dtype="float64", seed=1, init_rng="course")
    legacy = np.random.RandomState(1)  # the dinosaur notebook: Wax, Waa, Wya in this order
    Wax, Waa, Wya = legacy.randn(n_a, n_x) * 0.01, legacy.randn(n_a, n_a) * 0.01, legacy.randn(n_x, n_a) * 0.01
    p = net.parameters()
    np.testing.assert_array_equal(p["Wax1"], Wax)
    np.testing.assert_array_equal(p["Waa1"], Waa)
    np.testing.assert_array_equal(p["W2"], Wya)


def test_course_stream_is_the_same_on_every_backend_and_differs_from_the_default(backend):
    layers = lambda: [xn.Dense(3, init="small_random")]  # noqa: E731
    a = xn.Sequential(layers(), input_size=4, backend=backend, dtype="float64", seed=1, init_rng="course")
    b = xn.Sequential(layers(), input_size=4, backend="numpy", dtype="float64", seed=1, init_rng="course")
    c = xn.Sequential(layers(), input_size=4, backend="numpy", dtype="float64", seed=1)
    np.testing.assert_array_equal(xn.to_numpy(a.parameters()["W1"]), b.parameters()["W1"])
    assert not np.allclose(b.parameters()["W1"], c.parameters()["W1"])


def test_dropout_still_builds_with_the_course_stream():
    net = xn.Sequential([xn.Dense(3, activation="relu"), xn.Dropout(0.5), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend="numpy", dtype="float64", seed=0, init_rng="course")
    X, Y = np.random.default_rng(0).normal(size=(2, 8)), np.ones((1, 8))
    assert len(net.fit(X, Y, epochs=2).costs) == 2


def test_unknown_stream():
    with pytest.raises(xn.XpnetValueError, match="init_rng must be 'numpy' or 'course'"):
        xn.Sequential([xn.Dense(1)], init_rng="legacy")


def test_rnn_forward_with_initial_state_reproduces_the_course(backend):
    """The course's rnn_forward test: np.random.seed(1), then x, a0, Waa, Wax, Wya, ba, by."""
    legacy = np.random.RandomState(1)
    x, a0 = legacy.randn(3, 10, 4), legacy.randn(5, 10)
    Waa, Wax, Wya, ba, by = legacy.randn(5, 5), legacy.randn(5, 3), legacy.randn(2, 5), legacy.randn(5, 1), \
        legacy.randn(2, 1)
    rnn = xn.SimpleRNN(5, return_sequences=True)
    net = xn.Sequential([rnn, xn.TimeDistributed(xn.Dense(2, activation="softmax"))], input_size=(3, 4),
                        backend=backend, dtype="float64")
    net.set_parameters({"Waa1": Waa, "Wax1": Wax, "ba1": ba, "W2": Wya, "b2": by})
    with backend.context():
        a = rnn(backend.asarray(x, "float64"), initial_state=[backend.asarray(a0, "float64")])
        y_pred, _ = net.layers[1].forward(a)
    a, y_pred = xn.to_numpy(a), xn.to_numpy(y_pred)
    # The notebook's published output.
    np.testing.assert_allclose(a[4][1], [-0.99999375, 0.77911235, -0.99861469, -0.99833267], atol=5e-9)
    np.testing.assert_allclose(y_pred[1][3], [0.79560373, 0.86224861, 0.11118257, 0.81515947], atol=5e-9)


def test_lstm_forward_with_initial_state_and_cells_reproduces_the_course(backend):
    """The course's lstm_forward test: a[4][3][6] and c[1][2][1] as published."""
    legacy = np.random.RandomState(1)
    x, a0 = legacy.randn(3, 10, 7), legacy.randn(5, 10)
    params = {}
    for gate in "fioc":  # the notebook's order: Wf, bf, Wi, bi, Wo, bo, Wc, bc
        params["W" + gate], params["b" + gate] = legacy.randn(5, 8), legacy.randn(5, 1)
    lstm = xn.LSTM(5, return_sequences=True, return_cell_sequence=True)
    net = xn.Sequential([lstm], input_size=(3, 7), backend=backend, dtype="float64")
    net.set_parameters({k + "1": v for k, v in params.items()})
    with backend.context():
        a, c = lstm(backend.asarray(x, "float64"),
                    initial_state=[backend.asarray(a0, "float64"), backend.asarray(np.zeros((5, 10)), "float64")])
    a, c = xn.to_numpy(a), xn.to_numpy(c)
    assert a.shape == (5, 10, 7)
    assert a[4][3][6] == pytest.approx(0.172117767533, abs=5e-12)
    assert c[1][2][1] == pytest.approx(-0.855544916718, abs=5e-12)
