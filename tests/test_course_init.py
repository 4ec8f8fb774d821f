"""init_rng="course": the weights of the course's notebooks, number for number."""

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
