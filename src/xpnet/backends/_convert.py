"""The one place where user data crosses onto a model's backend.

``fit``, ``predict``, ``evaluate`` and ``set_parameters`` accept host data (NumPy arrays,
nested lists) or arrays that already live on the model's backend. Host data is checked
for a numeric dtype and copied to the device once; a device array of the right library is
used in place (moved between devices of that library if needed); an array of another
library is refused with the call that fixes it.
"""

from __future__ import annotations

import numpy as np

from ..errors import XpnetTypeError
from ._base import Backend

__all__ = ["to_backend", "to_numpy"]


def to_backend(x, backend: Backend, dtype: str, name: str, *, examples: bool = False):
    """Return ``x`` as an array of ``backend`` in ``dtype`` (a copy only when needed).

    ``examples=True`` marks user data in course layout (examples along columns), which a
    backend may lay out for that (dask chunks it by examples; parameters stay one chunk).
    """
    from . import backend_of

    if backend.owns(x):
        x = backend.to_device(x)
        want = backend.dtype(dtype)
        if x.dtype != want:
            _check_numeric_kind(x.dtype, name, backend.xp)
            x = backend.xp.astype(x, want)
        return x
    if not isinstance(x, (np.ndarray, np.generic, list, tuple, int, float)):
        try:
            owner = backend_of(x)
        except Exception:
            owner = None
        if owner is not None:
            raise XpnetTypeError(
                f"{name} is a {owner.name} array but the model runs on {backend.describe()}; "
                f"move the data with xn.to_numpy({name}) or move the model with net.to({owner.name!r})"
            )
    try:
        host = np.asarray(x)
    except Exception as exc:
        raise XpnetTypeError(f"{name} must be a numeric array, got {type(x).__name__} ({exc})") from None
    if host.dtype.kind not in "biuf":
        _not_numeric(name, host.dtype)
    return backend.asarray_examples(host, dtype) if examples else backend.asarray(host, dtype)


def _check_numeric_kind(dtype, name, xp):
    try:
        ok = xp.isdtype(dtype, ("bool", "integral", "real floating"))
    except Exception:  # NumPy string/object dtypes are not array-API dtypes at all
        ok = False
    if not ok:
        _not_numeric(name, dtype)


def _not_numeric(name, dtype):
    raise XpnetTypeError(
        f"{name} must hold numbers (int, float or bool), got dtype {dtype}; encode text or categories as numbers first"
    )


def to_numpy(x) -> np.ndarray:
    """Copy any xpnet-backend array (or host array-like) to a NumPy array on the host."""
    from . import backend_of

    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, int, float, np.generic)):
        return np.asarray(x)
    return backend_of(x).to_numpy(x)
