"""Composite layers: a layer made of sub-layers that keep their own parameters.

A network addresses a layer's parameters through ``layer.params`` (reading them for the
optimiser, writing the updated arrays back). A composite layer's ``params`` is a
:class:`ParamView`: every name is routed to the one sub-layer that owns the array, so a
read or a write reaches that sub-layer directly and nothing is copied back and forth.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from ..errors import XpnetValueError

__all__ = ["ParamView", "Composite"]


class ParamView(MutableMapping):
    """The parameters of sub-layers under the composite layer's names.

    Parameters
    ----------
    routes : dict
        Composite name -> ``(sub_layer, local_name)``; ``sub_layer.params[local_name]``
        holds the array. The set of names is fixed: parameters are replaced, never added.
    """

    def __init__(self, routes: dict):
        self._routes = dict(routes)

    def __getitem__(self, name):
        layer, local = self._routes[name]
        return layer.params[local]

    def __setitem__(self, name, value):
        if name not in self._routes:
            raise XpnetValueError(f"no parameter {name!r} in this layer; it has {', '.join(self._routes)}")
        layer, local = self._routes[name]
        layer.params[local] = value

    def __delitem__(self, name):
        raise XpnetValueError("a composite layer's parameters can be replaced, not removed")

    def __iter__(self):
        return iter(self._routes)

    def __len__(self):
        return len(self._routes)

    def __repr__(self):
        return f"ParamView({list(self._routes)})"


class Composite:
    """Mixin: ``params`` routed to sub-layers (held as attributes), gradients renamed likewise."""

    def _route(self, spec: dict) -> None:
        """``spec``: sub-layer attribute -> {local name: composite name}; call after building them."""
        routes_, self._names = {}, {}
        for attr, names in spec.items():
            sub = getattr(self, attr)
            for local, name in names.items():
                routes_[name] = (sub, local)
            self._names[attr] = dict(names)
        self.params = ParamView(routes_)

    def _collect(self, attr: str, grads: dict, into: dict) -> dict:
        names = self._names[attr]
        for local, g in grads.items():
            into[names[local]] = g
        return into

    def parameter_shapes(self):
        shapes = {}
        for attr, names in self._names.items():
            sub_shapes = getattr(self, attr).parameter_shapes()
            for local, name in names.items():
                shapes[name] = sub_shapes[local]
        return shapes
