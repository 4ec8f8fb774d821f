"""Gradient checks of one layer's hand-written backward pass, for layers with several inputs
or outputs (initial states, final states, a memory, masks), in float64.

J = sum_k <R_k, output_k> with fixed random R_k, so dJ/d output_k = R_k: the backward pass
is fed R_k and its gradients into every input and parameter are compared with centred
differences of J (relative error < 1e-7). The centred differences, the oracle, run on NumPy
(thousands of small forward passes); the backward pass under test runs on ``backend``.
"""

from __future__ import annotations

import numpy as np

import xpnet as xn

from gradcheck import numeric_gradient, relative_error


def check_layer_gradients(layer, backend, inputs, forward, backward, tol=1e-7, eps=1e-6, seed=7, skip=()):
    """``forward(layer, **device_inputs) -> (outputs, cache)``; ``backward(layer, d_outputs, cache)
    -> (d_inputs: dict, grads: dict)``. ``inputs`` maps names to float64 host arrays (or
    fixed non-differentiable values under names in ``skip``, e.g. masks)."""
    host_params = {k: xn.to_numpy(v).astype(np.float64) for k, v in layer.params.items()}

    oracle = xn.get_backend("numpy")

    def outputs_at(values, params, on=backend):
        def dev(x):
            return on.asarray(x, "float64")

        for k, v in params.items():
            layer.params[k] = dev(v)
        with on.context():
            outs, cache = forward(layer, **{k: (dev(v) if k not in skip else on.asarray(v)) for k, v in values.items()})
        return outs, cache

    outs, cache = outputs_at(inputs, host_params)
    g = np.random.default_rng(seed)
    R = [g.normal(size=tuple(o.shape)) for o in outs]
    with backend.context():
        d_inputs, grads = backward(layer, [backend.asarray(r, "float64") for r in R], cache)
    d_inputs = {k: xn.to_numpy(v) for k, v in d_inputs.items()}
    grads = {k: xn.to_numpy(v) for k, v in grads.items()}

    def J(values, params):
        outs, _ = outputs_at(values, params, oracle)
        return float(sum(np.sum(np.asarray(o) * r) for o, r in zip(outs, R)))

    bad = {}
    for name in inputs:
        if name in skip:
            continue
        numeric = numeric_gradient(lambda v, name=name: J({**inputs, name: v}, host_params), inputs[name], eps)
        err = relative_error(d_inputs[name], numeric)
        if not err < tol:
            bad["d" + name] = err
    for name in host_params:
        numeric = numeric_gradient(lambda v, name=name: J(inputs, {**host_params, name: v}), host_params[name], eps)
        analytic = grads[name]
        # An exactly-zero gradient (attention's key bias): the analytic one must be zero to
        # rounding; the central difference is left with the forward's rounding over eps.
        if np.abs(numeric).max() < 1e-8 and np.abs(analytic).max() < 1e-12:
            continue
        err = relative_error(analytic, numeric)
        if not err < tol:
            bad[name] = err
    outputs_at(inputs, host_params)  # leave the layer as it was
    assert not bad, f"gradient check failed (relative error >= {tol}): {bad}"
