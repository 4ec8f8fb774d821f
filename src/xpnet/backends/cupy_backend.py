"""CuPy on an NVIDIA GPU.

``import cupy`` succeeds on machines without a GPU (and the first allocation then fails),
so availability is decided by ``cupy.cuda.is_available()`` plus a device count, both wrapped
so that :meth:`CupyBackend.is_available` never raises. Nothing here imports CuPy until a
CuPy backend is actually used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import Backend, host_dtype

__all__ = ["CupyBackend"]

INSTALL_HINT = (
    "pip install 'xpnet[cuda12]' (CUDA 12 driver) or pip install 'xpnet[cuda13]' (CUDA 13 driver)"
)


_OOM_STATUSES = (
    "cudaErrorMemoryAllocation",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUSOLVER_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_ALLOC_FAILED",
    "out of memory",
)


def _cupy_status() -> tuple[bool, str]:
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising on import
        return False, f"CuPy is not importable ({exc.__class__.__name__}: {exc})"
    try:
        if not cupy.cuda.is_available():
            return False, "CuPy is installed but no CUDA device available (no GPU or no driver)"
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return False, "CuPy is installed but no CUDA device available"
    except Exception as exc:  # older CuPy raised instead of returning False
        return False, f"CuPy is installed but no CUDA device available ({exc.__class__.__name__}: {exc})"
    return True, ""


@dataclass(frozen=True)
class CupyBackend(Backend):
    """CuPy arrays on one CUDA device (``device`` is the device index, default 0)."""

    name: str = "cupy"
    device: object = None

    def __post_init__(self):
        if self.device is None:
            object.__setattr__(self, "device", 0)
        elif not isinstance(self.device, int):
            dev = getattr(self.device, "id", self.device)
            object.__setattr__(self, "device", int(dev))

    @classmethod
    def is_available(cls) -> bool:
        return _cupy_status()[0]

    @classmethod
    def unavailable_reason(cls) -> str:
        ok, why = _cupy_status()
        return "" if ok else f"{why}. To use the GPU backend: {INSTALL_HINT}"

    def _namespace(self):
        import array_api_compat.cupy as xp

        return xp

    def context(self):
        import cupy

        return cupy.cuda.Device(self.device)

    def asarray(self, host_array, dtype=None):
        import cupy

        host = np.asarray(host_array)
        if dtype is not None:
            host = host.astype(host_dtype(dtype), copy=False)
        with cupy.cuda.Device(self.device):
            return cupy.array(host, copy=True)

    def owns(self, x) -> bool:
        import sys

        cupy = sys.modules.get("cupy")  # no array can be CuPy's if CuPy was never imported
        return cupy is not None and isinstance(x, cupy.ndarray)

    def to_device(self, x):
        import cupy

        if x.device.id == self.device:
            return x
        # cupy.asarray would hand back the same array on its old device: copy onto this one.
        with cupy.cuda.Device(self.device):
            return cupy.array(x, copy=True)

    def to_numpy(self, x) -> np.ndarray:
        return x.get()

    def synchronize(self) -> None:
        import cupy

        with cupy.cuda.Device(self.device):
            cupy.cuda.get_current_stream().synchronize()

    def is_out_of_memory(self, exc: BaseException) -> bool:
        # cupy.cuda.memory.OutOfMemoryError derives from MemoryError. cuBLAS/cuSOLVER and the
        # CUDA runtime report a failed allocation as their own error with a status name, so
        # those are recognised by module and text; nothing here imports CuPy.
        if isinstance(exc, MemoryError):
            return True
        module = type(exc).__module__ or ""
        return module.startswith(("cupy", "cupy_backends")) and any(s in str(exc) for s in _OOM_STATUSES)

    def describe(self) -> str:
        try:
            import cupy

            props = cupy.cuda.runtime.getDeviceProperties(self.device)
            gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        except Exception:
            gpu = "GPU"
        return f"cupy (cuda:{self.device}, {gpu})"
