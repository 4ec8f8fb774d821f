"""Weight initialisers, drawn on the host.

The array API has no random numbers, so every initialiser draws float64 values from a
seeded :class:`numpy.random.Generator` on the host; the layer then casts them and moves
them to its backend. The same seed therefore gives the same initial weights on every
backend and device.

Each initialiser is ``init(shape, fan_in, rng) -> numpy.ndarray`` (float64).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .errors import XpnetTypeError, XpnetValueError

__all__ = ["zeros", "small_random", "xavier", "he", "get", "INITIALIZERS", "default_for", "host_rng"]

Initializer = Callable[[tuple, int, np.random.Generator], np.ndarray]


def zeros(shape, fan_in, rng):
    """All zeros: every hidden unit computes the same function (the symmetry problem)."""
    return np.zeros(shape)


def small_random(shape, fan_in, rng):
    """0.01 * N(0, 1): breaks symmetry; the course's first random initialisation."""
    return 0.01 * rng.standard_normal(shape)


def xavier(shape, fan_in, rng):
    """N(0, 1) / sqrt(n_in): keeps the variance of tanh/sigmoid layers near 1."""
    return rng.standard_normal(shape) / math.sqrt(fan_in)


def he(shape, fan_in, rng):
    """N(0, 1) * sqrt(2 / n_in): keeps the variance of ReLU layers near 1 (He et al. 2015)."""
    return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "small_random": small_random,
    "xavier": xavier,
    "he": he,
}


def get(init) -> Initializer:
    """An initialiser from a name or a callable ``(shape, fan_in, rng) -> ndarray``."""
    if callable(init):
        return init
    if isinstance(init, str):
        if init.lower() in INITIALIZERS:
            return INITIALIZERS[init.lower()]
        raise XpnetValueError(f"unknown initializer {init!r}; valid names are: {', '.join(INITIALIZERS)}")
    raise XpnetTypeError(f"init must be a name or a callable, got {type(init).__name__}")


def default_for(activation_name: str) -> str:
    """He for the ReLU family, Xavier otherwise."""
    return "he" if activation_name in ("relu", "leaky_relu") else "xavier"


def name_of(init) -> str | None:
    """The registry name of an initialiser, or None for a user's callable."""
    if isinstance(init, str):
        return init.lower()
    for name, fn in INITIALIZERS.items():
        if fn is init:
            return name
    return None


def host_rng(seed, stream: str = "numpy"):
    """The seeded host generator that every random draw of a model comes from.

    ``stream="numpy"`` (default): a :class:`numpy.random.Generator`. ``stream="course"``:
    NumPy's legacy global-seed stream, so ``seed=1`` with ``init="small_random"`` draws
    exactly the course notebooks' ``np.random.seed(1); W = np.random.randn(n, n_prev) * 0.01``,
    weight after weight in the order the layers are built.
    """
    if stream == "numpy":
        return np.random.default_rng(seed)
    if stream == "course":
        return CourseRNG(seed)
    raise XpnetValueError(f"init_rng must be 'numpy' or 'course', got {stream!r}")


class CourseRNG:
    """NumPy's legacy ``RandomState`` behind the Generator methods the layers call.

    ``standard_normal(shape)`` is ``np.random.randn(*shape)`` after ``np.random.seed(seed)``.
    Dropout masks come from independent child streams (``spawn``), which leave the weight
    stream where it was, as with a Generator.
    """

    def __init__(self, seed):
        self.seed = seed
        self._state = np.random.RandomState(seed)
        self._children = np.random.SeedSequence(seed)

    def standard_normal(self, shape):
        return self._state.standard_normal(shape)

    def random(self, shape):
        return self._state.random_sample(shape)

    def permutation(self, n):
        return self._state.permutation(n)

    def spawn(self, n):
        return [np.random.default_rng(s) for s in self._children.spawn(n)]
