"""The ``xpnet`` command line: ``xpnet train``, ``xpnet info``, ``xpnet bench``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xpnet", description="Train array-API neural networks on CPU or GPU.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a network on the course's planar data")
    train.add_argument("--hidden", type=int, nargs="*", default=[8], help="hidden layer sizes (default: 8)")
    train.add_argument("--activation", default="tanh", help="hidden activation (default: tanh)")
    train.add_argument("--learning-rate", type=float, default=1.2)
    train.add_argument("--epochs", type=int, default=5000)
    train.add_argument("--backend", default=None, help="numpy, cupy, array_api_strict, cpu, gpu, auto")
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    train.add_argument("--seed", type=int, default=1)

    sub.add_parser("info", help="list backends, devices and versions")

    bench = sub.add_parser("bench", help="time loop vs vectorized vs GPU (and PyTorch when installed)")
    bench.add_argument("--json", metavar="PATH", help="also write the results and machine info as JSON")
    bench.add_argument("--full", action="store_true", help="run the pytest-benchmark suite in bench/ instead")
    bench.add_argument("--bench-dir", default=None, help="where the bench/ suite is (default: ./bench)")
    bench.add_argument("--select", metavar="EXPR", default=None,
                       help="with --full: only the benchmarks matching this pytest -k expression")
    bench.add_argument("--gemm-m", type=int, default=1024, help="examples for the GEMM-bound net (default 1024)")
    bench.add_argument("--rounds", type=int, default=7, help="timed rounds per row (default 7)")
    return parser


def _train(args) -> int:
    import xpnet as xn
    from xpnet.data import planar_flower

    X, Y = planar_flower(m=400, seed=args.seed)
    layers = [xn.Dense(n, activation=args.activation) for n in args.hidden] + [xn.Dense(1, activation="sigmoid")]
    net = xn.Sequential(layers, input_size=2, backend=args.backend, dtype=args.dtype, seed=args.seed)
    print(f"backend: {net.backend.describe()}  data: planar flower, X {X.shape}, Y {Y.shape}")
    start = time.perf_counter()
    hist = net.fit(X, Y, optimizer=xn.GradientDescent(args.learning_rate), epochs=args.epochs, verbose=1000)
    seconds = time.perf_counter() - start
    result = net.evaluate(X, Y)
    print(f"trained {hist.epochs} epochs in {seconds:.2f} s; final cost {result['cost']:.4f}, "
          f"train accuracy {100 * result['accuracy']:.1f}%")
    return 0


def _info(args) -> int:
    import array_api_compat

    import xpnet as xn

    print(f"xpnet {xn.__version__}, numpy {np.__version__}, array-api-compat {array_api_compat.__version__}")
    for name in xn.registered_backends():
        try:
            print(f"  {name:18s} available  {xn.get_backend(name).describe()}")
        except xn.XpnetError as exc:
            print(f"  {name:18s} missing    {exc}")
    return 0


def _bench(args) -> int:
    from xpnet import benchmark

    return benchmark.main(args)


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": _train, "info": _info, "bench": _bench}[args.command](args)
    except Exception as exc:  # one clear line, never a traceback, for errors the user can fix
        from xpnet.errors import XpnetError

        if isinstance(exc, XpnetError):
            print(f"xpnet: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
