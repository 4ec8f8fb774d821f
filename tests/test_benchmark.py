"""``xpnet bench`` and its building blocks (the timings themselves are not tested)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnet as xn
from xpnet import benchmarks as xb
from xpnet import reference as ref
from xpnet.cli import main

TINY = {
    "course": xb.Case("course", (30, 5, 4, 3, 1), 7, ("relu", "relu", "relu", "sigmoid"), "binary_crossentropy", 0.1),
    "planar": xb.Case("planar", (2, 4, 1), 9, ("tanh", "sigmoid"), "binary_crossentropy", 1.2),
    "gemm": xb.Case("gemm", (12, 16, 16, 3), 20, ("relu", "relu", "softmax"), "categorical_crossentropy", 0.1),
}


@pytest.mark.parametrize("name", list(TINY))
def test_every_step_does_the_same_math(name):
    """xpnet's step, the hand-written NumPy step, the loops and torch agree after two steps."""
    case = TINY[name]
    x, h = xb.XpnetStep(case, "float64"), xb.HandwrittenStep(case, "float64")
    loop = xb.LoopStep(case, "loop", "float64")
    costs = [(float(x()), float(h()), float(loop())) for _ in range(2)]
    for c in costs:
        assert c[0] == pytest.approx(c[1], rel=1e-10) and c[0] == pytest.approx(c[2], rel=1e-10)
    params = {k: xn.to_numpy(v) for k, v in x.net.parameters().items()}
    for k, v in params.items():
        np.testing.assert_allclose(v, h.params[k], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(v, loop.params[k], rtol=1e-10, atol=1e-12)
    ok, why = xb.torch_status()
    if not ok:
        pytest.skip(why)
    t = xb.TorchStep(case, "float64", threads=1)
    assert [float(t()) for _ in range(2)] == pytest.approx([c[0] for c in costs], rel=1e-10)
    for k, v in params.items():
        np.testing.assert_allclose(v, t.params[k].detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(TINY))
def test_xpnet_step_equals_an_independent_reference_step(name):
    # The per-example reference is NumPy written out column by column: it shares no code
    # with fit (reference.vectorized_* is fit itself, so comparing with it proves nothing).
    case = TINY[name]
    step = xb.XpnetStep(case, "float64")
    params, X, Y = xb.make_problem(case, "float64")
    cost, new = ref.per_example_train_step(params, X, Y, list(case.activations), case.learning_rate, case.loss)
    assert float(step()) == pytest.approx(cost, rel=1e-10)
    for k, v in step.net.parameters().items():
        np.testing.assert_allclose(xn.to_numpy(v), new[k], rtol=1e-10, atol=1e-13)


def test_loop_step_scales_a_reduced_batch():
    step = xb.LoopStep(TINY["course"], "loop", "float32", m=2)
    assert (step.m, step.scale) == (2, 7 / 2)
    assert step.X.shape == (30, 2) and np.isfinite(step())


def test_time_call_counts_rounds_and_stops_early():
    calls = []
    times = xb.time_call(lambda: calls.append(1), rounds=4, warmup=2)
    assert len(times) == 4 and len(calls) == 6 and all(t >= 0 for t in times)
    assert len(xb.time_call(lambda: sum(range(10000)), rounds=50, max_seconds=0.0)) == 1


def test_minimum_bytes_and_peak_memory():
    case = TINY["gemm"]
    n_params = 12 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3
    assert case.n_params == n_params
    assert xb.minimum_training_bytes(case, "float64") == 8 * (2 * n_params + (16 + 16 + 3) * 20 + (12 + 3) * 20)
    mem = xb.peak_memory(lambda: xb.XpnetStep(case, "float64"), case, "float64")
    # A step needs at least the parameters, gradients, activations and data.
    assert mem["peak_bytes"] >= 0.9 * mem["minimum_bytes"] and mem["ratio"] == mem["peak_bytes"] / mem["minimum_bytes"]


def test_matmul_fraction_is_a_share_of_the_step():
    frac = xb.matmul_fraction(TINY["gemm"], "float32", rounds=2)
    assert frac["step_s"] > 0 and frac["matmul_s"] > 0
    assert frac["fraction"] == pytest.approx(frac["matmul_s"] / frac["step_s"])


def test_machine_info_names_blas_and_versions():
    info = xb.machine_info()
    assert info["numpy"] == np.__version__ and info["cpu_count"] >= 1 and info["blas"]


@pytest.fixture
def tiny_cases(monkeypatch):
    monkeypatch.setattr(xb, "CASES", dict(TINY))
    monkeypatch.setattr(xb, "DOT_N", 2000)


def test_cli_quick_run_prints_table_and_writes_json(tiny_cases, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--rounds", "2", "--gemm-m", "8", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "BLAS:" in text and "median" in text and "course f32: loop / xpnet-numpy" in text
    data = json.loads(out.read_text())
    impls = {(r["case"].split()[0], r["impl"]) for r in data["rows"]}
    assert {("course", "loop"), ("course", "per_example"), ("course", "xpnet-numpy"),
            ("course", "numpy-handwritten"), ("gemm", "xpnet-numpy"), ("n=2000", "numpy")} <= impls
    gemm = [r for r in data["rows"] if r["case"].startswith("gemm")]
    assert all(r["m"] == 8 and "m reduced" in r["note"] for r in gemm)
    loop = [r for r in data["rows"] if r["impl"] == "loop" and r["case"].startswith("course")][0]
    assert "scaled x7" in loop["note"]  # timed on one example, scaled to m = 7
    names = {r["name"] for r in data["ratios"]}
    assert {"gemm f32: matmul time / xpnet-numpy step", "course f32: xpnet-numpy peak memory / minimum"} <= names
    assert data["machine_info"]["numpy"] == np.__version__
    # Every row that could not run says why, in the table and the JSON.
    for s in data["skipped"]:
        assert s["reason"] and s["reason"] in text
    if not xb.cupy_status()[0]:
        assert any(s["impl"] == "xpnet-cupy" and "no CUDA device available" in s["reason"] for s in data["skipped"])


def test_cli_rejects_bad_numbers(capsys):
    with pytest.raises(SystemExit) as exit_info:  # argparse: one line, status 2
        main(["bench", "--gemm-m", "0"])
    assert exit_info.value.code == 2
    assert "argument --gemm-m: expected a positive integer, got '0'" in capsys.readouterr().err
    assert main(["bench", "--full", "--bench-dir", "/nonexistent/bench"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_full_runs_the_pytest_benchmark_suite(tmp_path):
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "full.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "xpnet", "bench", "--full", "--select", "dot and numpy",
                           "--json", str(out)], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert [b["name"] for b in data["benchmarks"]] == ["test_dot[numpy]"]
    assert data["benchmarks"][0]["stats"]["rounds"] >= 100  # benchmarks really ran, not disabled
    assert "blas" in data["machine_info"]["xpnet"]
