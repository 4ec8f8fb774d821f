"""array-api-strict: the reference implementation of the standard.

It runs on the CPU and rejects everything the standard does not promise, which is why the
whole test suite runs on it: a NumPy-only habit in model code fails here first. Its extra
devices (``"device1"``, ``"device2"``) let the tests exercise device placement without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import Backend

__all__ = ["StrictBackend"]


@dataclass(frozen=True)
class StrictBackend(Backend):
    name: str = "array_api_strict"
    device: object = None

    def __post_init__(self):
        # Accept a device name ("device1") as well as a Device object.
        if isinstance(self.device, str):
            import array_api_strict

            object.__setattr__(self, "device", array_api_strict.Device(self.device))

    @classmethod
    def is_available(cls) -> bool:
        try:
            import array_api_strict  # noqa: F401
        except Exception:
            return False
        return True

    @classmethod
    def unavailable_reason(cls) -> str:
        return "array-api-strict is not installed; install it with: pip install array-api-strict"

    def _namespace(self):
        import array_api_strict

        return array_api_strict

    def to_numpy(self, x) -> np.ndarray:
        # Through DLPack: works from any of the strict library's devices.
        return np.from_dlpack(x).copy()

    def describe(self) -> str:
        return f"array_api_strict ({self.device.__repr__() if self.device else 'CPU_DEVICE'})"
