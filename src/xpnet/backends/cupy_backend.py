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


def _device_count() -> int | None:
    """The number of CUDA devices CuPy sees, or None when it cannot tell (then nothing is checked)."""
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return None


@dataclass(frozen=True)
class CupyBackend(Backend):
    """CuPy arrays on one CUDA device (``device`` is the device index, default 0)."""

    name: str = "cupy"
    device: object = None

    def __post_init__(self):
        from ..errors import XpnetValueError

        dev = 0 if self.device is None else getattr(self.device, "id", self.device)
        if isinstance(dev, bool) or not isinstance(dev, int):
            if isinstance(dev, str) and dev.strip().isdigit():
                dev = int(dev)
            else:
                raise XpnetValueError(f"a cupy device is a CUDA device index (0, 1, ...), got {self.device!r}")
        count = _device_count()
        if dev < 0 or (count is not None and dev >= count):
            have = "no CUDA device" if not count else f"{count} CUDA device{'s' if count > 1 else ''} (0..{count - 1})"
            raise XpnetValueError(
                f"cupy device {dev} does not exist: this machine has {have}; "
                f"use cupy:0{f' ... cupy:{count - 1}' if count and count > 1 else ''} or set CUDA_VISIBLE_DEVICES"
            )
        object.__setattr__(self, "device", dev)

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

    def free_memory(self) -> None:
        # CuPy keeps freed blocks in its pools for reuse; after an out-of-memory error they
        # would stay reserved, so the retry (a smaller batch) could fail again.
        import cupy

        with cupy.cuda.Device(self.device):
            cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()

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
