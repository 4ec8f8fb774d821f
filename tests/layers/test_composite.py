"""Composite layers hold their sub-layers: one array per parameter, no copies to keep in step."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from test_sequence_layers import TD, _targets, check_gradients


def _block_net(backend="numpy", **kwargs):
    return xn.Sequential([TD(4), xn.TransformerEncoderBlock(4, heads=2, d_ff=3, **kwargs), TD(2, "softmax")],
                         input_size=(3, 5), backend=backend, dtype="float64", seed=1)


def test_block_parameters_are_the_sub_layers_arrays():
    net = _block_net()
    block = net.layers[1]
    assert block.params["Wq"] is block.attention.params["Wq"]
    assert block.params["W_ff"] is block.ff.hidden.params["W"]
    assert block.params["gamma_ff"] is block.ln_ff.params["gamma"]
    new = {k: np.asarray(xn.to_numpy(v)) + 1.0 for k, v in net.parameters().items()}
    net.set_parameters(new)
    # A write through the network lands in the sub-layer that computes with it.
    np.testing.assert_array_equal(block.attention.params["Wk"], new["Wk2"])
    np.testing.assert_array_equal(block.ln_attn.params["beta"], new["beta_attn2"])


def test_fit_updates_reach_the_sub_layers():
    net = _block_net()
    X = np.random.default_rng(0).normal(size=(3, 6, 5))
    before = np.array(net.layers[1].ff.out.params["W"])
    net.fit(X, _targets(net, 6), epochs=2, learning_rate=0.1)
    assert not np.allclose(before, net.layers[1].ff.out.params["W"])
    assert net.layers[1].params["W_out"] is net.layers[1].ff.out.params["W"]


def test_time_distributed_shares_the_wrapped_layers_dict():
    net = xn.Sequential([TD(3)], input_size=(2, 4), backend="numpy", dtype="float64", seed=0)
    td = net.layers[0]
    net.set_parameters({"W1": np.ones((3, 2)), "b1": np.zeros((3, 1))})
    assert td.params is td.layer.params
    np.testing.assert_array_equal(td.layer.params["W"], np.ones((3, 2)))


def test_param_view_rejects_new_or_removed_names():
    block = _block_net().layers[1]
    with pytest.raises(xn.XpnetValueError, match="no parameter 'Wz'"):
        block.params["Wz"] = 1.0
    with pytest.raises(xn.XpnetValueError, match="replaced, not removed"):
        del block.params["Wq"]


def test_eps_reaches_both_layer_norms_and_survives_the_config():
    block = xn.TransformerEncoderBlock(4, heads=2, eps=1e-6, dropout=0.1)
    assert block.ln_attn.eps == block.ln_ff.eps == 1e-6
    again = xn.layers.layer_from_config("TransformerEncoderBlock", block.get_config())
    assert (again.eps, again.dropout, again.ln_ff.eps) == (1e-6, 0.1, 1e-6)


def test_eps_changes_the_output():
    X = np.random.default_rng(0).normal(size=(3, 2, 5)) * 1e-3  # small variance: eps matters
    a = _block_net(eps=1e-5).predict_proba(X)
    b = _block_net(eps=1e-2).predict_proba(X)
    assert np.abs(a - b).max() > 1e-3


def test_block_dropout_acts_in_training_only(backend):
    net = _block_net(backend, dropout=0.5)
    X = np.random.default_rng(0).normal(size=(3, 4, 5))
    with backend.context():
        Xd = backend.asarray(X, "float64")
        infer1, _ = net.forward(Xd, training=False)
        infer2, _ = net.forward(Xd, training=False)
        train, _ = net.forward(Xd, training=True)
    np.testing.assert_array_equal(xn.to_numpy(infer1), xn.to_numpy(infer2))
    assert np.abs(xn.to_numpy(train) - xn.to_numpy(infer1)).max() > 1e-3
    np.testing.assert_allclose(xn.to_numpy(infer1), _block_net("numpy").predict_proba(X), rtol=1e-12)


def test_block_with_eps_passes_the_gradient_check(backend):
    net = _block_net(backend, eps=1e-6)
    X = np.random.default_rng(0).normal(size=(3, 2, 5))
    check_gradients(net, X, _targets(net, 2))


@pytest.mark.parametrize("bad", [-0.1, 1.0, "0.1", True])
def test_bad_dropout_rates(bad):
    with pytest.raises(xn.XpnetError, match="dropout"):
        xn.TransformerEncoderBlock(4, dropout=bad)


def test_bad_eps():
    with pytest.raises(xn.XpnetValueError, match="eps"):
        xn.TransformerEncoderBlock(4, eps=0.0)
