"""Activations: values, derivatives (gradient-checked in float64) and stability."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpnet as xn
from xpnet import activations as act

from gradcheck import numeric_gradient, relative_error

ALL = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"]


def _reference(name, Z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-Z))
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0.0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, 0.01 * Z)
    if name == "linear":
        return Z
    E = np.exp(Z - Z.max(axis=0))
    return E / E.sum(axis=0)


@pytest.mark.parametrize("name", ALL)
def test_forward_matches_the_formula(backend, name, rng):
    Z = rng.normal(size=(4, 7))
    g = act.get(name)
    A = backend.to_numpy(g.forward(backend.asarray(Z, "float64")))
    np.testing.assert_allclose(A, _reference(name, Z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ALL)
def test_backward_passes_gradient_check(backend, name, rng):
    # J(Z) = sum(g(Z) * R) for a fixed random R, so dJ/dZ = backward(R, Z, A).
    Z = rng.normal(size=(3, 5))
    Z[np.abs(Z) < 1e-3] = 0.5  # keep away from the ReLU kink, where g' is undefined
    R = rng.normal(size=Z.shape)
    g = act.get(name)
    xp = backend.xp
    Zd, Rd = backend.asarray(Z, "float64"), backend.asarray(R, "float64")
    Ad = g.forward(Zd)
    analytic = backend.to_numpy(g.backward(Rd, Zd, Ad))

    def J(z):
        return float(xp.sum(g.forward(backend.asarray(z, "float64")) * Rd))

    assert relative_error(analytic, numeric_gradient(J, Z)) < 1e-7


@pytest.mark.parametrize("name", [n for n in ALL if n != "softmax"])
def test_derivative_is_the_elementwise_gprime(backend, name, rng):
    Z = rng.normal(size=(2, 6))
    g = act.get(name)
    Zd = backend.asarray(Z, "float64")
    ones = backend.xp.ones_like(Zd)
    np.testing.assert_allclose(
        backend.to_numpy(g.derivative(Zd)), backend.to_numpy(g.backward(ones, Zd, g.forward(Zd))), rtol=1e-12
    )


def test_leaky_relu_slope_is_settable():
    g = act.LeakyReLU(slope=0.2)
    Z = np.array([[-1.0, 2.0]])
    np.testing.assert_allclose(g.forward(Z), [[-0.2, 2.0]])
    assert act.get({"name": "leaky_relu", "slope": 0.2}) == g
    with pytest.raises(xn.XpnetValueError, match="slope"):
        act.LeakyReLU(slope=-1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sigmoid", "softmax", "tanh"])
def test_extreme_inputs_are_finite_and_warning_free(backend, name, dtype):
    Z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4], [1e4, 0.0, -1e4, 3.0, -3.0]])
    g = act.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A = backend.to_numpy(g.forward(backend.asarray(Z, dtype)))
    assert A.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(A))
    assert np.all((A >= -1.0) & (A <= 1.0))


def test_unknown_activation_lists_valid_names():
    with pytest.raises(xn.XpnetValueError, match="valid names are: sigmoid, tanh, relu"):
        xn.Dense(3, activation="swish")
