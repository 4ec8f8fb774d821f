"""Datasets in course layout: X is (n_x, m), one example per column; Y is (1, m) or one-hot (k, m)."""

from __future__ import annotations

import numpy as np

__all__ = ["planar_flower"]


def planar_flower(m: int = 400, seed: int = 1, noise: float = 0.2):
    """The course's planar "flower": two classes of points on the petals of a rose curve.

    Parameters
    ----------
    m : int
        Number of examples (half per class).
    seed : int
        Seed of the generator, so the same call always gives the same data.
    noise : float
        Standard deviation of the angular and radial noise.

    Returns
    -------
    X : ndarray, shape (2, m)
    Y : ndarray, shape (1, m), values 0.0 / 1.0
    """
    rng = np.random.default_rng(seed)
    half = m // 2
    X = np.zeros((2, 2 * half))
    Y = np.zeros((1, 2 * half))
    petals = 4.0
    for j in range(2):
        cols = slice(half * j, half * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, half) + rng.standard_normal(half) * noise
        r = petals * np.sin(4 * t) + rng.standard_normal(half) * noise
        X[0, cols], X[1, cols] = r * np.sin(t), r * np.cos(t)
        Y[0, cols] = j
    return X, Y
