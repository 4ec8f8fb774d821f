"""``xpnet predict``: a saved model's predictions on a dataset, shown, written and scored."""

from __future__ import annotations

import os
import sys

import numpy as np

from ._format import column, result_table

__all__ = ["run"]


def _prediction_text(net, labels, proba, j, classes) -> str:
    name = net.output_activation.name if net.output_activation is not None else "linear"
    if name == "softmax":
        c = int(labels[j])
        return f"{classes[c] if c < len(classes) else c}  (p = {proba[c, j]:.3f})"
    if name == "sigmoid":
        c = int(labels[j])
        p = float(proba[0, j])
        return f"{classes[c] if c < len(classes) else c}  (p = {p if c else 1 - p:.3f})"
    return " ".join(f"{v:.6g}" for v in np.atleast_1d(labels[:, j]))


def run(args) -> int:
    """``xpnet predict``: load a model, predict DATA, print (and write) the predictions and the scores."""
    import xpnet as xn
    from xpnet.data import Standardizer, load_arrays, load_dataset

    if args.output and (os.path.isdir(args.output) or args.output.endswith(("/", os.sep))):
        raise xn.XpnetValueError(f"--output {args.output!r} is a folder; give a file name like predictions.txt")
    net = xn.load(args.model, backend=args.backend)
    if not isinstance(net, xn.Sequential):  # two inputs: no table of columns can feed it
        raise xn.XpnetTypeError(f"{args.model!r} holds a {type(net).__name__} (encoder and decoder inputs); "
                                "xpnet predict runs Sequential models. Decode it in Python: "
                                "xn.greedy_decode(xn.load(path), X_enc, start_id, max_length)")
    meta = xn.read_header(args.model)["metadata"]
    target = args.target if args.target is not None else (meta.get("target") if args.data == meta.get("data") else None)
    X, Y, _ = load_arrays(args.data, target=column(target))
    standardizer = None
    if meta.get("standardizer"):
        try:
            standardizer = Standardizer.from_config(meta["standardizer"])
            X = standardizer.transform(X)
        except xn.XpnetError as exc:
            raise xn.ModelFileError(f"{args.model!r}: metadata.standardizer: {exc}") from None
    classes = meta.get("classes") or []
    if not isinstance(classes, list) or not all(isinstance(c, (str, int, float)) for c in classes):
        raise xn.ModelFileError(f"{args.model!r}: metadata.classes must be a list of class names, got {classes!r}")
    classify = net.output_activation is not None and net.output_activation.name in ("sigmoid", "softmax")
    proba = np.asarray(net.predict_proba(X))
    labels = np.asarray(net.predict(X))
    labels = labels.reshape(-1) if classify else labels.reshape(labels.shape[0], -1)
    print(f"model: {args.model} ({net.backend.describe()}); data: {args.data}, {X.shape[1]} examples")
    shown = min(args.show, X.shape[1])
    if shown:
        print(f"predictions (first {shown} of {X.shape[1]}):")
        for j in range(shown):
            print(f"  {j:>5}  {_prediction_text(net, labels, proba, j, classes)}")
    if classify:
        counts = np.bincount(labels.astype(np.int64))
        print("predicted classes: " + ", ".join(f"{classes[i] if i < len(classes) else i}: {c}"
                                                for i, c in enumerate(counts) if c))
    if Y is not None and Y.shape[0] != net.n_out:
        print(f"note: the labels of {args.data} have {Y.shape[0]} rows but the model has {net.n_out} outputs, "
              "so no cost or accuracy is reported", file=sys.stderr)
    elif Y is not None:
        if args.data == meta.get("data") and meta.get("test_size") is not None:
            # The training data: rebuild its split, so seen and held-out examples are not mixed.
            ds = load_dataset(args.data, test_size=meta["test_size"], seed=meta.get("seed", 0), standardize=False,
                              target=column(target))
            parts = [(name, Xs if standardizer is None else standardizer.transform(Xs), Ys)
                     for name, Xs, Ys in (("train (seen in training)", ds.X_train, ds.Y_train),
                                          ("test (held out)", ds.X_test, ds.Y_test))]
        else:
            parts = [(f"{args.data} (all examples)", X, Y)]
        print(result_table([(name, net.evaluate(Xs, Ys), Xs.shape[1]) for name, Xs, Ys in parts]))
    if args.output:
        rows = labels if classify else labels.T
        try:
            np.savetxt(args.output, rows, fmt="%d" if classify else "%.6g")
        except OSError as exc:
            raise xn.XpnetValueError(f"cannot write --output {args.output!r}: {exc.strerror or exc}") from None
        print(f"wrote {X.shape[1]} predictions, one per line in the data's order: {args.output}")
    return 0
