"""Property tests: whatever arrays a user passes, every public function either works or
raises an :class:`xpnet.XpnetError` (never a bare NumPy/Python exception), and finite
input never comes back as NaN.

Values are drawn within +-1e6 (the activations and cross-entropies are promised finite far
beyond the |z| <= 1e4 of the issue); shapes, dtypes (float32/64, int, bool, complex, str,
object, nested lists) and NaN/inf placement are random.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import xpnet as xn

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ["float64", "float32", "int64", "bool", "complex128", "str", "object", "list"]
FLOAT_KINDS = ("float64", "float32", "complex128", "list")


@st.composite
def user_arrays(draw, good_shape=None, good_values=None):
    """(value passed by the user, whether every entry is a finite number)."""
    # Valid shapes and values three times in four, so that the success path is well explored.
    if good_shape is not None and draw(st.integers(0, 3)) > 0:
        shape = good_shape
    else:
        shape = draw(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    if good_values is not None and shape == good_shape and draw(st.integers(0, 3)) > 0:
        values = draw(good_values(shape))
    else:
        values = draw(arrays(np.float64, shape, elements=st.floats(-1e6, 1e6)))
    kind = draw(st.one_of(st.sampled_from(["float64", "float32"]), st.sampled_from(KINDS)))
    finite = True
    if kind in FLOAT_KINDS and values.size and draw(st.integers(0, 3)) == 0:
        values = values.copy()
        values.flat[draw(st.integers(0, values.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        finite = False
    if kind == "list":
        return values.tolist(), finite
    if kind == "str":
        return values.astype(str), finite
    if kind == "object":
        return values.astype(object), finite
    if kind == "bool":
        return values > 0, finite
    return values.astype(kind), finite


def zero_one(shape):
    return arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0]))


def one_hot(shape):
    """One-hot columns of shape (k, m) (classes in rows, one example per column)."""
    k, m = shape
    return arrays(np.int64, (m,), elements=st.integers(0, k - 1)).map(lambda idx: np.eye(k)[:, idx])


def _no_nan(out):
    out = xn.to_numpy(out)
    return not (np.issubdtype(out.dtype, np.floating) and np.isnan(out).any())


def _calls(fn, finite=True):
    """Run fn; an XpnetError is an allowed answer (returns None), anything else propagates.

    With non-finite input (NaN/inf), NumPy's own RuntimeWarning ("invalid value") is allowed:
    NaN in, NaN out is the array library's answer where xpnet does not check (activations).
    """
    try:
        with warnings.catch_warnings():
            if not finite:
                warnings.simplefilter("ignore", RuntimeWarning)
            out = fn()
    except xn.XpnetError as exc:
        event(f"raised {type(exc).__name__}")
        return None, False
    event("succeeded")
    return out, True


BACKENDS = st.sampled_from(["numpy", "array_api_strict"])


def _net(output="sigmoid", n_out=1, dtype="float64", backend="numpy"):
    return xn.Sequential([xn.Dense(3, activation="relu"), xn.Dense(n_out, activation=output)],
                         input_size=2, backend=backend, dtype=dtype, seed=0)


@SETTINGS
@given(X=user_arrays(good_shape=(2, 5)), Y=user_arrays(good_shape=(1, 5), good_values=zero_one),
       dtype=st.sampled_from(["float32", "float64"]), lr=st.sampled_from([1e-3, 0.1, 10.0]), backend=BACKENDS)
def test_fit_succeeds_or_raises_an_xpnet_error(X, Y, dtype, lr, backend):
    (X, x_finite), (Y, y_finite) = X, Y
    net = _net(dtype=dtype, backend=backend)
    hist, ok = _calls(lambda: net.fit(X, Y, epochs=2, learning_rate=lr, batch_size=3))
    if ok:
        assert x_finite and y_finite  # non-finite data never trains silently
        assert all(np.isfinite(c) for c in hist.costs)
    assert all(np.isfinite(xn.to_numpy(W)).all() for W in net.parameters().values())


@SETTINGS
@given(X=user_arrays(good_shape=(2, 4)), output=st.sampled_from(["sigmoid", "softmax", "linear", "tanh"]),
       dtype=st.sampled_from(["float32", "float64"]), backend=BACKENDS)
def test_predict_and_predict_proba_never_give_nan_for_finite_input(X, output, dtype, backend):
    (X, finite) = X
    net = _net(output, 3 if output == "softmax" else 1, dtype, backend)
    for method in (net.predict, net.predict_proba):
        out, ok = _calls(lambda: method(X))
        if ok:
            assert finite
            assert _no_nan(out)


@SETTINGS
@given(X=user_arrays(good_shape=(2, 4)), Y=user_arrays(good_shape=(3, 4), good_values=one_hot),
       loss=st.sampled_from([None, "categorical_crossentropy", "mse"]))
def test_evaluate_succeeds_or_raises_an_xpnet_error(X, Y, loss):
    (X, x_finite), (Y, y_finite) = X, Y
    result, ok = _calls(lambda: _net("softmax", 3).evaluate(X, Y, loss=loss))
    if ok:
        assert x_finite and y_finite
        assert all(np.isfinite(v) for v in result.values())


@SETTINGS
@given(name=st.sampled_from(["W1", "b1", "W2", "b2"]), value=user_arrays(),
       good=st.booleans())
def test_set_parameters_succeeds_or_raises_an_xpnet_error(name, value, good):
    (value, finite) = value
    net = _net()
    params = {k: xn.to_numpy(v) for k, v in net.parameters().items()}
    if good:  # the right shape, with the drawn dtype and values
        value = np.resize(np.asarray(value, dtype=object if isinstance(value, list) else None),
                          params[name].shape)
        finite = value.dtype.kind not in "fc" or bool(np.isfinite(value).all())  # resize may drop the NaN
    params[name] = value
    _, ok = _calls(lambda: net.set_parameters(params))
    if ok:
        assert finite
    assert all(np.isfinite(W).all() for W in net.parameters().values())


@SETTINGS
@given(Z=user_arrays(), name=st.sampled_from(sorted(xn.activations.ACTIVATIONS)))
def test_activations_succeed_or_raise_an_xpnet_error(Z, name):
    (Z, finite) = Z
    A, ok = _calls(lambda: xn.activations.get(name)(Z), finite)
    floats = isinstance(Z, np.ndarray) and Z.dtype in (np.float32, np.float64) and Z.ndim == 2 and Z.size > 0
    if floats and finite:
        assert ok, f"{name} refused a finite {Z.dtype} array of shape {Z.shape}"
    if ok and finite:
        A = xn.to_numpy(A)
        assert A.shape == np.shape(Z)
        assert _no_nan(A) and np.isfinite(A).all()


@SETTINGS
@given(A=user_arrays(good_shape=(3, 4)), Y=user_arrays(good_shape=(3, 4), good_values=one_hot),
       name=st.sampled_from(sorted(xn.losses.LOSSES)))
def test_losses_succeed_or_raise_an_xpnet_error(A, Y, name):
    (A, a_finite), (Y, y_finite) = A, Y
    J, ok = _calls(lambda: xn.losses.get(name)(A, Y), a_finite and y_finite)
    if ok and a_finite and y_finite:
        assert np.isfinite(float(J))


@settings(max_examples=1, deadline=None)
@given(st.just(None))
def test_the_property_harness_would_catch_a_bare_exception(_):
    with pytest.raises(ZeroDivisionError):
        _calls(lambda: 1 / 0)
    assert _calls(lambda: xn.activations.relu("not an array")) == (None, False)
