"""The exceptions xpnet raises.

Every error a user can cause derives from :class:`XpnetError`, so ``except xn.XpnetError``
catches all of them. Errors about a bad value or shape also derive from :class:`ValueError`
and errors about a bad type from :class:`TypeError`, as Python convention expects.
"""

from __future__ import annotations

__all__ = [
    "XpnetError",
    "BackendUnavailableError",
    "ShapeError",
    "XpnetValueError",
    "XpnetTypeError",
    "NotFittedError",
    "TrainingDivergedError",
    "ModelFileError",
    "DeviceOutOfMemoryError",
]


class XpnetError(Exception):
    """Base class of every error xpnet raises on purpose."""


class BackendUnavailableError(XpnetError, RuntimeError):
    """A backend was asked for that cannot run here (library or device missing)."""


class XpnetValueError(XpnetError, ValueError):
    """An argument has a value xpnet cannot use; the message names it and the fix."""


class ShapeError(XpnetValueError):
    """An array has the wrong shape; the message gives expected vs actual in course terms."""


class XpnetTypeError(XpnetError, TypeError):
    """An argument has a type xpnet cannot use (e.g. a string array, an unknown object)."""


class NotFittedError(XpnetError, RuntimeError):
    """The model has no parameters yet: give ``input_size`` or call ``fit`` first."""


class TrainingDivergedError(XpnetError, FloatingPointError):
    """The training cost became NaN or infinite."""


class ModelFileError(XpnetValueError):
    """A saved model or checkpoint cannot be used: missing, truncated, tampered or not an xpnet file."""


class DeviceOutOfMemoryError(XpnetError, MemoryError):
    """The device (GPU, or host RAM on the CPU) ran out of memory; use a smaller batch."""
