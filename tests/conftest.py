"""Shared fixtures: every test that takes ``backend`` runs once per registered backend.

Backends that cannot run here are SKIPPED with the reason (never silently dropped), so a
CI log without a GPU still shows each cupy case and why it did not run.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet.backends import backend_factory

# The CPU backends the suite must pass on in every CI run, plus every other registration.
BACKEND_NAMES = list(dict.fromkeys(["numpy", "array_api_strict", "cupy", *xn.registered_backends()]))


def _backend_param(name):
    marks = [pytest.mark.gpu] if name == "cupy" else []
    return pytest.param(name, id=name, marks=marks)


@pytest.fixture(params=[_backend_param(n) for n in BACKEND_NAMES])
def backend(request):
    """A :class:`xpnet.Backend` for each registered backend; unavailable ones skip."""
    name = request.param
    factory = backend_factory(name)
    if not factory.is_available():
        if name == "cupy":
            from xpnet.backends.cupy_backend import _cupy_status

            pytest.skip(f"no CUDA device available ({_cupy_status()[1]})")
        reason = factory.unavailable_reason() if hasattr(factory, "unavailable_reason") else ""
        pytest.skip(f"backend {name} not available: {reason}")
    chosen = xn.get_backend(name)
    if name == "dask":
        # The suite's arrays are tiny: the synchronous scheduler runs the same graphs without
        # the thread pool's per-compute overhead (gradient checks compute thousands of costs).
        # Threads and a distributed cluster are exercised in tests/backends/test_dask*.py.
        import dask

        with dask.config.set(scheduler="synchronous"):
            yield chosen
        return
    yield chosen


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


# Learning tests of thousands of full-batch steps: on dask each step builds and schedules a
# small graph (tens of ms of Python overhead against microseconds of math at these sizes),
# which would add minutes to every CI run. Dask's training is covered by the 100-epoch course
# parity and tests/test_dask.py; these still run on dask with XPNET_TEST_DASK_LONG=1.
_DASK_LONG = {
    "test_two_layer_tanh_network_learns_xor",
    "test_logistic_regression_cannot_learn_xor",
    "test_zeros_initialisation_keeps_hidden_units_identical",
}


# The slowest learning tests (thousands of steps, or dozens of dask steps, per case), by test
# name and backend (None: every backend). They are marked ``slow`` here, in one list, and
# ``python -m pytest`` deselects them (pyproject's addopts); ``-m slow`` runs them. What they
# cover stays covered by default on NumPy (and array-api-strict where it is cheap).
SLOW = {
    ("test_two_layer_tanh_network_learns_xor", "array_api_strict"),
    ("test_two_layer_tanh_network_learns_xor", "dask"),
    ("test_logistic_regression_cannot_learn_xor", "array_api_strict"),
    ("test_logistic_regression_cannot_learn_xor", "dask"),
    ("test_zeros_initialisation_keeps_hidden_units_identical", "dask"),
    ("test_matches_the_course_implementation_over_100_epochs", "dask"),
    ("test_predict_and_evaluate_softmax", "dask"),
    ("test_batch_size_m_equals_full_batch_exactly", "dask"),
    ("test_resume_reaches_exactly_the_uninterrupted_parameters", "dask"),
    ("test_trajectory_equals_a_plain_numpy_reference", "dask"),
    ("test_grid_rows_equal_training_each_configuration_by_hand", "dask"),
}


def _is_slow(item) -> bool:
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("backend") if callspec is not None else None
    name = getattr(item, "originalname", item.name)
    return (name, None) in SLOW or (backend is not None and (name, backend) in SLOW)


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers
def pytest_collection_modifyitems(config, items):
    import os

    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)
    if os.environ.get("XPNET_TEST_DASK_LONG"):
        return
    skip = pytest.mark.skip(
        reason="thousands of dask steps are dominated by per-step graph overhead; run with XPNET_TEST_DASK_LONG=1"
    )
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.originalname in _DASK_LONG and callspec is not None and callspec.params.get("backend") == "dask":
            item.add_marker(skip)
