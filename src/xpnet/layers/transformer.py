"""Transformer blocks (post-norm, as in Vaswani et al. 2017 and the sequence-models course),
and the cross-attention layer of an attention seq2seq decoder.

Each block is a composite layer: it holds its sub-layers (attention, LayerNorm, Dropout, a
position-wise feed-forward net of two Dense layers) and its ``params`` routes every name to
the sub-layer that owns the array. Shapes are ``(d_model, m, T) -> (d_model, m, T)``.

Layers that read an encoder's output (the memory ``(d_model, m, T_enc)``) declare
``uses_memory = True`` and offer ``forward_with_memory`` / ``backward_with_memory``; the
:class:`~xpnet.functional.Seq2Seq` model wires them.
"""

from __future__ import annotations

from typing import NamedTuple

from array_api_compat import array_namespace

from .._validation import check_number
from ..errors import XpnetTypeError
from ._composite import Composite
from .attention import MultiHeadAttention
from .base import Layer, register_layer
from .dense import Dense
from .dropout import Dropout
from .normalization import LayerNorm
from .sequence import SequenceInput, flat, positive_int, require_sequence_shape

__all__ = ["FeedForward", "TransformerEncoderBlock", "TransformerDecoderBlock", "CrossAttention"]

_ATTENTION_NAMES = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


def _rate(dropout) -> float:
    return check_number(dropout, "dropout (the fraction of units dropped)", low=0.0, high=1.0, high_open=True)


def _needs_memory(name):
    raise XpnetTypeError(
        f"{name} reads an encoder's output: use it in the decoder of xn.Seq2Seq(encoder, decoder), not in Sequential"
    )


class FeedForwardCache(NamedTuple):
    hidden: object
    out: object
    m: int
    T: int


class FeedForward(Composite, SequenceInput, Layer):
    """The position-wise feed-forward net relu(W_ff x + b_ff) -> W_out h + b_out, at every step.

    Parameters ``W_ff (d_ff, d_model)`` (He), ``b_ff (d_ff, 1)``, ``W_out (d_model, d_ff)``
    (Xavier), ``b_out (d_model, 1)``.
    """

    has_parameters = True
    regularized = ("W_ff", "W_out")

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.hidden = Dense(positive_int(d_ff, "d_ff"), activation="relu")
        self.out = Dense(positive_int(d_model, "d_model"))

    def build(self, input_shape, *, backend, dtype, rng):
        d, T = require_sequence_shape(input_shape, "FeedForward")
        self.hidden.build((d,), backend=backend, dtype=dtype, rng=rng)
        self.out.build((self.hidden.units,), backend=backend, dtype=dtype, rng=rng)
        self.input_shape, self.output_shape = (d, T), (self.out.units, T)
        self._route({"hidden": {"W": "W_ff", "b": "b_ff"}, "out": {"W": "W_out", "b": "b_out"}})
        return self.output_shape

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        _, m, T = A_prev.shape
        H, c_hidden = self.hidden.forward(flat(A_prev), training)
        F, c_out = self.out.forward(H, training)
        return xp.reshape(F, (F.shape[0], m, T)), FeedForwardCache(c_hidden, c_out, m, T)

    def backward(self, dA, cache, need_dA_prev=True):
        xp = array_namespace(dA)
        grads = {}
        dH, g = self.out.backward(flat(dA), cache.out)
        self._collect("out", g, grads)
        dX, g = self.hidden.backward(dH, cache.hidden, need_dA_prev)
        self._collect("hidden", g, grads)
        dX = None if dX is None else xp.reshape(dX, (dX.shape[0], cache.m, cache.T))
        return dX, grads


def _attention_names(suffix: str) -> dict:
    return {n: n + suffix for n in _ATTENTION_NAMES}


class _Block(Composite, SequenceInput, Layer):
    """What both blocks share: arguments, the feed-forward sub-block and its residual."""

    has_parameters = True

    def __init__(self, d_model, heads, d_ff, dropout, eps):
        super().__init__()
        self.d_model = positive_int(d_model, f"{type(self).__name__} d_model")
        self.heads = heads
        self.d_ff = positive_int(d_ff if d_ff is not None else 4 * d_model, f"{type(self).__name__} d_ff")
        self.dropout = _rate(dropout)
        self.ff = FeedForward(d_model, self.d_ff)
        self.drop_ff = Dropout(1.0 - self.dropout)
        self.ln_ff = LayerNorm(eps)
        self.eps = self.ln_ff.eps

    def _build_parts(self, parts, input_shape, backend, dtype, rng):
        d, T = require_sequence_shape(input_shape, type(self).__name__)
        for part in parts:
            part.build((d, T), backend=backend, dtype=dtype, rng=rng)
        self.input_shape = self.output_shape = (d, T)
        return self.output_shape

    def _ff_forward(self, Y, training):
        F, c_ff = self.ff.forward(Y, training)
        F, c_drop = self.drop_ff.forward(F, training)
        out, c_ln = self.ln_ff.forward(Y + F, training)
        return out, (c_ff, c_drop, c_ln)

    def _ff_backward(self, dA, caches, grads):
        c_ff, c_drop, c_ln = caches
        dS, g = self.ln_ff.backward(dA, c_ln)
        self._collect("ln_ff", g, grads)
        dF, _ = self.drop_ff.backward(dS, c_drop)
        dY, g = self.ff.backward(dF, c_ff)
        self._collect("ff", g, grads)
        return dS + dY

    def _residual_forward(self, Y, sub_out, drop, ln, training):
        sub_out, c_drop = drop.forward(sub_out, training)
        out, c_ln = ln.forward(Y + sub_out, training)
        return out, (c_drop, c_ln)

    def _residual_backward(self, dA, caches, drop, ln, ln_attr, grads):
        c_drop, c_ln = caches
        dS, g = ln.backward(dA, c_ln)
        self._collect(ln_attr, g, grads)
        d_sub, _ = drop.backward(dS, c_drop)
        return dS, d_sub  # dS flows straight down the residual; d_sub into the sub-layer

    def get_config(self):
        return {"d_model": self.d_model, "heads": self.heads, "d_ff": self.d_ff, "dropout": self.dropout,
                "eps": self.eps}


_FF_NAMES = {"W_ff": "W_ff", "b_ff": "b_ff", "W_out": "W_out", "b_out": "b_out"}


@register_layer
class TransformerEncoderBlock(_Block):
    """One Transformer encoder block (post-norm).

    Y1 = LayerNorm(X + Dropout(MultiHeadAttention(X))),
    out = LayerNorm(Y1 + Dropout(W_out relu(W_ff Y1 + b_ff) + b_out)).

    Parameters
    ----------
    d_model, heads : int
        Features and attention heads (heads must divide d_model).
    d_ff : int, optional
        Hidden units of the feed-forward net; default 4 d_model.
    causal : bool, optional
        Causal self-attention (a decoder-only language model).
    dropout : float, optional
        Fraction dropped (training only) from the attention's and the feed-forward net's
        outputs before each residual sum; default 0.
    eps : float, optional
        Both LayerNorms' eps; default 1e-5 (the course uses 1e-6).

    Notes
    -----
    Parameters: the attention's ``Wq bq Wk bk Wv bv Wo bo``; ``gamma_attn, beta_attn``
    (d_model, 1); ``W_ff (d_ff, d_model)``, ``b_ff (d_ff, 1)``, ``W_out (d_model, d_ff)``,
    ``b_out (d_model, 1)``; ``gamma_ff, beta_ff`` (d_model, 1). ``forward`` takes an
    optional padding ``mask`` ``(m, T)``.
    """

    regularized = ("Wq", "Wk", "Wv", "Wo", "W_ff", "W_out")
    takes_mask = True

    def __init__(self, d_model: int, heads: int = 1, d_ff: int | None = None, causal: bool = False,
                 dropout: float = 0.0, eps: float = 1e-5):
        super().__init__(d_model, heads, d_ff, dropout, eps)
        self.attention = MultiHeadAttention(d_model, heads, causal)
        self.causal = causal
        self.drop_attn = Dropout(1.0 - self.dropout)
        self.ln_attn = LayerNorm(eps)

    def build(self, input_shape, *, backend, dtype, rng):
        parts = (self.attention, self.drop_attn, self.ln_attn, self.ff, self.drop_ff, self.ln_ff)
        out = self._build_parts(parts, input_shape, backend, dtype, rng)
        self._route({
            "attention": _attention_names(""),
            "ln_attn": {"gamma": "gamma_attn", "beta": "beta_attn"},
            "ff": _FF_NAMES,
            "ln_ff": {"gamma": "gamma_ff", "beta": "beta_ff"},
        })
        return out

    def forward(self, A_prev, training=False, mask=None):
        att, c_att = self.attention.forward(A_prev, training, mask=mask)
        Y1, c_res = self._residual_forward(A_prev, att, self.drop_attn, self.ln_attn, training)
        out, c_ff = self._ff_forward(Y1, training)
        return out, (c_att, c_res, c_ff)

    def backward(self, dA, cache, need_dA_prev=True):
        c_att, c_res, c_ff = cache
        grads = {}
        dY1 = self._ff_backward(dA, c_ff, grads)
        dS1, d_att = self._residual_backward(dY1, c_res, self.drop_attn, self.ln_attn, "ln_attn", grads)
        dX_att, g = self.attention.backward(d_att, c_att, need_dA_prev)
        self._collect("attention", g, grads)
        return ((dS1 + dX_att) if need_dA_prev else None), grads

    def get_config(self):
        return {**super().get_config(), "causal": self.causal}


@register_layer
class TransformerDecoderBlock(_Block):
    """One Transformer decoder block (post-norm, the course's ``DecoderLayer``).

    Y1 = LayerNorm(X + Dropout(causal self-attention(X))),
    Y2 = LayerNorm(Y1 + Dropout(attention of Y1 over the encoder's output M)),
    out = LayerNorm(Y2 + Dropout(FeedForward(Y2))).

    Parameters
    ----------
    d_model, heads, d_ff, dropout, eps
        As :class:`TransformerEncoderBlock`.

    Notes
    -----
    Parameters: the self-attention's ``Wq_self ... bo_self``, the cross-attention's
    ``Wq_cross ... bo_cross``; ``gamma_self, beta_self, gamma_cross, beta_cross`` and
    ``gamma_ff, beta_ff`` (d_model, 1); ``W_ff, b_ff, W_out, b_out`` as the encoder block.
    Shapes: ``(d_model, m, T_dec)`` and the memory ``(d_model, m, T_enc)`` ->
    ``(d_model, m, T_dec)``. It runs inside :class:`~xpnet.functional.Seq2Seq`.
    """

    regularized = tuple(n + s for s in ("_self", "_cross") for n in ("Wq", "Wk", "Wv", "Wo")) + ("W_ff", "W_out")
    uses_memory = True
    takes_mask = True

    def __init__(self, d_model: int, heads: int = 1, d_ff: int | None = None, dropout: float = 0.0,
                 eps: float = 1e-5):
        super().__init__(d_model, heads, d_ff, dropout, eps)
        self.self_attention = MultiHeadAttention(d_model, heads, causal=True)
        self.drop_self = Dropout(1.0 - self.dropout)
        self.ln_self = LayerNorm(eps)
        self.cross_attention = MultiHeadAttention(d_model, heads)
        self.drop_cross = Dropout(1.0 - self.dropout)
        self.ln_cross = LayerNorm(eps)

    def build(self, input_shape, *, backend, dtype, rng):
        parts = (self.self_attention, self.drop_self, self.ln_self, self.cross_attention, self.drop_cross,
                 self.ln_cross, self.ff, self.drop_ff, self.ln_ff)
        out = self._build_parts(parts, input_shape, backend, dtype, rng)
        self._route({
            "self_attention": _attention_names("_self"),
            "ln_self": {"gamma": "gamma_self", "beta": "beta_self"},
            "cross_attention": _attention_names("_cross"),
            "ln_cross": {"gamma": "gamma_cross", "beta": "beta_cross"},
            "ff": _FF_NAMES,
            "ln_ff": {"gamma": "gamma_ff", "beta": "beta_ff"},
        })
        return out

    def forward(self, A_prev, training=False, mask=None):
        _needs_memory("TransformerDecoderBlock")

    def forward_with_memory(self, A_prev, memory, memory_mask=None, training=False, mask=None):
        """Forward pass over the decoder's input and the encoder's output ``memory``.

        ``memory_mask`` ``(m, T_enc)`` hides the encoder's padding from the cross-attention;
        ``mask`` ``(m, T_dec)`` hides the decoder's own padding from its self-attention.
        """
        a1, c_a1 = self.self_attention.forward(A_prev, training, mask=mask)
        Y1, c_r1 = self._residual_forward(A_prev, a1, self.drop_self, self.ln_self, training)
        a2, c_a2 = self.cross_attention.attend(Y1, memory, mask=memory_mask)
        Y2, c_r2 = self._residual_forward(Y1, a2, self.drop_cross, self.ln_cross, training)
        out, c_ff = self._ff_forward(Y2, training)
        return out, (c_a1, c_r1, c_a2, c_r2, c_ff)

    def backward_with_memory(self, dA, cache, need_dA_prev=True):
        """(dJ/dA_prev or None, dJ/dmemory, parameter gradients)."""
        c_a1, c_r1, c_a2, c_r2, c_ff = cache
        grads = {}
        dY2 = self._ff_backward(dA, c_ff, grads)
        dS2, d_a2 = self._residual_backward(dY2, c_r2, self.drop_cross, self.ln_cross, "ln_cross", grads)
        dY1_q, d_memory, g = self.cross_attention.backward_attend(d_a2, c_a2)
        self._collect("cross_attention", g, grads)
        dY1 = dS2 + dY1_q
        dS1, d_a1 = self._residual_backward(dY1, c_r1, self.drop_self, self.ln_self, "ln_self", grads)
        dX, g = self.self_attention.backward(d_a1, c_a1, need_dA_prev)
        self._collect("self_attention", g, grads)
        return ((dS1 + dX) if need_dA_prev else None), d_memory, grads


@register_layer
class CrossAttention(MultiHeadAttention):
    """Attention of a decoder's steps over an encoder's output, for RNN seq2seq models.

    Each decoder step's state a_t queries the encoder's outputs; the layer returns
    ``[a_t; context_t]`` stacked on the feature axis, the input of Luong et al.'s (2015)
    attentional output layer (a ``TimeDistributed(Dense(V, "softmax"))`` after it).

    Parameters: as :class:`MultiHeadAttention` (``Wq ... bo``). Shapes: ``(d_model, m, T_dec)``
    and the memory ``(d_model, m, T_enc)`` -> ``(2 d_model, m, T_dec)``. ``causal`` is not
    taken: every decoder step may look at the whole input sentence.
    """

    uses_memory = True

    def __init__(self, d_model: int, heads: int = 1, init="xavier"):
        super().__init__(d_model, heads, False, init)

    def build(self, input_shape, *, backend, dtype, rng):
        super().build(input_shape, backend=backend, dtype=dtype, rng=rng)
        self.output_shape = (2 * self.d_model, self.input_shape[1])
        return self.output_shape

    def forward(self, A_prev, training=False, mask=None):
        _needs_memory("CrossAttention")

    def forward_with_memory(self, A_prev, memory, memory_mask=None, training=False, mask=None):
        xp = array_namespace(A_prev, memory)
        context, cache = self.attend(A_prev, memory, mask=memory_mask)
        return xp.concat([A_prev, context], axis=0), cache

    def backward_with_memory(self, dA, cache, need_dA_prev=True):
        d = self.d_model
        dXq, d_memory, grads = self.backward_attend(dA[d:, ...], cache)
        return ((dA[:d, ...] + dXq) if need_dA_prev else None), d_memory, grads

    def get_config(self):
        config = super().get_config()
        del config["causal"]
        return config
