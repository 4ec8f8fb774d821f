"""The benchmark library behind ``xpnet bench``: the course's vectorization lesson, measured.

A quick run (well under a minute on two CPU cores) times, with the median of a few
rounds after warm-up rounds:

* ``dot``: a . b of 1,000,000 float64 elements with a Python loop, NumPy and CuPy;
* ``train_step``: one full-batch gradient-descent step (forward, cost, backward, update)
  of the course net [12288, 20, 7, 5, 1] (m = 209), the planar net [2, 4, 1] (m = 400) and
  a GEMM-bound net [784, 1024, 1024, 10], with the explicit loop, the per-example loop,
  xpnet on NumPy and CuPy, a hand-written course-style NumPy step, and PyTorch (CPU, and
  CUDA when present) doing the same math;
* the fraction of the GEMM-bound step spent in its matrix products;
* the peak memory of a training step against the theoretical minimum (parameters +
  gradients + cached activations + data), measured with :mod:`tracemalloc`.

:func:`run_quick` returns the medians and ratios as :class:`Results`; ``xpnet bench``
(:mod:`xpnet.cli.bench`) prints them and can write them, with :func:`machine_info`, as
JSON. GPU timings synchronise the device before the timer stops.

The explicit loop costs exactly the same work per example, so it is timed on a few
examples and its time is scaled linearly to the full m; the table says when it did.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from . import reference as _ref
from .backends.numpy_kernels import _deep_and_short
from .training import train_step

__all__ = [
    "CASES",
    "Case",
    "make_problem",
    "XpnetStep",
    "HandwrittenStep",
    "TorchStep",
    "LoopStep",
    "time_call",
    "matmul_fraction",
    "peak_memory",
    "machine_info",
    "run_quick",
    "Results",
]


# ------------------------------------------------------------------------------------------
# The cases
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A network to time: layer sizes [n_x, n_1, ..., n_L], examples m, activations, loss."""

    name: str
    dims: tuple
    m: int
    activations: tuple
    loss: str
    learning_rate: float = 0.01

    @property
    def n_params(self) -> int:
        return sum(self.dims[l] * self.dims[l - 1] + self.dims[l] for l in range(1, len(self.dims)))

    def with_m(self, m: int) -> "Case":
        return Case(self.name, self.dims, int(m), self.activations, self.loss, self.learning_rate)


CASES = {
    "course": Case("course", (12288, 20, 7, 5, 1), 209, ("relu", "relu", "relu", "sigmoid"),
                   "binary_crossentropy", 0.0075),
    "planar": Case("planar", (2, 4, 1), 400, ("tanh", "sigmoid"), "binary_crossentropy", 1.2),
    "gemm": Case("gemm", (784, 1024, 1024, 10), 8192, ("relu", "relu", "softmax"),
                 "categorical_crossentropy", 0.1),
}


def make_problem(case: Case, dtype="float32", seed=0):
    """Host arrays ``(params, X, Y)`` for ``case``: He-scaled weights, random data and labels."""
    g = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    params = {}
    for l in range(1, len(case.dims)):
        n, n_prev = case.dims[l], case.dims[l - 1]
        params[f"W{l}"] = (g.standard_normal((n, n_prev)) * math.sqrt(2.0 / n_prev)).astype(dt)
        params[f"b{l}"] = np.zeros((n, 1), dtype=dt)
    X = g.standard_normal((case.dims[0], case.m)).astype(dt)
    n_out = case.dims[-1]
    if case.activations[-1] == "softmax":
        Y = np.eye(n_out, dtype=dt)[:, g.integers(0, n_out, size=case.m)]
    else:
        Y = (g.uniform(size=(n_out, case.m)) > 0.5).astype(dt)
    return params, X, Y


# ------------------------------------------------------------------------------------------
# One training step, four ways (each a callable that runs one step)
# ------------------------------------------------------------------------------------------
class XpnetStep:
    """One step of xpnet's training loop on a backend: forward, cost, backward, update.

    It runs :func:`xpnet.training.train_step`, the step ``fit`` runs, on data already on the
    device, so that it times the step without ``fit``'s one-off input checks. Calling it
    returns the cost (a device array); the backend is synchronised before returning.
    """

    def __init__(self, case: Case, dtype="float32", backend="numpy", seed=0):
        from . import losses
        from .layers import Dense
        from .model import Sequential
        from .optim import GradientDescent

        params, X, Y = make_problem(case, dtype, seed)
        layers = [Dense(n, activation=a) for n, a in zip(case.dims[1:], case.activations)]
        self.net = Sequential(layers, input_size=case.dims[0], backend=backend, dtype=dtype, seed=seed)
        self.net.set_parameters(params)
        self.backend = self.net.backend
        self.X = self.backend.asarray(X, dtype)
        self.Y = self.backend.asarray(Y, dtype)
        self.loss = losses.get(case.loss)
        self.optimizer = GradientDescent(case.learning_rate)

    def __call__(self):
        with self.backend.context():
            cost = train_step(self.net, self.X, self.Y, loss=self.loss, optimizer=self.optimizer)
            self.backend.synchronize()
        return cost


class HandwrittenStep:
    """A tuned hand-written NumPy step: the baseline xpnet's own step is measured against.

    The course's ``L_model_forward`` ... ``update_parameters`` written out the way a NumPy
    expert would: the bias and ReLU in place on the fresh product, the output pair's
    dZ = (A_L - Y) / m fused (no dA_L through the sigmoid), ReLU's backward multiplied into
    dA in place, no dA_0 for the first layer, dW from BLAS's faster transposed product and
    in-place parameter updates in dW's layout. It only supports this module's cases
    (ReLU/tanh hidden layers, a sigmoid or softmax output). ``xp`` must be NumPy or a library
    with NumPy's ``out=`` (CuPy).
    """

    def __init__(self, case: Case, dtype="float32", seed=0, xp=np):
        params, X, Y = make_problem(case, dtype, seed)
        self.xp = xp
        # The weights are kept in Fortran order, the layout of the transposed product's dW, so
        # that the in-place W -= dW walks both arrays contiguously (a mixed-layout update costs
        # about twice as much on the course net's 20 x 12288 W1).
        self.params = {k: (xp.asfortranarray(v) if k.startswith("W") else xp.asarray(v)) for k, v in params.items()}
        self.X, self.Y = xp.asarray(X), xp.asarray(Y)
        self.activations = case.activations
        self.learning_rate = case.learning_rate
        self.L = len(case.dims) - 1

    def __call__(self):
        xp, P, X, Y, L = self.xp, self.params, self.X, self.Y, self.L
        m = X.shape[1]
        caches, A = [], X
        for l in range(1, L + 1):
            A_prev, W = A, P[f"W{l}"]
            # The same BLAS formulation as the NumPy kernels': a deep input over few examples
            # (the course net's 12288 x 209 X) is quicker as (A_prev^T W^T)^T with this W
            # layout when BLAS runs on several threads.
            Z = (A_prev.T @ W.T).T if xp is np and _deep_and_short(W, A_prev) else W @ A_prev
            Z += P[f"b{l}"]
            act = self.activations[l - 1]
            if act == "relu":
                A = xp.maximum(Z, 0, out=Z)
            elif act == "tanh":
                A = xp.tanh(Z, out=Z)
            elif act == "sigmoid":
                A = xp.exp(-Z)
                A += 1
                xp.reciprocal(A, out=A)
            else:  # softmax
                A = Z - Z.max(axis=0, keepdims=True)
                xp.exp(A, out=A)
                A /= A.sum(axis=0, keepdims=True)
            caches.append((A_prev, A))
        AL = A
        if self.activations[-1] == "softmax":
            cost = -xp.sum(Y * xp.log(AL)) / m
        else:
            cost = -xp.sum(Y * xp.log(AL) + (1 - Y) * xp.log(1 - AL)) / m
        lr = self.learning_rate
        dZ = AL - Y
        dZ /= m
        for l in range(L, 0, -1):
            A_prev, A = caches[l - 1]
            if l < L:  # hidden layer: dZ = dA * g'(Z), in dA's memory
                if self.activations[l - 1] == "relu":
                    xp.multiply(dZ, A > 0, out=dZ)
                else:  # tanh
                    dZ *= 1 - A * A
            W = P[f"W{l}"]
            # (A_prev dZ^T)^T is dZ A_prev^T as OpenBLAS's faster "N,T" product (1.5-2x on the
            # course net's short first-layer dZ); the in-place update takes the transposed view.
            dW = (A_prev @ dZ.T).T
            db = dZ.sum(axis=1, keepdims=True)
            dA_prev = W.T @ dZ if l > 1 else None
            dW *= lr
            W -= dW
            db *= lr
            P[f"b{l}"] -= db
            dZ = dA_prev
        return cost


def torch_status(cuda=False) -> tuple[bool, str]:
    """Whether PyTorch (and, with ``cuda``, a CUDA device) can run here, and why not."""
    try:
        import torch
    except Exception as exc:
        return False, f"PyTorch is not importable ({exc.__class__.__name__}); pip install torch"
    if cuda:
        try:
            if not torch.cuda.is_available():
                return False, "PyTorch has no CUDA device available"
        except Exception as exc:  # pragma: no cover - broken driver
            return False, f"PyTorch has no CUDA device available ({exc})"
    return True, ""


class TorchStep:
    """The same step in PyTorch: the same layers, loss and plain SGD update, with autograd.

    ``threads`` sets ``torch.set_num_threads`` for the CPU (default: NumPy's BLAS threads,
    so both libraries get the same cores).
    """

    def __init__(self, case: Case, dtype="float32", device="cpu", seed=0, threads=None):
        import torch

        self.torch = torch
        if device == "cpu":
            torch.set_num_threads(threads or blas_threads() or os.cpu_count() or 1)
        params, X, Y = make_problem(case, dtype, seed)
        self.device = torch.device(device)
        self.params = {k: torch.tensor(v, device=self.device, requires_grad=True) for k, v in params.items()}
        self.X = torch.tensor(X, device=self.device)
        self.Y = torch.tensor(Y, device=self.device)
        self.activations = case.activations
        self.learning_rate = case.learning_rate
        self.L = len(case.dims) - 1

    def __call__(self):
        torch, P, Y = self.torch, self.params, self.Y
        F = torch.nn.functional
        m = self.X.shape[1]
        A = self.X
        for l in range(1, self.L + 1):
            Z = P[f"W{l}"] @ A + P[f"b{l}"]
            act = self.activations[l - 1]
            if l == self.L:
                break
            A = torch.relu(Z) if act == "relu" else torch.tanh(Z)
        if self.activations[-1] == "softmax":
            cost = -(Y * torch.log_softmax(Z, dim=0)).sum() / m
        else:
            cost = F.binary_cross_entropy_with_logits(Z, Y)
        cost.backward()
        with torch.no_grad():
            for p in P.values():
                p -= self.learning_rate * p.grad
                p.grad = None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return cost.detach()


class LoopStep:
    """One step of a :mod:`xpnet.reference` implementation (``"loop"`` or ``"per_example"``).

    With ``m`` smaller than the case's, the step runs on the first m examples and
    :attr:`scale` (case.m / m) extrapolates its time to the full batch: the loop does the
    same work for every example.
    """

    def __init__(self, case: Case, impl="loop", dtype="float32", m=None, seed=0):
        params, X, Y = make_problem(case, dtype, seed)
        m = case.m if m is None else min(int(m), case.m)
        self.scale = case.m / m
        self.m = m
        self.params, self.X, self.Y = params, X[:, :m], Y[:, :m]
        self.fn = _ref.IMPLEMENTATIONS[impl].train_step
        self.case = case

    def __call__(self):
        cost, self.params = self.fn(self.params, self.X, self.Y, list(self.case.activations),
                                    self.case.learning_rate, self.case.loss)
        return cost


# ------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------
def time_call(fn, rounds=5, warmup=1, max_seconds=None) -> list[float]:
    """Seconds of each of ``rounds`` calls of ``fn`` after ``warmup`` untimed calls.

    ``fn`` must synchronise any device work before returning (the steps above do).
    ``max_seconds`` stops early once the timed calls have taken that long (at least one runs).
    """
    for _ in range(warmup):
        fn()
    times = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
            if max_seconds is not None and sum(times) > max_seconds:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def matmul_fraction(case: Case, dtype="float32", rounds=3, step=None) -> dict:
    """The share of xpnet's NumPy step spent in its matrix products.

    Times the step, then the same products alone on arrays of the same shapes: the
    forward W[l] A[l-1], the backward dZ[l] A[l-1]^T and (above the first layer) W[l]^T dZ[l].
    """
    step = step or XpnetStep(case, dtype)
    step_times = time_call(step, rounds=rounds, warmup=1)
    g = np.random.default_rng(1)
    dt = np.dtype(dtype)
    m = case.m
    A = [g.standard_normal((n, m)).astype(dt) for n in case.dims]
    W = [None] + [g.standard_normal((case.dims[l], case.dims[l - 1])).astype(dt) for l in range(1, len(case.dims))]

    def products():
        for l in range(1, len(case.dims)):
            W[l] @ A[l - 1]
            A[l] @ A[l - 1].T  # dZ[l] has A[l]'s shape
            if l > 1:
                W[l].T @ A[l]

    mm_times = time_call(products, rounds=rounds, warmup=1)
    step_s, mm_s = statistics.median(step_times), statistics.median(mm_times)
    return {"step_s": step_s, "matmul_s": mm_s, "fraction": mm_s / step_s}


def minimum_training_bytes(case: Case, dtype="float32") -> int:
    """Parameters + gradients + every layer's cached activation A[l] + the data X and Y."""
    item = np.dtype(dtype).itemsize
    activations = sum(n * case.m for n in case.dims[1:])
    data = (case.dims[0] + case.dims[-1]) * case.m
    return item * (2 * case.n_params + activations + data)


def peak_memory(step_factory, case: Case, dtype="float32") -> dict:
    """Peak bytes of one training step (what exists before it + its traced peak) vs the minimum.

    ``step_factory()`` builds the step; the parameters and data it holds are counted as
    present, and :mod:`tracemalloc` (which NumPy reports its buffers to) adds the step's
    own peak on top.
    """
    step = step_factory()
    step()  # warm-up: one-off allocations are not the step's
    item = np.dtype(dtype).itemsize
    resident = item * (case.n_params + (case.dims[0] + case.dims[-1]) * case.m)
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        step()
        _, step_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    minimum = minimum_training_bytes(case, dtype)
    peak = resident + step_peak
    return {"peak_bytes": peak, "minimum_bytes": minimum, "ratio": peak / minimum}


# ------------------------------------------------------------------------------------------
# Machine and library information
# ------------------------------------------------------------------------------------------
def blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return blas[0]["num_threads"] if blas else None


def blas_description() -> str:
    """NumPy's BLAS library and thread count (threadpoolctl when present, else numpy's config)."""
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            b = blas[0]
            return f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads, {b.get('architecture')})"
    except ImportError:
        pass
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        return "unknown"


def cupy_status() -> tuple[bool, str]:
    from .backends.cupy_backend import _cupy_status

    ok, why = _cupy_status()
    return ok, ("" if ok else f"no CUDA device available ({why})")


def machine_info() -> dict:
    """The machine and the library versions a result was measured with."""
    import array_api_compat

    from . import __version__

    info = {
        "xpnet": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "blas": blas_description(),
        "array_api_compat": array_api_compat.__version__,
    }
    ok, _ = torch_status()
    if ok:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    ok, _ = cupy_status()
    if ok:
        import cupy

        from .backends import get_backend

        info["cupy"] = cupy.__version__
        info["gpu"] = get_backend("cupy").describe()
    ok, _ = torch_status(cuda=True)
    if ok:
        import torch

        info["torch_cuda_device"] = torch.cuda.get_device_name(0)
    return info


# ------------------------------------------------------------------------------------------
# The quick run
# ------------------------------------------------------------------------------------------
@dataclass
class Results:
    rows: list = field(default_factory=list)  # {"group", "case", "impl", "dtype", "median_s", ...}
    skipped: list = field(default_factory=list)  # {"group", "case", "impl", "reason"}
    ratios: list = field(default_factory=list)  # {"name", "value", "target"}
    measures: dict = field(default_factory=dict)

    def add(self, group, case, impl, dtype, times, note="", scale=1.0, m=None):
        med = statistics.median(times) * scale
        self.rows.append({"group": group, "case": case, "impl": impl, "dtype": dtype, "median_s": med,
                          "rounds": len(times), "m": m, "note": note})
        return med

    def median(self, group, case, impl, dtype):
        for r in self.rows:
            if (r["group"], r["case"], r["impl"], r["dtype"]) == (group, case, impl, dtype):
                return r["median_s"]
        return None

    def skip(self, group, case, impl, reason):
        self.skipped.append({"group": group, "case": case, "impl": impl, "reason": reason})

    def ratio(self, name, num, den, target=None):
        if num is not None and den is not None and den > 0:
            self.ratios.append({"name": name, "value": num / den, "target": target})


#: Elements of the dot-product demo (the course's 1,000,000).
DOT_N = 1_000_000


def _quick_dot(res: Results, n=None, rounds=5):
    n = DOT_N if n is None else n
    g = np.random.default_rng(0)
    a, b = g.standard_normal(n), g.standard_normal(n)
    loop = res.add("dot", f"n={n}", "loop", "float64", time_call(lambda: _ref.loop_dot(a, b), rounds=1, warmup=0))
    vec = res.add("dot", f"n={n}", "numpy", "float64", time_call(lambda: np.dot(a, b), rounds=rounds * 4, warmup=2))
    res.ratio("dot: loop / numpy", loop, vec)
    ok, why = cupy_status()
    if ok:
        import cupy

        from .backends import get_backend

        backend = get_backend("cupy")
        ca, cb = backend.asarray(a), backend.asarray(b)

        def cupy_dot():
            cupy.dot(ca, cb)
            backend.synchronize()

        gpu = res.add("dot", f"n={n}", "cupy", "float64", time_call(cupy_dot, rounds=rounds * 4, warmup=3))
        res.ratio("dot: numpy / cupy", vec, gpu)
    else:
        res.skip("dot", f"n={n}", "cupy", why)


def _quick_step(res: Results, case: Case, dtype, rounds, impls, loop_m=None, note=""):
    """Time one case with the listed implementations; returns the medians by impl."""
    label = f"{case.name} {list(case.dims)} m={case.m}"
    out = {}
    for impl in impls:
        if impl in ("loop", "per_example"):
            step = LoopStep(case, impl, dtype, m=loop_m if impl == "loop" else None)
            n_rounds = 1 if impl == "loop" else max(1, rounds // 2)
            extra = f"timed on m={step.m}, scaled x{step.scale:g}" if step.scale != 1 else ""
            out[impl] = res.add("train_step", label, impl, dtype, time_call(step, rounds=n_rounds, warmup=0),
                                note=extra, scale=step.scale, m=case.m)
            continue
        if impl == "xpnet-cupy":
            ok, why = cupy_status()
            if not ok:
                res.skip("train_step", label, impl, why)
                continue
            step = XpnetStep(case, dtype, backend="cupy")
        elif impl.startswith("torch"):
            ok, why = torch_status(cuda=impl == "torch-cuda")
            if not ok:
                res.skip("train_step", label, impl, why)
                continue
            step = TorchStep(case, dtype, device="cuda" if impl == "torch-cuda" else "cpu")
        elif impl == "numpy-handwritten":
            step = HandwrittenStep(case, dtype)
        else:  # xpnet-numpy
            step = XpnetStep(case, dtype)
        out[impl] = res.add("train_step", label, impl, dtype, time_call(step, rounds=rounds, warmup=2), note=note,
                            m=case.m)
    return out


ALL_IMPLS = ("loop", "per_example", "xpnet-numpy", "numpy-handwritten", "torch-cpu", "xpnet-cupy", "torch-cuda")


def run_quick(gemm_m=1024, rounds=7, progress=None) -> Results:
    """The quick benchmark: every figure the README's performance targets refer to."""
    say = progress or (lambda msg: None)
    res = Results()
    say("dot product")
    _quick_dot(res)

    say("course net")
    course = CASES["course"]
    t = _quick_step(res, course, "float32", rounds, ALL_IMPLS, loop_m=1)
    res.ratio("course f32: loop / xpnet-numpy", t.get("loop"), t.get("xpnet-numpy"), ">= 300")
    res.ratio("course f32: per_example / xpnet-numpy", t.get("per_example"), t.get("xpnet-numpy"))
    res.ratio("course f32: xpnet-numpy / numpy-handwritten", t.get("xpnet-numpy"), t.get("numpy-handwritten"),
              "<= 1.05")
    res.ratio("course f32: xpnet-numpy / torch-cpu", t.get("xpnet-numpy"), t.get("torch-cpu"), "<= 0.9")
    res.ratio("course f32: xpnet-numpy / xpnet-cupy", t.get("xpnet-numpy"), t.get("xpnet-cupy"))
    res.ratio("course f32: xpnet-cupy / torch-cuda", t.get("xpnet-cupy"), t.get("torch-cuda"), "<= 1.0")
    t64 = _quick_step(res, course, "float64", rounds, ("xpnet-numpy", "numpy-handwritten"))
    res.ratio("course f64: xpnet-numpy / numpy-handwritten", t64.get("xpnet-numpy"), t64.get("numpy-handwritten"))

    say("planar net")
    t = _quick_step(res, CASES["planar"], "float32", rounds * 3,
                    ("loop", "per_example", "xpnet-numpy", "numpy-handwritten", "torch-cpu"))
    res.ratio("planar f32: loop / xpnet-numpy", t.get("loop"), t.get("xpnet-numpy"))
    res.ratio("planar f32: xpnet-numpy / numpy-handwritten", t.get("xpnet-numpy"), t.get("numpy-handwritten"))

    say(f"GEMM-bound net (m={gemm_m})")
    gemm = CASES["gemm"].with_m(gemm_m)
    note = "" if gemm_m == CASES["gemm"].m else f"m reduced from {CASES['gemm'].m}"
    gemm_rounds = max(2, rounds // 2)
    t = _quick_step(res, gemm, "float32", gemm_rounds,
                    ("xpnet-numpy", "numpy-handwritten", "torch-cpu", "xpnet-cupy", "torch-cuda"), note=note)
    res.ratio("gemm f32: xpnet-numpy / numpy-handwritten", t.get("xpnet-numpy"), t.get("numpy-handwritten"))
    res.ratio("gemm f32: xpnet-numpy / torch-cpu", t.get("xpnet-numpy"), t.get("torch-cpu"))
    res.ratio("gemm f32: xpnet-numpy / xpnet-cupy", t.get("xpnet-numpy"), t.get("xpnet-cupy"), ">= 50")
    res.ratio("gemm f32: xpnet-cupy / torch-cuda", t.get("xpnet-cupy"), t.get("torch-cuda"), "<= 1.0")

    say("matrix-product share and peak memory")
    frac = matmul_fraction(gemm, "float32", rounds=gemm_rounds)
    res.measures["gemm_matmul_fraction"] = frac
    res.ratios.append({"name": "gemm f32: matmul time / xpnet-numpy step", "value": frac["fraction"],
                       "target": ">= 0.85"})
    for name, case in (("course", course), ("gemm", gemm)):
        for impl, factory in (("xpnet-numpy", lambda c=case: XpnetStep(c, "float32")),
                              ("numpy-handwritten", lambda c=case: HandwrittenStep(c, "float32"))):
            mem = peak_memory(factory, case, "float32")
            res.measures[f"{name}_{impl}_memory"] = mem
            res.ratios.append({"name": f"{name} f32: {impl} peak memory / minimum", "value": mem["ratio"],
                               "target": "<= 1.5" if impl == "xpnet-numpy" else None})
    return res
