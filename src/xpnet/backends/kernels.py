"""Which kernels serve an array: the generic :class:`Kernels` (``_generic_kernels``) or its
library's overrides (``numpy_kernels``, ``cupy_kernels``, ``dask_kernels``, ``torch_kernels``),
imported on first use so that ``import xpnet`` imports no optional library."""

from __future__ import annotations

from ._generic_kernels import Kernels, dropout_keys, keep_threshold, mix32

__all__ = ["Kernels", "kernels_of", "kernels_for", "is_finite", "dropout_keys", "mix32", "keep_threshold"]


_GENERIC = Kernels()
_BY_TYPE: dict = {}
_BY_NAME: dict = {}


def _kernels_named(library: str) -> Kernels:
    found = _BY_NAME.get(library)
    if found is None:
        found = _BY_NAME[library] = _make(library)
    return found


def _make(library: str) -> Kernels:
    if library == "numpy":
        from .numpy_kernels import NumpyKernels

        return NumpyKernels()
    if library == "cupy":
        from .cupy_kernels import CupyKernels

        return CupyKernels()
    if library == "dask":
        from .dask_kernels import DaskKernels

        return DaskKernels(kernels_of)
    if library == "torch":
        from .torch_kernels import TorchKernels

        return TorchKernels()
    return _GENERIC


def _library_of_type(cls) -> str:
    import sys

    np = sys.modules.get("numpy")
    if np is not None and cls is np.ndarray:
        return "numpy"
    return (cls.__module__ or "").partition(".")[0]


def kernels_of(x) -> Kernels:
    """The kernels for arrays of ``x``'s library (looked up once per array type)."""
    cls = type(x)
    found = _BY_TYPE.get(cls)
    if found is None:
        found = _BY_TYPE[cls] = _kernels_named(_library_of_type(cls))
    return found


def kernels_for(backend) -> Kernels:
    """The kernels for a :class:`~xpnet.backends.Backend` (by its library's name)."""
    return _kernels_named(getattr(backend, "name", ""))


def is_finite(A) -> bool:
    """Whether every element of ``A`` is finite: the exact test of its library's kernels
    (what ``check_finite`` takes for a user's X or Y)."""
    return kernels_of(A).is_finite(A)
