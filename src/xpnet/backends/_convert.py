"""The one place where user data crosses onto a model's backend.

``fit``, ``predict``, ``evaluate`` and ``set_parameters`` accept host data (NumPy arrays,
nested lists) or arrays that already live on the model's backend. Host data is checked
for a numeric dtype and copied to the device once; a device array of the right library is
used in place (moved between devices of that library if needed); an array of another
library is refused with the call that fixes it.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_finite
from ..errors import ShapeError, XpnetTypeError, XpnetValueError
from ._base import Backend
from .kernels import is_finite

__all__ = ["to_backend", "to_numpy", "parameters_to_backend"]


def to_backend(x, backend: Backend, dtype: str, name: str, *, examples: bool = False):
    """Return ``x`` as an array of ``backend`` in ``dtype`` (a copy only when needed).

    ``examples=True`` marks user data in course layout (examples along columns), which a
    backend may lay out for that (dask chunks it by examples; parameters stay one chunk).
    """
    from . import backend_of

    if isinstance(x, np.ndarray):
        x = _plain(x, name)
        _check_range(x, dtype, name)
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
    host = _plain(host, name)
    _check_range(host, dtype, name)
    return backend.asarray_examples(host, dtype) if examples else backend.asarray(host, dtype)


def _plain(x: np.ndarray, name: str) -> np.ndarray:
    """A plain ndarray: subclasses change what operators mean (np.matrix's ``*`` is a matrix product)."""
    if isinstance(x, np.ma.MaskedArray):
        masked = int(np.ma.count_masked(x))
        if masked:
            raise XpnetValueError(
                f"{name} is a masked array with {masked} masked value(s), which xpnet would read as numbers; "
                f"fill them first ({name}.filled(value)) or drop those examples"
            )
        x = np.ma.getdata(x)
    return x if type(x) is np.ndarray else x.view(np.ndarray)


def _check_range(host: np.ndarray, dtype, name: str) -> None:
    """Refuse finite values that the cast to float32 would turn into infinities."""
    if dtype != "float32" or host.dtype.kind != "f" or host.dtype.itemsize <= 4 or host.size == 0:
        return
    limit = float(np.finfo(np.float32).max)
    hi, lo = float(np.fmax.reduce(host, axis=None)), float(np.fmin.reduce(host, axis=None))  # NaN-skipping, no copy
    if np.isinf(hi) or np.isinf(lo):  # rare: look past the infinities (check_finite reports them) at the rest
        finite = host[np.isfinite(host)]
        hi, lo = (float(finite.max()), float(finite.min())) if finite.size else (0.0, 0.0)
    worst = max(hi, -lo)
    if worst > limit:
        raise XpnetValueError(
            f"{name} holds finite values as large as {worst:.3g} in magnitude, beyond float32's range "
            f"({limit:.3g}): the cast to float32 would overflow to infinity. Rescale the data or pass dtype='float64'"
        )


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


def parameters_to_backend(params, expected: dict, backend: Backend, dtype: str) -> dict:
    """A model's whole parameter dict, checked and moved: exactly the names of ``expected``
    (name -> shape), each of that shape and finite, on ``backend`` in ``dtype``."""
    if not isinstance(params, dict):
        raise XpnetTypeError(f"params must be a dict like {{'W1': ..., 'b1': ...}}, got {type(params).__name__}")
    missing = [k for k in expected if k not in params]
    unknown = [k for k in params if k not in expected]
    if missing or unknown:
        raise XpnetValueError(f"params must have exactly the keys {list(expected)}; missing {missing}, unknown {unknown}")
    moved = {}
    with backend.context():
        for name, shape in expected.items():
            value = to_backend(params[name], backend, dtype, name)
            if tuple(value.shape) != tuple(shape):
                raise ShapeError(f"{name} must have shape {tuple(shape)}, got {tuple(value.shape)}")
            check_finite(value, name, is_finite)
            moved[name] = value
    return moved


def to_numpy(x) -> np.ndarray:
    """Copy any xpnet-backend array (or host array-like) to a NumPy array on the host."""
    from . import backend_of

    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, int, float, np.generic)):
        return np.asarray(x)
    return backend_of(x).to_numpy(x)
