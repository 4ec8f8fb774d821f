"""Group ``kernels``: each training-step kernel, the backend's override against the generic path.

The overrides exist only where they measurably win; this group is where that is measured.
Shapes are the GEMM-bound net's hidden layer (1024 x 8192, float32) when timing, tiny under
--benchmark-disable. ``test_kernel_ratios_smoke`` runs ``bench/kernel_ratios.py`` (the
targets of the kernel contract as interleaved ratios) on tiny sizes so that it cannot rot.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet.backends.kernels import Kernels

KERNELS = ["bias_relu", "relu_backward", "relu_backward_db", "tanh_backward", "cross_entropy_dZ", "adam",
           "dropout_mask"]
IMPLS = {"numpy": lambda: xn.get_backend("numpy").kernels, "generic": Kernels}


def _shape(timing):
    return (1024, 8192) if timing else (16, 32)


def _call(kernels, name, arrays):
    Z, A, dA, b, W, v, s = arrays
    relu, tanh = xn.activations.get("relu"), xn.activations.get("tanh")
    if name == "bias_relu":
        return kernels.bias_activation(Z.copy(), b, relu, keep_Z=False)
    if name == "relu_backward":
        return kernels.activation_backward(relu, dA.copy(), None, A)
    if name == "relu_backward_db":  # dZ and db: fused on NumPy, two passes generically
        dZ, db = kernels.activation_backward_db(relu, dA.copy(), None, A)
        return dZ, (db if db is not None else np.sum(dZ, axis=1, keepdims=True))
    if name == "tanh_backward":
        return kernels.activation_backward(tanh, dA.copy(), None, A)
    if name == "cross_entropy_dZ":
        return kernels.cross_entropy_dZ(A, dA, float(A.shape[1]))
    if name == "adam":
        return kernels.adam_update(W, dA, v, s, 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.01)
    return kernels.dropout_mask(A, 0.8, 7, 3)


@pytest.mark.benchmark(group="kernels")
@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel(benchmark, timing, kernel, impl):
    g = np.random.default_rng(0)
    shape = _shape(timing)
    Z, dA, W, v = (g.standard_normal(shape, dtype=np.float32) for _ in range(4))
    A, s = np.maximum(Z, 0), np.abs(v)
    b = g.standard_normal((shape[0], 1), dtype=np.float32)
    kernels = IMPLS[impl]()
    benchmark.group = f"kernels {kernel} {shape[0]}x{shape[1]} float32"
    # The copies some kernels need (they may overwrite their input) are timed in both columns.
    out = benchmark.pedantic(_call, args=(kernels, kernel, (Z, A, dA, b, W, v, s)), rounds=5, iterations=1,
                             warmup_rounds=1)
    assert out is not None


def test_kernel_ratios_smoke(run_script):
    result = run_script("kernel_ratios", "--small", "--only", "course", "gemm", "dropout", "minibatch")
    assert result["course"]["ratio"] > 0 and 0 < result["gemm"]["matmul_fraction"]
    assert {"fit_C_ordered_X", "fit_X_as_data_T"} <= set(result["minibatch"]["step_s"])
    assert result["minibatch"]["X_as_data_T_vs_C_ordered"] > 0
    assert 0 < result["gemm"]["handwritten_matmul_fraction"]
    # The "minimum" counts every gradient and every activation at once; a step that frees the
    # activations top-down and builds each new W in its dW's memory can stay a little under it
    # where parameters dominate (this smoke run's m = 64), never far under.
    assert result["gemm"]["peak_memory_ratio"] >= 0.9


def test_kernel_ratios_course_torch_smoke(run_script):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch) for the comparison")
    result = run_script("kernel_ratios", "--small", "--only", "course_torch")["course_torch"]
    assert result["ratio"] > 0 and set(result["epoch_s"]) == {"numpy_backend", "plain_torch"}
