"""The dense network's reference: explicit loops, the oracle the vectorized code is checked against.

Two implementations of one training step share one signature with
:mod:`xpnet.reference.vectorized`, so tests and benchmarks parametrise over them:

* ``loop``: explicit Python loops over examples, units and inputs (the course's
  non-vectorized version); every multiply-add is a Python statement;
* ``per_example``: a loop over examples, each example's column vectorized with NumPy
  (the middle version).

Both use only their own math (:mod:`xpnet.reference._scalar`), never xpnet's activations
or losses, so a bug there cannot hide behind the oracle.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError, XpnetTypeError, XpnetValueError
from . import _scalar as S

__all__ = [
    "loop_forward",
    "loop_cost",
    "loop_gradients",
    "loop_update",
    "loop_train_step",
    "per_example_forward",
    "per_example_cost",
    "per_example_gradients",
    "per_example_update",
    "per_example_train_step",
]


# -- shared: argument checks ------------------------------------------------------------------
def check(params, X, activations):
    """The activations as :class:`~xpnet.reference._scalar.Act` and X as an array, checked."""
    if not isinstance(params, dict):
        raise XpnetTypeError(f"params must be a dict like {{'W1': ..., 'b1': ...}}, got {type(params).__name__}")
    acts = [S.activation(a) for a in activations]
    L = len(acts)
    if L < 1:
        raise XpnetValueError("activations must name one activation per layer, got an empty list")
    expected = {f"{p}{l}" for l in range(1, L + 1) for p in ("W", "b")}
    if set(params) != expected:
        raise XpnetValueError(
            f"params must have exactly the keys {sorted(expected)} for {L} activations, got {sorted(params)}"
        )
    X = np.asarray(X)
    if X.ndim != 2:
        raise ShapeError(f"X must be 2-D (n_x, m), one example per column, got shape {X.shape}")
    n_prev = X.shape[0]
    for l in range(1, L + 1):
        W, b = np.asarray(params[f"W{l}"]), np.asarray(params[f"b{l}"])
        if W.ndim != 2 or W.shape[1] != n_prev:
            raise ShapeError(f"W{l} must be (n_{l}, {n_prev}), got shape {W.shape}")
        if b.shape != (W.shape[0], 1):
            raise ShapeError(f"b{l} must be ({W.shape[0]}, 1), got shape {b.shape}")
        n_prev = W.shape[0]
    return acts, X


def check_targets(Y, AL):
    Y = np.asarray(Y)
    if Y.shape != AL.shape:
        raise ShapeError(f"Y must have the output's shape {AL.shape}, got {Y.shape}")
    return Y


def make_train_step(forward, cost, gradients, update):
    """One full-batch gradient-descent step from an implementation's four parts."""

    def train_step(params, X, Y, activations, learning_rate, loss=None):
        """One full-batch gradient-descent step: ``(cost before the update, new params)``."""
        acts, _ = check(params, X, activations)
        loss = S.loss_name(loss, acts[-1])
        AL, _ = forward(params, X, acts)
        grads = gradients(params, X, Y, acts, loss)
        return cost(AL, Y, loss), update(params, grads, learning_rate)

    return train_step


# -- explicit loops over examples, units and inputs -------------------------------------------
def loop_forward(params, X, activations):
    """Forward propagation, one multiply-add at a time.

    Returns ``(AL, caches)`` with ``caches[l-1] = (A_prev, Z, A)`` of layer l.
    """
    acts, X = check(params, X, activations)
    dtype = np.result_type(X, params["W1"])
    m = X.shape[1]
    A = X.astype(dtype)
    caches = []
    for l, act in enumerate(acts, start=1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        n, n_prev = W.shape
        A_prev = A
        Z = np.zeros((n, m), dtype=dtype)
        A = np.zeros((n, m), dtype=dtype)
        for i in range(m):  # every example
            for j in range(n):  # every unit
                z = b[j, 0]
                for k in range(n_prev):  # every input
                    z += W[j, k] * A_prev[k, i]
                Z[j, i] = z
            if act.name == "softmax":
                top = max(float(Z[j, i]) for j in range(n))
                e = [math.exp(float(Z[j, i]) - top) for j in range(n)]
                total = sum(e)
                for j in range(n):
                    A[j, i] = e[j] / total
            else:
                for j in range(n):
                    A[j, i] = S.g(act, float(Z[j, i]))
        caches.append((A_prev, Z, A))
    return A, caches


def loop_cost(AL, Y, loss="binary_crossentropy"):
    """J summed element by element and divided as the loss defines its mean."""
    loss = S.loss_name(loss)
    AL = np.asarray(AL)
    Y = check_targets(Y, AL)
    eps = float(np.finfo(AL.dtype).eps)
    total = 0.0
    for j in range(AL.shape[0]):
        for i in range(AL.shape[1]):
            total += S.element_loss(loss, float(AL[j, i]), float(Y[j, i]), eps)
    return total / S.denominator(loss, Y.shape)


def _backward_setup(forward, params, X, Y, activations, loss):
    """What both backward oracles start from: the checked inputs, ``forward``'s outputs and
    caches, eps, the loss's denominator and zeroed gradients ``{"dW1": ..., "db1": ...}``."""
    acts, X = check(params, X, activations)
    loss = S.loss_name(loss, acts[-1])
    AL, caches = forward(params, X, acts)
    Y = check_targets(Y, AL)
    grads = {}
    for l in range(1, len(acts) + 1):
        grads[f"dW{l}"] = np.zeros_like(params[f"W{l}"], dtype=AL.dtype)
        grads[f"db{l}"] = np.zeros_like(params[f"b{l}"], dtype=AL.dtype)
    return acts, loss, Y, AL, caches, float(np.finfo(AL.dtype).eps), S.denominator(loss, Y.shape), grads


def loop_gradients(params, X, Y, activations, loss=None):
    """Backward propagation with explicit loops; returns ``{"dW1": ..., "db1": ..., ...}``.

    Each example's error is pushed back through the layers unit by unit, and its share
    of dW and db is added in; the loss's 1/m is inside dJ/dA, as in :mod:`xpnet.losses`.
    """
    acts, loss, Y, AL, caches, eps, denominator, grads = _backward_setup(loop_forward, params, X, Y, activations, loss)
    L, m = len(acts), AL.shape[1]
    for i in range(m):  # every example
        n_L = AL.shape[0]
        dA = [S.element_gradient(loss, float(AL[j, i]), float(Y[j, i]), eps) / denominator for j in range(n_L)]
        for l in range(L, 0, -1):
            act = acts[l - 1]
            A_prev, Z, A = caches[l - 1]
            W = params[f"W{l}"]
            n, n_prev = W.shape
            if act.name == "softmax":
                # dz_j = a_j (da_j - sum_k da_k a_k): the Jacobian-vector product, per example.
                s = 0.0
                for j in range(n):
                    s += dA[j] * A[j, i]
                dZ = [A[j, i] * (dA[j] - s) for j in range(n)]
            else:
                dZ = [dA[j] * S.g_prime(act, float(Z[j, i])) for j in range(n)]
            dW, db = grads[f"dW{l}"], grads[f"db{l}"]
            for j in range(n):  # every unit
                db[j, 0] += dZ[j]
                for k in range(n_prev):  # every input
                    dW[j, k] += dZ[j] * A_prev[k, i]
            if l > 1:
                dA_prev = [0.0] * n_prev
                for k in range(n_prev):
                    for j in range(n):
                        dA_prev[k] += W[j, k] * dZ[j]
                dA = dA_prev
    return grads


def loop_update(params, grads, learning_rate):
    """W = W - learning_rate * dW, one element at a time; returns new arrays."""
    new = {}
    for name, P in params.items():
        P = np.array(P, copy=True)
        G = grads["d" + name]
        rows, cols = P.shape
        for r in range(rows):
            for c in range(cols):
                P[r, c] -= learning_rate * G[r, c]
        new[name] = P
    return new


loop_train_step = make_train_step(loop_forward, loop_cost, loop_gradients, loop_update)


# -- a loop over examples, each column vectorized with NumPy ----------------------------------
def per_example_forward(params, X, activations):
    """Forward propagation one example (column) at a time; returns ``(AL, caches)``."""
    acts, X = check(params, X, activations)
    dtype = np.result_type(X, params["W1"])
    X = X.astype(dtype)
    m = X.shape[1]
    columns = []  # per example: [(a_prev, z, a) per layer]
    for i in range(m):
        a = X[:, i : i + 1]
        per_layer = []
        for l, act in enumerate(acts, start=1):
            z = params[f"W{l}"] @ a + params[f"b{l}"]
            a_next = S.column_forward(act, z)
            per_layer.append((a, z, a_next))
            a = a_next
        columns.append(per_layer)
    caches = [
        tuple(np.concatenate([columns[i][l][part] for i in range(m)], axis=1) for part in range(3))
        for l in range(len(acts))
    ]
    return caches[-1][2], caches


def per_example_cost(AL, Y, loss="binary_crossentropy"):
    """J from one example's column at a time (vectorized over the output units)."""
    loss = S.loss_name(loss)
    AL = np.asarray(AL)
    Y = check_targets(Y, AL)
    eps = float(np.finfo(AL.dtype).eps)
    total = 0.0
    for i in range(AL.shape[1]):
        total += S.column_loss(loss, AL[:, i : i + 1], Y[:, i : i + 1], eps)
    return total / S.denominator(loss, Y.shape)


def per_example_gradients(params, X, Y, activations, loss=None):
    """Backward propagation one example at a time, summing each example's dW and db."""
    acts, loss, Y, AL, caches, eps, denominator, grads = _backward_setup(per_example_forward, params, X, Y,
                                                                          activations, loss)
    L, m = len(acts), AL.shape[1]
    for i in range(m):
        col = slice(i, i + 1)
        dA = S.column_gradient(loss, AL[:, col], Y[:, col], eps) / denominator
        for l in range(L, 0, -1):
            A_prev, Z, A = (part[:, col] for part in caches[l - 1])
            dZ = S.column_backward(acts[l - 1], dA, Z, A)
            grads[f"dW{l}"] += dZ @ A_prev.T
            grads[f"db{l}"] += dZ
            if l > 1:
                dA = params[f"W{l}"].T @ dZ
    return grads


def per_example_update(params, grads, learning_rate):
    """W = W - learning_rate * dW (vectorized: an update has no examples axis to loop over)."""
    return {name: P - learning_rate * grads["d" + name] for name, P in params.items()}


per_example_train_step = make_train_step(per_example_forward, per_example_cost, per_example_gradients,
                                         per_example_update)
