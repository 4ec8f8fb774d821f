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
    Q: object  # per head (m, h, T_q, d_head), already scaled by 1/sqrt(d_head)
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

    def _from_heads(self, xp, *H):
        """Per-head arrays (m, h, T, d_head) back to features, stacked: (len(H) d_model, m*T)."""
        m, _, T, _ = H[0].shape
        parts = [xp.permute_dims(Hi, (1, 3, 0, 2)) for Hi in H]  # (h, d_head, m, T) views
        stacked = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
        return xp.reshape(stacked, (len(H) * self.d_model, m * T))

    def _factor(self, n):
        """What projection ``n`` is scaled by: 1/sqrt(d_head) for the queries, else 1."""
        return 1.0 / math.sqrt(self.d_model // self.heads) if n == "q" else 1.0

    def _stacked(self, xp, names):
        """Rows of the projections ``names`` stacked, the queries' scaled by 1/sqrt(d_head).

        Folding the scale into Wq and bq gives scaled queries at no extra pass over the
        scores, and stacking lets one product project all of Q, K and V (self-attention).
        """
        W, b = [], []
        for n in names:
            W.append(self.params["W" + n] * self._factor(n))
            b.append(self.params["b" + n] * self._factor(n))
        return (W[0], b[0]) if len(names) == 1 else (xp.concat(W, axis=0), xp.concat(b, axis=0))

    def _project(self, xp, names, X):
        """The per-head projections ``names`` of X: a tuple of (m, h, T, d_head) arrays."""
        W, b = self._stacked(xp, names)
        Z = seq_matmul(W, X) + xp.reshape(b, (W.shape[0], 1, 1))
        _, m, T = X.shape
        k, h = len(names), self.heads
        Z = xp.permute_dims(xp.reshape(Z, (k, h, self.d_model // h, m, T)), (0, 3, 1, 4, 2))
        return tuple(Z[i, ...] for i in range(k))

    def forward(self, A_prev, training=False, mask=None):
        """Self-attention of ``A_prev`` ``(d_model, m, T)``; ``mask`` ``(m, T)`` hides padding."""
        return self.attend(A_prev, A_prev, mask=mask, causal=self.causal)

    def backward(self, dA, cache, need_dA_prev=True):
        dXq, dXkv, grads = self._backward(dA, cache, need_dA_prev, merge_dX=True)
        return (dXq if dXkv is None else dXq + dXkv), grads

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
        if causal and Tq != Tk:
            raise ShapeError(f"causal attention needs as many query as key steps, got {Tq} and {Tk}")
        mask = check_mask(mask, Xq.shape[1], Tk)
        if Xq is Xkv:
            Q, K, V = self._project(xp, "qkv", Xq)
        else:
            (Q,) = self._project(xp, "q", Xq)
            K, V = self._project(xp, "kv", Xkv)
        S = Q @ _swap(xp, K)  # (m, h, T_q, T_k): S[.., t, u] = q_t . k_u / sqrt(d_head)
        if causal:
            steps = xp.arange(Tq, device=device(S))
            future = xp.reshape(steps, (1, Tq)) > xp.reshape(steps, (Tq, 1))  # u > t: not yet seen
            S = S - _MASKED * xp.astype(future, S.dtype)
        if mask is not None:
            hidden = 1.0 - xp.astype(xp.reshape(mask, (mask.shape[0], 1, 1, Tk)), S.dtype)
            S = S - _MASKED * hidden
        P = kernels_of(S).softmax_rows(S)
        ctx = xp.reshape(self._from_heads(xp, P @ V), (self.d_model, Xq.shape[1], Tq))
        out = seq_matmul(self.params["Wo"], ctx) + xp.reshape(self.params["bo"], (self.d_model, 1, 1))
        return out, AttentionCache(Xq, Xkv, Q, K, V, P, ctx)

    def backward_attend(self, dA, cache, need_dX=True):
        """dJ/dXq, dJ/dXkv (None unless ``need_dX``) and the parameter gradients."""
        return self._backward(dA, cache, need_dX, merge_dX=False)

    def _backward(self, dA, cache, need_dX, merge_dX):
        xp = array_namespace(dA)
        d, h = self.d_model, self.heads
        _, m, Tq = dA.shape
        grads = {"Wo": flat(dA) @ flat(cache.ctx).T, "bo": xp.sum(flat(dA), axis=1, keepdims=True)}
        dctx = seq_matmul(self.params["Wo"].T, dA)  # (d, m, T_q)
        # Each score row's sum of dP P, as the sum of dC C over its head's features.
        delta = xp.sum(xp.reshape(dctx * cache.ctx, (h, d // h, m, Tq)), axis=1)
        delta = xp.reshape(xp.permute_dims(delta, (1, 0, 2)), (m, h, Tq, 1))
        dC = self._to_heads(xp, dctx)  # (m, h, T_q, d_head)
        P = cache.P
        dV = _swap(xp, P) @ dC
        dS = kernels_of(dA).softmax_rows_backward(dC @ _swap(xp, cache.V), P, delta)  # 0 where P = 0
        dQ, dK = dS @ cache.K, _swap(xp, dS) @ cache.Q  # dQ: of the scaled queries
        if cache.Xq is cache.Xkv:
            groups = [("qkv", (dQ, dK, dV), cache.Xq)]
        else:
            groups = [("q", (dQ,), cache.Xq), ("kv", (dK, dV), cache.Xkv)]
        dX = []
        for names, dH, X in groups:
            dZ = self._from_heads(xp, *dH)  # (k d, m T): dJ/d(the stacked projections)
            dW, db = dZ @ flat(X).T, xp.sum(dZ, axis=1, keepdims=True)
            for i, n in enumerate(names):  # back through the folded scale
                grads["W" + n] = dW[i * d:(i + 1) * d, :] * self._factor(n)
                grads["b" + n] = db[i * d:(i + 1) * d, :] * self._factor(n)
            if need_dX:
                Wt = self._stacked(xp, names)[0].T  # (d, k d)
                if merge_dX or names != "qkv":
                    dX.append(Wt @ dZ)
                else:  # self-attention asked for the queries' and the keys/values' shares apart
                    dX += [Wt[:, :d] @ dZ[:d, :], Wt[:, d:] @ dZ[d:, :]]
        if not need_dX:
            return None, None, grads
        dX = [xp.reshape(g, (d, m, steps)) for g, steps in zip(dX, (Tq, cache.Xkv.shape[2]))]
        return dX[0], (dX[1] if len(dX) > 1 else None), grads

    def get_config(self):
        init_name = _initializers.name_of(self.init_name)
        if init_name is None:
            raise XpnetTypeError("a MultiHeadAttention with a custom init callable cannot be serialised")
        return {"d_model": self.d_model, "heads": self.heads, "causal": self.causal, "init": init_name}


def _swap(xp, A):
    """Transpose the last two axes of a 4-D batch of matrices."""
    return xp.permute_dims(A, (0, 1, 3, 2))
