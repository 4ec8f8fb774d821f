"""Padding masks, cross-attention, the decoder block and CrossAttention: loop references and
float64 gradient checks (into the queries, the memory and every parameter)."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from layer_gradcheck import check_layer_gradients

D, M, TQ, TK = 4, 3, 3, 5


def _softmax(s):
    e = np.exp(s - s.max())
    return e / e.sum()


def attention_loop(Xq, Xkv, p, heads, mask=None, causal=False):
    """One example, one head, one query at a time."""
    d = Xq.shape[0]
    dh = d // heads
    out = np.zeros((d, Xq.shape[1], Xq.shape[2]))
    for j in range(Xq.shape[1]):
        Q = p["Wq"] @ Xq[:, j, :] + p["bq"]
        K = p["Wk"] @ Xkv[:, j, :] + p["bk"]
        V = p["Wv"] @ Xkv[:, j, :] + p["bv"]
        ctx = np.zeros((d, Xq.shape[2]))
        for h in range(heads):
            rows = slice(h * dh, (h + 1) * dh)
            for t in range(Xq.shape[2]):
                keep = [u for u in range(Xkv.shape[2])
                        if (mask is None or mask[j, u]) and (not causal or u <= t)]
                scores = np.array([Q[rows, t] @ K[rows, u] / np.sqrt(dh) for u in keep])
                w = _softmax(scores)
                ctx[rows, t] = sum(wi * V[rows, u] for wi, u in zip(w, keep))
        out[:, j, :] = p["Wo"] @ ctx + p["bo"]
    return out


def _attention(backend, heads=2, cls=xn.MultiHeadAttention, T=TQ):
    layer = cls(D, heads)
    backend = xn.Sequential([layer], input_size=(D, T), backend=backend, dtype="float64", seed=4).backend
    g = np.random.default_rng(9)
    for k in layer.params:  # nonzero biases: every term of the gradient counts
        if k.startswith("b"):
            layer.params[k] = backend.asarray(g.normal(size=(D, 1)), "float64")
    return layer


def _mask():
    mask = np.ones((M, TK), dtype=bool)
    mask[0, 3:] = False
    mask[2, 1:] = False  # one real key only
    return mask


def _data():
    g = np.random.default_rng(0)
    return g.normal(size=(D, M, TQ)), g.normal(size=(D, M, TK))


def test_cross_attention_with_a_mask_equals_the_loop(backend):
    layer = _attention(backend)
    Xq, Xkv = _data()
    p = {k: xn.to_numpy(v) for k, v in layer.params.items()}
    with backend.context():
        out, _ = layer.attend(backend.asarray(Xq, "float64"), backend.asarray(Xkv, "float64"),
                              mask=backend.asarray(_mask()))
    np.testing.assert_allclose(xn.to_numpy(out), attention_loop(Xq, Xkv, p, 2, _mask()), rtol=1e-11, atol=1e-12)


def test_self_attention_with_padding_and_causal_masks_equals_the_loop():
    layer = xn.MultiHeadAttention(D, heads=2, causal=True)
    xn.Sequential([layer], input_size=(D, TK), backend="numpy", dtype="float64", seed=1)
    X = np.random.default_rng(1).normal(size=(D, M, TK))
    out, _ = layer.forward(X, mask=_mask())
    p = {k: np.asarray(v) for k, v in layer.params.items()}
    np.testing.assert_allclose(out, attention_loop(X, X, p, 2, _mask(), causal=True), rtol=1e-11, atol=1e-12)


def test_masked_keys_do_not_matter():
    layer = _attention("numpy")
    Xq, Xkv = _data()
    out1, _ = layer.attend(Xq, Xkv, mask=_mask())
    Xkv2 = Xkv.copy()
    Xkv2[:, 0, 3:] = 100.0  # change only masked steps
    out2, _ = layer.attend(Xq, Xkv2, mask=_mask())
    np.testing.assert_allclose(out1, out2, rtol=1e-13, atol=1e-13)


def test_padding_mask_from_token_ids():
    ids = np.array([[3, 1, 0, 0], [2, 0, 0, 0]])
    np.testing.assert_array_equal(xn.padding_mask(ids), ids != 0)


@pytest.mark.parametrize("masked", [False, True])
def test_attend_gradients(backend, masked):
    layer = _attention(backend)
    Xq, Xkv = _data()
    mask = _mask() if masked else None

    def forward(layer, Xq, Xkv, mask=None):
        out, cache = layer.attend(Xq, Xkv, mask=mask)
        return [out], cache

    def backward(layer, d, cache):
        dXq, dXkv, grads = layer.backward_attend(d[0], cache)
        return {"Xq": dXq, "Xkv": dXkv}, grads

    inputs = {"Xq": Xq, "Xkv": Xkv, **({"mask": mask} if masked else {})}
    check_layer_gradients(layer, backend, inputs, forward, backward, skip=("mask",))


def test_self_attention_gradients_with_padding_and_causal_masks(backend):
    layer = xn.MultiHeadAttention(D, heads=2, causal=True)
    xn.Sequential([layer], input_size=(D, TK), backend=backend, dtype="float64", seed=1)
    X = np.random.default_rng(1).normal(size=(D, M, TK))

    def forward(layer, X, mask):
        out, cache = layer.forward(X, mask=mask)
        return [out], cache

    def backward(layer, d, cache):
        dX, grads = layer.backward(d[0], cache)
        return {"X": dX}, grads

    check_layer_gradients(layer, backend, {"X": X, "mask": _mask()}, forward, backward, skip=("mask",))


def _memory_layer(cls, backend, **kwargs):
    layer = cls(D, heads=2, **kwargs)
    backend = xn.get_backend(backend) if isinstance(backend, str) else backend
    with backend.context():
        layer.build((D, TQ), backend=backend, dtype="float64", rng=np.random.default_rng(2))
    return layer


@pytest.mark.parametrize("cls,kwargs", [(xn.TransformerDecoderBlock, {"d_ff": 3}),
                                        (xn.TransformerDecoderBlock, {"d_ff": 3, "eps": 1e-6}),
                                        (xn.CrossAttention, {})])
def test_memory_layers_gradients_into_queries_memory_and_parameters(backend, cls, kwargs):
    layer = _memory_layer(cls, backend, **kwargs)
    Xq, Xkv = _data()

    def forward(layer, X, memory, mask):
        out, cache = layer.forward_with_memory(X, memory, memory_mask=mask)
        return [out], cache

    def backward(layer, d, cache):
        dX, dM, grads = layer.backward_with_memory(d[0], cache)
        return {"X": dX, "memory": dM}, grads

    check_layer_gradients(layer, backend, {"X": Xq, "memory": Xkv, "mask": _mask()}, forward, backward,
                          skip=("mask",))


def test_cross_attention_output_stacks_the_query_and_its_context():
    layer = _memory_layer(xn.CrossAttention, "numpy")
    Xq, Xkv = _data()
    out, _ = layer.forward_with_memory(Xq, Xkv, memory_mask=_mask())
    p = {k: np.asarray(v) for k, v in layer.params.items()}
    np.testing.assert_allclose(out[:D], Xq)
    np.testing.assert_allclose(out[D:], attention_loop(Xq, Xkv, p, 2, _mask()), rtol=1e-11, atol=1e-12)
    assert layer.output_shape == (2 * D, TQ)


def test_memory_layers_refuse_sequential():
    with pytest.raises(xn.XpnetTypeError, match="Seq2Seq"):
        xn.Sequential([xn.TransformerDecoderBlock(4)], input_size=(4, 3), backend="numpy").predict_proba(
            np.zeros((4, 2, 3)))


def test_bad_masks_and_shapes():
    layer = _attention("numpy")
    Xq, Xkv = _data()
    with pytest.raises(xn.ShapeError, match=r"mask must have shape \(m, T_keys\) = \(3, 5\)"):
        layer.attend(Xq, Xkv, mask=np.ones((3, 3)))
    with pytest.raises(xn.ShapeError, match="same m"):
        layer.attend(Xq, Xkv[:, :2])
    with pytest.raises(xn.ShapeError, match="causal attention needs as many"):
        layer.attend(Xq, Xkv, causal=True)
