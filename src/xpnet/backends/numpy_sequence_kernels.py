"""NumPy overrides of the sequence kernels: ``out=`` buffers and fewer passes per step.

A recurrent step on NumPy costs one small matrix product plus one Python-dispatched pass
per element-wise operation, so the overrides cut passes and allocations, not arithmetic:

* every array of the loop is allocated once per call, time-major, and each step writes its
  gates, cells and states straight into its own contiguous ``(rows, m)`` block (``out=``);
* the sigmoid gates' rows of W and b are halved before the loop (exact: a power of two),
  so ONE ``tanh`` over the whole gate block gives tanh(z/2) for the sigmoid gates and
  tanh(z) for the candidate, and sigmoid(z) = 0.5 tanh(z/2) + 0.5 is two passes more;
* the bias rides in the input product (a row of ones under X), and the backward pass gets
  dW and db from ONE product of every step's dZ with every step's [a_{t-1}; x_t; 1];
* the LSTM's and SimpleRNN's steps make their pre-activations with ONE product of
  [W_a, W_x, b] and the stacked [a_{t-1}; x_t; 1], into which the previous step wrote
  a_{t-1}: no input product beforehand and no pass adding it in (forward + backward at
  n_a = 128, m = 64, T = 50: LSTM 0.95x, SimpleRNN 0.91-0.96x the separate input product,
  measured interleaved on 2 cores). The GRU keeps it: its candidate's product takes
  Gr * c_{t-1}, not c_{t-1}.

A padding mask carries the state over a padded step with one masked copy per state and
step (``np.copyto(..., where=)``), and the backward pass splits each state's gradient into
the step's share and the carried share with two products by the 0/1 keep factors, exactly
as the generic kernels' blends do (k is 0 or 1, so no rounding differs).

The formulas are the generic kernels'; only the grouping of sums differs, so results match
them to rounding (float32 and float64 parity tests).
"""

from __future__ import annotations

import threading

import numpy as np

from ._generic_sequence_kernels import GRUCache, LSTMCache, RNNCache

__all__ = ["NumpySequenceKernels"]

# Scratch arrays live on between calls, one set per thread: a fresh multi-megabyte array a
# step costs thousands of page faults once the allocator hands the last one back to the OS.
# Only arrays that never leave a call are pooled, and only up to this size.
_POOL_LIMIT = 1 << 26
_pools = threading.local()


def _scratch(name, shape, dtype):
    """An uninitialised scratch array of ``shape``, reused by later calls in this thread."""
    size = 1
    for s in shape:
        size *= s
    if size * np.dtype(dtype).itemsize > _POOL_LIMIT:
        return np.empty(shape, dtype=dtype)
    pool = _pools.__dict__.setdefault("arrays", {})
    key = (name, np.dtype(dtype).str)
    buf = pool.get(key)
    if buf is None or buf.size < size:
        buf = pool[key] = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


# Scores up to this fraction of log(largest float) are exponentiated unshifted: a row of
# 10^6 terms of exp(0.7 log(max)) still sums far below the largest float.
_UNSHIFTED_MAX = 0.7


def _safe_row_sum(dtype):
    """The smallest row sum of exp(S - shift) that keeps every term that matters.

    A row summing to at least exp(-0.35 L), L = -log(smallest normal), has its own maximum
    within 0.35 L + log(T_k) of the shift, so only terms below T_k exp(-0.65 L) of that
    maximum (1e-23 in float32 with T_k = 50) can underflow: far below rounding in any
    probability or gradient.
    """
    return float(np.exp(0.35 * np.log(np.finfo(dtype).tiny)))


def _with_ones(X):
    """X (n_x, m, T) as time-major (T, n_x + 1, m) with a row of ones under each step."""
    n_x, m, T = X.shape
    X1 = np.empty((T, n_x + 1, m), dtype=X.dtype)
    X1[:, :n_x, :] = X.transpose(2, 0, 1)
    X1[:, n_x, :] = 1.0
    return X1


def _stacked_inputs(X, a0):
    """Every step's [a_{t-1}; x_t; 1] as one time-major (T + 1, n_a + n_x + 1, m) array.

    The state part of block t + 1 is filled in by step t, so each step's gates come from ONE
    product with [W_a, W_x, b] (no separate input product, no pass adding it in), and the
    weight gradients' right-hand side is already stacked. Block T holds only a_T.
    """
    n_x, m, T = X.shape
    n = a0.shape[0]
    H = np.empty((T + 1, n + n_x + 1, m), dtype=X.dtype)
    H[0, :n] = a0
    H[:T, n : n + n_x] = X.transpose(2, 0, 1)
    H[:T, n + n_x] = 1.0
    H[T, n:] = 0.0
    return H


def _keep(mask, dtype, T, m):
    """The padding mask (m, T) as the generic kernels keep it: factors k_t (T, 1, m), or None."""
    if mask is None:
        return None
    return np.ascontiguousarray(np.asarray(mask).T, dtype=dtype).reshape(T, 1, m)


def _carry(K, t, new, old):
    """On step t's padded columns the state stays ``old`` (in ``new``'s memory)."""
    if K is not None:
        np.copyto(new, old, where=K[t] == 0)


class _Skip:
    """A state gradient's share that skips a padded step: ``take`` keeps k d in d and sets
    aside (1 - k) d; ``give`` adds it back after the step's own gradient is in d."""

    def __init__(self, K, like):
        self.K = K
        if K is not None:
            self.drop = 1.0 - K
            self.aside = np.empty_like(like)

    def take(self, t, d):
        if self.K is not None:
            np.multiply(d, self.drop[t], out=self.aside)
            np.multiply(d, self.K[t], out=d)

    def give(self, d):
        if self.K is not None:
            np.add(d, self.aside, out=d)


def _halved(W, b, rows):
    """W, b with their first ``rows`` rows halved (the sigmoid gates), and the bias as a column of W."""
    Wb = np.concatenate([W, b], axis=1)
    Wb[:rows, :] *= 0.5
    return Wb


def _time_major(dA):
    """dJ/dA (n, m, T) as a time-major scratch copy (T, n, m), or None."""
    if dA is None:
        return None
    out = _scratch("dA", (dA.shape[2], dA.shape[0], dA.shape[1]), dA.dtype)
    np.copyto(out, dA.transpose(2, 0, 1))
    return out


def _state(s, like):
    """A fresh, writable copy of an incoming state gradient (zeros for None)."""
    return np.zeros_like(like) if s is None else np.array(s, dtype=like.dtype, copy=True)


def _weight_grads(dZ, H, T, m):
    """dW and db from ONE product: dZ (T, rows, m) against H (T, k, m), every step's stacked
    right-hand side ending in a row of ones (LSTM, SimpleRNN: [a_{t-1}; x_t; 1]; GRU: [x_t; 1])."""
    rows, k = dZ.shape[1], H.shape[1]
    dZ_cols = _scratch("dZ_cols", (rows, T, m), dZ.dtype)
    np.copyto(dZ_cols, dZ.transpose(1, 0, 2))
    dZ_cols = dZ_cols.reshape(rows, T * m)
    H_cols = _scratch("H", (k, T, m), dZ.dtype)
    np.copyto(H_cols, H.transpose(1, 0, 2))
    dWb = dZ_cols @ H_cols.reshape(k, T * m).T
    return dZ_cols, dWb


def _dX(Wx, dZ_cols, n_x, T, m):
    return (np.ascontiguousarray(Wx.T) @ dZ_cols).reshape(n_x, T, m).transpose(0, 2, 1)


class NumpySequenceKernels:
    """NumPy's sequence kernels; mixed into ``NumpyKernels`` ahead of the generic ones."""

    # LayerNorm's sums over the features (axis 0) of a product, sum_i U_ij V_ij, come from
    # einsum without the product's pass over memory (0.07 ms instead of 0.22 ms for 128 x 3200),
    # and the plain sums of dJ/dXhat from a product with gamma; the rest are the fewest passes.
    def layer_norm(self, X, gamma, beta, eps):
        if not (isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.ndim >= 2):
            return super().layer_norm(X, gamma, beta, eps)
        d = X.shape[0]
        X2 = np.ascontiguousarray(X).reshape(d, -1)
        Xhat = np.subtract(X2, X2.mean(axis=0, keepdims=True))
        inv_std = np.einsum("ij,ij->j", Xhat, Xhat)[None, :]
        inv_std *= 1.0 / d
        inv_std += eps
        np.sqrt(inv_std, out=inv_std)
        np.divide(1.0, inv_std, out=inv_std)
        Xhat *= inv_std
        Y = np.multiply(Xhat, gamma.reshape(d, 1))
        Y += beta.reshape(d, 1)
        column = (1,) + X.shape[1:]
        return Y.reshape(X.shape), Xhat.reshape(X.shape), inv_std.reshape(column)

    def layer_norm_backward(self, dA, Xhat, inv_std, gamma, need_dX=True):
        if not (isinstance(dA, np.ndarray) and dA.shape == Xhat.shape and dA.dtype == Xhat.dtype
                and dA.ndim >= 2):
            return super().layer_norm_backward(dA, Xhat, inv_std, gamma, need_dX)
        d = dA.shape[0]
        dA2, Xhat2 = np.ascontiguousarray(dA).reshape(d, -1), Xhat.reshape(d, -1)
        dgamma = np.einsum("ij,ij->i", dA2, Xhat2)[:, None]
        dbeta = dA2 @ np.ones((dA2.shape[1], 1), dtype=dA2.dtype)
        if not need_dX:
            return None, dgamma, dbeta
        g = gamma.reshape(1, d)
        mean_dXhat = (g @ dA2) * (1.0 / d)
        dX = np.multiply(dA2, gamma.reshape(d, 1))  # dXhat, turned into dX in place
        mean_dXhat_Xhat = np.einsum("ij,ij->j", dX, Xhat2)[None, :] * (1.0 / d)
        dX -= mean_dXhat
        tmp = _scratch("ln", dX.shape, dX.dtype)
        np.multiply(Xhat2, mean_dXhat_Xhat, out=tmp)
        dX -= tmp
        dX *= inv_std.reshape(1, -1)
        return dX.reshape(dA.shape), dgamma, dbeta

    def softmax_rows(self, S):
        # A maximum per row is a reduction over short rows, NumPy's slowest kind (1.8 ms of a
        # 4.2 ms softmax of 64 x 8 x 50 x 50 scores), and the row sums are the same kind. Any
        # shift that keeps exp from overflowing gives the same probabilities: none at all
        # while the largest score is far from overflow (one fast reduction over the whole
        # array), else each (T_q, T_k) block's maximum; the row sums come from one product
        # with a column of ones (0.39 ms instead of 0.97 ms). A row far below the shift
        # could lose its larger terms to underflow: a row whose sum falls under a safe bound
        # is redone with its own maximum.
        if not (isinstance(S, np.ndarray) and S.flags.writeable and S.dtype.kind == "f" and S.ndim >= 2
                and S.size):
            return super().softmax_rows(S)
        if not S.max() <= _UNSHIFTED_MAX * np.log(np.finfo(S.dtype).max):  # also catches NaN
            np.subtract(S, S.max(axis=(-2, -1), keepdims=True), out=S)
        P = np.exp(S)
        sums = P @ np.ones((S.shape[-1], 1), dtype=P.dtype)
        if not sums.min() >= _safe_row_sum(P.dtype):
            np.subtract(S, S.max(axis=-1, keepdims=True), out=P)  # S (maybe shifted) still holds the scores
            np.exp(P, out=P)
            sums = P.sum(axis=-1, keepdims=True)
        np.divide(P, sums, out=P)
        return P

    def softmax_rows_backward(self, dP, P, delta=None):
        if not (isinstance(dP, np.ndarray) and dP.flags.writeable and dP.shape == P.shape):
            return super().softmax_rows_backward(dP, P, delta)
        if delta is None:
            delta = np.multiply(dP, P) @ np.ones((P.shape[-1], 1), dtype=P.dtype)
        np.subtract(dP, delta, out=dP)
        np.multiply(dP, P, out=dP)
        return dP

    def lstm_forward(self, X, W, b, a0, c0, mask=None):
        n_x, m, T = X.shape
        n = a0.shape[0]
        K = _keep(mask, X.dtype, T, m)
        Wb = _halved(W, b, 3 * n)
        H = _stacked_inputs(X, a0)
        A = H[:, :n]  # a_t lives in H[t + 1], where the next step's product reads it
        G = np.empty((T, 4 * n, m), dtype=X.dtype)
        C = np.empty((T + 1, n, m), dtype=X.dtype)
        TC = np.empty((T, n, m), dtype=X.dtype)
        C[0] = c0
        ic = np.empty((n, m), dtype=X.dtype)
        for t in range(T):
            g = G[t]
            np.matmul(Wb, H[t], out=g)
            np.tanh(g, out=g)
            S = g[: 3 * n]
            np.multiply(S, 0.5, out=S)
            np.add(S, 0.5, out=S)
            np.multiply(g[:n], C[t], out=C[t + 1])
            np.multiply(g[n : 2 * n], g[3 * n :], out=ic)
            np.add(C[t + 1], ic, out=C[t + 1])
            np.tanh(C[t + 1], out=TC[t])
            np.multiply(g[2 * n : 3 * n], TC[t], out=A[t + 1])
            _carry(K, t, C[t + 1], C[t])
            _carry(K, t, A[t + 1], A[t])
        return LSTMCache(H, G, C, TC, A, K)

    def lstm_backward(self, dA, da_T, dc_T, cache, W, need_dX=True):
        H, G, C, TC, A = cache[:5]
        T, _, m = G.shape
        n = A.shape[1]
        WaT = np.ascontiguousarray(W[:, :n].T)
        dA_t = _time_major(dA)
        da, dc = _state(da_T, A[0]), _state(dc_T, A[0])
        skip_a, skip_c = _Skip(cache.K, da), _Skip(cache.K, dc)
        dZ = _scratch("dZ", G.shape, G.dtype)
        tmp = np.empty((n, m), dtype=G.dtype)
        dS = np.empty((3 * n, m), dtype=G.dtype)
        for t in range(T - 1, -1, -1):
            g, tc, d = G[t], TC[t], dZ[t]
            if dA_t is not None:
                np.add(da, dA_t[t], out=da)
            skip_a.take(t, da)
            skip_c.take(t, dc)
            np.multiply(da, tc, out=d[2 * n : 3 * n])  # do
            np.multiply(tc, tc, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            np.multiply(tmp, g[2 * n : 3 * n], out=tmp)
            np.multiply(tmp, da, out=tmp)
            np.add(dc, tmp, out=dc)  # dc = dc_next + da o (1 - tanh(c)^2)
            np.multiply(dc, C[t], out=d[:n])  # df
            np.multiply(dc, g[3 * n :], out=d[n : 2 * n])  # di
            np.multiply(dc, g[n : 2 * n], out=d[3 * n :])  # dc~
            np.multiply(dc, g[:n], out=dc)  # dc_{t-1}
            S = g[: 3 * n]
            np.subtract(1.0, S, out=dS)
            np.multiply(dS, S, out=dS)
            np.multiply(d[: 3 * n], dS, out=d[: 3 * n])
            np.multiply(g[3 * n :], g[3 * n :], out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            np.multiply(d[3 * n :], tmp, out=d[3 * n :])
            np.matmul(WaT, d, out=da)
            skip_a.give(da)
            skip_c.give(dc)
        n_x = H.shape[1] - n - 1
        dZ_cols, dWb = _weight_grads(dZ, H[:T], T, m)
        dX = _dX(W[:, n:], dZ_cols, n_x, T, m) if need_dX else None
        return dX, da, dc, dWb[:, :-1], dWb[:, -1:]

    def gru_forward(self, X, W, b, c0, mask=None):
        n_x, m, T = X.shape
        n = c0.shape[0]
        K = _keep(mask, X.dtype, T, m)
        Wb = _halved(W, b, 2 * n)
        Wur, Wc = np.ascontiguousarray(Wb[: 2 * n, :n]), np.ascontiguousarray(Wb[2 * n :, :n])
        X1 = _with_ones(X)
        G = np.matmul(Wb[:, n:], X1)  # (T, 3 n_a, m)
        C = np.empty((T + 1, n, m), dtype=X.dtype)
        C[0] = c0
        Zur = np.empty((2 * n, m), dtype=X.dtype)
        rc = np.empty((n, m), dtype=X.dtype)
        Zc = np.empty((n, m), dtype=X.dtype)
        for t in range(T):
            g, c = G[t], C[t]
            S, cc = g[: 2 * n], g[2 * n :]
            np.matmul(Wur, c, out=Zur)
            np.add(S, Zur, out=S)
            np.tanh(S, out=S)
            np.multiply(S, 0.5, out=S)
            np.add(S, 0.5, out=S)
            np.multiply(g[n : 2 * n], c, out=rc)
            np.matmul(Wc, rc, out=Zc)
            np.add(cc, Zc, out=cc)
            np.tanh(cc, out=cc)
            np.subtract(cc, c, out=rc)  # c_t = c_{t-1} + Gu (c~ - c_{t-1})
            np.multiply(g[:n], rc, out=rc)
            np.add(c, rc, out=C[t + 1])
            _carry(K, t, C[t + 1], c)
        return GRUCache(X1, G, C, K)

    def gru_backward(self, dA, dc_T, cache, W, need_dX=True):
        X1, G, C = cache[:3]
        T, _, m = G.shape
        n = C.shape[1]
        WurT = np.ascontiguousarray(W[: 2 * n, :n].T)
        WcT = np.ascontiguousarray(W[2 * n :, :n].T)
        dA_t = _time_major(dA)
        dc = _state(dc_T, C[0])
        skip = _Skip(cache.K, dc)
        dZ = _scratch("dZ", G.shape, G.dtype)
        tmp = np.empty((n, m), dtype=G.dtype)
        drc = np.empty((n, m), dtype=G.dtype)
        dS = np.empty((2 * n, m), dtype=G.dtype)
        for t in range(T - 1, -1, -1):
            g, c_prev, d = G[t], C[t], dZ[t]
            gu, gr, cc = g[:n], g[n : 2 * n], g[2 * n :]
            if dA_t is not None:
                np.add(dc, dA_t[t], out=dc)
            skip.take(t, dc)
            np.multiply(cc, cc, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            np.multiply(tmp, gu, out=tmp)
            np.multiply(dc, tmp, out=d[2 * n :])  # dZc
            np.matmul(WcT, d[2 * n :], out=drc)  # dJ/d(Gr c_{t-1})
            np.subtract(cc, c_prev, out=d[:n])
            np.multiply(d[:n], dc, out=d[:n])  # dGu
            np.multiply(drc, c_prev, out=d[n : 2 * n])  # dGr
            S = g[: 2 * n]
            np.subtract(1.0, S, out=dS)
            np.multiply(dS, S, out=dS)
            np.multiply(d[: 2 * n], dS, out=d[: 2 * n])
            np.multiply(drc, gr, out=drc)
            np.subtract(1.0, gu, out=tmp)
            np.multiply(dc, tmp, out=dc)
            np.add(dc, drc, out=dc)
            np.matmul(WurT, d[: 2 * n], out=tmp)
            np.add(dc, tmp, out=dc)
            skip.give(dc)
        n_x = X1.shape[1] - 1
        C_prev = C[:T]
        rows = dZ.shape[1]
        dZ_cols, dWb = _weight_grads(dZ, X1, T, m)
        dZ3 = dZ_cols.reshape(rows, T, m)
        H_ur = np.ascontiguousarray(C_prev.transpose(1, 0, 2)).reshape(n, T * m)
        H_c = np.ascontiguousarray((G[:, n : 2 * n] * C_prev).transpose(1, 0, 2)).reshape(n, T * m)
        dW_a = np.concatenate([dZ3[: 2 * n].reshape(2 * n, T * m) @ H_ur.T, dZ3[2 * n :].reshape(n, T * m) @ H_c.T])
        dW = np.concatenate([dW_a, dWb[:, :-1]], axis=1)
        dX = _dX(W[:, n:], dZ_cols, n_x, T, m) if need_dX else None
        return dX, dc, dW, dWb[:, -1:]

    def rnn_forward(self, X, W, b, a0, mask=None):
        n_x, m, T = X.shape
        n = a0.shape[0]
        K = _keep(mask, X.dtype, T, m)
        Wb = np.concatenate([W, b], axis=1)
        H = _stacked_inputs(X, a0)
        A = H[:, :n]
        for t in range(T):
            np.matmul(Wb, H[t], out=A[t + 1])
            np.tanh(A[t + 1], out=A[t + 1])
            _carry(K, t, A[t + 1], A[t])
        return RNNCache(H, A, K)

    def rnn_backward(self, dA, da_T, cache, W, need_dX=True):
        H, A = cache[:2]
        T, n, m = A.shape[0] - 1, A.shape[1], A.shape[2]
        WaaT = np.ascontiguousarray(W[:, :n].T)
        dA_t = _time_major(dA)
        da = _state(da_T, A[0])
        skip = _Skip(cache.K, da)
        dZ = _scratch("dZ", (T, n, m), A.dtype)
        for t in range(T - 1, -1, -1):
            a, d = A[t + 1], dZ[t]  # on a padded step a is a_{t-1}, but there da = 0
            if dA_t is not None:
                np.add(da, dA_t[t], out=da)
            skip.take(t, da)
            np.multiply(a, a, out=d)
            np.subtract(1.0, d, out=d)
            np.multiply(d, da, out=d)
            np.matmul(WaaT, d, out=da)
            skip.give(da)
        n_x = H.shape[1] - n - 1
        dZ_cols, dWb = _weight_grads(dZ, H[:T], T, m)
        dX = _dX(W[:, n:], dZ_cols, n_x, T, m) if need_dX else None
        return dX, da, dWb[:, :-1], dWb[:, -1:]
