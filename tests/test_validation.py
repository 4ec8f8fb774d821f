"""One checker per kind of argument: the same mistake gives the same error everywhere."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet import _validation as v


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3", None])
def test_check_positive_int_refuses_everything_but_positive_ints(bad):
    with pytest.raises(xn.XpnetValueError, match=r"^units must be a positive int, got "):
        v.check_positive_int(bad, "units")


def test_check_int_accepts_numpy_ints_and_returns_python_ints():
    out = v.check_int(np.int64(3), "n", 0)
    assert out == 3 and type(out) is int
    assert v.check_positive_int(None, "chunks", allow_none=True) is None
    with pytest.raises(xn.XpnetValueError, match="patience must be an int >= 0, got -1"):
        v.check_int(-1, "patience", 0)


@pytest.mark.parametrize(
    "kwargs, good, bad, message",
    [
        ({}, -3.5, float("nan"), "x must be a finite number, got nan"),
        ({"low": 0.0, "low_open": True}, 1e-9, 0, "x must be a finite number > 0, got 0"),
        ({"low": 0.0}, 0, -1, "x must be a finite number >= 0, got -1"),
        ({"low": 0.0, "high": 1.0, "high_open": True}, 0.0, 1.0, r"x must be a float in \[0, 1\), got 1.0"),
        ({"low": 0.0, "high": 1.0, "low_open": True}, 1.0, 0.0, r"x must be a float in \(0, 1\], got 0.0"),
    ],
)
def test_check_number_bounds(kwargs, good, bad, message):
    out = v.check_number(good, "x", **kwargs)
    assert type(out) is float and out == float(good)
    with pytest.raises(xn.XpnetValueError, match=message):
        v.check_number(bad, "x", **kwargs)


@pytest.mark.parametrize("bad", [True, "0.1", None, [0.1], float("inf")])
def test_a_number_argument_of_the_wrong_type_is_a_value_error_everywhere(bad):
    # The README's table documents XpnetValueError for these; every public entry point agrees.
    calls = [
        lambda: xn.GradientDescent(learning_rate=bad),
        lambda: xn.Adam(beta1=bad),
        lambda: xn.Dropout(keep_prob=bad),
        lambda: xn.activations.LeakyReLU(slope=bad),
        lambda: xn.EarlyStopping(min_delta=bad),
        lambda: xn.StepDecay(factor=bad),
        lambda: xn.LayerNorm(eps=bad),
    ]
    for call in calls:
        with pytest.raises(xn.XpnetValueError, match="must be a"):
            call()


def test_a_flag_that_is_not_a_bool_is_a_type_error():
    with pytest.raises(xn.XpnetTypeError, match="return_sequences must be True or False, got 1"):
        xn.LSTM(4, return_sequences=1)
    with pytest.raises(xn.XpnetTypeError, match="causal must be True or False"):
        xn.MultiHeadAttention(4, causal="yes")


def test_holdout_size_keeps_both_sides_non_empty():
    assert v.holdout_size(10, 0.2) == 2
    with pytest.raises(xn.XpnetValueError, match="validation_split=0.01 leaves 10 training and 0 validation"):
        v.holdout_size(10, 0.01)
    with pytest.raises(xn.XpnetValueError, match=r"test_size must be a float in \(0, 1\), got 1"):
        v.holdout_size(10, 1, "test_size", "test")


def test_the_three_splits_share_the_rule():
    X, Y = np.zeros((2, 10)), np.zeros((1, 10))
    from xpnet.data import train_test_split

    with pytest.raises(xn.XpnetValueError, match="test_size=0.01 leaves 10 training and 0 test examples of 10"):
        train_test_split(X, Y, test_size=0.01)
    net = xn.Sequential([xn.Dense(1, activation="sigmoid")], backend="numpy", seed=0)
    with pytest.raises(xn.XpnetValueError, match="validation_split=0.01 leaves 10 training and 0 validation"):
        net.fit(X, Y, epochs=1, validation_split=0.01)
    with pytest.raises(xn.XpnetValueError, match="validation_split=0.01 leaves 10 training and 0 validation"):
        xn.sweep(X, Y, validation_split=0.01, epochs=1, backend="numpy")


def test_output_kind():
    assert v.output_kind(np.zeros((3, 4))) == "multiclass"
    assert v.output_kind(np.array([[0.0, 1.0, 1.0]])) == "binary"
    assert v.output_kind(np.array([[0.0, 0.5, 1.0]])) == "regression"
    assert v.output_kind(np.array([[0.0, 1.0]]), classes=["a", "b", "c"]) == "regression"
    assert v.output_kind(np.array([[3.0, 7.0]]), classes=["no", "yes"]) == "binary"
    assert [v.output_kind_of_activation(a) for a in ("sigmoid", xn.activations.Softmax(), "tanh", None)] == [
        "binary", "multiclass", "regression", "regression"]
    for kind, activation in v.OUTPUT_ACTIVATIONS.items():
        assert v.output_kind_of_activation(activation) == kind
