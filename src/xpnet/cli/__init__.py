"""The ``xpnet`` command line: ``xpnet train``, ``predict``, ``info``, ``sweep``, ``bench``.

One function per subcommand (``_add_<name>`` builds its parser, ``_<name>`` runs it), so
new subcommands are added beside the others; ``bench`` and ``sweep`` have their own modules
(:mod:`xpnet.cli.bench`, :mod:`xpnet.cli.sweep`). This package parses and prints: the work
is done by the library. Every error a user can fix ends as one line
``xpnet <command>: error: ...`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from xpnet.optim import OPTIMIZERS as _OPTIMIZER_CLASSES
from . import bench
from ._format import column, result_table

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
# Every name the Python API accepts (sgd, gd, ... included).
OPTIMIZERS = tuple(_OPTIMIZER_CLASSES)


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
    from xpnet import __version__

    parser = _Parser(prog="xpnet", description="Train array-API neural networks on CPU or GPU.")
    parser.add_argument("--version", action="version", version=f"xpnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_predict(sub)
    _add_info(sub)
    _add_sweep(sub)
    bench.add_parser(sub, _positive_int)
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
    p.add_argument("--target", default=None, metavar="COLUMN",
                   help="the label column of a CSV file: its header name or index (default: the last)")
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
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing OUT/model.npz (and OUT/checkpoint.npz); without it they are kept")
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
    from xpnet._validation import OUTPUT_ACTIVATIONS

    return xn.Dense(int(ds.Y_train.shape[0]), activation=OUTPUT_ACTIVATIONS[ds.task])


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
    out = args.out or _default_out()
    created = _prepare_out(out, args)  # before any work: a trained model must have somewhere to go
    try:
        initial = 0
        if args.resume:
            initial = xn.read_header(args.resume)["epochs_trained"]
            if initial >= args.epochs:
                raise xn.XpnetValueError(
                    f"nothing to train: {args.resume!r} already holds {initial} epochs and --epochs is the total "
                    f"(as for the uninterrupted run); pass --epochs greater than {initial}"
                )
        ds = load_dataset(args.data, test_size=args.test_size, seed=args.seed, target=column(args.target))
        if ds.task == "regression" and args.target is None and str(args.data).lower().endswith((".csv", ".txt")):
            print("note: the last column holds numbers that are not whole, so this trains a regression on it; "
                  "if the labels are in another column, name it with --target COLUMN", file=sys.stderr)
        layers = [xn.Dense(n, activation=args.activation) for n in args.layers] + [_output_layer(ds, xn)]
        net = xn.Sequential(layers, input_size=int(ds.X_train.shape[0]), backend=backend, dtype=args.dtype,
                            seed=args.seed)
    except BaseException:
        for folder in created:  # a run that never started leaves no empty folders behind
            try:
                os.rmdir(folder)
            except OSError:
                break
        raise
    print(f"data: {ds.name}, X_train {ds.X_train.shape}, X_test {ds.X_test.shape}, {len(ds.classes) or 'no'} classes")
    print(f"network: {' -> '.join([str(ds.X_train.shape[0])] + [f'{l.units} {l.activation.name}' for l in layers])}; "
          f"{args.optimizer} lr {args.learning_rate}, batch {args.batch_size or 'full'}, {args.epochs} epochs")
    print(f"backend: {net.backend.describe()}, {args.dtype}")
    metadata = {"data": args.data, "target": args.target, "test_size": args.test_size, "seed": args.seed, "classes": ds.classes,
                "standardizer": ds.standardizer.to_config() if ds.standardizer else None}
    optimizer = xn.optim.get(args.optimizer, args.learning_rate)
    checkpoint = os.path.join(out, "checkpoint.npz") if args.checkpoint_every else None
    progress = _Progress(args.epochs, min(initial, args.epochs), args.quiet)
    # The training set measured after each epoch, as the test set is, so the two curves compare
    # like with like (History.costs averages the mini-batches before their updates instead).
    train_metrics = {}

    def measure_train(epoch, logs):
        for key, value in net.evaluate(ds.X_train, ds.Y_train).items():
            train_metrics.setdefault(key, []).append(value)

    start = time.perf_counter()
    try:
        hist = net.fit(ds.X_train, ds.Y_train, optimizer=optimizer, epochs=args.epochs, batch_size=args.batch_size,
                       validation_data=(ds.X_test, ds.Y_test),
                       callbacks=[xn.LambdaCallback(on_epoch_end=measure_train), progress],
                       checkpoint_every=args.checkpoint_every, checkpoint_path=checkpoint, resume_from=args.resume)
    except KeyboardInterrupt:
        if progress.bar is not None:
            progress.bar.close()
        history = xn.read_header(args.resume)["history"] if args.resume else {}
        # The interrupted fit's own record, cut to the epochs the model holds: the interrupt can
        # land between an epoch's record and its count.
        done = net.epochs_trained - initial
        for key, values in (net.history.history if net.history is not None else {}).items():
            history[key] = history.get(key, []) + values[:done]
        return _interrupted(net, os.path.join(out, "checkpoint.npz"), metadata, initial, history)
    finally:
        if progress.bar is not None:
            progress.bar.close()
    seconds = time.perf_counter() - start
    model_path = _save_somewhere(net, os.path.join(out, "model.npz"), metadata, hist.history)
    train_result, test_result = net.evaluate(ds.X_train, ds.Y_train), net.evaluate(ds.X_test, ds.Y_test)
    print(f"trained {net.epochs_trained - initial} epochs in {seconds:.1f} s"
          + (f" (resumed at epoch {initial}, {net.epochs_trained} in all)" if args.resume else ""))
    print(_table(train_result, test_result, ds))
    print(f"saved model: {model_path}")
    try:
        title = f"{ds.name}: {args.optimizer}, learning rate = {args.learning_rate}"
        path = os.path.join(out, "learning_curve.png")
        if len(train_metrics.get("cost", [])) == len(hist.costs):
            png = plot_learning_curve(train_metrics["cost"], path, title=title, val_costs=hist.history.get("val_cost"),
                                      train_label="train cost (after each epoch)",
                                      accuracy=train_metrics.get("accuracy"),
                                      val_accuracy=hist.history.get("val_accuracy"))
        else:  # resumed: the epochs before the checkpoint were not measured after the fact
            png = plot_learning_curve(hist.costs, path, title=title, val_costs=hist.history.get("val_cost"),
                                      val_accuracy=hist.history.get("val_accuracy"))
        print(f"saved learning curve: {png}")
    except ImportError:
        print(matplotlib_missing_note(), file=sys.stderr)
    return 0


def _prepare_out(out, args) -> list:
    """Create --out and prove it writable; refuse to replace a previous run's files.

    Returns the folders it created, deepest first.
    """
    from xpnet.errors import XpnetValueError

    if os.path.exists(out) and not os.path.isdir(out):
        raise XpnetValueError(f"--out {out!r} is an existing file; give a folder (it will hold model.npz)")
    created, folder = [], os.path.abspath(out)
    while not os.path.exists(folder) and folder != os.path.dirname(folder):
        created.append(folder)
        folder = os.path.dirname(folder)
    try:
        os.makedirs(out, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".xpnet-write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise XpnetValueError(f"--out {out!r} is not a writable folder ({exc.strerror or exc}); choose another") from None
    resumed = os.path.abspath(args.resume) if args.resume else None
    for name in ("model.npz", "checkpoint.npz"):
        path = os.path.join(out, name)
        if os.path.exists(path) and not args.overwrite and os.path.abspath(path) != resumed:
            raise XpnetValueError(f"{path!r} already exists: pass --overwrite to replace it, or another --out")
    return created


def _save_somewhere(net, path, metadata, history) -> str:
    """Save the trained model at ``path``, or, if that fails, in the temp folder (never lose it)."""
    import xpnet as xn

    try:
        return xn.save(net, path, metadata=metadata, history=history)
    except xn.XpnetError as exc:
        fallback = os.path.join(tempfile.gettempdir(), f"xpnet-model-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.npz")
        saved = xn.save(net, fallback, metadata=metadata, history=history)
        print(f"xpnet train: warning: {exc}; saved the model to {saved} instead", file=sys.stderr)
        return saved


def _interrupted(net, path, metadata, initial, history) -> int:
    """Ctrl-C: keep the last completed epoch as a resumable checkpoint; one line, exit status 130."""
    try:
        if net.epochs_trained > initial:
            saved = _save_somewhere(net, path, metadata, history)
            where = f"saved {net.epochs_trained} epochs to {saved} (continue with --resume {saved})"
        else:
            where = "no epoch was completed, nothing saved"
    except BaseException as exc:  # a second Ctrl-C or a full disk: still one line
        where = f"could not save ({type(exc).__name__}: {exc})"
    print(f"xpnet train: interrupted; {where}", file=sys.stderr)
    return 130


def _table(train_result, test_result, ds) -> str:
    return result_table([("train", train_result, ds.X_train.shape[1]), ("test", test_result, ds.X_test.shape[1])])


# -- predict -------------------------------------------------------------------------------------
def _add_predict(sub):
    p = sub.add_parser(
        "predict", help="predict with a saved model",
        description="Load MODEL (from 'xpnet train' or xn.save) and predict every example of DATA, standardised "
        "as in training: shows the first predictions (--output writes them all, one line per example in the "
        "data's order) and, when DATA has labels, the cost and accuracy; on the data the model was trained "
        "on, train and test examples are reported apart.",
    )
    p.add_argument("model", help="a model.npz written by 'xpnet train' or xn.save")
    p.add_argument("data", help="a dataset name (digits, digits:K, breast_cancer, flower) or a .npz/.csv/.h5 file")
    p.add_argument("--target", default=None, metavar="COLUMN",
                   help="the label column of a CSV file (default: the one used in training, else the last)")
    p.add_argument("--backend", default=None, help="where to run (default: auto)")
    p.add_argument("--output", default=None, metavar="FILE", help="write one prediction per line to FILE")
    p.add_argument("--show", type=_non_negative_int, default=10, metavar="N",
                   help="print the first N predictions (default: 10)")
    p.set_defaults(run=_predict)


def _predict(args) -> int:
    from .predict import run

    return run(args)


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
    from .sweep import run

    return run(args)


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"xpnet {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, never a traceback, for errors the user can fix
        from xpnet.errors import XpnetError

        if isinstance(exc, XpnetError):
            message = str(exc).replace("\n", " ")
            print(f"xpnet {args.command}: error: {message}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
