"""The GPU check behind ``tools/gpu-check.sh``: parts with time limits, a JSON record, a verdict.

Parts (each runs in its own process, killed when it passes its time limit):

* ``env``      the GPU, the driver, library versions; fails when CuPy has no CUDA device;
* ``suite``    the test cases marked ``gpu`` and the kernel parity tests on CuPy; fails when
               any fails or when every one of them skipped;
* ``parity``   NumPy vs CuPy vs torch-cuda parameters after N training steps (Adam, dropout),
               float32 and float64;
* ``sweep``    ``fit`` wall time per epoch over m = 256 ... 65,536 for the explicit loop
               (timed on a few examples, scaled), NumPy on the CPU, CuPy and torch-cuda, after
               a warm-up epoch, with the device synchronised before every clock read;
* ``profile``  per training step: host <-> device transfers through the backend, CUDA kernel
               launches (torch's CUPTI profiler, when torch is present), device time (CUDA events);
* ``sequence`` forward + backward of an LSTM and a Transformer encoder block (n_a = d_model
               = 128, T = 50, m = 64 and 512): xpnet on NumPy, CuPy and torch-cuda against
               PyTorch's own ``nn.LSTM`` / ``nn.TransformerEncoderLayer`` on the GPU.

The exit status is non-zero when a part fails, is killed by its time limit, or when every
GPU row was skipped. ``--dry-run`` runs the CPU parts on tiny sizes (GPU rows skip and do
not count), which is how the test suite checks this script on machines without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("env", "suite", "parity", "sweep", "profile", "sequence")
# Seconds per part: together under the 8 minutes the whole run may take on one H200.
LIMITS = {"env": 30, "suite": 140, "parity": 60, "sweep": 130, "profile": 45, "sequence": 45}
GPU_IMPLS = ("cupy", "torch-cuda")
SWEEP_M = (256, 1024, 4096, 16384, 65536)
SWEEP_DIMS = (784, 256, 256, 10)


# -- helpers shared by the parts --------------------------------------------------------------
def cupy_ok() -> tuple[bool, str]:
    from xpnet.backends.cupy_backend import CupyBackend

    return CupyBackend.is_available(), CupyBackend.unavailable_reason()


def torch_cuda_ok() -> tuple[bool, str]:
    try:
        import torch
    except Exception as exc:
        return False, f"torch not importable ({exc.__class__.__name__})"
    return (True, "") if torch.cuda.is_available() else (False, "torch has no CUDA device")


def backend_for(impl: str):
    import xpnet as xn

    return xn.get_backend({"numpy-cpu": "numpy", "cupy": "cupy", "torch-cuda": "torch:cuda",
                           "strict-cpu": "array_api_strict"}[impl])


def available(impl: str) -> tuple[bool, str]:
    if impl == "cupy":
        return cupy_ok()
    if impl == "torch-cuda":
        return torch_cuda_ok()
    return True, ""


def problem(dims, m, seed=0, dtype="float32"):
    import numpy as np

    g = np.random.default_rng(seed)
    X = g.standard_normal((dims[0], m)).astype(dtype)
    Y = np.eye(dims[-1], dtype=dtype)[:, g.integers(0, dims[-1], size=m)]
    return X, Y


def network(dims, backend, dtype, dropout=None):
    import xpnet as xn

    layers = []
    for n in dims[1:-1]:
        layers.append(xn.Dense(n, activation="relu"))
        if dropout:
            layers.append(xn.Dropout(dropout))
    layers.append(xn.Dense(dims[-1], activation="softmax"))
    return xn.Sequential(layers, input_size=dims[0], backend=backend, dtype=dtype, seed=3)


# -- the parts ------------------------------------------------------------------------------------
def part_env(dry: bool) -> dict:
    import xpnet as xn

    rows = [{"name": "xpnet", "status": "ok", "backends": xn.available_backends(), "python": platform.python_version()}]
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        rows.append({"name": "nvidia-smi", "status": "ok" if smi.returncode == 0 else "skipped",
                     "output": (smi.stdout or smi.stderr).strip()})
    except (OSError, subprocess.TimeoutExpired) as exc:
        rows.append({"name": "nvidia-smi", "status": "skipped", "reason": str(exc)})
    for impl in GPU_IMPLS:
        ok, why = available(impl)
        rows.append({"name": impl, "gpu": True, "status": "ok" if ok else "skipped", "reason": why})
    ok, why = cupy_ok()
    return {"rows": rows, "failed": [] if ok or dry else [f"CuPy cannot run here: {why}"]}


def part_suite(dry: bool) -> dict:
    if dry:
        return {"rows": [{"name": "pytest -m gpu", "gpu": True, "status": "skipped", "reason": "dry run"}], "failed": []}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
           "tests", "-k", "cupy or cuda"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    summary = (out.stdout.strip().splitlines() or [""])[-1]
    counts = pytest_counts(summary)
    failed = []
    if out.returncode not in (0,):
        failed.append(f"pytest exited {out.returncode}: {summary}")
    if counts.get("passed", 0) == 0:
        failed.append(f"no GPU test ran (every one skipped): {summary}")
    row = {"name": "pytest gpu cases", "gpu": True, "status": "ok" if not failed else "failed",
           "summary": summary, "counts": counts, "tail": out.stdout[-3000:]}
    return {"rows": [row], "failed": failed}


def pytest_counts(summary: str) -> dict:
    """``{"passed": 3, "skipped": 2}`` from pytest's last line (``3 passed, 2 skipped in 1.2s``)."""
    import re

    return {word: int(num) for num, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)",
                                                       summary)}


def part_parity(dry: bool) -> dict:
    import numpy as np

    dims, m, steps = ((12, 8, 3), 64, 4) if dry else ((64, 48, 24, 10), 1024, 20)
    tolerance = {"float32": 2e-4, "float64": 1e-10}
    impls = ("strict-cpu",) if dry else GPU_IMPLS
    rows, failed = [], []
    for dtype in ("float32", "float64"):
        X, Y = problem(dims, m, seed=1, dtype=dtype)
        results = {}
        for impl in ("numpy-cpu",) + impls:
            ok, why = available(impl)
            if not ok:
                rows.append({"name": f"parity {impl} {dtype}", "gpu": impl in GPU_IMPLS, "status": "skipped", "reason": why})
                continue
            import xpnet as xn

            net = network(dims, backend_for(impl), dtype, dropout=0.8)
            net.fit(X, Y, optimizer=xn.Adam(1e-3), epochs=steps, batch_size=m // 4, shuffle=False)
            results[impl] = {k: net.backend.to_numpy(v) for k, v in net.parameters().items()}
        for impl in impls:
            if impl not in results:
                continue
            worst = max(float(np.max(np.abs(results[impl][k] - v)) / (np.max(np.abs(v)) + 1e-30))
                        for k, v in results["numpy-cpu"].items())
            good = worst <= tolerance[dtype]
            rows.append({"name": f"parity {impl} {dtype}", "gpu": impl in GPU_IMPLS, "status": "ok" if good else "failed",
                         "max_relative_difference": worst, "tolerance": tolerance[dtype], "steps": steps * 4})
            if not good:
                failed.append(f"{impl} {dtype} parameters differ from NumPy's by {worst:.3g} (> {tolerance[dtype]:g})")
    return {"rows": rows, "failed": failed}


def _epoch_seconds(impl, dims, m, dtype, epochs, rounds):
    import xpnet as xn

    backend = backend_for(impl)
    X, Y = problem(dims, m, dtype=dtype)
    net = network(dims, backend, dtype)
    Xd, Yd = backend.asarray_examples(X, dtype), backend.asarray_examples(Y, dtype)
    net.fit(Xd, Yd, optimizer=xn.GradientDescent(0.01), epochs=1)  # warm-up: compilation, memory pool
    best = float("inf")
    for _ in range(rounds):
        backend.synchronize()
        start = time.perf_counter()
        net.fit(Xd, Yd, optimizer=xn.GradientDescent(0.01), epochs=epochs)
        backend.synchronize()
        best = min(best, (time.perf_counter() - start) / epochs)
    return best


def _loop_seconds(dims, m, dtype):
    import numpy as np

    from xpnet import reference

    few = min(m, 2)
    X, Y = problem(dims, few, dtype="float64")
    g = np.random.default_rng(0)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = g.standard_normal((dims[l], dims[l - 1])) * 0.05
        params[f"b{l}"] = np.zeros((dims[l], 1))
    acts = ["relu"] * (len(dims) - 2) + ["softmax"]
    start = time.perf_counter()
    reference.IMPLEMENTATIONS["loop"].train_step(params, X, Y, acts, 0.01, "categorical_crossentropy")
    return (time.perf_counter() - start) * m / few


def part_sweep(dry: bool) -> dict:
    dims, sizes, epochs, rounds = ((20, 8, 3), (16, 32), 2, 2) if dry else (SWEEP_DIMS, SWEEP_M, 3, 3)
    impls = ("loop", "numpy-cpu") + (() if dry else GPU_IMPLS)
    budget = 4.0 if dry else 25.0  # seconds one row may take before larger m are skipped
    rows, over = [], set()
    for m in sizes:
        for impl in impls:
            row = {"name": f"sweep {impl} m={m}", "impl": impl, "m": m, "gpu": impl in GPU_IMPLS, "dtype": "float32"}
            ok, why = available(impl)
            if not ok or impl in over:
                row.update(status="skipped", reason=why or "an earlier m took longer than the budget")
                rows.append(row)
                continue
            start = time.perf_counter()
            if impl == "loop":
                if m > sizes[0]:
                    row.update(status="skipped", reason="the loop is timed at the smallest m only (linear in m)")
                    rows.append(row)
                    continue
                seconds = _loop_seconds(dims, m, "float32")
                row["note"] = "timed on 2 examples, scaled linearly to m"
            else:
                seconds = _epoch_seconds(impl, dims, m, "float32", epochs, rounds)
            row.update(status="ok", epoch_s=seconds)
            rows.append(row)
            if time.perf_counter() - start > budget:
                over.add(impl)
    by = {(r["impl"], r["m"]): r.get("epoch_s") for r in rows}
    for m in sizes:
        cpu, gpu, torch = by.get(("numpy-cpu", m)), by.get(("cupy", m)), by.get(("torch-cuda", m))
        if cpu and gpu:
            rows.append({"name": f"ratio numpy-cpu/cupy m={m}", "status": "ok", "gpu": True, "value": cpu / gpu})
        if gpu and torch:
            rows.append({"name": f"ratio cupy/torch-cuda m={m}", "status": "ok", "gpu": True, "value": gpu / torch})
    return {"rows": rows, "failed": []}


def part_profile(dry: bool) -> dict:
    dims, m = ((20, 8, 3), 32) if dry else ((784, 1024, 1024, 10), 8192)
    impls = ("numpy-cpu",) if dry else GPU_IMPLS
    rows = []
    for impl in impls:
        ok, why = available(impl)
        if not ok:
            rows.append({"name": f"profile {impl}", "gpu": True, "status": "skipped", "reason": why})
            continue
        backend = backend_for(impl)
        X, Y = problem(dims, m)
        net = network(dims, backend, "float32")
        Xd, Yd = backend.asarray_examples(X, "float32"), backend.asarray_examples(Y, "float32")
        net.fit(Xd, Yd, epochs=1, learning_rate=0.01)  # warm-up
        counts = {"asarray": 0, "to_numpy": 0}
        cls = type(backend)
        originals = {name: getattr(cls, name) for name in counts}

        def counting(name):
            def wrapper(self, *args, **kwargs):
                counts[name] += 1
                return originals[name](self, *args, **kwargs)
            return wrapper

        steps = 5
        try:
            for name in counts:
                setattr(cls, name, counting(name))
            launches, device_ms = _kernel_launches(lambda: net.fit(Xd, Yd, epochs=steps, learning_rate=0.01), impl)
        finally:
            for name, fn in originals.items():
                setattr(cls, name, fn)
        rows.append({"name": f"profile {impl}", "gpu": impl in GPU_IMPLS, "status": "ok", "m": m, "dims": dims,
                     "transfers_per_step": {k: v / steps for k, v in counts.items()},
                     "kernel_launches_per_step": None if launches is None else launches / steps,
                     "device_ms_per_step": None if device_ms is None else device_ms / steps})
    return {"rows": rows, "failed": []}


def _kernel_launches(run, impl):
    """(CUDA kernels launched, device milliseconds) while ``run()`` runs; None where unmeasurable."""
    if impl not in GPU_IMPLS:
        run()
        return None, None
    import cupy

    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    launches = None
    try:
        import torch
        from torch.profiler import ProfilerActivity, profile

        # CUPTI (through torch's profiler) records every kernel of the process, CuPy's too.
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            start.record()
            run()
            stop.record()
            stop.synchronize()
        launches = sum(1 for e in prof.events() if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA)
    except ImportError:
        start.record()
        run()
        stop.record()
        stop.synchronize()
    return launches, cupy.cuda.get_elapsed_time(start, stop)


def _sequence_xpnet(impl, kind, m, T, d):
    """A forward + backward callable of xpnet's LSTM or encoder block on ``impl``."""
    import numpy as np

    import xpnet as xn

    layer = xn.LSTM(d, return_sequences=True) if kind == "lstm" else xn.TransformerEncoderBlock(d, heads=8, d_ff=4 * d)
    backend = backend_for(impl)
    xn.Sequential([layer], input_size=(d, T), backend=backend, dtype="float32", seed=0)
    g = np.random.default_rng(0)
    X, dA = (backend.asarray(g.standard_normal((d, m, T)), "float32") for _ in range(2))

    def step():
        _, cache = layer.forward(X, training=True)
        layer.backward(dA, cache)

    return step, backend.synchronize


def _sequence_torch(kind, m, T, d):
    """The same with PyTorch's own layer on the GPU (time-first LSTM, batch-first block)."""
    import torch

    torch.manual_seed(0)
    if kind == "lstm":
        module, shape = torch.nn.LSTM(d, d), (T, m, d)
    else:
        module, shape = torch.nn.TransformerEncoderLayer(d, 8, 4 * d, dropout=0.0, batch_first=True), (m, T, d)
    module = module.cuda()
    X = torch.randn(shape, device="cuda", requires_grad=True)
    dA = torch.randn(shape, device="cuda")

    def step():
        out = module(X)
        (out[0] if isinstance(out, tuple) else out).backward(dA)

    return step, torch.cuda.synchronize


def _best_seconds(step, synchronize, rounds):
    step()  # warm-up: compilation, memory pools
    synchronize()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def part_sequence(dry: bool) -> dict:
    T, d, sizes, rounds = (5, 16, (4,), 2) if dry else (50, 128, (64, 512), 10)
    impls = ("numpy-cpu",) + (() if dry else GPU_IMPLS + ("torch-cuda native",))
    rows = []
    for kind in ("lstm", "encoder"):
        for m in sizes:
            times = {}
            for impl in impls:
                row = {"name": f"sequence {kind} {impl} m={m}", "impl": impl, "m": m, "T": T, "d": d,
                       "gpu": impl != "numpy-cpu"}
                ok, why = available(impl.split()[0])
                if not ok:
                    rows.append({**row, "status": "skipped", "reason": why})
                    continue
                step, sync = _sequence_torch(kind, m, T, d) if impl.endswith("native") else _sequence_xpnet(
                    impl, kind, m, T, d)
                times[impl] = _best_seconds(step, sync, rounds)
                rows.append({**row, "status": "ok", "step_s": times[impl]})
            for impl in GPU_IMPLS:
                if impl in times and "torch-cuda native" in times:
                    rows.append({"name": f"ratio xpnet-{impl}/torch-cuda native {kind} m={m}", "status": "ok",
                                 "gpu": True, "value": times[impl] / times["torch-cuda native"]})
    return {"rows": rows, "failed": []}


PART_FUNCTIONS = {"env": part_env, "suite": part_suite, "parity": part_parity, "sweep": part_sweep, "profile": part_profile,
                  "sequence": part_sequence}


# -- the driver -----------------------------------------------------------------------------------
def verdict(parts: dict, dry: bool) -> list[str]:
    """Every reason the run failed (empty: it passed)."""
    problems = []
    for name, part in parts.items():
        if part["status"] == "timeout":
            problems.append(f"part {name} was killed by its {part['limit_s']} s time limit")
        elif part["status"] == "error":
            problems.append(f"part {name} crashed: {part.get('error', '')[-500:]}")
        problems += [f"{name}: {why}" for why in part.get("failed", [])]
    gpu_rows = [row for part in parts.values() for row in part.get("rows", []) if row.get("gpu")]
    if not dry and (not gpu_rows or all(row["status"] == "skipped" for row in gpu_rows)):
        problems.append("every GPU row was skipped: nothing was measured on a GPU")
    return problems


def run_part(name: str, dry: bool, limit: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "part.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--run-part", name, "--part-json", str(out)]
        if dry:
            cmd.append("--dry-run")
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return {"status": "timeout", "limit_s": limit, "seconds": time.perf_counter() - start, "rows": []}
        seconds = time.perf_counter() - start
        if proc.returncode != 0 or not out.exists():
            return {"status": "error", "limit_s": limit, "seconds": seconds, "rows": [],
                    "error": (proc.stderr or proc.stdout)[-4000:]}
        result = json.loads(out.read_text())
    result.update(status="failed" if result.get("failed") else "ok", limit_s=limit, seconds=seconds)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU parts on tiny sizes; GPU rows skip without failing")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder for the JSON record")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--limit", type=float, default=None, help="seconds per part (default: each part's own)")
    parser.add_argument("--run-part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--part-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_part:  # the child process of one part
        result = PART_FUNCTIONS[args.run_part](args.dry_run)
        Path(args.part_json).write_text(json.dumps(result, default=str))
        return 0
    if not args.dry_run and "env" not in args.parts:
        args.parts.insert(0, "env")
    parts = {}
    for name in args.parts:
        parts[name] = run_part(name, args.dry_run, args.limit or LIMITS[name])
        print(f"[{parts[name]['status']:>7}] {name} ({parts[name]['seconds']:.1f} s)", flush=True)
        if name == "env" and parts[name]["status"] != "ok" and not args.dry_run:
            break  # no CUDA device: nothing else can be measured
    problems = verdict(parts, args.dry_run)
    record = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "dry_run": args.dry_run, "machine": platform.node(),
              "processor": platform.processor(), "cpus": os.cpu_count(), "parts": parts, "problems": problems}
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"gpu-check-{time.strftime('%Y%m%d-%H%M%S')}{'-dry' if args.dry_run else ''}.json"
    path.write_text(json.dumps(record, indent=1, default=str))
    for part in parts.values():
        for row in part.get("rows", []):
            detail = {k: v for k, v in row.items() if k not in ("name", "status", "gpu", "tail", "impl", "m")}
            print(f"  {row['status']:>7}  {row['name']}: {json.dumps(detail, default=str)[:160]}")
    print(f"JSON: {path}")
    for problem in problems:
        print(f"FAIL: {problem}")
    print("gpu-check: " + ("FAILED" if problems else "passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
