"""Reference implementations written with explicit loops: the oracle and the baseline.

This module is deliberately slow. It is what the course's vectorization lesson compares
against, and what the tests check the vectorized model code against. It may use NumPy
(it is not model code) but the dense network below uses it only for storage and scalar
functions: every multiply-add is a Python statement.

Three implementations of one dense training step share one signature, so tests and
benchmarks parametrise over them (see :data:`IMPLEMENTATIONS`):

* ``loop``: explicit Python loops over examples, units and inputs (the course's
  non-vectorized version);
* ``per_example``: a loop over examples, each example's column vectorized with NumPy
  (the middle version);
* ``vectorized``: xpnet's own :class:`~xpnet.Sequential` on a backend (the real thing).

Each provides ``forward(params, X, activations) -> (AL, caches)``, ``cost(AL, Y, loss)``,
``gradients(params, X, Y, activations, loss=None) -> {"dW1": ..., "db1": ...}`` (the same
dict as :meth:`Sequential.gradients`), ``update(params, grads, learning_rate)`` and
``train_step(params, X, Y, activations, learning_rate, loss=None) -> (cost, params)``.
``params`` is ``{"W1": ..., "b1": ..., ...}`` in course shapes; ``activations`` lists
one activation per layer (names such as ``"relu"`` or :mod:`xpnet.activations` objects);
``loss`` is a loss name, defaulting from the output activation as ``fit`` does.

The course's small demos are here too: :func:`loop_dot` / :func:`vectorized_dot`,
:func:`loop_matvec` / :func:`vectorized_matvec` and :func:`loop_exp` / :func:`vectorized_exp`.

The sequence layers have loop references too (:func:`rnn_forward_loop`, :func:`lstm_forward_loop`,
:func:`conv1d_forward_loop`, ...): one example and one time step at a time, in the layers' local
parameter names, checked against the vectorized layers in ``tests/test_sequence_layers.py``.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from . import activations as _activations
from . import losses as _losses
from .errors import ShapeError, XpnetTypeError, XpnetValueError

__all__ = [
    # the course's demos
    "loop_dot",
    "vectorized_dot",
    "loop_matvec",
    "vectorized_matvec",
    "loop_exp",
    "vectorized_exp",
    # dense network: explicit loops
    "loop_forward",
    "loop_cost",
    "loop_gradients",
    "loop_update",
    "loop_train_step",
    # dense network: loop over examples, vectorized inside
    "per_example_forward",
    "per_example_cost",
    "per_example_gradients",
    "per_example_update",
    "per_example_train_step",
    # dense network: xpnet's Sequential
    "vectorized_net",
    "vectorized_forward",
    "vectorized_cost",
    "vectorized_gradients",
    "vectorized_update",
    "vectorized_train_step",
    "IMPLEMENTATIONS",
    # sequence layers: explicit loops
    "rnn_forward_loop",
    "lstm_forward_loop",
    "rnn_backward_loop",
    "lstm_backward_loop",
    "conv1d_forward_loop",
    "attention_forward_loop",
]


# ==========================================================================================
# The course's vectorization demos
# ==========================================================================================
def _vector(name, a) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1:
        raise ShapeError(f"{name} must be a 1-D vector, got shape {a.shape}")
    return a


def loop_dot(a, b):
    """a . b with a Python for loop, one multiply-add per element (the course's "for loop" demo)."""
    a, b = _vector("a", a), _vector("b", b)
    if a.shape != b.shape:
        raise ShapeError(f"a and b must have the same length, got {a.shape[0]} and {b.shape[0]}")
    c = 0.0
    for i in range(a.shape[0]):
        c += a[i] * b[i]
    return float(c)


def vectorized_dot(a, b, xp=np):
    """a . b in one vectorized call (the course's ``np.dot``); ``xp`` may be cupy."""
    if xp is np:
        a, b = _vector("a", a), _vector("b", b)
    return xp.dot(a, b)


def loop_matvec(W, x):
    """u = W x with two nested loops (over rows, then over inputs)."""
    W = np.asarray(W)
    x = _vector("x", x)
    if W.ndim != 2 or W.shape[1] != x.shape[0]:
        raise ShapeError(f"W must be (n, {x.shape[0]}) for x of length {x.shape[0]}, got shape {W.shape}")
    u = np.zeros(W.shape[0], dtype=np.result_type(W, x))
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            u[i] += W[i, j] * x[j]
    return u


def vectorized_matvec(W, x, xp=np):
    """u = W x in one call (``np.dot(W, x)``)."""
    return xp.matmul(W, x)


def loop_exp(v):
    """u_i = e^{v_i}, one element at a time."""
    v = _vector("v", v)
    u = np.zeros_like(v, dtype=np.result_type(v, np.float32))
    for i in range(v.shape[0]):
        u[i] = math.exp(v[i])
    return u


def vectorized_exp(v, xp=np):
    """u = e^v element-wise in one call (``np.exp(v)``)."""
    return xp.exp(v)


# ==========================================================================================
# Dense network: shared helpers (argument checking, activations and losses on scalars)
# ==========================================================================================
def _check(params, X, activations):
    if not isinstance(params, dict):
        raise XpnetTypeError(f"params must be a dict like {{'W1': ..., 'b1': ...}}, got {type(params).__name__}")
    acts = [_activations.get(a) for a in activations]
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


def _loss_of(loss, acts):
    if loss is not None:
        return _losses.get(loss)
    return _losses.default_for(acts[-1].name)


def _check_Y(Y, AL):
    Y = np.asarray(Y)
    if Y.shape != AL.shape:
        raise ShapeError(f"Y must have the output's shape {AL.shape}, got {Y.shape}")
    return Y


def _g(act, z):
    """g(z) for one element-wise activation on one scalar."""
    name = act.name
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z)) if z >= 0 else np.exp(z) / (1.0 + np.exp(z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return z if z > 0 else 0.0 * z
    if name == "leaky_relu":
        return z if z > 0 else act.slope * z
    if name == "linear":
        return z
    raise XpnetValueError(f"the loop reference has no scalar form of activation {name!r}")


def _g_prime(act, z, a):
    """g'(z) for one scalar (from the output a where that is the course's formula)."""
    name = act.name
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return 1.0 if z > 0 else 0.0
    if name == "leaky_relu":
        return 1.0 if z > 0 else act.slope
    return 1.0  # linear


def _per_element_loss(loss, a, y, eps):
    name = loss.name
    if name == "binary_crossentropy":
        a = min(max(a, eps), 1.0 - eps)
        return -(y * math.log(a) + (1.0 - y) * math.log(1.0 - a))
    if name == "categorical_crossentropy":
        return -y * math.log(min(max(a, eps), 1.0 - eps))
    if name == "mean_squared_error":
        return (a - y) * (a - y)
    raise XpnetValueError(f"the loop reference has no form of loss {name!r}")


def _per_element_gradient(loss, a, y, eps, denominator):
    """dJ/da for one element, including the loss's 1/denominator."""
    name = loss.name
    if name == "binary_crossentropy":
        a = min(max(a, eps), 1.0 - eps)
        return (-(y / a) + (1.0 - y) / (1.0 - a)) / denominator
    if name == "categorical_crossentropy":
        return -y / min(max(a, eps), 1.0 - eps) / denominator
    return 2.0 * (a - y) / denominator  # mean squared error


def _denominator(loss, Y) -> float:
    return float(loss.denominator(Y))


# ==========================================================================================
# Dense network: explicit loops over examples, units and inputs (the course's loop version)
# ==========================================================================================
def loop_forward(params, X, activations):
    """Forward propagation, one multiply-add at a time.

    Returns ``(AL, caches)`` with ``caches[l-1] = (A_prev, Z, A)`` of layer l.
    """
    acts, X = _check(params, X, activations)
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
                top = max(Z[j, i] for j in range(n))
                e = [np.exp(Z[j, i] - top) for j in range(n)]
                total = sum(e)
                for j in range(n):
                    A[j, i] = e[j] / total
            else:
                for j in range(n):
                    A[j, i] = _g(act, Z[j, i])
        caches.append((A_prev, Z, A))
    return A, caches


def loop_cost(AL, Y, loss="binary_crossentropy"):
    """J summed element by element and divided as the loss defines its mean."""
    loss = _losses.get(loss)
    AL = np.asarray(AL)
    Y = _check_Y(Y, AL)
    eps = float(np.finfo(AL.dtype).eps)
    total = 0.0
    for j in range(AL.shape[0]):
        for i in range(AL.shape[1]):
            total += _per_element_loss(loss, float(AL[j, i]), float(Y[j, i]), eps)
    return total / _denominator(loss, Y)


def loop_gradients(params, X, Y, activations, loss=None):
    """Backward propagation with explicit loops; returns ``{"dW1": ..., "db1": ..., ...}``.

    Each example's error is pushed back through the layers unit by unit, and its share
    of dW and db is added in; the loss's 1/m is inside dJ/dA, as in :mod:`xpnet.losses`.
    """
    acts, X = _check(params, X, activations)
    loss = _loss_of(loss, acts)
    AL, caches = loop_forward(params, X, acts)
    Y = _check_Y(Y, AL)
    L, m = len(acts), X.shape[1]
    eps = float(np.finfo(AL.dtype).eps)
    denominator = _denominator(loss, Y)
    grads = {}
    for l in range(1, L + 1):
        grads[f"dW{l}"] = np.zeros_like(params[f"W{l}"], dtype=AL.dtype)
        grads[f"db{l}"] = np.zeros_like(params[f"b{l}"], dtype=AL.dtype)
    for i in range(m):  # every example
        n_L = AL.shape[0]
        dA = [_per_element_gradient(loss, float(AL[j, i]), float(Y[j, i]), eps, denominator) for j in range(n_L)]
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
                dZ = [dA[j] * _g_prime(act, Z[j, i], A[j, i]) for j in range(n)]
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


def _train_step(forward, cost, gradients, update):
    """One full-batch gradient-descent step from an implementation's four parts."""

    def train_step(params, X, Y, activations, learning_rate, loss=None):
        """One full-batch gradient-descent step: ``(cost before the update, new params)``."""
        acts, _ = _check(params, X, activations)
        loss = _loss_of(loss, acts)
        AL, _ = forward(params, X, acts)
        grads = gradients(params, X, Y, acts, loss)
        return cost(AL, Y, loss), update(params, grads, learning_rate)

    return train_step


loop_train_step = _train_step(loop_forward, loop_cost, loop_gradients, loop_update)


# ==========================================================================================
# Dense network: a loop over examples, each column vectorized with NumPy (the middle version)
# ==========================================================================================
def _column_forward(act, Z):
    if act.name == "softmax":
        E = np.exp(Z - Z.max(axis=0, keepdims=True))
        return E / E.sum(axis=0, keepdims=True)
    return np.asarray(act.forward(Z))


def _column_backward(act, dA, Z, A):
    return np.asarray(act.backward(dA, Z, A))


def per_example_forward(params, X, activations):
    """Forward propagation one example (column) at a time; returns ``(AL, caches)``."""
    acts, X = _check(params, X, activations)
    dtype = np.result_type(X, params["W1"])
    X = X.astype(dtype)
    m = X.shape[1]
    columns = []  # per example: [(a_prev, z, a) per layer]
    for i in range(m):
        a = X[:, i : i + 1]
        per_layer = []
        for l, act in enumerate(acts, start=1):
            z = params[f"W{l}"] @ a + params[f"b{l}"]
            a_next = _column_forward(act, z)
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
    loss = _losses.get(loss)
    AL = np.asarray(AL)
    Y = _check_Y(Y, AL)
    total = 0.0
    for i in range(AL.shape[1]):
        total += float(loss.cost(AL[:, i : i + 1], Y[:, i : i + 1])) * loss.denominator(Y[:, i : i + 1])
    return total / _denominator(loss, Y)


def per_example_gradients(params, X, Y, activations, loss=None):
    """Backward propagation one example at a time, summing each example's dW and db."""
    acts, X = _check(params, X, activations)
    loss = _loss_of(loss, acts)
    AL, caches = per_example_forward(params, X, acts)
    Y = _check_Y(Y, AL)
    L, m = len(acts), X.shape[1]
    denominator = _denominator(loss, Y)
    grads = {}
    for l in range(1, L + 1):
        grads[f"dW{l}"] = np.zeros_like(params[f"W{l}"], dtype=AL.dtype)
        grads[f"db{l}"] = np.zeros_like(params[f"b{l}"], dtype=AL.dtype)
    for i in range(m):
        col = slice(i, i + 1)
        y = Y[:, col]
        # The loss's gradient for one column, rescaled from that column's mean to the batch's.
        dA = np.asarray(loss.gradient(AL[:, col], y)) * (loss.denominator(y) / denominator)
        for l in range(L, 0, -1):
            A_prev, Z, A = (part[:, col] for part in caches[l - 1])
            dZ = _column_backward(acts[l - 1], dA, Z, A)
            grads[f"dW{l}"] += dZ @ A_prev.T
            grads[f"db{l}"] += dZ
            if l > 1:
                dA = params[f"W{l}"].T @ dZ
    return grads


def per_example_update(params, grads, learning_rate):
    """W = W - learning_rate * dW (vectorized: an update has no examples axis to loop over)."""
    return {name: P - learning_rate * grads["d" + name] for name, P in params.items()}


per_example_train_step = _train_step(per_example_forward, per_example_cost, per_example_gradients,
                                     per_example_update)


# ==========================================================================================
# Dense network: xpnet's vectorized Sequential behind the same signatures
# ==========================================================================================
def vectorized_net(params, activations, backend="numpy", dtype=None):
    """A :class:`~xpnet.Sequential` of Dense layers holding ``params`` (copied to ``backend``)."""
    from .layers import Dense
    from .model import Sequential

    acts = [_activations.get(a) for a in activations]
    if dtype is None:
        dtype = str(np.asarray(params.get("W1", np.zeros(1))).dtype)
        dtype = dtype if dtype in ("float32", "float64") else "float64"
    n_x = int(np.asarray(params["W1"]).shape[1]) if "W1" in params else None
    if n_x is None:
        raise XpnetValueError("params must contain W1 (the first layer's weights)")
    layers = [Dense(int(np.asarray(params[f"W{l}"]).shape[0]), activation=act) for l, act in enumerate(acts, start=1)]
    net = Sequential(layers, input_size=n_x, backend=backend, dtype=dtype, seed=0)
    return net.set_parameters(params)


def _host(net, tree):
    return {k: net.backend.to_numpy(v) for k, v in tree.items()}


def vectorized_forward(params, X, activations, backend="numpy"):
    """xpnet's forward propagation; returns ``(AL, caches)`` as host arrays (Z may be None)."""
    acts, X = _check(params, X, activations)
    net = vectorized_net(params, acts, backend)
    with net.backend.context():
        AL, caches = net.forward(net._input(X), training=True)
        to_host = net.backend.to_numpy
        # A layer may drop Z from its cache when backward does not need it: None here too.
        return to_host(AL), [tuple(None if part is None else to_host(part) for part in (c.A_prev, c.Z, c.A)) for c in caches]


def vectorized_cost(AL, Y, loss="binary_crossentropy"):
    """xpnet's loss on host arrays (computed from A, not fused with the logits)."""
    loss = _losses.get(loss)
    AL = np.asarray(AL)
    return float(loss.cost(AL, _check_Y(Y, AL)))


def vectorized_gradients(params, X, Y, activations, loss=None, backend="numpy"):
    """``Sequential.gradients`` for these params, as host arrays."""
    acts, X = _check(params, X, activations)
    net = vectorized_net(params, acts, backend)
    return _host(net, net.gradients(X, Y, loss=_loss_of(loss, acts)))


def vectorized_update(params, grads, learning_rate):
    """:class:`~xpnet.GradientDescent`'s update."""
    from .optim import GradientDescent

    return GradientDescent(learning_rate).update(dict(params), grads)


def vectorized_train_step(params, X, Y, activations, learning_rate, loss=None, backend="numpy"):
    """One full-batch gradient-descent step of xpnet's ``fit``: ``(cost before the update, new params)``."""
    from .optim import GradientDescent

    acts, X = _check(params, X, activations)
    net = vectorized_net(params, acts, backend)
    hist = net.fit(X, Y, loss=_loss_of(loss, acts), optimizer=GradientDescent(learning_rate), epochs=1)
    return hist.costs[0], _host(net, net.parameters())


#: The three implementations by name, each a namespace with ``forward``, ``cost``,
#: ``gradients``, ``update`` and ``train_step`` of the signatures above.
IMPLEMENTATIONS = {
    name: SimpleNamespace(
        name=name,
        forward=globals()[f"{name}_forward"],
        cost=globals()[f"{name}_cost"],
        gradients=globals()[f"{name}_gradients"],
        update=globals()[f"{name}_update"],
        train_step=globals()[f"{name}_train_step"],
    )
    for name in ("loop", "per_example", "vectorized")
}


# ======================================================================================
# Sequence models (issue 6): SimpleRNN, LSTM, Conv1D forward propagation, loop by loop.
# Inputs are (n_x, m, T); parameters are the layers' local names (Waa, Wax, ba, ...).
# ======================================================================================


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
