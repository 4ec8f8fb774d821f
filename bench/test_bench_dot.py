"""Group ``dot``: a . b of 1,000,000 float64 elements, with a loop, NumPy and CuPy."""

from __future__ import annotations

import numpy as np
import pytest

from xpnet import reference as ref
from xpnet.benchmarks import cupy_status

N = 1_000_000


@pytest.fixture
def vectors(timing):
    n = N if timing else 1000
    g = np.random.default_rng(0)
    return g.standard_normal(n), g.standard_normal(n)


@pytest.mark.benchmark(group="dot")
@pytest.mark.parametrize("impl", ["loop", "numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def test_dot(benchmark, vectors, impl):
    a, b = vectors
    benchmark.extra_info.update({"n": int(a.shape[0]), "dtype": "float64"})
    expected = float(np.dot(a, b))
    if impl == "loop":
        result = benchmark.pedantic(ref.loop_dot, args=(a, b), rounds=3, iterations=1)
    elif impl == "numpy":
        result = benchmark.pedantic(np.dot, args=(a, b), rounds=200, iterations=1, warmup_rounds=5)
    else:
        ok, why = cupy_status()
        if not ok:
            pytest.skip(why)
        from xpnet.backends import get_backend

        import cupy

        backend = get_backend("cupy")
        ca, cb = backend.asarray(a), backend.asarray(b)

        def gpu_dot():
            out = cupy.dot(ca, cb)
            backend.synchronize()  # the timer stops after the GPU has finished
            return out

        result = float(benchmark.pedantic(gpu_dot, rounds=200, iterations=1, warmup_rounds=10))
    assert result == pytest.approx(expected, rel=1e-9)
