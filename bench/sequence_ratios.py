"""The sequence-model speed target as measured ratios: xpnet on NumPy against PyTorch CPU.

    PYTHONPATH=src python bench/sequence_ratios.py [--only lstm gru rnn encoder] [--json PATH]

Forward + backward of one layer at realistic sizes (n_a = d_model = 128, m = 64, T = 50,
float32), as in ``bench/test_bench_sequence_torch.py``, but the two libraries alternate
call by call with an idle pause before each timed call (see ``kernel_ratios.interleaved``:
a library's spinning thread pool would otherwise slow the next one), and the ratio is
that of the two minima of one run. Target: xpnet <= 1.5x PyTorch. The LSTM is also timed
against ``nn.LSTM`` with oneDNN turned off (``torch.backends.mkldnn.flags(enabled=False)``):
PyTorch's CPU LSTM runs oneDNN's fused LSTM by default, its GRU and RNN have none.

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
    t = kernel_ratios.interleaved(steps, rounds, settle_s=0.3)
    result = {"seconds": t, "xpnet_vs_torch": t["xpnet"] / t["torch"], "target": "<= 1.5"}
    if "torch_without_onednn" in t:
        result["xpnet_vs_torch_without_onednn"] = t["xpnet"] / t["torch_without_onednn"]
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
