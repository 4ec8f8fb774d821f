"""PyTorch tensors on the CPU, a CUDA GPU or Apple's MPS: the plug-in example.

This backend is registered through the ``xpnet.backends`` entry-point group (see
``pyproject.toml``), exactly as a third-party package would register its own; the registry
keeps a fallback to this module for source checkouts that were never installed. Model code
reaches torch only through array-api-compat's torch namespace, so nothing here is special
to xpnet's layers. ``import xpnet`` never imports torch: this module imports it on first use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import Backend, host_dtype

__all__ = ["TorchBackend"]

INSTALL_HINT = "pip install 'xpnet[torch]' (or any torch build for your platform from pytorch.org)"


def _torch_status() -> tuple[bool, str]:
    try:
        import torch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising on import
        return False, f"PyTorch is not importable ({exc.__class__.__name__}: {exc}). To use it: {INSTALL_HINT}"
    return True, ""


def _device_status(device) -> str:
    """Why ``device`` cannot be used here, or "" when it can."""
    import torch

    if device.type == "cuda":
        try:
            ok = torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
        except Exception:
            ok = False
        return "" if ok else f"torch has no CUDA device {device} here (torch.cuda.is_available() is False or the index is too high)"
    if device.type == "mps":
        try:
            ok = torch.backends.mps.is_available()
        except Exception:
            ok = False
        return "" if ok else "torch has no MPS device here (Apple silicon with a torch build that supports MPS is needed)"
    return ""


@dataclass(frozen=True)
class TorchBackend(Backend):
    """Torch tensors on one device: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``, ``"mps"`` or an int (CUDA index)."""

    name: str = "torch"
    device: object = None

    def __post_init__(self):
        from ..errors import BackendUnavailableError, XpnetValueError

        import torch

        dev = self.device
        try:
            if dev is None:
                dev = torch.device("cpu")
            elif isinstance(dev, int):
                dev = torch.device("cuda", dev)
            elif not isinstance(dev, torch.device):
                dev = torch.device(str(dev))
        except (RuntimeError, TypeError, ValueError) as exc:
            raise XpnetValueError(
                f"torch device must be 'cpu', 'cuda', 'cuda:N', 'mps' or an int, got {self.device!r} ({exc})"
            ) from None
        if dev.type not in ("cpu", "cuda", "mps"):
            raise XpnetValueError(f"torch device must be cpu, cuda[:N] or mps, got {dev.type!r}")
        why = _device_status(dev)
        if why:
            raise BackendUnavailableError(f"backend 'torch' cannot use device {dev}: {why}")
        if dev.type == "cuda" and dev.index is None:  # "cuda" means the current device: pin it
            dev = torch.device("cuda", torch.cuda.current_device())
        object.__setattr__(self, "device", dev)

    @classmethod
    def is_available(cls) -> bool:
        return _torch_status()[0]

    @classmethod
    def unavailable_reason(cls) -> str:
        return _torch_status()[1]

    def _namespace(self):
        import array_api_compat.torch as xp

        return xp

    def asarray(self, host_array, dtype=None):
        import torch

        host = np.array(host_array, dtype=host_dtype(dtype), copy=True)
        return torch.from_numpy(host).to(self.device)

    def to_numpy(self, x) -> np.ndarray:
        return x.detach().cpu().numpy().copy()

    def owns(self, x) -> bool:
        import sys

        torch = sys.modules.get("torch")  # no tensor can exist if torch was never imported
        return torch is not None and isinstance(x, torch.Tensor)

    def to_device(self, x):
        return x if x.device == self.device else x.to(self.device)

    def synchronize(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()

    def free_memory(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def context(self):
        import contextlib

        import torch

        if self.device.type == "cuda":
            return torch.cuda.device(self.device)
        return contextlib.nullcontext()

    def describe(self) -> str:
        return f"torch ({self.device})"
