"""The ``xpnet`` command line: ``xpnet train``, ``predict``, ``info``, ``sweep``, ``bench``.

One function per subcommand (``_add_<name>`` builds its parser, ``_<name>`` runs it), so
new subcommands are added beside the others. Every error a user can fix ends as one line
``xpnet <command>: error: ...`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
OPTIMIZERS = ("adam", "gradient_descent", "momentum", "rmsprop")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in ONE line (no usage dump), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _number(convert, ok, expected):
    """An argparse ``type=`` that converts with ``convert`` and accepts values where ``ok``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number(float, lambda v: np.isfinite(v) and v > 0, "a positive number")
_fraction = _number(float, lambda v: 0 < v < 1, "a number in (0, 1)")


def _batch_size(text):
    if text.lower() in ("full", "none", "0"):
        return None
    return _positive_int(text)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xpnet", description="Train array-API neural networks on CPU or GPU.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_predict(sub)
    _add_info(sub)
    _add_sweep(sub)
    _add_bench(sub)
    return parser


# -- train ---------------------------------------------------------------------------------------
def _add_train(sub):
    p = sub.add_parser(
        "train", help="train a network on a shipped dataset or a file",
        description="Train a dense network, show its progress, print train/test accuracy and save the model "
        "and its learning curve under --out.",
    )
    p.add_argument("--data", default="digits",
                   help="digits (10 classes, default), digits:K (is it a K?), breast_cancer, flower, "
                        "or a .npz/.csv/.h5 file")
    p.add_argument("--layers", type=_positive_int, nargs="*", default=[64], metavar="UNITS",
                   help="hidden layer sizes (default: 64); none for logistic/softmax regression")
    p.add_argument("--activation", default="relu", choices=ACTIVATIONS, help="hidden activation (default: relu)")
    p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, help="default: adam")
    p.add_argument("--learning-rate", "--lr", type=_positive_float, default=0.01, help="default: 0.01")
    p.add_argument("--epochs", type=_positive_int, default=30, help="default: 30")
    p.add_argument("--batch-size", type=_batch_size, default=64,
                   help="mini-batch size, or 'full' for the course's full batch (default: 64)")
    p.add_argument("--test-size", type=_fraction, default=0.2, help="held-out fraction (default: 0.2)")
    p.add_argument("--backend", default=None, help="numpy, cupy, array_api_strict, cpu, gpu, auto (default: auto)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --backend dask: train on the dask cluster whose scheduler is at ADDRESS (tcp://host:8786)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--seed", type=_non_negative_int, default=1, help="weights, shuffling and split (default: 1)")
    p.add_argument("--out", default=None,
                   help="output folder for model.npz, learning_curve.png (default: runs/<date-time>)")
    p.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                   help="save OUT/checkpoint.npz every N epochs")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT",
                   help="continue from a checkpoint (--epochs is the total, as for the uninterrupted run)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_train)


class _Progress:
    """A fit callback that drives a tqdm bar (epochs, cost, epochs/s), or prints without tqdm."""

    def __init__(self, epochs, initial, quiet):
        self.bar = None
        self.quiet = quiet
        self.epochs = epochs
        if quiet:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=epochs, initial=initial, unit="epoch", desc="training", dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs):
        if self.bar is not None:
            self.bar.set_postfix(cost=f"{logs['cost']:.4f}", refresh=False)
            self.bar.update(1)
        elif not self.quiet and (epoch % 10 == 0 or epoch == self.epochs - 1):
            print(f"epoch {epoch + 1}/{self.epochs}  cost {logs['cost']:.4f}", file=sys.stderr)

    def on_train_end(self, logs):
        if self.bar is not None:
            self.bar.close()


def _output_layer(ds, xn):
    task = ds.task
    if task == "multiclass":
        return xn.Dense(int(ds.Y_train.shape[0]), activation="softmax")
    if task == "binary":
        return xn.Dense(1, activation="sigmoid")
    return xn.Dense(int(ds.Y_train.shape[0]), activation="linear")


def _default_out():
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = os.path.join("runs", stamp)
    n = 1
    while os.path.exists(out):
        n += 1
        out = os.path.join("runs", f"{stamp}-{n}")
    return out


def _train(args) -> int:
    import xpnet as xn
    from xpnet.data import load_dataset
    from xpnet.plot import matplotlib_missing_note, plot_learning_curve

    backend = args.backend
    if args.scheduler is not None:
        if not str(backend or "dask").startswith("dask"):
            raise xn.XpnetValueError(f"--scheduler is for --backend dask (or dask:gpu), got --backend {backend}")
        backend = xn.get_backend(backend or "dask", client=args.scheduler)
    ds = load_dataset(args.data, test_size=args.test_size, seed=args.seed)
    layers = [xn.Dense(n, activation=args.activation) for n in args.layers] + [_output_layer(ds, xn)]
    net = xn.Sequential(layers, input_size=int(ds.X_train.shape[0]), backend=backend, dtype=args.dtype,
                        seed=args.seed)
    out = args.out or _default_out()
    os.makedirs(out, exist_ok=True)
    print(f"data: {ds.name}, X_train {ds.X_train.shape}, X_test {ds.X_test.shape}, {len(ds.classes) or 'no'} classes")
    print(f"network: {' -> '.join([str(ds.X_train.shape[0])] + [f'{l.units} {l.activation.name}' for l in layers])}; "
          f"{args.optimizer} lr {args.learning_rate}, batch {args.batch_size or 'full'}, {args.epochs} epochs")
    print(f"backend: {net.backend.describe()}, {args.dtype}")
    metadata = {"data": args.data, "test_size": args.test_size, "seed": args.seed, "classes": ds.classes,
                "standardizer": ds.standardizer.to_config() if ds.standardizer else None}
    optimizer = xn.optim.get(args.optimizer, args.learning_rate)
    checkpoint = os.path.join(out, "checkpoint.npz") if args.checkpoint_every else None
    initial = 0
    if args.resume:
        initial = xn.read_header(args.resume).get("epochs_trained", 0)
    progress = _Progress(args.epochs, min(initial, args.epochs), args.quiet)
    start = time.perf_counter()
    try:
        hist = net.fit(ds.X_train, ds.Y_train, optimizer=optimizer, epochs=args.epochs, batch_size=args.batch_size,
                       validation_data=(ds.X_test, ds.Y_test), callbacks=[progress],
                       checkpoint_every=args.checkpoint_every, checkpoint_path=checkpoint, resume_from=args.resume)
    finally:
        if progress.bar is not None:
            progress.bar.close()
    seconds = time.perf_counter() - start
    model_path = xn.save(net, os.path.join(out, "model.npz"), metadata=metadata, history=hist.history)
    train_result, test_result = net.evaluate(ds.X_train, ds.Y_train), net.evaluate(ds.X_test, ds.Y_test)
    print(f"trained {hist.epochs} epochs in {seconds:.1f} s")
    print(_table(train_result, test_result, ds))
    print(f"saved model: {model_path}")
    try:
        png = plot_learning_curve(hist.costs, os.path.join(out, "learning_curve.png"),
                                  title=f"{ds.name}: {args.optimizer}, learning rate = {args.learning_rate}",
                                  val_costs=hist.history.get("val_cost"))
        print(f"saved learning curve: {png}")
    except ImportError:
        print(matplotlib_missing_note(), file=sys.stderr)
    return 0


def _table(train_result, test_result, ds) -> str:
    rows = [("set", "examples", "cost", "accuracy")]
    for name, result, X in (("train", train_result, ds.X_train), ("test", test_result, ds.X_test)):
        acc = f"{100 * result['accuracy']:.2f}%" if "accuracy" in result else "-"
        rows.append((name, str(X.shape[1]), f"{result['cost']:.4f}", acc))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


# -- predict -------------------------------------------------------------------------------------
def _add_predict(sub):
    p = sub.add_parser(
        "predict", help="predict with a saved model",
        description="Load MODEL (from 'xpnet train' or xn.save) and predict every example of DATA, standardised "
        "as in training; prints the accuracy when DATA has labels.",
    )
    p.add_argument("model", help="a model.npz written by 'xpnet train' or xn.save")
    p.add_argument("data", help="a dataset name (digits, digits:K, breast_cancer, flower) or a .npz/.csv/.h5 file")
    p.add_argument("--backend", default=None, help="where to run (default: auto)")
    p.add_argument("--output", default=None, metavar="FILE", help="write one prediction per line to FILE")
    p.set_defaults(run=_predict)


def _predict(args) -> int:
    import xpnet as xn
    from xpnet.data import Standardizer, load_arrays

    net = xn.load(args.model, backend=args.backend)
    meta = xn.read_header(args.model).get("metadata", {})
    X, Y, _ = load_arrays(args.data)
    if meta.get("standardizer"):
        X = Standardizer.from_config(meta["standardizer"]).transform(X)
    labels = np.asarray(net.predict(X)).reshape(-1) if net.output_activation.name in ("sigmoid", "softmax") \
        else np.asarray(net.predict(X))
    classes = meta.get("classes") or []
    print(f"model: {args.model} ({net.backend.describe()}); data: {args.data}, {X.shape[1]} examples")
    if labels.ndim == 1:
        counts = np.bincount(labels.astype(np.int64))
        shown = ", ".join(f"{classes[i] if i < len(classes) else i}: {c}" for i, c in enumerate(counts) if c)
        print(f"predicted classes: {shown}")
    if Y is not None and Y.shape[0] == net.n_out:
        result = net.evaluate(X, Y)
        if "accuracy" in result:
            print(f"accuracy {100 * result['accuracy']:.2f}%, cost {result['cost']:.4f}")
        else:
            print(f"cost {result['cost']:.4f}")
    if args.output:
        np.savetxt(args.output, labels.T if labels.ndim == 2 else labels, fmt="%d" if labels.ndim == 1 else "%.6g")
        print(f"wrote predictions: {args.output}")
    return 0


# -- info ----------------------------------------------------------------------------------------
def _add_info(sub):
    p = sub.add_parser("info", help="list backends, devices and versions")
    p.set_defaults(run=_info)


def _version(dist):
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _info(args) -> int:
    import platform

    import xpnet as xn

    print(f"xpnet {xn.__version__} on Python {platform.python_version()} ({platform.system()} {platform.machine()})")
    print("libraries:")
    for dist in ("numpy", "array-api-compat", "array-api-strict", "cupy-cuda12x", "cupy-cuda13x", "cupy",
                 "tqdm", "matplotlib", "h5py"):
        version = _version(dist)
        if version is not None or dist in ("numpy", "array-api-compat"):
            print(f"  {dist:18s} {version or 'not installed'}")
    print("backends:")
    for name in xn.registered_backends():
        try:
            print(f"  {name:18s} available  {xn.get_backend(name).describe()}")
        except xn.XpnetError as exc:
            print(f"  {name:18s} missing    {exc}")
    print(f"auto selects: {xn.get_backend('auto').describe()}")
    return 0


# -- sweep ---------------------------------------------------------------------------------------
def _add_sweep(sub):
    p = sub.add_parser("sweep", help="compare learning rates, sizes, activations, initialisers")
    p.add_argument("--data", default="flower", choices=["flower", "digits"])
    p.add_argument("--learning-rate", type=_positive_float, nargs="+", default=[0.01, 0.1, 1.0])
    p.add_argument("--hidden", nargs="+", default=["8"], help="layer sizes per net, e.g. 8 16,16")
    p.add_argument("--activation", nargs="+", default=["tanh"], choices=ACTIVATIONS)
    p.add_argument("--init", nargs="+", default=[None], help="zeros, small_random, xavier, he")
    p.add_argument("--optimizer", default="gradient_descent", choices=OPTIMIZERS)
    p.add_argument("--epochs", type=_positive_int, default=200)
    p.add_argument("--batch-size", type=_batch_size, default=None)
    p.add_argument("--search", default="grid", choices=["grid", "random"])
    p.add_argument("--trials", type=_positive_int, default=None, help="configurations drawn by --search random")
    p.add_argument("--backend", default=None)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--seed", type=_non_negative_int, default=1)
    p.add_argument("--plot", default=None, help="save the validation-cost curves to this PNG")
    p.set_defaults(run=_sweep)


def _sweep(args) -> int:
    from xpnet.sweep import run_cli

    return run_cli(args)


# -- bench ---------------------------------------------------------------------------------------
def _add_bench(sub):
    p = sub.add_parser("bench", help="time loop vs vectorized vs GPU (and PyTorch when installed)")
    p.add_argument("--json", metavar="PATH", help="also write the results and machine info as JSON")
    p.add_argument("--full", action="store_true", help="run the pytest-benchmark suite in bench/ instead")
    p.add_argument("--bench-dir", default=None, help="where the bench/ suite is (default: ./bench)")
    p.add_argument("--select", metavar="EXPR", default=None,
                   help="with --full: only the benchmarks matching this pytest -k expression")
    p.add_argument("--gemm-m", type=_positive_int, default=1024, help="examples for the GEMM-bound net (default 1024)")
    p.add_argument("--rounds", type=_positive_int, default=7, help="timed rounds per row (default 7)")
    p.set_defaults(run=_bench)


def _bench(args) -> int:
    from xpnet import benchmarks as benchmark

    return benchmark.main(args)


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except Exception as exc:  # one clear line, never a traceback, for errors the user can fix
        from xpnet.errors import XpnetError

        if isinstance(exc, XpnetError):
            message = str(exc).replace("\n", " ")
            print(f"xpnet {args.command}: error: {message}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
