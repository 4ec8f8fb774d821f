"""``xpnet bench``: the arguments, and the printed table, of :mod:`xpnet.benchmarks`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from ..errors import XpnetValueError

__all__ = ["add_parser", "format_table", "run"]


def add_parser(sub, positive_int):
    """Add the ``bench`` subcommand to the CLI's subparsers."""
    p = sub.add_parser("bench", help="time loop vs vectorized vs GPU (and PyTorch when installed)")
    p.add_argument("--json", metavar="PATH", help="also write the results and machine info as JSON")
    p.add_argument("--full", action="store_true", help="run the pytest-benchmark suite in bench/ instead")
    p.add_argument("--bench-dir", default=None, help="where the bench/ suite is (default: ./bench)")
    p.add_argument("--select", metavar="EXPR", default=None,
                   help="with --full: only the benchmarks matching this pytest -k expression")
    p.add_argument("--gemm-m", type=positive_int, default=1024, help="examples for the GEMM-bound net (default 1024)")
    p.add_argument("--rounds", type=positive_int, default=7, help="timed rounds per row (default 7)")
    p.set_defaults(run=run)
    return p


def _fmt_seconds(s):
    if s >= 1.0:
        return f"{s:8.3f} s "
    if s >= 1e-3:
        return f"{s * 1e3:8.3f} ms"
    return f"{s * 1e6:8.1f} us"


def format_table(res, info: dict) -> str:
    """The quick run as plain text: machine, medians, skipped rows with reasons, ratios."""
    lines = [
        f"xpnet {info['xpnet']}  python {info['python']}  numpy {info['numpy']}  on {info['platform']}",
        f"CPU: {info['processor']}, {info['cpu_count']} cores; BLAS: {info['blas']}",
    ]
    if "torch" in info:
        lines.append(f"torch {info['torch']} ({info['torch_threads']} CPU threads)")
    if "gpu" in info:
        lines.append(f"GPU: {info['gpu']}, cupy {info['cupy']}")
    else:
        lines.append("GPU: none (cupy rows skipped)")
    lines.append("")
    lines.append(f"{'group':10s} {'case':38s} {'implementation':18s} {'dtype':7s} {'median':>11s}  note")
    for r in res.rows:
        lines.append(f"{r['group']:10s} {r['case']:38s} {r['impl']:18s} {r['dtype']:7s} "
                     f"{_fmt_seconds(r['median_s'])}  {r['note']}")
    for s in res.skipped:
        lines.append(f"{s['group']:10s} {s['case']:38s} {s['impl']:18s} {'':7s} {'SKIPPED':>11s}  {s['reason']}")
    lines.append("")
    lines.append(f"{'ratio':56s} {'value':>10s}  target")
    for r in res.ratios:
        lines.append(f"{r['name']:56s} {r['value']:10.3f}  {r['target'] or ''}")
    return "\n".join(lines)


def _full(args) -> int:
    bench_dir = Path(args.bench_dir) if args.bench_dir else Path.cwd() / "bench"
    if not bench_dir.is_dir():
        raise XpnetValueError(
            f"--full runs the pytest-benchmark suite in {bench_dir}, which does not exist; run it from a "
            "checkout of xpnet (or pass --bench-dir PATH)"
        )
    cmd = [sys.executable, "-m", "pytest", str(bench_dir), "-p", "no:cacheprovider", "--benchmark-enable",
           "--benchmark-only", "-o", "addopts=", "-q", "--benchmark-columns=median,iqr,min,rounds",
           "--benchmark-group-by=group", "--benchmark-sort=name"]
    if args.json:
        cmd.append(f"--benchmark-json={args.json}")
    if getattr(args, "select", None):
        cmd += ["-k", args.select]
    print("running:", " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def run(args) -> int:
    """Run ``xpnet bench`` from parsed arguments: the quick table, or ``--full``'s suite."""
    if args.full:
        return _full(args)
    from .. import benchmarks

    info = benchmarks.machine_info()
    start = time.perf_counter()
    res = benchmarks.run_quick(gemm_m=args.gemm_m, rounds=args.rounds,
                               progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - start
    print(format_table(res, info))
    print(f"\n(measured in {elapsed:.1f} s; ratios from one run are what to compare: other load on the "
          "machine changes absolute times)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine_info": info, "rows": res.rows, "skipped": res.skipped, "ratios": res.ratios,
                       "measures": res.measures, "seconds": elapsed}, fh, indent=2)
        print(f"wrote {args.json}")
    return 0
