"""Attention over sequences ``(d, m, T)``: sinusoidal positions and multi-head attention
(self-attention, causal or not, and cross-attention), with padding masks.

A padding mask is ``(m, T_k)``: 1 (or True) where key step u of example j is a real token,
0 where it is padding; the masked keys get attention weight 0. :func:`padding_mask` makes
one from token ids, the id 0 being padding (Keras's ``mask_zero=True``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from array_api_compat import array_namespace, device

from .. import initializers as _initializers
from .._validation import check_bool
from ..backends.kernels import kernels_of
from ..errors import ShapeError, XpnetTypeError, XpnetValueError
from .base import Layer, register_layer
from .sequence import SequenceInput, flat, positive_int, require_sequence_shape, seq_matmul

__all__ = ["PositionalEncoding", "MultiHeadAttention", "padding_mask"]

# What a masked score becomes: exp(-1e9 - max) is exactly 0 in float32 and float64, so a
# masked position gets probability 0 and gradient 0, without the inf - inf NaNs of -inf.
_MASKED = 1e9


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


def padding_mask(ids):
    """The ``(m, T)`` mask of token ids ``(m, T)``: True for a real token, False for the id 0."""
    return ids != 0


def check_mask(mask, m: int, T: int, what="mask"):
    """Check a key mask's shape ``(m, T)`` (its values: 1/True keep, 0/False hide)."""
    if mask is None:
        return None
    if tuple(mask.shape) != (m, T):
        raise ShapeError(
            f"{what} must have shape (m, T_keys) = ({m}, {T}) (1 for a real step, 0 for padding), "
            f"got {tuple(mask.shape)}"
        )
    return mask


class AttentionCache(NamedTuple):
    Xq: object  # where the queries come from (d, m, T_q)
    Xkv: object  # where the keys and values come from (d, m, T_k); Xq itself in self-attention
    Q: object  # per head (m, h, T_q, d_head)
    K: object  # (m, h, T_k, d_head)
    V: object
    P: object  # attention weights (m, h, T_q, T_k)
    ctx: object  # heads concatenated back, (d, m, T_q)


@register_layer
class MultiHeadAttention(SequenceInput, Layer):
    """Multi-head scaled dot-product attention over the T axis.

    Q = Wq Xq + bq, K = Wk Xkv + bk, V = Wv Xkv + bv (each ``(d_model, m, T)``), split into
    ``heads`` heads of d_head = d_model / heads features; per head
    softmax(Q K^T / sqrt(d_head) - masked) V, the heads concatenated and mixed by Wo, bo.
    In a network (``forward``) it is self-attention, Xq = Xkv = X; :meth:`attend` takes the
    queries from one sequence and the keys/values from another (cross-attention, e.g. a
    decoder attending over an encoder's output).

    Parameters
    ----------
    d_model : int
        Features of the inputs and of the output.
    heads : int, optional
        Number of heads; must divide d_model.
    causal : bool, optional
        Step t attends only to steps <= t (a decoder's look-ahead mask); self-attention only.
    init : str, optional
        Initialiser of the four weight matrices (default ``"xavier"``).

    Notes
    -----
    Parameters: ``Wq, Wk, Wv, Wo (d_model, d_model)`` and ``bq, bk, bv, bo (d_model, 1)``.
    Shapes: ``(d_model, m, T) -> (d_model, m, T)``; in :meth:`attend`,
    ``(d_model, m, T_q), (d_model, m, T_k) -> (d_model, m, T_q)``.
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

    def forward(self, A_prev, training=False, mask=None):
        """Self-attention of ``A_prev`` ``(d_model, m, T)``; ``mask`` ``(m, T)`` hides padding."""
        return self.attend(A_prev, A_prev, mask=mask, causal=self.causal)

    def backward(self, dA, cache, need_dA_prev=True):
        dXq, dXkv, grads = self.backward_attend(dA, cache, need_dA_prev)
        return ((dXq + dXkv) if need_dA_prev else None), grads

    def attend(self, Xq, Xkv, mask=None, causal=False):
        """Attention of the queries of ``Xq`` over the keys/values of ``Xkv``.

        Parameters
        ----------
        Xq : array, shape (d_model, m, T_q)
        Xkv : array, shape (d_model, m, T_k)
        mask : array, shape (m, T_k), optional
            1 for the key steps to attend to, 0 for padding.
        causal : bool
            Also hide key steps u > t from query step t (needs T_q == T_k).

        Returns
        -------
        out : array, shape (d_model, m, T_q)
        cache : AttentionCache
            For :meth:`backward_attend`.
        """
        xp = array_namespace(Xq, Xkv)
        Tq, Tk = Xq.shape[2], Xkv.shape[2]
        if Xkv.shape[0] != self.d_model or Xq.shape[0] != self.d_model or Xq.shape[1] != Xkv.shape[1]:
            raise ShapeError(
                f"MultiHeadAttention(d_model={self.d_model}) needs queries and keys of shape ({self.d_model}, m, T) "
                f"with the same m, got {tuple(Xq.shape)} and {tuple(Xkv.shape)}"
            )
        mask = check_mask(mask, Xq.shape[1], Tk)
        Q = self._to_heads(xp, self._project(xp, "q", Xq))
        K, V = (self._to_heads(xp, self._project(xp, n, Xkv)) for n in "kv")
        scale = 1.0 / math.sqrt(self.d_model // self.heads)
        S = (Q @ _swap(xp, K)) * scale  # (m, h, T_q, T_k): S[.., t, u] = q_t . k_u
        if causal:
            if Tq != Tk:
                raise ShapeError(f"causal attention needs as many query as key steps, got {Tq} and {Tk}")
            steps = xp.arange(Tq, device=device(S))
            future = xp.reshape(steps, (1, Tq)) > xp.reshape(steps, (Tq, 1))  # u > t: not yet seen
            S = S - _MASKED * xp.astype(future, S.dtype)
        if mask is not None:
            hidden = 1.0 - xp.astype(xp.reshape(mask, (mask.shape[0], 1, 1, Tk)), S.dtype)
            S = S - _MASKED * hidden
        P = kernels_of(S).softmax_rows(S)
        ctx = self._from_heads(xp, P @ V)
        out = seq_matmul(self.params["Wo"], ctx) + xp.reshape(self.params["bo"], (self.d_model, 1, 1))
        return out, AttentionCache(Xq, Xkv, Q, K, V, P, ctx)

    def backward_attend(self, dA, cache, need_dX=True):
        """dJ/dXq, dJ/dXkv (None unless ``need_dX``) and the parameter gradients."""
        xp = array_namespace(dA)
        grads = {"Wo": flat(dA) @ flat(cache.ctx).T, "bo": xp.sum(flat(dA), axis=1, keepdims=True)}
        dC = self._to_heads(xp, seq_matmul(self.params["Wo"].T, dA))  # (m, h, T_q, d_head)
        P = cache.P
        dP = dC @ _swap(xp, cache.V)
        dV = _swap(xp, P) @ dC
        scale = 1.0 / math.sqrt(self.d_model // self.heads)
        dS = kernels_of(dP).softmax_rows_backward(dP, P, scale)  # masked entries have P = 0: dS = 0
        dQ = dS @ cache.K
        dK = _swap(xp, dS) @ cache.Q
        dXq = dXkv = None
        for n, dH, X in (("q", dQ, cache.Xq), ("k", dK, cache.Xkv), ("v", dV, cache.Xkv)):
            dProj = self._from_heads(xp, dH)
            grads["W" + n] = flat(dProj) @ flat(X).T
            grads["b" + n] = xp.sum(flat(dProj), axis=1, keepdims=True)
            if need_dX:
                term = seq_matmul(self.params["W" + n].T, dProj)
                if n == "q":
                    dXq = term
                else:
                    dXkv = term if dXkv is None else dXkv + term
        return dXq, dXkv, grads

    def get_config(self):
        init_name = _initializers.name_of(self.init_name)
        if init_name is None:
            raise XpnetTypeError("a MultiHeadAttention with a custom init callable cannot be serialised")
        return {"d_model": self.d_model, "heads": self.heads, "causal": self.causal, "init": init_name}


def _swap(xp, A):
    """Transpose the last two axes of a 4-D batch of matrices."""
    return xp.permute_dims(A, (0, 1, 3, 2))
