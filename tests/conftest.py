"""Shared fixtures: every test that takes ``backend`` runs once per registered backend.

Backends that cannot run here are SKIPPED with the reason (never silently dropped), so a
CI log without a GPU still shows each cupy case and why it did not run.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet.backends import _REGISTRY

# The CPU backends the suite must pass on in every CI run, plus every other registration.
BACKEND_NAMES = list(dict.fromkeys(["numpy", "array_api_strict", "cupy", *xn.registered_backends()]))


def _backend_param(name):
    marks = [pytest.mark.gpu] if name == "cupy" else []
    return pytest.param(name, id=name, marks=marks)


@pytest.fixture(params=[_backend_param(n) for n in BACKEND_NAMES])
def backend(request):
    """A :class:`xpnet.Backend` for each registered backend; unavailable ones skip."""
    name = request.param
    factory = _REGISTRY[name]
    if not factory.is_available():
        if name == "cupy":
            from xpnet.backends.cupy_backend import _cupy_status

            pytest.skip(f"no CUDA device available ({_cupy_status()[1]})")
        reason = factory.unavailable_reason() if hasattr(factory, "unavailable_reason") else ""
        pytest.skip(f"backend {name} not available: {reason}")
    return xn.get_backend(name)


@pytest.fixture
def xp(backend):
    return backend.xp


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def planar_xor(m=400, seed=0):
    """Points in the plane labelled by the sign of x1 * x2 (XOR of the signs)."""
    g = np.random.default_rng(seed)
    X = g.uniform(-1.0, 1.0, size=(2, m))
    Y = ((X[0:1] > 0) != (X[1:2] > 0)).astype(np.float64)
    return X, Y
