"""Element-wise gradient clipping (``clip_value=``), the course's ``clip(gradients, maxValue)``."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn


def _net(backend):
    return xn.Sequential([xn.SimpleRNN(5, return_sequences=True), xn.TimeDistributed(xn.Dense(3, activation="softmax"))],
                         input_size=(3, 6), backend=backend, dtype="float64", seed=0)


def _data():
    g = np.random.default_rng(1)
    X = g.normal(size=(3, 4, 6)) * 5.0  # large inputs: large gradients, so clipping bites
    Y = np.eye(3)[:, g.integers(0, 3, size=(4, 6))]
    return X, Y


def test_one_step_equals_clipping_by_hand(backend):
    X, Y = _data()
    net = _net(backend)
    params = {k: xn.to_numpy(v) for k, v in net.parameters().items()}
    grads = {k: xn.to_numpy(v) for k, v in net.gradients(X, Y).items()}
    assert max(np.abs(g).max() for g in grads.values()) > 0.05  # the clip below changes something
    net.fit(X, Y, epochs=1, learning_rate=0.5, clip_value=0.05)
    for k, W in params.items():
        expected = W - 0.5 * np.clip(grads["d" + k], -0.05, 0.05)
        np.testing.assert_allclose(xn.to_numpy(net.parameters()[k]), expected, rtol=1e-12, atol=1e-14, err_msg=k)


def test_clip_norm_then_clip_value():
    X, Y = _data()
    net = _net("numpy")
    params = {k: np.array(v) for k, v in net.parameters().items()}
    grads = net.gradients(X, Y)
    norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    scale = min(1.0, 0.5 / norm)
    assert scale < 1.0
    net.fit(X, Y, epochs=1, learning_rate=0.5, clip_norm=0.5, clip_value=0.02)
    for k, W in params.items():
        expected = W - 0.5 * np.clip(grads["d" + k] * scale, -0.02, 0.02)
        np.testing.assert_allclose(net.parameters()[k], expected, rtol=1e-10, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("bad", [0, -1.0, "5", True])
def test_bad_clip_value(bad):
    X, Y = _data()
    with pytest.raises(xn.XpnetError, match="clip_value"):
        _net("numpy").fit(X, Y, epochs=1, clip_value=bad)
