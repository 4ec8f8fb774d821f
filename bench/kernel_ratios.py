"""The backend-kernel targets as measured ratios, one run, interleaved, minimum of repetitions.

    PYTHONPATH=src python bench/kernel_ratios.py [--only course course_torch gemm dropout minibatch torch dask] [--json PATH]

* ``course``: ``fit``'s per-epoch time on the course net [12288, 20, 7, 5, 1], m = 209,
  float32, against the tuned hand-written NumPy step (:class:`xpnet.benchmarks.HandwrittenStep`);
  target <= 1.0x.
* ``course_torch``: the same net trained as the course does (full-batch gradient descent), ``fit``'s
  epoch against a plain PyTorch loop of the same math (nn.Linear + autograd + SGD); target <= 0.9x.
* ``gemm``: the GEMM-bound net [784, 1024, 1024, 10], m = 8192, float32: the share of a ``fit``
  epoch spent in its matrix products (target >= 90%) and a step's peak memory against the
  theoretical minimum (target <= 1.5x).
* ``dropout``: one 1024 x 8192 float32 mask from the kernels against the host draw it replaced.
* ``minibatch``: shuffled mini-batches (784-256-10, Adam, batch 64): ``fit``'s step with X
  C-ordered and as ``data.T``, against a plain PyTorch loop over row-major data; one batch's
  gather from each layout.
* ``torch``: the torch backend against the NumPy backend and a plain PyTorch loop of the same
  math (nn.Linear + autograd + torch.optim.Adam), course net and 784-256-10 Adam (target <= 1.25x).
* ``dask``: a 2-worker LocalCluster, 784-256(relu)-10, m = 100,000 in chunks, against NumPy on
  the same cores (target <= 2x), the same cluster through the generic kernels (what the dask
  overrides save), and the size of one step's graph.

Every timing is the minimum of several repetitions, the compared implementations
alternating, so that a burst of load from elsewhere hits both. ``--small`` shrinks every case
(the test suite runs it that way so the script cannot rot).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

import xpnet as xn
from xpnet import benchmarks as xb


CLOCK = time.perf_counter


def interleaved(fns: dict, rounds: int, settle_s: float = 0.0) -> dict:
    """Minimum seconds of each callable over ``rounds`` alternating calls (after one warm-up each).

    The clock is wall time, or the process's CPU time with ``--cpu-time`` (robust to being
    descheduled on a shared machine; meaningful with one BLAS thread, as spinning BLAS
    threads count as CPU time too).

    ``settle_s``: an idle pause before each timed call, for comparisons across libraries. A
    library's thread pool (OpenBLAS, torch's OpenMP) keeps spinning for a while after its
    last call, and on two cores the next library's threads would otherwise be timed while
    competing with it, which no program using one library sees (measured: torch's course-net
    epoch 6.8 ms alone, 14-15 ms right after NumPy's).
    """
    for fn in fns.values():
        fn()
    best = {name: math.inf for name in fns}
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                if settle_s:
                    time.sleep(settle_s)
                start = CLOCK()
                fn()
                best[name] = min(best[name], CLOCK() - start)
    finally:
        if gc_enabled:
            gc.enable()
    return best


def _net(case, backend="numpy", dtype="float32"):
    params, X, Y = xb.make_problem(case, dtype)
    layers = [xn.Dense(n, activation=a) for n, a in zip(case.dims[1:], case.activations)]
    net = xn.Sequential(layers, input_size=case.dims[0], backend=backend, dtype=dtype, seed=0)
    net.set_parameters(params)
    return net, net.backend.asarray(X, dtype), net.backend.asarray(Y, dtype)


def fit_epoch(case, backend="numpy", epochs=5, optimizer=None):
    """A callable running ``epochs`` full-batch epochs of ``fit``; its time / epochs is one epoch."""
    net, X, Y = _net(case, backend)

    def run():
        opt = optimizer() if optimizer else xn.GradientDescent(case.learning_rate)
        net.fit(X, Y, optimizer=opt, epochs=epochs, loss=case.loss)
        net.backend.synchronize()

    return run


def course(small=False, rounds=9):
    case = xb.CASES["course"].with_m(8) if small else xb.CASES["course"]
    # fit's one-off input checks (about 1.4 ms on this X: a finite check of 2.5 M elements)
    # are per call, not per epoch: amortise them as the course's 2,500-epoch run does (over
    # 100 epochs they are under 0.5% of one).
    epochs = 2 if small else 100
    hand = xb.HandwrittenStep(case, "float32")

    def hand_epochs():
        for _ in range(epochs):
            hand()

    # A one-epoch fit as well: (fit of `epochs` - fit of one) / (epochs - 1) is an epoch
    # without any of the call's one-off work (its input checks, a first epoch on cold caches).
    t = interleaved({"fit": fit_epoch(case, epochs=epochs), "handwritten": hand_epochs,
                     "fit_one_epoch": fit_epoch(case, epochs=1)}, rounds)
    per_epoch = (t["fit"] - t["fit_one_epoch"]) / (epochs - 1)
    return {"case": "course [12288,20,7,5,1] m=%d float32" % case.m, "fit_epoch_s": t["fit"] / epochs,
            "handwritten_step_s": t["handwritten"] / epochs, "ratio": t["fit"] / t["handwritten"],
            "fit_call_overhead_s": t["fit_one_epoch"] - per_epoch,
            "ratio_without_call_overhead": per_epoch / (t["handwritten"] / epochs), "target": "<= 1.0"}


def course_torch(small=False, rounds=9):
    """The course net trained as the course trains it (full-batch gradient descent): ``fit``'s
    epoch against a plain PyTorch loop of the same math (nn.Linear + autograd + SGD), target
    <= 0.9x."""
    import torch

    torch.set_num_threads(xb.blas_threads() or 2)
    case = xb.CASES["course"].with_m(8) if small else xb.CASES["course"]
    epochs = 2 if small else 20  # as torch_ratios: the fit call's input checks stay near 1% of an epoch
    t = interleaved({"numpy_backend": fit_epoch(case, epochs=epochs), "plain_torch": _plain_torch(case, epochs, "sgd")},
                    rounds, settle_s=0.3)
    return {"case": "course [12288,20,7,5,1] m=%d float32, gradient descent" % case.m, "epochs_per_fit": epochs,
            "epoch_s": {k: v / epochs for k, v in t.items()}, "ratio": t["numpy_backend"] / t["plain_torch"],
            "target": "<= 0.9"}


def gemm(small=False, rounds=5):
    case = xb.CASES["gemm"].with_m(64) if small else xb.CASES["gemm"]
    g = np.random.default_rng(1)
    A = [g.standard_normal((n, case.m)).astype(np.float32) for n in case.dims]
    W = [None] + [g.standard_normal((case.dims[l], case.dims[l - 1])).astype(np.float32)
                  for l in range(1, len(case.dims))]

    # The step's matrix products on arrays of the same shapes, into outputs allocated once:
    # the products' own time, not the page faults of fresh outputs (which fit avoids).
    outs = {}

    def into(key, X, Y):
        if key not in outs:
            outs[key] = np.empty((X.shape[0], Y.shape[1]), dtype=np.float32)
        np.matmul(X, Y, out=outs[key])

    def products():
        for l in range(1, len(case.dims)):
            into(("Z", l), W[l], A[l - 1])
            into(("dW", l), A[l], A[l - 1].T)
            if l > 1:
                into(("dA", l), W[l].T, A[l])

    epochs = 2
    fit = fit_epoch(case, epochs=epochs)
    hand = xb.HandwrittenStep(case, "float32")
    t = interleaved({"fit": fit, "products": products, "handwritten": hand}, rounds)
    memory = xb.peak_memory(lambda: xb.XpnetStep(case, "float32"), case, "float32")
    return {"case": "gemm [784,1024,1024,10] m=%d float32" % case.m, "fit_epoch_s": t["fit"] / epochs,
            "matmul_s": t["products"], "matmul_fraction": t["products"] / (t["fit"] / epochs),
            "handwritten_step_s": t["handwritten"], "fit_vs_handwritten": t["fit"] / epochs / t["handwritten"],
            # The same share for the tuned hand-written step: what NumPy allows at best here.
            "handwritten_matmul_fraction": t["products"] / t["handwritten"],
            "peak_memory_ratio": memory["ratio"], "targets": "matmul >= 0.90, memory <= 1.5"}


def dropout(small=False, rounds=7):
    shape = (64, 128) if small else (1024, 8192)
    A = np.ones(shape, dtype=np.float32)
    layer_seed, host = 12345, np.random.default_rng(0)
    kernels = xn.get_backend("numpy").kernels
    steps = iter(range(10**9))

    def device_kernel():
        return kernels.dropout_mask(A, 0.8, layer_seed, next(steps))

    def host_draw():  # what it replaced: a host draw, a boolean copy, a cast, a scale
        D = np.array(host.random(shape) < 0.8, dtype=bool, copy=True).astype(np.float32)
        return D / 0.8

    t = interleaved({"kernel": device_kernel, "host": host_draw}, rounds)
    return {"shape": list(shape), "kernel_s": t["kernel"], "host_draw_s": t["host"], "ratio": t["kernel"] / t["host"]}


def _plain_torch(case, steps, optimizer="adam"):
    """nn.Linear layers + autograd + torch.optim.Adam (lr 1e-3) or, with ``optimizer="sgd"``,
    torch.optim.SGD at the case's learning rate: the same math as xpnet's fit."""
    import torch

    params, X, Y = xb.make_problem(case, "float32")
    layers = []
    for l in range(1, len(case.dims)):
        lin = torch.nn.Linear(case.dims[l - 1], case.dims[l])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(params[f"W{l}"]))
            lin.bias.zero_()
        layers.append(lin)
    Xt, Yt = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.T.copy())
    weights = [p for lin in layers for p in lin.parameters()]
    opt = torch.optim.SGD(weights, lr=case.learning_rate) if optimizer == "sgd" else torch.optim.Adam(weights, lr=1e-3)

    def run():
        for _ in range(steps):
            A = Xt
            for l, lin in enumerate(layers):
                Z = lin(A)
                A = torch.relu(Z) if l < len(layers) - 1 else Z
            if case.loss == "binary_crossentropy":
                cost = torch.nn.functional.binary_cross_entropy_with_logits(Z, Yt)
            else:
                cost = -(Yt * torch.log_softmax(Z, dim=1)).sum() / Z.shape[0]
            opt.zero_grad(set_to_none=True)
            cost.backward()
            opt.step()
            float(cost.detach())  # fit reads each epoch's cost too

    return run


def torch_ratios(small=False, rounds=7):
    import torch

    torch.set_num_threads(xb.blas_threads() or 2)
    cases = {"course": xb.CASES["course"],
             "784-256-10": xb.Case("784-256-10", (784, 256, 10), 8192, ("relu", "softmax"),
                                   "categorical_crossentropy", 1e-3)}
    out = {}
    # fit's one-off input checks (a finite check of X: ~1 ms on torch for the course's X) are
    # per call; 20 and 5 epochs a call keep them near 1% of an epoch, as in a real run.
    for name, case in cases.items():
        epochs = 2 if small else (20 if name == "course" else 5)
        case = case.with_m(16) if small else case
        adam = lambda: xn.Adam(1e-3)  # noqa: E731
        t = interleaved({"torch_backend": fit_epoch(case, "torch", epochs, adam),
                         "numpy_backend": fit_epoch(case, "numpy", epochs, adam),
                         "plain_torch": _plain_torch(case, epochs)}, rounds, settle_s=0.3)
        out[name] = {"m": case.m, "epochs_per_fit": epochs, "epoch_s": {k: v / epochs for k, v in t.items()},
                     "torch_vs_numpy": t["torch_backend"] / t["numpy_backend"],
                     "torch_vs_plain_torch": t["torch_backend"] / t["plain_torch"], "target": "<= 1.25 both"}
    return out


def minibatch(small=False, rounds=5):
    """Shuffled mini-batches (784-256-10, Adam, batch 64, m = 8192, float32): ``fit``'s step with
    X in the course's C-ordered ``(n_x, m)`` and as ``data.T`` of row-major data, against a
    plain PyTorch loop over the row-major data (a random permutation, batches of rows,
    nn.Linear + autograd + Adam); and the gather of one batch from each layout."""
    m, bs, epochs = (512, 64, 1) if small else (8192, 64, 2)
    g = np.random.default_rng(0)
    rows = g.standard_normal((m, 784)).astype(np.float32)  # one example per row, as data arrives
    labels = g.integers(0, 10, m)
    X_C, X_F = np.ascontiguousarray(rows.T), rows.T
    Y = np.eye(10, dtype=np.float32)[:, labels]
    net = xn.Sequential([xn.Dense(256, activation="relu"), xn.Dense(10, activation="softmax")], input_size=784,
                        dtype="float32", seed=0)

    def fit(X):
        def run():
            net.fit(X, Y, epochs=epochs, batch_size=bs, optimizer=xn.Adam(1e-3), loss="categorical_crossentropy")
        return run

    fns = {"fit_C_ordered_X": fit(X_C), "fit_X_as_data_T": fit(X_F)}
    settle = 0.0
    try:
        fns["plain_torch"] = _plain_torch_minibatch(rows, Y.T.copy(), bs, epochs)
        settle = 0.3
    except ImportError:
        pass
    t = interleaved(fns, rounds, settle_s=settle)
    steps = epochs * -(-m // bs)
    kernels = net.backend.kernels
    cols = g.permutation(m)[:bs]
    source = kernels.examples_outermost(X_C, 1)
    gathers = interleaved({"C_ordered": lambda: np.take(X_C, cols, axis=1),
                           "examples_outermost": lambda: kernels.take_examples(source, cols, 1),
                           "copy_to_examples_outermost": lambda: kernels.examples_outermost(X_C, 1)}, rounds * 3)
    out = {"case": f"784-256-10 Adam, batch {bs}, m={m} float32, {epochs} epochs a fit",
           "step_s": {k: v / steps for k, v in t.items()},
           "gather_one_batch_s": {k: gathers[k] for k in ("C_ordered", "examples_outermost")},
           "copy_once_per_fit_s": gathers["copy_to_examples_outermost"],
           "X_as_data_T_vs_C_ordered": t["fit_X_as_data_T"] / t["fit_C_ordered_X"]}
    if "plain_torch" in t:
        out["C_ordered_vs_plain_torch"] = t["fit_C_ordered_X"] / t["plain_torch"]
    return out


def _plain_torch_minibatch(rows, Y_rows, bs, epochs):
    """What a PyTorch user writes for the same training: rows of X, a random permutation per
    epoch, nn.Linear + autograd + Adam (lr 1e-3), the epoch's mean cost read once."""
    import torch

    torch.set_num_threads(xb.blas_threads() or 2)
    Xt, Yt = torch.from_numpy(rows), torch.from_numpy(Y_rows)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    m = Xt.shape[0]

    def run():
        for _ in range(epochs):
            total = torch.zeros(())
            for idx in torch.randperm(m).split(bs):
                xb, yb = Xt[idx], Yt[idx]
                cost = -(yb * torch.log_softmax(model(xb), dim=1)).sum() / xb.shape[0]
                opt.zero_grad(set_to_none=True)
                cost.backward()
                opt.step()
                total += cost.detach() * xb.shape[0]
            float(total / m)

    return run


class _generic_kernels_for:
    """Within this block, arrays of ``x``'s type get the generic kernels (the dask overrides' baseline)."""

    def __init__(self, x):
        from xpnet.backends import kernels

        self.registry, self.key = kernels._BY_TYPE, type(x)
        self.generic = kernels.Kernels()
        kernels.kernels_of(x)  # registered

    def __enter__(self):
        self.saved = self.registry[self.key]
        self.registry[self.key] = self.generic

    def __exit__(self, *exc):
        self.registry[self.key] = self.saved


def dask_ratios(small=False, rounds=3):
    """dask on a 2-worker LocalCluster (processes, 1 thread each) against NumPy on the same cores.

    Also the size of one step: ``tasks_per_step_graph`` counts the keys of the gradients'
    graph as built (before dask's optimisation); ``scheduled_tasks_per_step`` counts what the
    scheduler runs for a whole step (cost and updated parameters, after optimisation, the
    data chunks included). An epoch is (fit time / 2 epochs), which carries half of the fit's
    one-off input checks; ``*_without_fit_checks`` subtracts them (timed on their own).
    """
    import dask
    from distributed import Client, LocalCluster

    from xpnet import losses, training

    m, chunk = (2000, 500) if small else (100_000, 12_500)
    case = xb.Case("dask", (784, 256, 10), m, ("relu", "softmax"), "categorical_crossentropy", 0.1)
    _, X, Y = xb.make_problem(case, "float32")
    epochs = 2
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0", processes=True) as cluster, \
            Client(cluster) as client:
        backend = xn.get_backend("dask", client=client, chunks=chunk)
        net = xn.Sequential([xn.Dense(256, activation="relu"), xn.Dense(10, activation="softmax")],
                            input_size=784, backend=backend, dtype="float32", seed=0)
        Xd, Yd = backend.asarray_examples(X, "float32"), backend.asarray_examples(Y, "float32")
        np_net = xn.Sequential([xn.Dense(256, activation="relu"), xn.Dense(10, activation="softmax")],
                               input_size=784, backend="numpy", dtype="float32", seed=0)

        def on_dask():
            with backend.context():
                net.fit(Xd, Yd, epochs=epochs, learning_rate=0.1)

        def on_numpy():
            np_net.fit(X, Y, epochs=epochs, learning_rate=0.1)

        generic_net = xn.Sequential([xn.Dense(256, activation="relu"), xn.Dense(10, activation="softmax")],
                                    input_size=784, backend=backend, dtype="float32", seed=0)

        def on_dask_generic():  # the same cluster and data through the generic array-API kernels
            with backend.context(), _generic_kernels_for(Xd):
                generic_net.fit(Xd, Yd, epochs=epochs, learning_rate=0.1)

        loss = losses.get("categorical_crossentropy")

        def checks_dask():  # what every fit call does once, before its epochs: the input checks
            with backend.context():
                net.prepare_input(Xd)
                net.prepare_targets(Yd, m, loss=loss)

        def checks_numpy():
            np_net.prepare_input(X)
            np_net.prepare_targets(Y, m, loss=loss)

        t = interleaved({"dask": on_dask, "numpy": on_numpy, "dask_generic_kernels": on_dask_generic,
                         "dask_fit_checks": checks_dask, "numpy_fit_checks": checks_numpy}, rounds)
        # One step's graph, before it is evaluated: its layers and tasks per chunk.
        with backend.context():
            AL, caches = net.forward(Xd, training=True)
            grads = net.backward(AL, Yd, caches, loss)
            keys = set()
            for array in grads.values():
                keys |= set(array.__dask_graph__().keys())
            tasks = len(keys)
            cost = training.train_step(net, Xd, Yd, loss=loss, optimizer=xn.GradientDescent(0.1))
            step = dask.optimize(cost, *net.parameters().values())
            scheduled = set()
            for array in step:
                scheduled |= set(array.__dask_graph__().keys())
        n_chunks = Xd.numblocks[1]
    fits = ("dask", "numpy", "dask_generic_kernels")
    # The same epochs without the once-per-fit input checks (a long fit amortises them).
    steps = {k: (t[k] - t[k + "_fit_checks"]) / epochs for k in ("dask", "numpy")}
    return {"m": m, "chunks": n_chunks, "epochs_per_fit": epochs, "epoch_s": {k: t[k] / epochs for k in fits},
            "fit_checks_s": {k: t[k + "_fit_checks"] for k in ("dask", "numpy")},
            "dask_vs_numpy": t["dask"] / t["numpy"], "dask_generic_kernels_vs_numpy": t["dask_generic_kernels"] / t["numpy"],
            "epoch_s_without_fit_checks": steps, "dask_vs_numpy_without_fit_checks": steps["dask"] / steps["numpy"],
            "tasks_per_step_graph": tasks,
            "tasks_per_chunk": tasks / n_chunks, "scheduled_tasks_per_step": len(scheduled),
            "target": "<= 2.0, flat graph"}


CASES = {"course": course, "course_torch": course_torch, "gemm": gemm, "dropout": dropout, "minibatch": minibatch,
         "torch": torch_ratios, "dask": dask_ratios}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--cpu-time", action="store_true", help="time with the process's CPU time, not wall time")
    parser.add_argument("--json", help="write the results here (e.g. bench/results/kernels-<date>.json)")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.cpu_time else time.perf_counter
    results = {"machine": xb.machine_info(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "clock": "cpu" if args.cpu_time else "wall"}
    for name in args.only:
        try:
            results[name] = CASES[name](small=args.small)
        except ImportError as exc:
            results[name] = {"skipped": f"{exc.__class__.__name__}: {exc}"}
        print(name, json.dumps(results[name], default=str), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
