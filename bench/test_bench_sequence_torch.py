"""xpnet's recurrent layers and Transformer encoder block against PyTorch on the CPU: forward + backward.

Run:   pytest bench/test_bench_sequence_torch.py --benchmark-enable --benchmark-group-by=group
Smoke: pytest bench/test_bench_sequence_torch.py --benchmark-disable
On a machine other processes load, compare CPU time on one thread each (wall time then
measures the neighbours, and spinning BLAS/OpenMP threads distort both sides):
       OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 pytest bench/test_bench_sequence_torch.py \
           --benchmark-enable --benchmark-group-by=group --benchmark-timer=time.process_time

Realistic sizes (n_a = d_model = 128, m = 64, T = 50, float32). Each group holds the xpnet
case (hand-written backward passes on NumPy) and the PyTorch case (``nn.LSTM``, ``nn.GRU``,
``nn.RNN`` / ``nn.TransformerEncoderLayer``, post-norm, no dropout, autograd) of the same
shapes; the
target is xpnet <= 1.5x PyTorch's time. pytest-benchmark runs one case after the other, so
the ratio the target is read from comes from ``bench/sequence_ratios.py``, which alternates
the two libraries call by call with a pause between them (a library's spinning thread pool
would slow the next one).
torch is not a dependency of xpnet: without it the PyTorch cases are SKIPPED with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

N_X, N_A, M, T = 64, 128, 64, 50
D_MODEL, HEADS, D_FF = 128, 8, 512


def _data(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch) for the comparison")


def _recurrent_xpnet(benchmark, layer):
    xn.Sequential([layer], input_size=(N_X, T), backend="numpy", dtype="float32", seed=0)
    X, dA = _data((N_X, M, T)), _data((N_A, M, T), 1)

    def step():
        _, cache = layer.forward(X, training=True)
        return layer.backward(dA, cache)

    benchmark(step)


def _recurrent_torch(benchmark, name):
    torch = _torch()
    torch.manual_seed(0)
    layer = getattr(torch.nn, name)(N_X, N_A)  # (T, m, n) layout: time first, torch's default
    X = torch.tensor(_data((T, M, N_X)), requires_grad=True)
    dA = torch.tensor(_data((T, M, N_A), 1))

    def step():
        out, _ = layer(X)
        out.backward(dA)

    benchmark(step)


RECURRENT = {"lstm": (xn.LSTM, "LSTM"), "gru": (xn.GRU, "GRU"), "rnn": (xn.SimpleRNN, "RNN")}


@pytest.mark.parametrize("cell", list(RECURRENT))
def test_recurrent_xpnet(benchmark, cell):
    benchmark.group = f"{cell}-vs-torch"
    _recurrent_xpnet(benchmark, RECURRENT[cell][0](N_A, return_sequences=True))


@pytest.mark.parametrize("cell", list(RECURRENT))
def test_recurrent_torch(benchmark, cell):
    benchmark.group = f"{cell}-vs-torch"
    _recurrent_torch(benchmark, RECURRENT[cell][1])


@pytest.mark.benchmark(group="encoder-block-vs-torch")
def test_encoder_block_xpnet(benchmark):
    block = xn.TransformerEncoderBlock(D_MODEL, heads=HEADS, d_ff=D_FF)
    xn.Sequential([block], input_size=(D_MODEL, T), backend="numpy", dtype="float32", seed=0)
    X, dA = _data((D_MODEL, M, T)), _data((D_MODEL, M, T), 1)

    def step():
        _, cache = block.forward(X, training=True)
        return block.backward(dA, cache)

    benchmark(step)


@pytest.mark.benchmark(group="encoder-block-vs-torch")
def test_encoder_block_torch(benchmark):
    torch = _torch()
    torch.manual_seed(0)
    block = torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, D_FF, dropout=0.0, batch_first=True)
    X = torch.tensor(_data((M, T, D_MODEL)), requires_grad=True)
    dA = torch.tensor(_data((M, T, D_MODEL), 1))

    def step():
        block(X).backward(dA)

    benchmark(step)


def test_sequence_ratios_smoke(run_script):
    """``bench/sequence_ratios.py`` (the interleaved ratios the target is read from) runs."""
    _torch()
    results = run_script("sequence_ratios", "--only", "rnn", "lstm", "--rounds", "1")
    assert results["rnn"]["xpnet_vs_torch"] > 0 and set(results["rnn"]["seconds"]) == {"xpnet", "torch"}
    assert set(results["lstm"]["seconds"]) == {"xpnet", "torch", "torch_without_onednn", "numpy_products",
                                               "torch_products"}
    assert results["lstm"]["xpnet_vs_torch_without_onednn"] > 0
    assert set(results["lstm"]["products_vs_torch_step"]) == {"numpy", "torch"}
