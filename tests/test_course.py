"""xpnet reproduces the course's equations exactly, and its lessons hold.

The reference below is the course's own L-layer implementation written out in NumPy
(linear_forward, relu/sigmoid, compute_cost, linear_backward, update_parameters).
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from conftest import planar_xor


def course_model(X, Y, params, layer_dims, learning_rate, num_iterations):
    """The course's L_layer_model: ReLU hidden layers, sigmoid output, batch GD."""
    params = {k: v.copy() for k, v in params.items()}
    L = len(layer_dims) - 1
    m = X.shape[1]
    costs = []
    for _ in range(num_iterations):
        caches, A = [], X
        for l in range(1, L + 1):
            A_prev = A
            Z = params[f"W{l}"] @ A_prev + params[f"b{l}"]
            A = 1 / (1 + np.exp(-Z)) if l == L else np.maximum(0, Z)
            caches.append((A_prev, Z))
        AL = A
        costs.append(float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m))
        dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
        grads, dA = {}, dAL
        for l in range(L, 0, -1):
            A_prev, Z = caches[l - 1]
            if l == L:
                s = 1 / (1 + np.exp(-Z))
                dZ = dA * s * (1 - s)
            else:
                dZ = np.array(dA, copy=True)
                dZ[Z <= 0] = 0
            grads[f"dW{l}"] = (1 / m) * dZ @ A_prev.T
            grads[f"db{l}"] = (1 / m) * np.sum(dZ, axis=1, keepdims=True)
            dA = params[f"W{l}"].T @ dZ
        for l in range(1, L + 1):
            params[f"W{l}"] = params[f"W{l}"] - learning_rate * grads[f"dW{l}"]
            params[f"b{l}"] = params[f"b{l}"] - learning_rate * grads[f"db{l}"]
    return params, costs


def _initial(layer_dims, rng):
    # The course's deep initialisation: randn / sqrt(n_prev), zero biases.
    return {
        **{f"W{l}": rng.standard_normal((layer_dims[l], layer_dims[l - 1])) / np.sqrt(layer_dims[l - 1])
           for l in range(1, len(layer_dims))},
        **{f"b{l}": np.zeros((layer_dims[l], 1)) for l in range(1, len(layer_dims))},
    }


@pytest.mark.parametrize("hidden", [[7], [20, 7, 5]], ids=["2-layer n_x-7-1", "4-layer n_x-20-7-5-1"])
def test_matches_the_course_implementation_over_100_epochs(backend, hidden):
    rng = np.random.default_rng(1)
    n_x, m = 48, 80
    X = rng.uniform(0.0, 1.0, size=(n_x, m))  # like pixel values scaled to [0, 1]
    Y = (X[:3].sum(axis=0, keepdims=True) > 1.5) * 1.0
    dims = [n_x, *hidden, 1]
    init = _initial(dims, rng)
    expected_params, expected_costs = course_model(X, Y, init, dims, learning_rate=0.0075 * 10, num_iterations=100)

    layers = [xn.Dense(n, activation="relu") for n in hidden] + [xn.Dense(1, activation="sigmoid")]
    net = xn.Sequential(layers, input_size=n_x, backend=backend, dtype="float64")
    net.set_parameters(init)
    hist = net.fit(X, Y, loss="binary_crossentropy", optimizer=xn.GradientDescent(learning_rate=0.075), epochs=100)

    np.testing.assert_allclose(hist.costs, expected_costs, rtol=1e-9, atol=0)
    for name, value in net.parameters().items():
        np.testing.assert_allclose(xn.to_numpy(value), expected_params[name], rtol=1e-9, atol=1e-12)


def test_two_layer_tanh_network_learns_xor(backend):
    X, Y = planar_xor(400, seed=2)
    net = xn.Sequential([xn.Dense(4, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend=backend, dtype="float64", seed=1)
    net.fit(X, Y, learning_rate=1.2, epochs=3000)
    assert net.evaluate(X, Y)["accuracy"] > 0.95


def test_logistic_regression_cannot_learn_xor(backend):
    X, Y = planar_xor(400, seed=2)
    logreg = xn.Sequential([xn.Dense(1, activation="sigmoid", init="zeros")],
                           input_size=2, backend=backend, dtype="float64")
    logreg.fit(X, Y, learning_rate=1.2, epochs=3000)
    # A line cannot separate XOR: no better than predicting the majority class.
    assert logreg.evaluate(X, Y)["accuracy"] < 0.65


def test_zeros_initialisation_keeps_hidden_units_identical(backend):
    X, Y = planar_xor(200, seed=3)
    net = xn.Sequential([xn.Dense(6, activation="tanh", init="zeros"), xn.Dense(1, activation="sigmoid", init="zeros")],
                        input_size=2, backend=backend, dtype="float64")
    net.fit(X, Y, learning_rate=1.0, epochs=300)
    W1 = xn.to_numpy(net.parameters()["W1"])
    W2 = xn.to_numpy(net.parameters()["W2"])
    # The symmetry problem: every hidden unit computes the same function forever.
    np.testing.assert_array_equal(W1, np.broadcast_to(W1[0], W1.shape))
    np.testing.assert_array_equal(W2, np.broadcast_to(W2[0, 0], W2.shape))
    random_net = xn.Sequential([xn.Dense(6, activation="tanh", init="small_random"), xn.Dense(1, activation="sigmoid")],
                               input_size=2, backend=backend, dtype="float64", seed=0)
    random_net.fit(X, Y, learning_rate=1.0, epochs=300)
    assert np.unique(xn.to_numpy(random_net.parameters()["W1"])[:, 0]).size == 6


@pytest.mark.parametrize("name, scale", [("small_random", lambda n: 0.01), ("xavier", lambda n: 1 / np.sqrt(n)),
                                         ("he", lambda n: np.sqrt(2 / n))])
def test_initialiser_scales(name, scale):
    net = xn.Sequential([xn.Dense(400, init=name)], input_size=500, backend="numpy", dtype="float64", seed=0)
    W = net.parameters()["W1"]
    assert W.std() == pytest.approx(scale(500), rel=0.02)
    assert abs(W.mean()) < 0.05 * scale(500)
