"""The explicit-loop reference and xpnet's vectorized code compute the same numbers.

float64, small random nets, every activation: forward, cost, gradients and one update
agree to 1e-10 between the loop version, the per-example version and ``Sequential``.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet import reference as ref

TOL = 1e-10
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
# (output activation, loss, number of outputs)
OUTPUTS = [("sigmoid", "binary_crossentropy", 1), ("softmax", "categorical_crossentropy", 3),
           ("linear", "mean_squared_error", 2), ("tanh", "mean_squared_error", 2)]


def _problem(hidden, output, n_out, seed=0, m=5):
    g = np.random.default_rng(seed)
    dims = [3, 4, 3, n_out]
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = g.standard_normal((dims[l], dims[l - 1]))
        params[f"b{l}"] = 0.1 * g.standard_normal((dims[l], 1))
    X = g.standard_normal((3, m))
    if output == "softmax":
        Y = np.eye(n_out)[:, g.integers(0, n_out, size=m)]
    elif output == "sigmoid":
        Y = (g.uniform(size=(n_out, m)) > 0.5).astype(np.float64)
    else:
        Y = g.standard_normal((n_out, m))
    return params, X, Y, [hidden, hidden, output]


def _close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("impl", ["loop", "per_example"])
@pytest.mark.parametrize("output,loss,n_out", OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_reference_equals_vectorized(impl, hidden, output, loss, n_out):
    params, X, Y, acts = _problem(hidden, output, n_out)
    impl = ref.IMPLEMENTATIONS[impl]
    vec = ref.IMPLEMENTATIONS["vectorized"]

    AL, caches = impl.forward(params, X, acts)
    AL_v, caches_v = vec.forward(params, X, acts)
    _close(AL, AL_v)
    for l, (c, c_v) in enumerate(zip(caches, caches_v), start=1):
        A_prev, Z, A = c_v
        _close(c[0], A_prev)
        _close(c[2], A)
        # Dense drops Z when neither backward nor a logits loss needs it (memory).
        assert (Z is None) == (acts[l - 1] not in ("sigmoid", "softmax"))
        if Z is not None:
            _close(c[1], Z)

    _close(impl.cost(AL, Y, loss), vec.cost(AL_v, Y, loss))
    # ... and equal to the cost fit reports (fused with the logits for sigmoid/softmax).
    net = ref.vectorized_net(params, acts)
    _close(impl.cost(AL, Y, loss), net.compute_cost(X, Y, loss=loss))

    grads = impl.gradients(params, X, Y, acts, loss)
    grads_v = vec.gradients(params, X, Y, acts, loss)
    assert set(grads) == set(grads_v) == {f"d{k}" for k in params}
    for k in grads:
        _close(grads[k], grads_v[k])

    cost, new = impl.train_step(params, X, Y, acts, 0.1, loss)
    cost_v, new_v = vec.train_step(params, X, Y, acts, 0.1, loss)
    _close(cost, cost_v)
    for k in params:
        _close(new[k], new_v[k])
        _close(impl.update(params, grads, 0.1)[k], params[k] - 0.1 * grads["d" + k])


def test_leaky_relu_slope_is_honoured():
    params, X, Y, _ = _problem("relu", "sigmoid", 1, seed=3)
    acts = [xn.activations.LeakyReLU(slope=0.2), "tanh", "sigmoid"]
    for impl in ("loop", "per_example"):
        g = ref.IMPLEMENTATIONS[impl].gradients(params, X, Y, acts)
        g_v = ref.vectorized_gradients(params, X, Y, acts)
        for k in g:
            _close(g[k], g_v[k])


def test_loop_reference_keeps_float32():
    params, X, Y, acts = _problem("relu", "sigmoid", 1)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    AL, _ = ref.loop_forward(p32, X.astype(np.float32), acts)
    assert AL.dtype == np.float32
    grads = ref.loop_gradients(p32, X.astype(np.float32), Y.astype(np.float32), acts)
    assert all(g.dtype == np.float32 for g in grads.values())
    np.testing.assert_allclose(grads["dW1"], ref.vectorized_gradients(params, X, Y, acts)["dW1"], rtol=1e-4, atol=1e-6)


def test_course_demos_match_numpy():
    g = np.random.default_rng(1)
    a, b = g.standard_normal(1000), g.standard_normal(1000)
    assert ref.loop_dot(a, b) == pytest.approx(float(ref.vectorized_dot(a, b)), rel=1e-12)
    W, x = g.standard_normal((7, 5)), g.standard_normal(5)
    np.testing.assert_allclose(ref.loop_matvec(W, x), ref.vectorized_matvec(W, x), rtol=1e-12)
    np.testing.assert_allclose(ref.loop_exp(a[:50]), ref.vectorized_exp(a[:50]), rtol=1e-12)


def test_bad_inputs_name_the_argument():
    params, X, Y, acts = _problem("relu", "sigmoid", 1)
    with pytest.raises(xn.ShapeError, match="a and b"):
        ref.loop_dot(np.ones(3), np.ones(4))
    with pytest.raises(xn.ShapeError, match="W must be"):
        ref.loop_matvec(np.ones((2, 3)), np.ones(4))
    with pytest.raises(xn.XpnetValueError, match="params must have exactly the keys"):
        ref.loop_forward({"W1": params["W1"]}, X, acts)
    with pytest.raises(xn.ShapeError, match="W1 must be"):
        ref.loop_forward(params, X[:2], acts)
    with pytest.raises(xn.ShapeError, match="Y must have"):
        ref.loop_gradients(params, X, Y[:, :2], acts)
    with pytest.raises(xn.XpnetTypeError, match="params must be a dict"):
        ref.per_example_forward([1], X, acts)


def _numeric_gradients(params, X, Y, acts, loss, h=1e-6):
    """Centred differences of the loop reference's own cost: an oracle for the oracle."""
    out = {}
    for name, P in params.items():
        G = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            plus, minus = dict(params), dict(params)
            plus[name], minus[name] = P.copy(), P.copy()
            plus[name][idx] += h
            minus[name][idx] -= h
            J_plus = ref.loop_cost(ref.loop_forward(plus, X, acts)[0], Y, loss)
            J_minus = ref.loop_cost(ref.loop_forward(minus, X, acts)[0], Y, loss)
            G[idx] = (J_plus - J_minus) / (2 * h)
        out["d" + name] = G
    return out


@pytest.mark.parametrize("impl", ["loop", "per_example"])
def test_reference_does_not_share_xpnets_activation_code(impl, monkeypatch):
    # A sigmoid hidden layer under a linear output: xpnet runs Sigmoid.backward (no fused dZ).
    params, X, Y, _ = _problem("sigmoid", "linear", 2, seed=4)
    acts = ["sigmoid", "sigmoid", "linear"]
    loss = "mean_squared_error"
    expected = _numeric_gradients(params, X, Y, acts, loss)
    reference = ref.IMPLEMENTATIONS[impl]
    honest = reference.gradients(params, X, Y, acts, loss)
    for k in expected:
        np.testing.assert_allclose(honest[k], expected[k], rtol=1e-6, atol=1e-8)

    # Break xpnet's sigmoid derivative (drop the (1 - A) factor).
    monkeypatch.setattr(xn.activations.Sigmoid, "backward", lambda self, dA, Z, A: dA * A)
    monkeypatch.setattr(xn.activations.Sigmoid, "derivative", lambda self, Z: self.forward(Z))
    after = reference.gradients(params, X, Y, acts, loss)
    for k in expected:  # the reference is untouched by the bug ...
        np.testing.assert_allclose(after[k], expected[k], rtol=1e-6, atol=1e-8)
    # The generic kernels (what array-api-strict runs) call the activation's own backward;
    # NumPy's fused kernels keep their own copy of the built-in math.
    broken = ref.vectorized_gradients(params, X, Y, acts, loss, backend="array_api_strict")
    # ... so the parity check catches it: xpnet and the reference now disagree.
    assert not all(np.allclose(broken[k], after[k], rtol=1e-6, atol=1e-8) for k in after)
