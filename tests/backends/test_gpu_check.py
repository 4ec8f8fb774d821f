"""tools/gpu-check.sh: a real check. It fails without CuPy, on a part killed by its time
limit and when every GPU row skipped; its CPU parts run here on tiny sizes (--dry-run)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from xpnet.backends.cupy_backend import CupyBackend

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "gpu-check.sh"


def _driver():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=240)


@pytest.mark.skipif(CupyBackend.is_available(), reason="CuPy runs here: the check would start for real")
def test_exits_non_zero_without_cupy(tmp_path):
    out = _run("--out", str(tmp_path))
    assert out.returncode != 0
    assert "CuPy cannot run here" in out.stdout and "every GPU row was skipped" in out.stdout
    record = json.loads(next(tmp_path.glob("gpu-check-*.json")).read_text())
    assert record["problems"] and record["parts"]["env"]["status"] == "failed"


def test_dry_run_runs_the_cpu_parts_and_writes_json(tmp_path):
    out = _run("--dry-run", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads(next(tmp_path.glob("gpu-check-*-dry.json")).read_text())
    assert record["dry_run"] and not record["problems"]
    assert all(part["status"] == "ok" for part in record["parts"].values())
    sweep = {row["name"]: row for row in record["parts"]["sweep"]["rows"]}
    assert sweep["sweep numpy-cpu m=16"]["epoch_s"] > 0 and sweep["sweep loop m=16"]["epoch_s"] > 0
    parity = [row for row in record["parts"]["parity"]["rows"] if row["status"] == "ok"]
    assert {row["name"] for row in parity} == {"parity strict-cpu float32", "parity strict-cpu float64"}
    assert all(row["max_relative_difference"] <= row["tolerance"] for row in parity)
    sequence = {row["name"]: row for row in record["parts"]["sequence"]["rows"]}
    assert sequence["sequence lstm numpy-cpu m=4"]["step_s"] > 0 and sequence["sequence encoder numpy-cpu m=4"]["step_s"] > 0


def test_a_part_past_its_time_limit_is_killed_and_fails_the_run():
    gc = _driver()
    part = gc.run_part("sweep", dry=True, limit=0.01)
    assert part["status"] == "timeout"
    problems = gc.verdict({"sweep": part}, dry=True)
    assert problems and "time limit" in problems[0]


def test_every_gpu_row_skipped_fails_unless_dry():
    gc = _driver()
    parts = {"parity": {"status": "ok", "rows": [{"name": "parity cupy", "gpu": True, "status": "skipped"},
                                                  {"name": "parity numpy", "status": "ok"}]}}
    assert any("every GPU row" in p for p in gc.verdict(parts, dry=False))
    assert gc.verdict(parts, dry=True) == []
    parts["parity"]["rows"][0]["status"] = "ok"
    assert gc.verdict(parts, dry=False) == []
    parts["parity"]["failed"] = ["cupy float32 parameters differ"]
    assert gc.verdict(parts, dry=False) == ["parity: cupy float32 parameters differ"]


def test_pytest_summaries_are_counted():
    gc = _driver()
    assert gc.pytest_counts("3 passed, 12 skipped, 400 deselected in 9.1s") == {
        "passed": 3, "skipped": 12, "deselected": 400}
    assert gc.pytest_counts("27 skipped in 0.5s") == {"skipped": 27}
    assert gc.pytest_counts("1 failed, 2 passed in 3s") == {"failed": 1, "passed": 2}
