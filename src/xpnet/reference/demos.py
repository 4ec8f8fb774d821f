"""The course's vectorization demos: the same operation as a Python loop and in one call."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError

__all__ = ["loop_dot", "vectorized_dot", "loop_matvec", "vectorized_matvec", "loop_exp", "vectorized_exp"]


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
