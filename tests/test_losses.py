"""Losses: definitions, gradients (float64 checks), fused logit forms and stability."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpnet as xn
from xpnet import activations as act
from xpnet import losses

from gradcheck import numeric_gradient, relative_error


def _data(name, rng, shape=(3, 6)):
    if name == "binary_crossentropy":
        A = rng.uniform(0.05, 0.95, size=shape)
        Y = (rng.uniform(size=shape) > 0.5) * 1.0
    elif name == "categorical_crossentropy":
        A = rng.uniform(0.1, 1.0, size=shape)
        A /= A.sum(axis=0)
        Y = np.eye(shape[0])[:, rng.integers(0, shape[0], size=shape[1])]
    else:
        A, Y = rng.normal(size=shape), rng.normal(size=shape)
    return A, Y


def test_definitions_match_keras_and_pytorch(rng):
    A, Y = _data("binary_crossentropy", rng, (1, 8))
    expected = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    assert float(losses.binary_crossentropy(A, Y)) == pytest.approx(expected, rel=1e-12)
    A, Y = _data("categorical_crossentropy", rng, (4, 8))
    expected = -np.sum(Y * np.log(A)) / 8
    assert float(losses.categorical_crossentropy(A, Y)) == pytest.approx(expected, rel=1e-12)
    A, Y = _data("mean_squared_error", rng, (3, 8))
    assert float(losses.mean_squared_error(A, Y)) == pytest.approx(np.mean((A - Y) ** 2), rel=1e-12)


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_gradient_passes_gradient_check(backend, name, rng):
    A, Y = _data(name, rng)
    loss = losses.get(name)
    Yd = backend.asarray(Y, "float64")
    analytic = backend.to_numpy(loss.gradient(backend.asarray(A, "float64"), Yd))

    def J(a):
        return float(loss.cost(backend.asarray(a, "float64"), Yd))

    assert relative_error(analytic, numeric_gradient(J, A)) < 1e-7


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy"])
def test_fused_pair_cost_and_dZ(backend, name, rng):
    loss = losses.get(name)
    g = act.get(loss.fused_activation)
    Z = rng.normal(size=(3, 6))
    _, Y = _data(name, rng)
    Zd, Yd = backend.asarray(Z, "float64"), backend.asarray(Y, "float64")
    # Same cost as the probability form ...
    assert float(loss.cost_from_logits(Zd, Yd)) == pytest.approx(float(loss.cost(g.forward(Zd), Yd)), rel=1e-12)
    # ... and dZ = (A - Y)/m is the true gradient of the logit form.
    analytic = backend.to_numpy(loss.fused_gradient(g.forward(Zd), Yd))

    def J(z):
        return float(loss.cost_from_logits(backend.asarray(z, "float64"), Yd))

    assert relative_error(analytic, numeric_gradient(J, Z)) < 1e-7


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy"])
def test_extreme_logits_give_finite_costs_without_warnings(backend, name, dtype):
    loss = losses.get(name)
    Z = np.array([[1e4, -1e4, 0.0, 30.0], [-1e4, 1e4, 5.0, -30.0]])
    Y = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]])
    Zd, Yd = backend.asarray(Z, dtype), backend.asarray(Y, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_logits = float(loss.cost_from_logits(Zd, Yd))
        A = act.get(loss.fused_activation).forward(Zd)
        from_probs = float(loss.cost(A, Yd))
        grad = backend.to_numpy(loss.gradient(A, Yd))
    assert np.isfinite(from_logits) and from_logits > 1e3  # confidently wrong costs a lot, finitely
    assert np.isfinite(from_probs)
    assert np.all(np.isfinite(grad))


def test_loss_names_and_defaults():
    assert losses.get("mse").name == "mean_squared_error"
    assert losses.default_for("sigmoid").name == "binary_crossentropy"
    assert losses.default_for("softmax").name == "categorical_crossentropy"
    assert losses.default_for("relu").name == "mean_squared_error"
    with pytest.raises(xn.XpnetValueError, match="valid names are: binary_crossentropy"):
        losses.get("hinge")


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy", "mse"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_targets_are_refused_by_the_loss(name, bad, rng):
    # fit leaves the NaN check of Y to the loss's own target check, and a loss called
    # directly refuses them too instead of returning a NaN cost.
    A, Y = _data(name, rng)
    Y[1, 2] = bad
    with pytest.raises(xn.XpnetValueError, match="NaN or infinite"):
        losses.get(name)(A, Y)
    with pytest.raises(xn.XpnetValueError, match="NaN or infinite"):
        losses.get(name).check_targets(Y)
