"""The sequence-model speed target as measured ratios: xpnet on NumPy against PyTorch CPU.

    PYTHONPATH=src python bench/sequence_ratios.py [--only lstm gru rnn encoder] [--json PATH]

Forward + backward of one layer at realistic sizes (n_a = d_model = 128, m = 64, T = 50,
float32), as in ``bench/test_bench_sequence_torch.py``, but the two libraries alternate
call by call with an idle pause before each timed call (see ``kernel_ratios.interleaved``:
a library's spinning thread pool would otherwise slow the next one), and the ratio is
that of the two minima of one run. Target: xpnet <= 1.5x PyTorch. The LSTM is also timed
against ``nn.LSTM`` with oneDNN turned off (``torch.backends.mkldnn.flags(enabled=False)``):
PyTorch's CPU LSTM runs oneDNN's fused LSTM by default, its GRU and RNN have none. And
the LSTM's matrix products alone, the shapes xpnet's NumPy kernels multiply in one forward +
backward, are timed in NumPy (OpenBLAS) and in PyTorch (its BLAS: MKL in the x86 wheels):
the floor under each library's step, whatever the element-wise work costs.

One thread each, CPU time (robust on a loaded machine):
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=src python bench/sequence_ratios.py --cpu-time
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kernel_ratios  # noqa: E402  (the shared interleaved timer)
import test_bench_sequence_torch as shapes  # noqa: E402

import xpnet as xn  # noqa: E402
from xpnet import benchmarks as xb  # noqa: E402


def _xpnet_step(layer, n_in, n_out):
    xn.Sequential([layer], input_size=(n_in, shapes.T), backend="numpy", dtype="float32", seed=0)
    X, dA = shapes._data((n_in, shapes.M, shapes.T)), shapes._data((n_out, shapes.M, shapes.T), 1)

    def step():
        _, cache = layer.forward(X, training=True)
        layer.backward(dA, cache)

    return step


def _torch_step(torch, module, x_shape, dA_shape):
    X = torch.tensor(shapes._data(x_shape), requires_grad=True)
    dA = torch.tensor(shapes._data(dA_shape, 1))

    def step():
        out = module(X)
        (out[0] if isinstance(out, tuple) else out).backward(dA)

    return step


def _lstm_products(torch):
    """The matrix products of one LSTM forward + backward as the NumPy kernels make them, in
    NumPy and in PyTorch: per step [W_a, W_x, b] [a_{t-1}; x_t; 1] and W_a^T dZ_t, then dW
    over every step's stacked right-hand side and dX, each into an output made once."""
    T, m, n_x, n = shapes.T, shapes.M, shapes.N_X, shapes.N_A
    k = n + n_x + 1
    g = np.random.default_rng(0)

    def rand(*shape):
        return g.standard_normal(shape).astype(np.float32)

    Wb, H, WaT, dZ, WxT = rand(4 * n, k), rand(T, k, m), rand(n, 4 * n), rand(T, 4 * n, m), rand(n_x, 4 * n)
    dZ_cols, H_cols = rand(4 * n, T * m), rand(k, T * m)
    G, da = np.empty((T, 4 * n, m), np.float32), np.empty((n, m), np.float32)
    dW, dX = np.empty((4 * n, k), np.float32), np.empty((n_x, T * m), np.float32)

    def numpy_products():
        for t in range(T):
            np.matmul(Wb, H[t], out=G[t])
        for t in range(T):
            np.matmul(WaT, dZ[t], out=da)
        np.matmul(dZ_cols, H_cols.T, out=dW)
        np.matmul(WxT, dZ_cols, out=dX)

    tt = {name: torch.from_numpy(a) for name, a in
          dict(Wb=Wb, H=H, WaT=WaT, dZ=dZ, WxT=WxT, dZ_cols=dZ_cols, H_cols=H_cols, G=G.copy(), da=da.copy(),
               dW=dW.copy(), dX=dX.copy()).items()}

    def torch_products():
        for t in range(T):
            torch.mm(tt["Wb"], tt["H"][t], out=tt["G"][t])
        for t in range(T):
            torch.mm(tt["WaT"], tt["dZ"][t], out=tt["da"])
        torch.mm(tt["dZ_cols"], tt["H_cols"].T, out=tt["dW"])
        torch.mm(tt["WxT"], tt["dZ_cols"], out=tt["dX"])

    numpy_products()  # the two compute the same products
    torch_products()
    for name, ours in dict(G=G, da=da, dW=dW, dX=dX).items():
        if not np.allclose(ours, tt[name].numpy(), rtol=1e-3, atol=1e-3):
            raise AssertionError(f"the LSTM's products differ between NumPy and PyTorch ({name})")
    return numpy_products, torch_products


def _pair(name, rounds):
    import torch

    torch.manual_seed(0)
    T, M, n_x, n_a, d = shapes.T, shapes.M, shapes.N_X, shapes.N_A, shapes.D_MODEL
    if name == "encoder":
        ours = _xpnet_step(xn.TransformerEncoderBlock(d, heads=shapes.HEADS, d_ff=shapes.D_FF), d, d)
        block = torch.nn.TransformerEncoderLayer(d, shapes.HEADS, shapes.D_FF, dropout=0.0, batch_first=True)
        theirs = _torch_step(torch, block, (M, T, d), (M, T, d))
    else:
        layer = {"lstm": xn.LSTM, "gru": xn.GRU, "rnn": xn.SimpleRNN}[name](n_a, return_sequences=True)
        ours = _xpnet_step(layer, n_x, n_a)
        module = getattr(torch.nn, {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[name])(n_x, n_a)
        theirs = _torch_step(torch, module, (T, M, n_x), (T, M, n_a))  # torch's default: time first
    steps = {"xpnet": ours, "torch": theirs}
    if name == "lstm":
        # PyTorch's CPU LSTM runs oneDNN's fused LSTM (aten::mkldnn_rnn_layer) by default; the
        # same module without it shows what that fusion is worth. The target is against the default.
        def without_onednn():
            with warnings.catch_warnings():  # flags() warns about TF32 on Intel GPUs, unrelated here
                warnings.simplefilter("ignore", UserWarning)
                with torch.backends.mkldnn.flags(enabled=False):
                    theirs()

        steps["torch_without_onednn"] = without_onednn
        steps["numpy_products"], steps["torch_products"] = _lstm_products(torch)
    t = kernel_ratios.interleaved(steps, rounds, settle_s=0.3)
    result = {"seconds": t, "xpnet_vs_torch": t["xpnet"] / t["torch"], "target": "<= 1.5"}
    if name == "lstm":
        result["xpnet_vs_torch_without_onednn"] = t["xpnet"] / t["torch_without_onednn"]
        # What the products alone take in each library, against PyTorch's whole LSTM step.
        result["products_vs_torch_step"] = {"numpy": t["numpy_products"] / t["torch"],
                                            "torch": t["torch_products"] / t["torch"]}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=["lstm", "gru", "rnn", "encoder"],
                        default=["lstm", "gru", "rnn", "encoder"])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cpu-time", action="store_true", help="time with the process's CPU time, not wall time")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    kernel_ratios.CLOCK = time.process_time if args.cpu_time else time.perf_counter
    results = {"machine": xb.machine_info(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "clock": "cpu" if args.cpu_time else "wall"}
    for name in args.only:
        results[name] = _pair(name, args.rounds)
        print(name, json.dumps(results[name]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
