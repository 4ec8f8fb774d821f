"""Attention: layer normalisation, sinusoidal positions, multi-head self-attention, and the
Transformer encoder block built from them. All act on sequences ``(d, m, T)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from array_api_compat import array_namespace, device

from .. import initializers as _initializers
from .._validation import check_bool, check_positive
from ..errors import ShapeError, XpnetTypeError, XpnetValueError
from .base import Layer, register_layer
from .sequence import SequenceInput, flat, positive_int, require_sequence_shape, seq_matmul

__all__ = ["LayerNorm", "PositionalEncoding", "MultiHeadAttention", "TransformerEncoderBlock"]

# What a masked score becomes: exp(-1e9 - max) is exactly 0 in float32 and float64, so a
# masked position gets probability 0 and gradient 0, without the inf - inf NaNs of -inf.
_MASKED = 1e9


def _feature_column(xp, v, ndim):
    """A (d, 1) parameter shaped to broadcast over (d, m) or (d, m, T)."""
    return xp.reshape(v, (v.shape[0],) + (1,) * (ndim - 1))


def _sum_but_features(xp, A):
    """Sum over every axis but the feature axis 0, as a (d, 1) column."""
    return xp.reshape(xp.sum(A, axis=tuple(range(1, A.ndim))), (A.shape[0], 1))


class LayerNormCache(NamedTuple):
    Xhat: object
    inv_std: object


@register_layer
class LayerNorm(SequenceInput, Layer):
    """Normalise each example's (and step's) feature vector, then scale and shift.

    y = gamma * (x - mean) / sqrt(var + eps) + beta, the mean and variance taken over the
    feature axis 0. Works on ``(d, m)`` and ``(d, m, T)``; parameters ``gamma`` (ones) and
    ``beta`` (zeros), both ``(d, 1)``.
    """

    has_parameters = True
    accepts_2d = True

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = check_positive(eps, "LayerNorm eps")

    def build(self, input_shape, *, backend, dtype, rng):
        self.input_shape = self.output_shape = tuple(input_shape)
        d = self.input_shape[0]
        self.params = {"gamma": backend.asarray([[1.0]] * d, dtype), "beta": backend.asarray([[0.0]] * d, dtype)}
        return self.output_shape

    def parameter_shapes(self):
        d = self.input_shape[0]
        return {"gamma": (d, 1), "beta": (d, 1)}

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        mu = xp.mean(A_prev, axis=0, keepdims=True)
        D = A_prev - mu
        inv_std = 1.0 / xp.sqrt(xp.mean(D * D, axis=0, keepdims=True) + self.eps)
        Xhat = D * inv_std
        gamma = _feature_column(xp, self.params["gamma"], A_prev.ndim)
        beta = _feature_column(xp, self.params["beta"], A_prev.ndim)
        return gamma * Xhat + beta, LayerNormCache(Xhat, inv_std)

    def backward(self, dA, cache, need_dA_prev=True):
        xp = array_namespace(dA)
        Xhat = cache.Xhat
        grads = {"gamma": _sum_but_features(xp, dA * Xhat), "beta": _sum_but_features(xp, dA)}
        if not need_dA_prev:
            return None, grads
        dXhat = dA * _feature_column(xp, self.params["gamma"], dA.ndim)
        dX = cache.inv_std * (
            dXhat - xp.mean(dXhat, axis=0, keepdims=True) - Xhat * xp.mean(dXhat * Xhat, axis=0, keepdims=True)
        )
        return dX, grads

    def get_config(self):
        return {"eps": self.eps}


def sinusoidal_table(xp, d: int, T: int, dtype, dev):
    """PE[i, t] = sin(t / 10000^(2k/d)) for i = 2k, cos(...) for i = 2k + 1; shape (d, T)."""
    i = xp.arange(d, device=dev)
    pairs = xp.astype(i // 2, dtype)
    rate = xp.exp(pairs * (-2.0 * math.log(10000.0) / d))
    t = xp.astype(xp.arange(T, device=dev), dtype)
    angle = xp.reshape(rate, (d, 1)) * xp.reshape(t, (1, T))
    even = xp.reshape(xp.astype(i % 2 == 0, dtype), (d, 1))
    return even * xp.sin(angle) + (1.0 - even) * xp.cos(angle)


@register_layer
class PositionalEncoding(SequenceInput, Layer):
    """Add the sinusoidal position table (Vaswani et al. 2017) to ``(d, m, T)``; no parameters.

    Attention alone is blind to order; this gives every step a distinct, smooth signature.
    """

    def build(self, input_shape, *, backend, dtype, rng):
        self.input_shape = self.output_shape = require_sequence_shape(input_shape, "PositionalEncoding")
        return self.output_shape

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        d, _, T = A_prev.shape
        P = sinusoidal_table(xp, d, T, A_prev.dtype, device(A_prev))
        return A_prev + xp.reshape(P, (d, 1, T)), None

    def backward(self, dA, cache, need_dA_prev=True):
        return (dA if need_dA_prev else None), {}


class AttentionCache(NamedTuple):
    X: object
    Q: object  # per head (m, h, T, d_head)
    K: object
    V: object
    P: object  # attention weights (m, h, T, T)
    ctx: object  # heads concatenated back, (d, m, T)


@register_layer
class MultiHeadAttention(SequenceInput, Layer):
    """Multi-head scaled dot-product self-attention over the T axis.

    Q = Wq X + bq, K = Wk X + bk, V = Wv X + bv (each ``(d_model, m, T)``), split into
    ``heads`` heads of d_head = d_model / heads features; per head
    softmax(Q K^T / sqrt(d_head)) V, with step t attending only to steps <= t when
    ``causal=True``; the heads are concatenated and mixed by Wo, bo.

    Parameters: ``Wq, Wk, Wv, Wo (d_model, d_model)`` and ``bq, bk, bv, bo (d_model, 1)``.
    Shapes: ``(d_model, m, T) -> (d_model, m, T)``.
    """

    has_parameters = True
    regularized = ("Wq", "Wk", "Wv", "Wo")
    _NAMES = ("q", "k", "v", "o")

    def __init__(self, d_model: int, heads: int = 1, causal: bool = False, init="xavier"):
        super().__init__()
        self.d_model = positive_int(d_model, "MultiHeadAttention d_model")
        self.heads = positive_int(heads, "MultiHeadAttention heads")
        if d_model % heads:
            raise XpnetValueError(f"MultiHeadAttention d_model = {d_model} must be divisible by heads = {heads}")
        self.causal = check_bool(causal, "causal")
        self.init_name = init
        self.init = _initializers.get(init)

    def build(self, input_shape, *, backend, dtype, rng):
        d, T = require_sequence_shape(input_shape, "MultiHeadAttention")
        if d != self.d_model:
            raise ShapeError(f"MultiHeadAttention(d_model={self.d_model}) got inputs with {d} features")
        self.input_shape = self.output_shape = (d, T)
        self.params = {}
        for n in self._NAMES:
            self.params["W" + n] = backend.asarray(self.init((d, d), d, rng), dtype)
            self.params["b" + n] = backend.asarray([[0.0]] * d, dtype)
        return self.output_shape

    def parameter_shapes(self):
        d = self.d_model
        return {k: ((d, d) if k[0] == "W" else (d, 1)) for n in self._NAMES for k in ("W" + n, "b" + n)}

    def _to_heads(self, xp, A):
        # (d, m, T) -> (h, d_head, m, T) -> (m, h, T, d_head): a batch of (T, d_head) matrices.
        _, m, T = A.shape
        return xp.permute_dims(xp.reshape(A, (self.heads, self.d_model // self.heads, m, T)), (2, 0, 3, 1))

    def _from_heads(self, xp, H):
        m, _, T, _ = H.shape
        return xp.reshape(xp.permute_dims(H, (1, 3, 0, 2)), (self.d_model, m, T))

    def _project(self, xp, n, X):
        return seq_matmul(self.params["W" + n], X) + xp.reshape(self.params["b" + n], (self.d_model, 1, 1))

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        T = A_prev.shape[2]
        Q, K, V = (self._to_heads(xp, self._project(xp, n, A_prev)) for n in "qkv")
        scale = 1.0 / math.sqrt(self.d_model // self.heads)
        S = (Q @ _swap(xp, K)) * scale  # (m, h, T, T): S[.., t, u] = q_t . k_u
        if self.causal:
            steps = xp.arange(T, device=device(S))
            future = xp.reshape(steps, (1, T)) > xp.reshape(steps, (T, 1))  # u > t: not yet seen
            S = S - _MASKED * xp.astype(future, S.dtype)
        S = S - xp.max(S, axis=-1, keepdims=True)
        E = xp.exp(S)
        P = E / xp.sum(E, axis=-1, keepdims=True)
        ctx = self._from_heads(xp, P @ V)
        out = seq_matmul(self.params["Wo"], ctx) + xp.reshape(self.params["bo"], (self.d_model, 1, 1))
        return out, AttentionCache(A_prev, Q, K, V, P, ctx)

    def backward(self, dA, cache, need_dA_prev=True):
        xp = array_namespace(dA)
        grads = {"Wo": flat(dA) @ flat(cache.ctx).T, "bo": xp.sum(flat(dA), axis=1, keepdims=True)}
        dC = self._to_heads(xp, seq_matmul(self.params["Wo"].T, dA))  # (m, h, T, d_head)
        P = cache.P
        dP = dC @ _swap(xp, cache.V)
        dV = _swap(xp, P) @ dC
        scale = 1.0 / math.sqrt(self.d_model // self.heads)
        # Softmax backward row by row: dS = P * (dP - sum_u dP P).
        dS = P * (dP - xp.sum(dP * P, axis=-1, keepdims=True)) * scale
        dQ = dS @ cache.K
        dK = _swap(xp, dS) @ cache.Q
        Xf = flat(cache.X)
        dX = None
        for n, dH in (("q", dQ), ("k", dK), ("v", dV)):
            dProj = self._from_heads(xp, dH)
            grads["W" + n] = flat(dProj) @ Xf.T
            grads["b" + n] = xp.sum(flat(dProj), axis=1, keepdims=True)
            if need_dA_prev:
                term = seq_matmul(self.params["W" + n].T, dProj)
                dX = term if dX is None else dX + term
        return dX, grads

    def get_config(self):
        init_name = _initializers.name_of(self.init_name)
        if init_name is None:
            raise XpnetTypeError("a MultiHeadAttention with a custom init callable cannot be serialised")
        return {"d_model": self.d_model, "heads": self.heads, "causal": self.causal, "init": init_name}


def _swap(xp, A):
    """Transpose the last two axes of a 4-D batch of matrices."""
    return xp.permute_dims(A, (0, 1, 3, 2))


class BlockCache(NamedTuple):
    attn: object
    ln_attn: object
    Y1: object  # after the first residual + LayerNorm
    H: object  # ReLU hidden layer of the feed-forward net
    ln_ff: object


@register_layer
class TransformerEncoderBlock(SequenceInput, Layer):
    """One Transformer encoder block (post-norm, as in Vaswani et al. 2017).

    Y1 = LayerNorm(X + MultiHeadAttention(X)); out = LayerNorm(Y1 + W_out relu(W_ff Y1 + b_ff) + b_out),
    the feed-forward net applied at every position. Shapes ``(d_model, m, T) -> (d_model, m, T)``.

    Parameters: the attention's ``Wq bq Wk bk Wv bv Wo bo``; ``gamma_attn, beta_attn``
    (d_model, 1); ``W_ff (d_ff, d_model)``, ``b_ff (d_ff, 1)``, ``W_out (d_model, d_ff)``,
    ``b_out (d_model, 1)``; ``gamma_ff, beta_ff`` (d_model, 1).
    """

    has_parameters = True
    regularized = ("Wq", "Wk", "Wv", "Wo", "W_ff", "W_out")

    def __init__(self, d_model: int, heads: int = 1, d_ff: int | None = None, causal: bool = False):
        super().__init__()
        self.attention = MultiHeadAttention(d_model, heads, causal)
        self.d_model, self.heads, self.causal = d_model, heads, causal
        self.d_ff = positive_int(d_ff if d_ff is not None else 4 * d_model, "TransformerEncoderBlock d_ff")
        self.ln_attn = LayerNorm()
        self.ln_ff = LayerNorm()

    def build(self, input_shape, *, backend, dtype, rng):
        d, T = require_sequence_shape(input_shape, "TransformerEncoderBlock")
        self.attention.build((d, T), backend=backend, dtype=dtype, rng=rng)
        self.ln_attn.build((d, T), backend=backend, dtype=dtype, rng=rng)
        self.ln_ff.build((d, T), backend=backend, dtype=dtype, rng=rng)
        self.input_shape = self.output_shape = (d, T)
        self.params = dict(self.attention.params)
        self.params.update({"gamma_attn": self.ln_attn.params["gamma"], "beta_attn": self.ln_attn.params["beta"]})
        self.params["W_ff"] = backend.asarray(_initializers.he((self.d_ff, d), d, rng), dtype)
        self.params["b_ff"] = backend.asarray([[0.0]] * self.d_ff, dtype)
        self.params["W_out"] = backend.asarray(_initializers.xavier((d, self.d_ff), self.d_ff, rng), dtype)
        self.params["b_out"] = backend.asarray([[0.0]] * d, dtype)
        self.params.update({"gamma_ff": self.ln_ff.params["gamma"], "beta_ff": self.ln_ff.params["beta"]})
        return self.output_shape

    def parameter_shapes(self):
        d, f = self.d_model, self.d_ff
        shapes = self.attention.parameter_shapes()
        shapes.update({"gamma_attn": (d, 1), "beta_attn": (d, 1), "W_ff": (f, d), "b_ff": (f, 1),
                       "W_out": (d, f), "b_out": (d, 1), "gamma_ff": (d, 1), "beta_ff": (d, 1)})
        return shapes

    def _sync(self):
        # Sequential assigns self.params; the sub-layers read theirs from it.
        self.attention.params = {k: self.params[k] for k in self.attention.parameter_shapes()}
        self.ln_attn.params = {"gamma": self.params["gamma_attn"], "beta": self.params["beta_attn"]}
        self.ln_ff.params = {"gamma": self.params["gamma_ff"], "beta": self.params["beta_ff"]}

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        self._sync()
        p = self.params
        att, c_att = self.attention.forward(A_prev, training)
        Y1, c_ln1 = self.ln_attn.forward(A_prev + att, training)
        H = xp.maximum(seq_matmul(p["W_ff"], Y1) + xp.reshape(p["b_ff"], (self.d_ff, 1, 1)), 0.0)
        F = seq_matmul(p["W_out"], H) + xp.reshape(p["b_out"], (self.d_model, 1, 1))
        out, c_ln2 = self.ln_ff.forward(Y1 + F, training)
        return out, BlockCache(c_att, c_ln1, Y1, H, c_ln2)

    def backward(self, dA, cache, need_dA_prev=True):
        xp = array_namespace(dA)
        self._sync()
        p = self.params
        dS2, g_ln2 = self.ln_ff.backward(dA, cache.ln_ff)
        grads = {"gamma_ff": g_ln2["gamma"], "beta_ff": g_ln2["beta"]}
        grads["W_out"] = flat(dS2) @ flat(cache.H).T
        grads["b_out"] = xp.sum(flat(dS2), axis=1, keepdims=True)
        dZh = seq_matmul(p["W_out"].T, dS2) * xp.astype(cache.H > 0, dA.dtype)
        grads["W_ff"] = flat(dZh) @ flat(cache.Y1).T
        grads["b_ff"] = xp.sum(flat(dZh), axis=1, keepdims=True)
        dY1 = dS2 + seq_matmul(p["W_ff"].T, dZh)
        dS1, g_ln1 = self.ln_attn.backward(dY1, cache.ln_attn)
        grads.update({"gamma_attn": g_ln1["gamma"], "beta_attn": g_ln1["beta"]})
        dX_att, g_att = self.attention.backward(dS1, cache.attn, need_dA_prev)
        grads.update(g_att)
        return ((dS1 + dX_att) if need_dA_prev else None), grads

    def get_config(self):
        return {"d_model": self.d_model, "heads": self.heads, "d_ff": self.d_ff, "causal": self.causal}
