"""Loop references of the sequence layers: one example and one time step at a time.

Inputs are ``(n_x, m, T)``; parameters use the layers' local names (``Waa``, ``Wax``,
``ba``, ...). Written with NumPy and the definitions only, never with the layers' code.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "rnn_forward_loop",
    "lstm_forward_loop",
    "rnn_backward_loop",
    "lstm_backward_loop",
    "conv1d_forward_loop",
    "attention_forward_loop",
]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def rnn_forward_loop(X, params, return_sequences=False):
    """a_t = tanh(Waa a_{t-1} + Wax x_t + ba) for each example j and step t in turn."""
    X = np.asarray(X, dtype=np.float64)
    Waa, Wax, ba = (np.asarray(params[k], dtype=np.float64) for k in ("Waa", "Wax", "ba"))
    n_x, m, T = X.shape
    n_a = Waa.shape[0]
    A = np.zeros((n_a, m, T))
    for j in range(m):
        a = np.zeros(n_a)
        for t in range(T):
            z = np.zeros(n_a)
            for i in range(n_a):
                z[i] = sum(Waa[i, k] * a[k] for k in range(n_a)) + sum(Wax[i, k] * X[k, j, t] for k in range(n_x)) + ba[i, 0]
            a = np.tanh(z)
            A[:, j, t] = a
    return A if return_sequences else A[:, :, -1]


def lstm_forward_loop(X, params, return_sequences=False):
    """The course's LSTM cell, one example and one step at a time, on [a_{t-1}; x_t]."""
    X = np.asarray(X, dtype=np.float64)
    P = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    n_x, m, T = X.shape
    n_a = P["Wf"].shape[0]
    A = np.zeros((n_a, m, T))
    for j in range(m):
        a = np.zeros(n_a)
        c = np.zeros(n_a)
        for t in range(T):
            concat = np.concatenate([a, X[:, j, t]])
            f = _sigmoid(P["Wf"] @ concat + P["bf"][:, 0])
            i = _sigmoid(P["Wi"] @ concat + P["bi"][:, 0])
            cc = np.tanh(P["Wc"] @ concat + P["bc"][:, 0])
            o = _sigmoid(P["Wo"] @ concat + P["bo"][:, 0])
            c = f * c + i * cc
            a = o * np.tanh(c)
            A[:, j, t] = a
    return A if return_sequences else A[:, :, -1]


def rnn_backward_loop(X, params, dA, return_sequences=False):
    """Backpropagation through time for SimpleRNN, one example and one step at a time.

    ``dA`` is dJ/d(output): ``(n_a, m, T)`` with return_sequences, else ``(n_a, m)``.
    Returns ``(dX, {"Waa": dWaa, "Wax": dWax, "ba": dba})``.
    """
    X = np.asarray(X, dtype=np.float64)
    Waa, Wax, ba = (np.asarray(params[k], dtype=np.float64) for k in ("Waa", "Wax", "ba"))
    A = rnn_forward_loop(X, params, return_sequences=True)
    n_x, m, T = X.shape
    n_a = Waa.shape[0]
    dX = np.zeros_like(X)
    dWaa, dWax, dba = np.zeros_like(Waa), np.zeros_like(Wax), np.zeros_like(ba)
    for j in range(m):
        da_next = np.zeros(n_a)
        for t in reversed(range(T)):
            da = da_next.copy()
            if return_sequences:
                da += dA[:, j, t]
            elif t == T - 1:
                da += dA[:, j]
            dz = da * (1.0 - A[:, j, t] ** 2)  # tanh'(z) = 1 - a^2
            a_prev = A[:, j, t - 1] if t > 0 else np.zeros(n_a)
            dWaa += np.outer(dz, a_prev)
            dWax += np.outer(dz, X[:, j, t])
            dba[:, 0] += dz
            dX[:, j, t] = Wax.T @ dz
            da_next = Waa.T @ dz
    return dX, {"Waa": dWaa, "Wax": dWax, "ba": dba}


def lstm_backward_loop(X, params, dA, return_sequences=False):
    """Backpropagation through time for the LSTM, one example and one step at a time.

    Follows the course's lstm_cell_backward: from da_t and dc_t, the gate gradients, then
    dW = dgate [a_{t-1}; x_t]^T and d[a_{t-1}; x_t] = W^T dgate summed over the four gates.
    Returns ``(dX, grads)`` with grads keyed ``Wf, bf, Wi, bi, Wc, bc, Wo, bo``.
    """
    X = np.asarray(X, dtype=np.float64)
    P = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    n_x, m, T = X.shape
    n_a = P["Wf"].shape[0]
    grads = {k: np.zeros_like(v) for k, v in P.items()}
    dX = np.zeros_like(X)
    for j in range(m):
        # Forward again, keeping every step's values for this example.
        a, c = np.zeros(n_a), np.zeros(n_a)
        steps = []
        for t in range(T):
            concat = np.concatenate([a, X[:, j, t]])
            f = _sigmoid(P["Wf"] @ concat + P["bf"][:, 0])
            i = _sigmoid(P["Wi"] @ concat + P["bi"][:, 0])
            cc = np.tanh(P["Wc"] @ concat + P["bc"][:, 0])
            o = _sigmoid(P["Wo"] @ concat + P["bo"][:, 0])
            c_prev, c = c, f * c + i * cc
            a = o * np.tanh(c)
            steps.append((concat, f, i, cc, o, c_prev, c))
        da_next, dc_next = np.zeros(n_a), np.zeros(n_a)
        for t in reversed(range(T)):
            concat, f, i, cc, o, c_prev, c = steps[t]
            da = da_next.copy()
            if return_sequences:
                da += dA[:, j, t]
            elif t == T - 1:
                da += dA[:, j]
            tc = np.tanh(c)
            dc = dc_next + da * o * (1.0 - tc**2)
            dgates = {
                "f": dc * c_prev * f * (1.0 - f),
                "i": dc * cc * i * (1.0 - i),
                "c": dc * i * (1.0 - cc**2),
                "o": da * tc * o * (1.0 - o),
            }
            dconcat = np.zeros(n_a + n_x)
            for g, dz in dgates.items():
                grads["W" + g] += np.outer(dz, concat)
                grads["b" + g][:, 0] += dz
                dconcat += P["W" + g].T @ dz
            da_next, dc_next = dconcat[:n_a], dc * f
            dX[:, j, t] = dconcat[n_a:]
    return dX, grads


def conv1d_forward_loop(X, W, b, stride=1, padding="valid"):
    """Z[f, j, t] = sum_{c, k} W[f, c, k] X_pad[c, j, t*stride + k] + b[f]: every term by hand."""
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n_x, m, T = X.shape
    F, _, K = W.shape
    if padding == "valid":
        T_out, left, right = (T - K) // stride + 1, 0, 0
    else:
        T_out = -(-T // stride)
        pad = max((T_out - 1) * stride + K - T, 0)
        left, right = pad // 2, pad - pad // 2
    Xp = np.zeros((n_x, m, T + left + right))
    Xp[:, :, left : left + T] = X
    Z = np.zeros((F, m, T_out))
    for f in range(F):
        for j in range(m):
            for t in range(T_out):
                total = b[f, 0]
                for c in range(n_x):
                    for k in range(K):
                        total += W[f, c, k] * Xp[c, j, t * stride + k]
                Z[f, j, t] = total
    return Z


def attention_forward_loop(X, params, heads, causal=False):
    """Multi-head self-attention, one example, head and query step at a time.

    For query step t of head h: s_u = q_t . k_u / sqrt(d_head) over the steps u it may see
    (u <= t when causal), weights = softmax(s), context_t = sum_u weights_u v_u; the heads'
    contexts are stacked and mixed by Wo, bo.
    """
    X = np.asarray(X, dtype=np.float64)
    P = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    d, m, T = X.shape
    dh = d // heads
    out = np.zeros((d, m, T))
    for j in range(m):
        x = X[:, j, :]  # (d, T)
        Q = P["Wq"] @ x + P["bq"]
        K = P["Wk"] @ x + P["bk"]
        V = P["Wv"] @ x + P["bv"]
        ctx = np.zeros((d, T))
        for h in range(heads):
            rows = slice(h * dh, (h + 1) * dh)
            for t in range(T):
                visible = range(t + 1) if causal else range(T)
                scores = np.array([Q[rows, t] @ K[rows, u] / np.sqrt(dh) for u in visible])
                weights = np.exp(scores - scores.max())
                weights /= weights.sum()
                ctx[rows, t] = sum(w * V[rows, u] for w, u in zip(weights, visible))
        out[:, j, :] = P["Wo"] @ ctx + P["bo"]
    return out
