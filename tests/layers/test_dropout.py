"""Inverted dropout: seed-controlled masks, identical on every backend, off outside training."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from conftest import planar_xor
from gradcheck import numeric_gradient, relative_error


def _net(backend="numpy", keep_prob=0.7, seed=4, dtype="float64", dropout=True):
    layers = [xn.Dense(6, activation="tanh")]
    if dropout:
        layers.append(xn.Dropout(keep_prob))
    layers += [xn.Dense(4, activation="relu"), xn.Dense(1, activation="sigmoid")]
    return xn.Sequential(layers, input_size=2, backend=backend, dtype=dtype, seed=seed)


def test_parameters_keep_course_names_and_initial_weights():
    with_dropout, without = _net(), _net(dropout=False)
    assert list(with_dropout.parameters()) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for k, v in without.parameters().items():  # spawning the mask stream leaves the init stream alone
        np.testing.assert_array_equal(with_dropout.parameters()[k], v)


def test_forward_scales_kept_units_and_zeroes_the_rest():
    layer = _net(keep_prob=0.6).layers[1]
    A = np.ones((50, 400))
    out, cache = layer.forward(A, training=True)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1.0 / 0.6)
    assert kept.mean() == pytest.approx(0.6, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the expectation
    dA = np.full_like(A, 2.0)
    dA_prev, grads = layer.backward(dA, cache)
    np.testing.assert_array_equal(dA_prev, 2.0 * out)
    assert grads == {}


def test_masks_are_identical_on_every_backend_and_reproducible_per_seed(backend):
    X, _ = planar_xor(30)
    here, ref, again, other = _net(backend), _net(), _net(), _net(seed=5)
    outs = []
    for net in (here, ref, again, other):
        layer = net.layers[1]
        A = net.backend.asarray(np.ones((6, 30)), "float64")
        outs.append([net.backend.to_numpy(layer.forward(A, training=True)[0]) for _ in range(3)])
    for a, b, c in zip(outs[0], outs[1], outs[2]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, c)
    assert not np.array_equal(outs[1][0], outs[1][1])  # a fresh mask every step
    assert not np.array_equal(outs[1][0], outs[3][0])  # another seed, other masks


def test_training_with_dropout_is_identical_across_backends(backend):
    X, Y = planar_xor(40, seed=2)
    here, ref = _net(backend), _net()
    h1 = here.fit(X, Y, optimizer=xn.Adam(0.01), epochs=5, batch_size=16)
    h2 = ref.fit(X, Y, optimizer=xn.Adam(0.01), epochs=5, batch_size=16)
    np.testing.assert_allclose(h1.costs, h2.costs, rtol=1e-12)
    for k, v in ref.parameters().items():
        np.testing.assert_allclose(here.backend.to_numpy(here.parameters()[k]), v, rtol=1e-10, atol=1e-14)


def test_dropout_is_off_in_predict_and_evaluate(backend):
    X, Y = planar_xor(40, seed=3)
    with_dropout, without = _net(backend, keep_prob=0.5), _net(backend, dropout=False)
    with_dropout.fit(X, Y, epochs=3, learning_rate=0.1)
    without.set_parameters(with_dropout.parameters())
    np.testing.assert_array_equal(with_dropout.predict_proba(X), without.predict_proba(X))
    np.testing.assert_array_equal(with_dropout.predict_proba(X), with_dropout.predict_proba(X))
    assert with_dropout.evaluate(X, Y, loss="binary_crossentropy") == without.evaluate(X, Y, loss="binary_crossentropy")


def test_keep_prob_one_is_the_identity_in_training():
    X, Y = planar_xor(30, seed=1)
    a, b = _net(keep_prob=1.0), _net(dropout=False)
    assert a.fit(X, Y, epochs=3, learning_rate=0.3).costs == b.fit(X, Y, epochs=3, learning_rate=0.3).costs


def test_gradient_check_with_a_fixed_mask(backend):
    X, Y = planar_xor(12, seed=7)
    net = _net(backend, keep_prob=0.5)
    net.layers[1].fixed_mask = np.random.default_rng(0).random((6, 12)) < 0.5
    loss = xn.losses.get("binary_crossentropy")
    params = {k: backend.to_numpy(v) for k, v in net.parameters().items()}
    grads = {k: backend.to_numpy(v) for k, v in net.gradients(X, Y).items()}
    Xd, Yd = backend.asarray(X, "float64"), backend.asarray(Y, "float64")

    def J(name, value):  # the training-mode cost, with that same mask
        net.set_parameters({**params, name: value})
        AL, caches = net.forward(Xd, training=True)
        return float(net.cost(AL, Yd, caches, loss))

    for name in params:
        numeric = numeric_gradient(lambda v, name=name: J(name, v), params[name])
        assert relative_error(grads["d" + name], numeric) < 1e-7, name
    net.set_parameters(params)
    net.layers[1].fixed_mask = np.ones((6, 12), dtype=bool)  # the mask is what made them differ
    assert not np.allclose(backend.to_numpy(net.gradients(X, Y)["dW1"]), grads["dW1"])


def test_fixed_mask_shape_is_checked():
    net = _net()
    net.layers[1].fixed_mask = np.ones((6, 3), dtype=bool)
    with pytest.raises(xn.XpnetValueError, match="fixed_mask"):
        net.forward(np.ones((2, 5)), training=True)


@pytest.mark.parametrize("keep_prob", [0.0, 1.5, -0.1, "0.5", True])
def test_bad_keep_prob(keep_prob):
    with pytest.raises(xn.XpnetValueError, match="keep_prob"):
        xn.Dropout(keep_prob)


def test_config_round_trip():
    net = _net(keep_prob=0.8)
    clone = xn.Sequential.from_config(net.get_config(), backend="numpy")
    assert isinstance(clone.layers[1], xn.Dropout) and clone.layers[1].keep_prob == 0.8
    X = np.ones((2, 4))
    np.testing.assert_array_equal(clone.layers[1].forward(X, training=True)[0],
                                  net.layers[1].forward(X, training=True)[0])
