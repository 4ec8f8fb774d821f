"""The backend registry: which array library and device model code runs on.

Selection order, first match wins:

1. an explicit ``backend=`` argument (a name, ``"name:device"``, or a :class:`Backend`);
2. the innermost :func:`use_backend` scope (or its global setting);
3. the ``XPNET_BACKEND`` environment variable, read when a backend is resolved, never at import;
4. ``"auto"``: CuPy when it imports and a CUDA device is present, else NumPy.

Third-party packages add backends through the entry-point group ``xpnet.backends``; each
entry point names a :class:`Backend` subclass (or a factory ``f(device=None) -> Backend``).
"""

from __future__ import annotations

import contextvars
import os
from typing import Callable, Union

from ..errors import BackendUnavailableError, XpnetValueError
from ._base import Backend
from .cupy_backend import CupyBackend
from .dask_backend import DaskBackend
from .numpy_backend import NumpyBackend
from .strict_backend import StrictBackend

__all__ = [
    "Backend",
    "get_backend",
    "use_backend",
    "available_backends",
    "registered_backends",
    "register_backend",
    "unregister_backend",
    "backend_factory",
    "resolve_backend",
    "backend_of",
]

ENTRY_POINT_GROUP = "xpnet.backends"
ENV_VAR = "XPNET_BACKEND"

BackendLike = Union[str, Backend, None]

_REGISTRY: dict[str, Callable[..., Backend]] = {
    "numpy": NumpyBackend,
    "cupy": CupyBackend,
    "array_api_strict": StrictBackend,
    "dask": DaskBackend,
}
# Plug-ins that ship inside xpnet but register like a third party, through the entry-point
# group (pyproject.toml). A source checkout that was never installed has no entry points, so
# the registry falls back to these "module:attribute" paths; an installed entry point wins.
_FALLBACK_PLUGINS = {"torch": "xpnet.backends.torch_backend:TorchBackend"}
_ALIASES = {"cpu": "numpy", "np": "numpy", "gpu": "cupy", "cuda": "cupy", "strict": "array_api_strict"}
_entry_points_loaded = False

# The scoped choice. A ContextVar (not a module global) so that threads and asyncio tasks
# each see their own ``with use_backend(...)`` block.
_current: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("xpnet_backend", default=None)


def register_backend(name: str, factory: Callable[..., Backend], *, overwrite: bool = False) -> None:
    """Add a backend to the registry.

    Parameters
    ----------
    name : str
        The name users pass as ``backend=``.
    factory : callable
        A :class:`Backend` subclass or any ``factory(device=None) -> Backend``. If it has
        an ``is_available`` attribute, :func:`available_backends` consults it.
    overwrite : bool
        Replace an existing registration of the same name.
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise XpnetValueError(f"backend name must be a non-empty string without ':', got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise XpnetValueError(f"a backend named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = factory


def unregister_backend(name: str) -> None:
    """Remove a backend registered with :func:`register_backend` (unknown names are ignored)."""
    _REGISTRY.pop(name, None)


def backend_factory(name: str) -> Callable[..., Backend]:
    """The factory (usually a :class:`Backend` subclass) registered under ``name``."""
    _load_entry_points()
    if name not in _REGISTRY:
        raise XpnetValueError(f"no backend named {name!r} is registered; registered: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib import import_module
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue
        try:
            _REGISTRY[ep.name] = ep.load()
        except Exception:  # a broken plug-in must not break xpnet; it is just not listed
            continue
    for name, target in _FALLBACK_PLUGINS.items():
        if name not in _REGISTRY:
            module, _, attr = target.partition(":")
            _REGISTRY[name] = getattr(import_module(module), attr)


def registered_backends() -> list[str]:
    """Every registered backend name, available here or not."""
    _load_entry_points()
    return list(_REGISTRY)


def _is_available(factory) -> bool:
    check = getattr(factory, "is_available", None)
    if check is None:
        return True
    try:
        return bool(check())
    except Exception:
        return False


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine, e.g. ``['numpy', 'array_api_strict']``."""
    return [name for name in registered_backends() if _is_available(_REGISTRY[name])]


def _auto() -> Backend:
    return CupyBackend() if CupyBackend.is_available() else NumpyBackend()


def get_backend(name: BackendLike = "auto", device=None, **options) -> Backend:
    """Return the backend for a name.

    Parameters
    ----------
    name : str or Backend
        A registry name (``"numpy"``, ``"cupy"``, ``"array_api_strict"``), an alias
        (``"cpu"``, ``"gpu"``, ``"auto"``), ``"name:device"`` (``"cupy:1"``,
        ``"array_api_strict:device1"``) or a :class:`Backend`, returned as is.
    device : optional
        The device, when not given in the name.
    **options
        Backend-specific options, passed to its factory, e.g.
        ``get_backend("dask", client=client, chunks=10_000)``.

    Raises
    ------
    BackendUnavailableError
        The backend is registered but cannot run here; the message says what is missing
        and how to install it.
    XpnetValueError
        No backend has that name.
    """
    if isinstance(name, Backend):
        if options:
            raise XpnetValueError(f"backend options {sorted(options)} need a backend name, not a {type(name).__name__}")
        return name
    if name is None:
        name = "auto"
    if not isinstance(name, str):
        raise XpnetValueError(f"backend must be a name or a Backend, got {type(name).__name__}")
    key, _, dev = name.strip().partition(":")
    key = _ALIASES.get(key.lower(), key.lower())
    if dev:
        device = int(dev) if dev.isdigit() else dev
    if key == "auto":
        return _auto()
    _load_entry_points()
    if key not in _REGISTRY:
        valid = ", ".join(sorted(set(_REGISTRY) | set(_ALIASES) | {"auto"}))
        raise XpnetValueError(f"unknown backend {name!r}; valid names are: {valid}")
    factory = _REGISTRY[key]
    if not _is_available(factory):
        reason = getattr(factory, "unavailable_reason", lambda: "")()
        raise BackendUnavailableError(f"backend {key!r} is not available: {reason or 'its library is missing'}")
    if device is not None:
        options["device"] = device
    try:
        return factory(**options)
    except TypeError as exc:
        if options and "unexpected keyword" in str(exc):
            raise XpnetValueError(f"backend {key!r} does not take the option(s) {sorted(options)}: {exc}") from None
        raise


def resolve_backend(backend: BackendLike = None) -> Backend:
    """Apply the selection order: explicit > :func:`use_backend` scope > ``XPNET_BACKEND`` > auto."""
    if backend is not None:
        return get_backend(backend)
    scoped = _current.get()
    if scoped is not None:
        return scoped
    env = os.environ.get(ENV_VAR)
    if env:
        return get_backend(env)
    return _auto()


class use_backend:
    """Choose the backend for everything that does not name one explicitly.

    Use it as a context manager (restores the previous choice on exit, also on an
    exception) or call it bare as a global setter::

        with xn.use_backend("array_api_strict"):
            net = xn.Sequential([...])      # runs on array-api-strict
        xn.use_backend("numpy")             # from now on, in this context

    The backend is resolved (and its availability checked) immediately.
    """

    def __init__(self, backend: BackendLike, device=None, **options):
        self.backend = get_backend(backend, device=device, **options)
        self._tokens: list[contextvars.Token] = []
        # Called bare, this is the global setter: set now, never reset.
        self._outer = _current.set(self.backend)

    def __enter__(self) -> Backend:
        # The constructor already set it; remember how to undo that on exit.
        self._tokens.append(self._outer)
        return self.backend

    def __exit__(self, *exc) -> bool:
        _current.reset(self._tokens.pop())
        return False


def backend_of(x) -> Backend:
    """The backend whose library owns array ``x``, pinned to ``x``'s device."""
    import sys

    import numpy as np

    if isinstance(x, np.ndarray):
        return NumpyBackend()
    # Only libraries that are already imported can own an array: never import one here.
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        return CupyBackend(device=x.device.id)
    if type(x).__module__.startswith("array_api_strict."):
        return StrictBackend(device=x.device)
    from array_api_compat import device as device_of

    for name in registered_backends():
        factory = _REGISTRY[name]
        if name in ("numpy", "cupy", "array_api_strict") or not _is_available(factory):
            continue
        try:
            candidate = factory()
            if candidate.owns(x):
                return factory(device=device_of(x))
        except Exception:
            continue
    raise XpnetValueError(
        f"{type(x).__module__}.{type(x).__name__} is not an array of any available xpnet backend "
        f"({', '.join(available_backends())})"
    )
