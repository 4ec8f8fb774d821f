"""The backend contract: one small frozen object per (library, device).

Model code never touches a library directly. It asks its backend for ``xp`` (an
array-API namespace) and lets the backend move data between the host and the device,
so the only places that know about NumPy, CuPy or array-api-strict are the modules in
this package.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Backend", "host_dtype"]


def host_dtype(dtype):
    """The NumPy dtype for ``"float32"``, a NumPy dtype, or any namespace's dtype object.

    Layers pass either a name or their input's ``.dtype`` (``torch.float32``,
    ``array_api_strict.float64``, ...); every backend stages host data in NumPy first.
    """
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


@dataclass(frozen=True)
class Backend:
    """A place where arrays live and model code runs.

    Subclasses set :attr:`name` and implement :meth:`_namespace`; everything else has a
    generic default that works for any array-API library with a CPU fallback.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"numpy"``, ``"cupy"``, ``"array_api_strict"``.
    device : object or None
        The library's device object (``None`` means the library's default device).
    """

    name: str = "base"
    device: Any = None

    # -- what subclasses provide -------------------------------------------------------
    def _namespace(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def is_available(cls) -> bool:
        """Whether this backend can run here. Never raises."""
        return True

    @classmethod
    def unavailable_reason(cls) -> str:
        """Why :meth:`is_available` is False, with the command that fixes it."""
        return ""

    # -- the contract -----------------------------------------------------------------
    @property
    def xp(self):
        """The array-API namespace (array-api-compat wrapped where needed)."""
        return self._namespace()

    def dtype(self, name: str):
        """The namespace's dtype object for ``"float32"`` or ``"float64"``."""
        return getattr(self.xp, name)

    def asarray(self, host_array, dtype=None):
        """Copy a host (NumPy) array onto this backend's device.

        The result never shares memory with ``host_array``: model code updates arrays
        functionally, but a user's array must stay the user's.
        """
        xp = self.xp
        host = np.asarray(host_array)
        out = xp.asarray(host.copy(), device=self.device)
        if dtype is not None:
            out = xp.astype(out, self.dtype(dtype) if isinstance(dtype, str) else dtype)
        return out

    def asarray_examples(self, host_array, dtype=None):
        """Like :meth:`asarray`, for user data in course layout (examples along the columns).

        Eager backends need nothing special; a distributed one chunks along the examples.
        """
        return self.asarray(host_array, dtype)

    def to_numpy(self, x) -> np.ndarray:
        """Copy an array of this backend to a host NumPy array."""
        return np.asarray(x)

    def owns(self, x) -> bool:
        """Whether ``x`` is an array of this backend's library."""
        from array_api_compat import array_namespace

        try:
            return array_namespace(x) is self.xp
        except TypeError:
            return False

    def to_device(self, x):
        """Place an array of this library on this backend's device (no-op if there)."""
        from array_api_compat import device, to_device

        if self.device is None or device(x) == self.device:
            return x
        return to_device(x, self.device)

    def persist(self, cost, params: dict, *state):
        """Evaluate one training step's results together (lazy backends); eager: as is.

        Returns ``(cost, params, *state)``. ``state`` is the optimiser's state dict (velocities,
        moments): a lazy backend must evaluate it in the same call as the parameters, or the
        gradients they share would be computed twice and its graph would grow every step.
        """
        return (cost, params, *state)

    @property
    def kernels(self):
        """The fused training-step kernels for this backend's library.

        A :class:`~xpnet.backends.kernels.Kernels`: the generic array-API implementation,
        with this library's overrides where they measurably win.
        """
        from .kernels import kernels_for

        return kernels_for(self)

    def free_memory(self) -> None:
        """Hand cached device memory back to the device (after an out-of-memory error).

        Libraries that keep a memory pool (CuPy, torch on CUDA) release its unused blocks;
        on the host there is nothing to do.
        """

    def synchronize(self) -> None:
        """Wait until queued device work is done (a no-op on the CPU)."""

    def context(self):
        """A context manager that makes this backend's device current (CPU: nothing)."""
        return contextlib.nullcontext()

    def quiet_float_errors(self):
        """A context in which a diverging step raises no overflow/invalid-value warnings.

        ``fit`` checks every epoch's cost and parameters itself and rolls back. NumPy's
        ``errstate`` is a context variable: unlike a warnings filter it changes nothing for
        other threads or after the block (array_api_strict and dask chunks are NumPy too).
        """
        return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")

    def is_out_of_memory(self, exc: BaseException) -> bool:
        """Whether ``exc`` means this backend's device ran out of memory (host: MemoryError)."""
        return isinstance(exc, MemoryError)

    def describe(self) -> str:
        """A one-line, human-readable description (name, device)."""
        return self.name if self.device is None else f"{self.name} ({self.device})"

    def __str__(self) -> str:
        return self.describe()
