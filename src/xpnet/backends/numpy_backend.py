"""NumPy on the CPU: the default backend and the host every other backend copies from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import Backend, host_dtype
from ._malloc import keep_freed_memory

__all__ = ["NumpyBackend"]


@dataclass(frozen=True)
class NumpyBackend(Backend):
    name: str = "numpy"
    device: object = None

    def __post_init__(self):
        keep_freed_memory()  # temporaries' pages stay mapped between steps (see _malloc)

    def _namespace(self):
        import array_api_compat.numpy as xp

        return xp

    def asarray(self, host_array, dtype=None):
        # One copy straight into the target dtype, not a copy followed by a cast.
        host = np.asarray(host_array)
        return np.array(host, dtype=host.dtype if dtype is None else host_dtype(dtype), copy=True)

    def owns(self, x) -> bool:
        return isinstance(x, np.ndarray)

    def to_device(self, x):
        return x

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x)

    def describe(self) -> str:
        return "numpy (cpu)"
