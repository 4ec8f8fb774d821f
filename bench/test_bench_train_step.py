"""Group ``train_step``: one full-batch gradient-descent step, over case x implementation x dtype.

Cases: the course net [12288, 20, 7, 5, 1] m=209, the planar net [2, 4, 1] m=400 and the
GEMM-bound net [784, 1024, 1024, 10] m=8192. Implementations: the explicit loop (on a few
examples, its time scaled to the full m: ``extra_info["scale"]``), the per-example loop,
xpnet on NumPy and CuPy, the hand-written course-style NumPy step, and PyTorch on the CPU
and CUDA. ``matmuls`` times the GEMM-bound step's matrix products alone.
Under --benchmark-disable every case runs once on a few examples.
"""

from __future__ import annotations

import numpy as np
import pytest

from xpnet import benchmarks as xb

IMPLS = ["loop", "per_example", "xpnet-numpy", "numpy-handwritten", "torch-cpu",
         pytest.param("xpnet-cupy", marks=pytest.mark.gpu), pytest.param("torch-cuda", marks=pytest.mark.gpu)]
ROUNDS = {"course": 20, "planar": 200, "gemm": 5}
# Examples the explicit loops run on (their time is scaled to the case's m).
LOOP_M = {"course": 1, "planar": 400, "gemm": 1}
PER_EXAMPLE_M = {"course": 209, "planar": 400, "gemm": 256}
# Examples when benchmarks are disabled: enough to run every line, fast.
SMOKE_M = 4


def _case(name, timing):
    case = xb.CASES[name]
    return case if timing else case.with_m(SMOKE_M)


def _step(case, impl, dtype, timing):
    if impl == "loop":
        if case.name == "gemm" and not timing:
            pytest.skip("the explicit loop on the GEMM-bound net takes seconds per example: only with benchmarks on")
        return xb.LoopStep(case, "loop", dtype, m=LOOP_M[case.name] if timing else 1)
    if impl == "per_example":
        return xb.LoopStep(case, "per_example", dtype, m=PER_EXAMPLE_M[case.name] if timing else None)
    if impl == "numpy-handwritten":
        return xb.HandwrittenStep(case, dtype)
    if impl.startswith("torch"):
        ok, why = xb.torch_status(cuda=impl == "torch-cuda")
        if not ok:
            pytest.skip(why)
        return xb.TorchStep(case, dtype, device="cuda" if impl == "torch-cuda" else "cpu")
    backend = impl.split("-", 1)[1]
    if backend == "cupy":
        ok, why = xb.cupy_status()
        if not ok:
            pytest.skip(why)
    return xb.XpnetStep(case, dtype, backend=backend)


@pytest.mark.benchmark(group="train_step")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", ["course", "planar", "gemm"])
def test_train_step(benchmark, timing, case, impl, dtype):
    case = _case(case, timing)
    step = _step(case, impl, dtype, timing)
    scale = getattr(step, "scale", 1.0)
    benchmark.extra_info.update({"dims": list(case.dims), "m": case.m, "dtype": dtype, "scale": scale,
                                 "note": f"timed on m={step.m}; multiply by scale for the full m" if scale != 1
                                 else ""})
    benchmark.group = f"train_step {case.name} {dtype}"  # compare implementations within one case
    slow = impl in ("loop", "per_example")
    cost = benchmark.pedantic(step, rounds=1 if slow else ROUNDS[case.name], iterations=1,
                              warmup_rounds=0 if slow else 2)
    assert np.isfinite(float(cost))


@pytest.mark.benchmark(group="train_step")
@pytest.mark.parametrize("dtype", ["float32"])
def test_gemm_matmuls_only(benchmark, timing, dtype):
    """The GEMM-bound step's matrix products alone: divide by xpnet-numpy's median for their share."""
    case = _case("gemm", timing)
    g = np.random.default_rng(1)
    A = [g.standard_normal((n, case.m)).astype(dtype) for n in case.dims]
    W = [None] + [g.standard_normal((case.dims[l], case.dims[l - 1])).astype(dtype) for l in range(1, len(case.dims))]

    def products():
        out = []
        for l in range(1, len(case.dims)):
            out.append(W[l] @ A[l - 1])  # forward Z[l]
            out.append(A[l] @ A[l - 1].T)  # backward dW[l] (dZ[l] has A[l]'s shape)
            if l > 1:
                out.append(W[l].T @ A[l])  # backward dA[l-1]
        return out

    benchmark.extra_info.update({"dims": list(case.dims), "m": case.m, "dtype": dtype})
    benchmark.group = f"train_step gemm {dtype}"
    out = benchmark.pedantic(products, rounds=ROUNDS["gemm"], iterations=1, warmup_rounds=1)
    assert len(out) == 3 * (len(case.dims) - 1) - 1
