"""The PyTorch backend: a plug-in through the ``xpnet.backends`` entry-point group.

The backend-parametrised suite already runs every model test on torch CPU (conftest's
``backend`` fixture covers every registered backend); this file checks what is specific to
torch: device names, the plug-in registration, and that ``import xpnet`` stays torch-free.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnet as xn
import xpnet.backends as backends
from conftest import planar_xor
from xpnet.backends.torch_backend import TorchBackend

ROOT = Path(__file__).resolve().parents[2]
needs_torch = pytest.mark.skipif(not TorchBackend.is_available(), reason=f"torch missing: {TorchBackend.unavailable_reason()}")


def test_import_xpnet_imports_neither_torch_nor_dask():
    code = ("import sys, xpnet; xpnet.registered_backends(); "
            "print(sorted(m for m in ('torch', 'dask', 'cupy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_torch_is_registered_as_an_entry_point_in_pyproject():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    target = project["entry-points"]["xpnet.backends"]["torch"]
    assert target == backends._FALLBACK_PLUGINS["torch"] == "xpnet.backends.torch_backend:TorchBackend"
    assert "torch" in project["optional-dependencies"]


def test_an_installed_entry_point_wins_over_the_fallback(monkeypatch):
    class FakeEP:
        def __init__(self, name, obj):
            self.name, self.obj = name, obj

        def load(self):
            return self.obj

    class MyTorch(TorchBackend):
        pass

    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))
    for name in ("torch", "mine"):
        backends.unregister_backend(name)
    monkeypatch.setattr(backends, "_entry_points_loaded", False)
    import importlib.metadata

    eps = [FakeEP("torch", MyTorch), FakeEP("mine", backends.NumpyBackend)]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: eps if group == "xpnet.backends" else [])
    assert {"torch", "mine"} <= set(xn.registered_backends())
    assert backends.backend_factory("torch") is MyTorch
    # And without any entry point (a source checkout), the fallback registers it.
    backends.unregister_backend("torch")
    monkeypatch.setattr(backends, "_entry_points_loaded", False)
    eps.clear()
    assert "torch" in xn.registered_backends() and backends.backend_factory("torch") is TorchBackend


def test_without_torch_it_is_registered_but_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    assert TorchBackend.is_available() is False
    assert "pip install 'xpnet[torch]'" in TorchBackend.unavailable_reason()
    assert "torch" in xn.registered_backends() and "torch" not in xn.available_backends()
    with pytest.raises(xn.BackendUnavailableError, match="torch.*pip install"):
        xn.get_backend("torch")


@needs_torch
def test_device_names():
    import torch

    assert xn.get_backend("torch").device == torch.device("cpu")
    assert xn.get_backend("torch:cpu").device == torch.device("cpu")
    assert xn.get_backend("torch", device="cpu").describe() == "torch (cpu)"
    with pytest.raises(xn.XpnetValueError, match="torch device must be"):
        xn.get_backend("torch:tpu")
    if not torch.cuda.is_available():
        with pytest.raises(xn.BackendUnavailableError, match="no CUDA device"):
            xn.get_backend("torch:cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(xn.BackendUnavailableError, match="no MPS device"):
            xn.get_backend("torch", device="mps")


@needs_torch
def test_torch_tensors_in_and_out_and_backend_of():
    import torch

    X, Y = planar_xor(60, seed=1)
    net = xn.Sequential([xn.Dense(3, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend="torch", dtype="float64", seed=0)
    Xt = torch.from_numpy(X)
    out = net.predict_proba(Xt)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    assert xn.backend_of(out).name == "torch"
    np.testing.assert_allclose(xn.to_numpy(out), net.predict_proba(X), rtol=1e-15)
    # The user's array is never aliased by the model's copy.
    host = X.copy()
    net.fit(host, Y, learning_rate=0.1, epochs=1)
    np.testing.assert_array_equal(host, X)


@needs_torch
def test_adam_mini_batches_match_numpy_in_float64():
    X, Y = planar_xor(150, seed=3)
    costs = {}
    for name in ("numpy", "torch"):
        net = xn.Sequential([xn.Dense(6, activation="relu"), xn.Dense(1, activation="sigmoid")],
                            input_size=2, backend=name, dtype="float64", seed=4)
        costs[name] = net.fit(X, Y, optimizer=xn.Adam(learning_rate=0.01), epochs=20, batch_size=32, l2=0.1,
                              clip_norm=5.0).costs
    np.testing.assert_allclose(costs["torch"], costs["numpy"], rtol=1e-10)


@pytest.mark.gpu
@needs_torch
def test_torch_cuda_matches_numpy():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device available")
    X, Y = planar_xor(200, seed=5)
    costs = [xn.Sequential([xn.Dense(4, activation="tanh"), xn.Dense(1, activation="sigmoid")], input_size=2,
                           backend=b, dtype="float64", seed=1).fit(X, Y, learning_rate=0.5, epochs=20).costs
             for b in ("numpy", "torch:cuda")]
    np.testing.assert_allclose(costs[1], costs[0], rtol=1e-10)
