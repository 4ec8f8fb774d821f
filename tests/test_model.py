"""Sequential: gradient checks, parity across backends, dtype, API behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from conftest import planar_xor
from gradcheck import check_network_gradients

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]


def _three_layer(hidden, output, backend, n_x=4, n_out=1, seed=3):
    layers = [xn.Dense(5, activation=hidden), xn.Dense(3, activation=hidden), xn.Dense(n_out, activation=output)]
    return xn.Sequential(layers, input_size=n_x, backend=backend, dtype="float64", seed=seed)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(
    "output, loss, n_out",
    [
        ("sigmoid", "binary_crossentropy", 1),
        ("softmax", "categorical_crossentropy", 3),
        ("linear", "mean_squared_error", 2),
        ("tanh", "mean_squared_error", 1),  # an output pair that is not fused
    ],
)
def test_three_layer_network_passes_gradient_check(backend, hidden, output, loss, n_out, rng):
    m = 7
    X = rng.normal(size=(4, m))
    if output == "softmax":
        Y = np.eye(n_out)[:, rng.integers(0, n_out, size=m)]
    elif output == "sigmoid":
        Y = (rng.uniform(size=(n_out, m)) > 0.5) * 1.0
    else:
        Y = rng.normal(size=(n_out, m))
    net = _three_layer(hidden, output, backend, n_out=n_out)
    check_network_gradients(net, X, Y, loss=loss)


def test_non_default_loss_on_sigmoid_output_is_not_fused(backend, rng):
    # sigmoid + MSE must go through dA * sigma'(Z), not the fused A - Y.
    X, Y = rng.normal(size=(4, 6)), (rng.uniform(size=(1, 6)) > 0.5) * 1.0
    check_network_gradients(_three_layer("tanh", "sigmoid", backend), X, Y, loss="mean_squared_error")


def test_numpy_and_strict_costs_agree_over_50_epochs():
    X, Y = planar_xor(200)
    costs = {}
    for name in ("numpy", "array_api_strict"):
        net = _three_layer("tanh", "sigmoid", name, n_x=2)
        costs[name] = net.fit(X, Y, learning_rate=0.5, epochs=50).costs
    np.testing.assert_allclose(costs["numpy"], costs["array_api_strict"], rtol=1e-12, atol=0)


def test_same_seed_same_initial_weights_on_every_backend(backend):
    reference = _three_layer("relu", "sigmoid", "numpy", seed=42).parameters()
    net = _three_layer("relu", "sigmoid", backend, seed=42)
    for name, value in net.parameters().items():
        np.testing.assert_array_equal(xn.to_numpy(value), reference[name])
    other = _three_layer("relu", "sigmoid", "numpy", seed=43).parameters()
    assert not np.array_equal(other["W1"], reference["W1"])


def test_float32_survives_fit(backend):
    X, Y = planar_xor(64)
    net = xn.Sequential([xn.Dense(4, activation="relu"), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend=backend, seed=0)
    assert net.dtype == "float32"
    net.fit(X, Y, learning_rate=0.1, epochs=3)
    for value in net.parameters().values():
        assert value.dtype == backend.xp.float32
    assert net.predict_proba(X).dtype == np.float32


def test_history_cost_is_before_the_update(backend, rng):
    X, Y = planar_xor(50)
    net = _three_layer("tanh", "sigmoid", backend, n_x=2)
    before = net.compute_cost(X, Y)
    hist = net.fit(X, Y, learning_rate=0.3, epochs=4)
    assert hist.costs[0] == pytest.approx(before, rel=1e-12)
    assert hist.epochs == 4 and hist.history["cost"] is hist.costs
    assert net.compute_cost(X, Y) < hist.costs[-1]


def test_fit_builds_lazily_from_X(rng):
    X, Y = planar_xor(30)
    net = xn.Sequential([xn.Dense(3, activation="tanh"), xn.Dense(1, activation="sigmoid")], backend="numpy")
    with pytest.raises(xn.NotFittedError, match="input_size"):
        net.parameters()
    net.fit(X, Y, epochs=1)
    assert net.parameters()["W1"].shape == (3, 2)


def test_course_parameter_names_and_shapes():
    net = xn.Sequential([xn.Dense(20, activation="relu"), xn.Dense(7, activation="relu"),
                         xn.Dense(5, activation="relu"), xn.Dense(1, activation="sigmoid")],
                        input_size=12288, backend="numpy", seed=1)
    shapes = {k: v.shape for k, v in net.parameters().items()}
    assert shapes == {"W1": (20, 12288), "b1": (20, 1), "W2": (7, 20), "b2": (7, 1),
                      "W3": (5, 7), "b3": (5, 1), "W4": (1, 5), "b4": (1, 1)}
    assert np.all(net.parameters()["b1"] == 0)


def test_set_parameters_validates(backend):
    net = _three_layer("relu", "sigmoid", backend)
    params = {k: xn.to_numpy(v) for k, v in net.parameters().items()}
    bad = dict(params, W1=np.zeros((5, 5)))
    with pytest.raises(xn.ShapeError, match=r"W1 must have shape \(5, 4\), got \(5, 5\)"):
        net.set_parameters(bad)
    with pytest.raises(xn.XpnetValueError, match="missing \\['b3'\\]"):
        net.set_parameters({k: v for k, v in params.items() if k != "b3"})
    with pytest.raises(xn.XpnetValueError, match="NaN"):
        net.set_parameters(dict(params, b1=np.full((5, 1), np.nan)))
    params["W1"] = params["W1"] * 2
    net.set_parameters(params)
    np.testing.assert_array_equal(xn.to_numpy(net.parameters()["W1"]), params["W1"])


def test_predict_and_evaluate_softmax(backend, rng):
    X = rng.normal(size=(3, 60))
    labels = np.argmax(X, axis=0)  # the class is the largest feature
    Y = np.eye(3)[:, labels]
    net = xn.Sequential([xn.Dense(3, activation="softmax")], input_size=3, backend=backend, dtype="float64", seed=0)
    hist = net.fit(X, Y, learning_rate=1.0, epochs=300)
    assert hist.costs[-1] < hist.costs[0]
    pred = net.predict(X)
    assert isinstance(pred, np.ndarray) and pred.shape == (1, 60)
    result = net.evaluate(X, Y)
    assert set(result) == {"cost", "accuracy"}
    assert result["accuracy"] == pytest.approx(np.mean(pred[0] == labels))
    assert result["accuracy"] > 0.9


def test_results_follow_the_input(backend):
    X, Y = planar_xor(20)
    net = _three_layer("tanh", "sigmoid", backend, n_x=2)
    assert isinstance(net.predict(X), np.ndarray)
    Xd = backend.asarray(X, "float64")
    out = net.predict_proba(Xd)
    assert backend.owns(out)
    np.testing.assert_allclose(backend.to_numpy(out), net.predict_proba(X), rtol=1e-15)


def test_to_moves_parameters_between_backends():
    X, Y = planar_xor(40)
    net = _three_layer("tanh", "sigmoid", "numpy", n_x=2)
    expected = net.predict_proba(X)
    net.to("array_api_strict")
    assert net.backend.name == "array_api_strict"
    assert all(xn.backend_of(v).name == "array_api_strict" for v in net.parameters().values())
    np.testing.assert_allclose(net.predict_proba(X), expected, rtol=1e-15)
    net.to("cpu")
    assert isinstance(net.parameters()["W1"], np.ndarray)


@pytest.mark.parametrize(
    "X, Y, error, pattern",
    [
        (np.ones((3, 10)), np.ones((1, 10)), xn.ShapeError, "X has 3 rows but the network expects n_x = 2"),
        (np.ones((10, 2)), np.ones((1, 10)), xn.ShapeError, "looks transposed: examples go in columns"),
        (np.ones(10), np.ones((1, 10)), xn.ShapeError, "X must be 2-D"),
        (np.ones((2, 10)), np.ones(10), xn.ShapeError, r"reshape it to \(1, m\)"),
        (np.ones((2, 10)), np.ones((1, 9)), xn.ShapeError, "X has m = 10 examples .* Y has 9"),
        (np.array([["a", "b"], ["c", "d"]]), np.ones((1, 2)), xn.XpnetTypeError, "X must hold numbers"),
        (np.full((2, 3), np.nan), np.ones((1, 3)), xn.XpnetValueError, "X contains NaN"),
    ],
)
def test_bad_input_gives_an_xpnet_error(X, Y, error, pattern):
    net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=2, backend="numpy")
    with pytest.raises(error, match=pattern):
        net.fit(X, Y, epochs=1)
    assert issubclass(error, xn.XpnetError)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"epochs": 0}, "epochs must be a positive int"),
    ({"learning_rate": -0.1}, "learning_rate must be a finite number > 0"),
    ({"loss": "hinge"}, "unknown loss"),
])
def test_bad_hyperparameters(kwargs, pattern):
    X, Y = planar_xor(10)
    net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=2, backend="numpy")
    with pytest.raises(xn.XpnetValueError, match=pattern):
        net.fit(X, Y, **kwargs)


def test_bad_constructor_arguments():
    with pytest.raises(xn.XpnetValueError, match="dtype must be one of"):
        xn.Sequential([xn.Dense(1)], dtype="float16")
    with pytest.raises(xn.XpnetTypeError, match="not an xpnet Layer"):
        xn.Sequential([lambda x: x])
    with pytest.raises(xn.XpnetValueError, match="units must be a positive int"):
        xn.Dense(0)
    with pytest.raises(xn.XpnetValueError, match="unknown initializer"):
        xn.Dense(2, init="glorot")


def test_config_round_trip():
    net = xn.Sequential([xn.Dense(4, activation=xn.activations.LeakyReLU(0.1), init="small_random"),
                         xn.Dense(1, activation="sigmoid")], input_size=3, backend="numpy", seed=7)
    clone = xn.Sequential.from_config(net.get_config(), backend="numpy")
    for name, value in net.parameters().items():
        np.testing.assert_array_equal(clone.parameters()[name], value)
    assert clone.layers[0].activation == xn.activations.LeakyReLU(0.1)


def test_verbose_prints_course_style(capsys):
    X, Y = planar_xor(10)
    net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=2, backend="numpy")
    net.fit(X, Y, epochs=201, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Cost after epoch 0", "Cost after epoch 100",
                                                      "Cost after epoch 200"]


def test_callback_can_stop_training():
    X, Y = planar_xor(10)
    seen = []

    class StopAtThree:
        def on_epoch_end(self, epoch, logs):
            seen.append(logs["cost"])
            return epoch == 2

    net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=2, backend="numpy")
    hist = net.fit(X, Y, epochs=10, callbacks=[StopAtThree()])
    assert hist.costs == seen and len(seen) == 3
