"""Centred-difference gradient checking, as the course does it (float64)."""

from __future__ import annotations

import numpy as np


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx by centred differences; ``f`` takes a host float64 array and returns a float."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f(x)
        x[i] = old - eps
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2.0 * eps)
    return grad


def relative_error(analytic, numeric) -> float:
    """||a - n|| / (||a|| + ||n||): the course's gradient-check difference."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denom == 0.0 else float(np.linalg.norm(analytic - numeric) / denom)


def numeric_oracle(net, X, Y):
    """The model and data the centred differences run on.

    On a lazy backend each of their thousands of costs would be a separate graph compute,
    so they run on a NumPy twin at the same parameters. What is checked, the backend's own
    backprop, still runs on the backend.
    """
    import copy

    import xpnet as xn

    if net.backend.name != "dask":
        return net, X, Y
    return copy.deepcopy(net).to("numpy"), xn.to_numpy(X), xn.to_numpy(Y)


def check_network_gradients(net, X, Y, loss=None, tol=1e-7):
    """Compare every parameter's backprop gradient with centred differences; returns errors."""
    import xpnet as xn

    params = {k: xn.to_numpy(v).astype(np.float64) for k, v in net.parameters().items()}
    analytic = {k: xn.to_numpy(v) for k, v in net.gradients(X, Y, loss=loss).items()}
    net, X, Y = numeric_oracle(net, X, Y)
    loss = loss if loss is not None else net.loss
    errors = {}
    for name in params:

        def cost_at(value, name=name):
            trial = dict(params)
            trial[name] = value
            net.set_parameters(trial)
            return net.compute_cost(X, Y, loss=loss)

        numeric = numeric_gradient(cost_at, params[name])
        net.set_parameters(params)
        errors[name] = relative_error(analytic["d" + name], numeric)
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"gradient check failed (relative error >= {tol}): {bad}"
    return errors
