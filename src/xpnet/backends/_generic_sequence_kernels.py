"""The sequence kernels: a recurrent layer's whole forward pass over T steps and its backward.

:class:`SequenceKernels` is mixed into :class:`~xpnet.backends.kernels.Kernels`; it holds the
portable array-API implementation, the gradient-checked reference that array-api-strict,
dask and torch run. A backend overrides a method only where that measurably wins (NumPy:
``numpy_sequence_kernels``). Every implementation keeps the same shape of work:

* the input half of every step's product (``W_x x_t + b`` for all t) is ONE matrix product
  before the loop, and the weight gradients (``dW``, ``db``) one product after it, so the
  loop holds only the recurrent product and the element-wise gate math;
* the loop runs time-major: step t reads and writes contiguous ``(rows, m)`` blocks of
  ``(T, rows, m)`` arrays (a ``[:, :, t]`` slice of the course's ``(n, m, T)`` is strided);
* gate rows are stacked with the sigmoid gates first (LSTM: f, i, o, then c~; GRU: u, r),
  so one pass covers every sigmoid.

Inputs and outputs keep the course's notation: X ``(n_x, m, T)``, states ``(n_a, m)``,
gradients of the output sequence ``(n_a, m, T)``. A kernel's cache is read only by the
same kernels' backward; its fields hold time-major arrays with the initial state first.

A padding ``mask`` ``(m, T)`` (1 for a real step, 0 for padding) makes a padded step carry
the state over unchanged, as Keras does: with k_t the step's mask, a_t = k_t a~_t +
(1 - k_t) a_{t-1} (and c_t likewise), so the final state of a padded example is its state
after its last real step, and a padded step gets no gradient. The mask is kept as ``K``
``(T, 1, m)`` in the cache.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SequenceKernels", "LSTMCache", "GRUCache", "RNNCache"]


class LSTMCache(NamedTuple):
    X: object  # the input, as the kernels keep it
    G: object  # activated gates (T, 4 n_a, m): f, i, o, then c~
    C: object  # memory cells c_0..c_T (T + 1, n_a, m)
    TC: object  # tanh(c_1..c_T) (T, n_a, m)
    A: object  # states a_0..a_T (T + 1, n_a, m)
    K: object = None  # the padding mask (T, 1, m), or None


class GRUCache(NamedTuple):
    X: object  # the input, as the kernels keep it
    G: object  # activated gates (T, 3 n_a, m): Gu, Gr, then c~
    C: object  # states c_0..c_T (T + 1, n_a, m)
    K: object = None  # the padding mask (T, 1, m), or None


class RNNCache(NamedTuple):
    X: object  # the input, as the kernels keep it
    A: object  # states a_0..a_T (T + 1, n_a, m)
    K: object = None  # the padding mask (T, 1, m), or None


def _sigmoid(xp, Z):
    # tanh saturates where exp would overflow: exact for every z, no branch on its sign.
    return 0.5 * xp.tanh(0.5 * Z) + 0.5


def _time_major(xp, X):
    """(n, m, T) -> (T, n, m)."""
    return xp.permute_dims(X, (2, 0, 1))


def _columns(xp, S):
    """(T, n, m) -> (n, T m): every (step, example) pair as one column, in (t, m) order."""
    T, n, m = S.shape
    return xp.reshape(xp.permute_dims(S, (1, 0, 2)), (n, T * m))


def _zeros_or(xp, like, s):
    return xp.zeros_like(like) if s is None else s


def _keep(xp, mask, dtype):
    """A padding mask (m, T) as the time-major (T, 1, m) factor k_t of each step, or None."""
    if mask is None:
        return None
    m, T = mask.shape
    return xp.reshape(xp.permute_dims(xp.astype(mask, dtype), (1, 0)), (T, 1, m))


def _carry(k, new, old):
    """k new + (1 - k) old: the new state on real steps, the old one on padding."""
    return new if k is None else k * new + (1.0 - k) * old


def _split(k, d):
    """(k d, (1 - k) d): a state's gradient into the step's update, and on to the previous state."""
    return (d, None) if k is None else (k * d, (1.0 - k) * d)


class SequenceKernels:
    """Generic recurrent kernels (array API only); mixed into the generic ``Kernels``."""

    # -- attention: the softmax over the key axis and its backward --------------------------
    def softmax_rows(self, S):
        """softmax over the last axis of scores ``S`` (any leading axes). ``S`` may be overwritten.

        The row maximum is subtracted first, so exp never overflows; a score pushed down by
        a mask's -1e9 gets probability exactly 0.
        """
        xp = _namespace(S)
        E = xp.exp(S - xp.max(S, axis=-1, keepdims=True))
        return E / xp.sum(E, axis=-1, keepdims=True)

    def softmax_rows_backward(self, dP, P, delta=None):
        """dJ/dS of ``P = softmax_rows(S)``: P (dP - delta), row by row.

        ``delta`` ``(..., 1)`` is each row's sum of dP P; attention passes it in because it
        is cheaper there as the row sums of dC C over the head's features (dP = dC V^T and
        C = P V give the same sums), and it is computed here when None. ``dP`` may be
        overwritten. Entries with P = 0 (masked keys) get gradient 0.
        """
        xp = _namespace(dP)
        if delta is None:
            delta = xp.sum(dP * P, axis=-1, keepdims=True)
        return P * (dP - delta)

    # -- LayerNorm over the feature axis 0 of (d, m) or (d, m, T) ---------------------------
    def layer_norm(self, X, gamma, beta, eps: float):
        """``(Y, Xhat, inv_std)``: Xhat = (X - mean) / sqrt(var + eps) over axis 0, Y = gamma Xhat + beta.

        ``gamma`` and ``beta`` come shaped to broadcast over X (``(d, 1, 1)`` for sequences).
        """
        xp = _namespace(X)
        D = X - xp.mean(X, axis=0, keepdims=True)
        inv_std = 1.0 / xp.sqrt(xp.mean(D * D, axis=0, keepdims=True) + eps)
        Xhat = D * inv_std
        return gamma * Xhat + beta, Xhat, inv_std

    def layer_norm_backward(self, dA, Xhat, inv_std, gamma, need_dX=True):
        """``(dX or None, dgamma, dbeta)`` of :meth:`layer_norm`; dgamma, dbeta are ``(d, 1)``."""
        xp = _namespace(dA)
        d = dA.shape[0]
        axes = tuple(range(1, dA.ndim))
        dgamma = xp.reshape(xp.sum(dA * Xhat, axis=axes), (d, 1))
        dbeta = xp.reshape(xp.sum(dA, axis=axes), (d, 1))
        if not need_dX:
            return None, dgamma, dbeta
        dXhat = dA * gamma
        dX = inv_std * (dXhat - xp.mean(dXhat, axis=0, keepdims=True)
                        - Xhat * xp.mean(dXhat * Xhat, axis=0, keepdims=True))
        return dX, dgamma, dbeta

    # -- LSTM: gates [f; i; o; c~] = [sigmoid x3; tanh](Wa a_{t-1} + Wx x_t + b) --------------
    def lstm_forward(self, X, W, b, a0, c0, mask=None):
        """The LSTM over every step: an :class:`LSTMCache` (states, cells, gates).

        ``W`` is ``(4 n_a, n_a + n_x)``, rows in gate order f, i, o, c~ and columns acting on
        ``[a_{t-1}; x_t]``; ``b`` is ``(4 n_a, 1)``; ``a0``, ``c0`` are ``(n_a, m)``.
        c_t = f c_{t-1} + i c~, a_t = o tanh(c_t). ``mask``: the padding mask (module docstring).
        """
        xp = _namespace(X)
        n, T = a0.shape[0], X.shape[2]
        K = _keep(xp, mask, X.dtype)
        Wa, Wx = W[:, :n], W[:, n:]
        XZ = xp.matmul(Wx, _time_major(xp, X)) + b  # (T, 4 n_a, m)
        a, c = a0, c0
        gates, cells, tcells, states = [], [c0], [], [a0]
        for t in range(T):
            Z = Wa @ a + XZ[t, ...]
            S = _sigmoid(xp, Z[: 3 * n, ...])
            cc = xp.tanh(Z[3 * n :, ...])
            k = None if K is None else K[t, ...]
            c_new = S[:n, ...] * c + S[n : 2 * n, ...] * cc
            tc = xp.tanh(c_new)
            a = _carry(k, S[2 * n :, ...] * tc, a)
            c = _carry(k, c_new, c)
            gates.append(xp.concat([S, cc], axis=0))
            cells.append(c)
            tcells.append(tc)
            states.append(a)
        stack = lambda s: xp.stack(s, axis=0)  # noqa: E731
        return LSTMCache(X, stack(gates), stack(cells), stack(tcells), stack(states), K)

    def lstm_backward(self, dA, da_T, dc_T, cache, W, need_dX=True):
        """``(dX or None, da0, dc0, dW, db)`` of :meth:`lstm_forward`.

        ``dA`` is dJ/da_t for every step ``(n_a, m, T)`` or None; ``da_T``, ``dc_T`` are the
        gradients flowing into the final state ``(n_a, m)``, or None for zeros.
        """
        xp = _namespace(cache.G)
        G, C, TC, A = cache.G, cache.C, cache.TC, cache.A
        T, n = G.shape[0], A.shape[1]
        Wa, Wx = W[:, :n], W[:, n:]
        da_next = _zeros_or(xp, A[0, ...], da_T)
        dc_next = _zeros_or(xp, A[0, ...], dc_T)
        dZs = [None] * T
        for t in range(T - 1, -1, -1):
            k = None if cache.K is None else cache.K[t, ...]
            da, da_skip = _split(k, da_next if dA is None else da_next + dA[:, :, t])
            dc_in, dc_skip = _split(k, dc_next)
            g, tc = G[t, ...], TC[t, ...]
            S, cc = g[: 3 * n, ...], g[3 * n :, ...]
            f, i, o = S[:n, ...], S[n : 2 * n, ...], S[2 * n :, ...]
            dc = dc_in + da * o * (1.0 - tc * tc)
            dS = xp.concat([dc * C[t, ...], dc * cc, da * tc], axis=0)  # df, di, do
            dZs[t] = xp.concat([dS * S * (1.0 - S), dc * i * (1.0 - cc * cc)], axis=0)
            dc_next = _plus(dc * f, dc_skip)
            da_next = _plus(Wa.T @ dZs[t], da_skip)
        dZ = xp.stack(dZs, axis=0)  # (T, 4 n_a, m)
        dZ_cols = _columns(xp, dZ)
        H = _columns(xp, xp.concat([A[:T, ...], _time_major(xp, cache.X)], axis=1))  # [a_{t-1}; x_t]
        dW = dZ_cols @ H.T
        db = xp.sum(dZ_cols, axis=1, keepdims=True)
        dX = xp.permute_dims(xp.matmul(Wx.T, dZ), (1, 2, 0)) if need_dX else None
        return dX, da_next, dc_next, dW, db

    # -- GRU: [Gu; Gr] = sigmoid(Wur [c_{t-1}; x_t] + bur), c~ = tanh(Wc [Gr c_{t-1}; x_t] + bc)
    def gru_forward(self, X, W, b, c0, mask=None):
        """The GRU over every step: a :class:`GRUCache`.

        ``W`` is ``(3 n_a, n_a + n_x)``, rows in gate order u, r, c~, columns acting on
        ``[c_{t-1}; x_t]`` (``[Gr c_{t-1}; x_t]`` for c~); ``b`` is ``(3 n_a, 1)``.
        c_t = Gu c~ + (1 - Gu) c_{t-1}. ``mask``: the padding mask (module docstring).
        """
        xp = _namespace(X)
        n, T = c0.shape[0], X.shape[2]
        K = _keep(xp, mask, X.dtype)
        Wur, Wc = W[: 2 * n, :n], W[2 * n :, :n]
        XZ = xp.matmul(W[:, n:], _time_major(xp, X)) + b  # (T, 3 n_a, m)
        c = c0
        gates, states = [], [c0]
        for t in range(T):
            S = _sigmoid(xp, Wur @ c + XZ[t, : 2 * n, ...])
            gu, gr = S[:n, ...], S[n:, ...]
            cc = xp.tanh(Wc @ (gr * c) + XZ[t, 2 * n :, ...])
            c = _carry(None if K is None else K[t, ...], gu * cc + (1.0 - gu) * c, c)
            gates.append(xp.concat([S, cc], axis=0))
            states.append(c)
        return GRUCache(X, xp.stack(gates, axis=0), xp.stack(states, axis=0), K)

    def gru_backward(self, dA, dc_T, cache, W, need_dX=True):
        """``(dX or None, dc0, dW, db)`` of :meth:`gru_forward` (``dA``, ``dc_T`` as for the LSTM)."""
        xp = _namespace(cache.G)
        G, C = cache.G, cache.C
        T, n = G.shape[0], C.shape[1]
        Wur, Wc = W[: 2 * n, :n], W[2 * n :, :n]
        dc_next = _zeros_or(xp, C[0, ...], dc_T)
        dZs = [None] * T
        for t in range(T - 1, -1, -1):
            k = None if cache.K is None else cache.K[t, ...]
            dc, dc_skip = _split(k, dc_next if dA is None else dc_next + dA[:, :, t])
            gu, gr, cc, c_prev = G[t, :n, ...], G[t, n : 2 * n, ...], G[t, 2 * n :, ...], C[t, ...]
            dZc = dc * gu * (1.0 - cc * cc)
            drc = Wc.T @ dZc  # dJ/d(Gr c_{t-1})
            dZur = xp.concat([dc * (cc - c_prev) * gu * (1.0 - gu), drc * c_prev * gr * (1.0 - gr)], axis=0)
            dc_next = _plus(dc * (1.0 - gu) + drc * gr + Wur.T @ dZur, dc_skip)
            dZs[t] = xp.concat([dZur, dZc], axis=0)
        dZ = xp.stack(dZs, axis=0)  # (T, 3 n_a, m)
        dZ_cols = _columns(xp, dZ)
        C_prev = C[:T, ...]
        X_cols = _columns(xp, _time_major(xp, cache.X))
        dW_a = xp.concat([dZ_cols[: 2 * n, ...] @ _columns(xp, C_prev).T,
                          dZ_cols[2 * n :, ...] @ _columns(xp, G[:, n : 2 * n, ...] * C_prev).T], axis=0)
        dW = xp.concat([dW_a, dZ_cols @ X_cols.T], axis=1)
        db = xp.sum(dZ_cols, axis=1, keepdims=True)
        dX = xp.permute_dims(xp.matmul(W[:, n:].T, dZ), (1, 2, 0)) if need_dX else None
        return dX, dc_next, dW, db

    # -- SimpleRNN: a_t = tanh(Waa a_{t-1} + Wax x_t + ba) ------------------------------------
    def rnn_forward(self, X, W, b, a0, mask=None):
        """The simple RNN over every step: an :class:`RNNCache`; ``W`` is ``[Waa, Wax]``.

        ``mask``: the padding mask (module docstring).
        """
        xp = _namespace(X)
        n, T = a0.shape[0], X.shape[2]
        K = _keep(xp, mask, X.dtype)
        Waa = W[:, :n]
        XZ = xp.matmul(W[:, n:], _time_major(xp, X)) + b  # (T, n_a, m)
        a = a0
        states = [a0]
        for t in range(T):
            a = _carry(None if K is None else K[t, ...], xp.tanh(Waa @ a + XZ[t, ...]), a)
            states.append(a)
        return RNNCache(X, xp.stack(states, axis=0), K)

    def rnn_backward(self, dA, da_T, cache, W, need_dX=True):
        """``(dX or None, da0, dW, db)`` of :meth:`rnn_forward` (``dA``, ``da_T`` as for the LSTM)."""
        xp = _namespace(cache.A)
        A = cache.A
        T, n = A.shape[0] - 1, A.shape[1]
        Waa = W[:, :n]
        da_next = _zeros_or(xp, A[0, ...], da_T)
        dZs = [None] * T
        for t in range(T - 1, -1, -1):
            k = None if cache.K is None else cache.K[t, ...]
            da, da_skip = _split(k, da_next if dA is None else da_next + dA[:, :, t])
            a_t = A[t + 1, ...]  # on a padded step this is a_{t-1}, but there da = 0
            dZs[t] = da * (1.0 - a_t * a_t)
            da_next = _plus(Waa.T @ dZs[t], da_skip)
        dZ = xp.stack(dZs, axis=0)  # (T, n_a, m)
        dZ_cols = _columns(xp, dZ)
        H = _columns(xp, xp.concat([A[:T, ...], _time_major(xp, cache.X)], axis=1))
        dW = dZ_cols @ H.T
        db = xp.sum(dZ_cols, axis=1, keepdims=True)
        dX = xp.permute_dims(xp.matmul(W[:, n:].T, dZ), (1, 2, 0)) if need_dX else None
        return dX, da_next, dW, db


def _plus(x, skip):
    return x if skip is None else x + skip


def _namespace(x):
    from array_api_compat import array_namespace

    return array_namespace(x)
