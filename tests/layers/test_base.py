"""The layer protocol declared on Layer, and the registry xn.load builds layers from."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet.layers import Layer, layer_from_config, registered_layers


def test_every_public_layer_is_registered_and_follows_the_protocol():
    registry = registered_layers()
    public = [name for name in xn.layers.__all__ if isinstance(getattr(xn.layers, name), type) and name != "Layer"]
    assert set(public) <= set(registry)
    for name, cls in registry.items():
        assert issubclass(cls, Layer), name
        for method in ("build", "forward", "backward", "backward_from_dZ", "logits", "prepare_input",
                       "get_config", "from_config", "parameter_shapes"):
            assert callable(getattr(cls, method)), (name, method)
        assert cls.examples_axis in (0, 1), name
    registry.pop("Dense")  # a copy: the registry itself is untouched
    assert "Dense" in registered_layers()


def test_a_layer_without_forward_or_backward_says_so():
    class Half(Layer):
        pass

    layer = Half()
    with pytest.raises(NotImplementedError, match="Half does not implement forward"):
        layer.forward(np.zeros((1, 1)))
    with pytest.raises(NotImplementedError, match="Half does not implement backward"):
        layer.backward(np.zeros((1, 1)), None)
    with pytest.raises(NotImplementedError, match="Half has no output activation"):
        layer.backward_from_dZ(np.zeros((1, 1)), None)
    assert layer.logits(None) is None


def test_the_default_input_is_course_layout():
    dense = xn.Dense(3)
    backend = xn.get_backend("numpy")
    X, shape = dense.prepare_input([[1.0, 2.0], [3.0, 4.0]], backend=backend, dtype="float64")
    assert shape == (2,) and X.dtype == np.float64
    dense.build((4,), backend=backend, dtype="float64", rng=np.random.default_rng(0))
    with pytest.raises(xn.ShapeError, match="it looks transposed"):
        dense.prepare_input(np.zeros((2, 4)), backend=backend, dtype="float64")


def test_unknown_layer_type():
    with pytest.raises(xn.XpnetValueError, match="unknown layer type 'Dense2'; known: .*Dense"):
        layer_from_config("Dense2", {})
