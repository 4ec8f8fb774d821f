"""xpnet's vectorized code behind the reference's signatures: the implementation under test.

``forward``, ``cost``, ``gradients``, ``update`` and ``train_step`` take the same arguments
as the loop references in :mod:`xpnet.reference.dense` and run xpnet's own
:class:`~xpnet.Sequential`, losses, optimiser and :func:`xpnet.training.train_step`.
"""

from __future__ import annotations

import numpy as np

from .. import activations as _activations
from .. import losses as _losses
from ..errors import XpnetValueError
from ..layers import Dense
from ..model import Sequential
from ..optim import GradientDescent
from ..training import train_step
from . import _scalar as S
from .dense import check, check_targets

__all__ = [
    "vectorized_net",
    "vectorized_forward",
    "vectorized_cost",
    "vectorized_gradients",
    "vectorized_update",
    "vectorized_train_step",
]


def _xpnet_activation(act):
    return _activations.get({"name": act.name, "slope": act.slope} if act.name == "leaky_relu" else act.name)


def _loss(loss, acts):
    return _losses.get(S.loss_name(loss, acts[-1]))


def vectorized_net(params, activations, backend="numpy", dtype=None):
    """A :class:`~xpnet.Sequential` of Dense layers holding ``params`` (copied to ``backend``)."""
    acts = [S.activation(a) for a in activations]
    if "W1" not in params:
        raise XpnetValueError("params must contain W1 (the first layer's weights)")
    if dtype is None:
        dtype = str(np.asarray(params["W1"]).dtype)
        dtype = dtype if dtype in ("float32", "float64") else "float64"
    n_x = int(np.asarray(params["W1"]).shape[1])
    layers = [Dense(int(np.asarray(params[f"W{l}"]).shape[0]), activation=_xpnet_activation(act))
              for l, act in enumerate(acts, start=1)]
    net = Sequential(layers, input_size=n_x, backend=backend, dtype=dtype, seed=0)
    return net.set_parameters(params)


def _host(net, tree):
    return {k: net.backend.to_numpy(v) for k, v in tree.items()}


def vectorized_forward(params, X, activations, backend="numpy"):
    """xpnet's forward propagation; returns ``(AL, caches)`` as host arrays (Z may be None)."""
    acts, X = check(params, X, activations)
    net = vectorized_net(params, acts, backend)
    with net.backend.context():
        AL, caches = net.forward(net.prepare_input(X), training=True)
        to_host = net.backend.to_numpy
        # A layer may drop Z from its cache when backward does not need it: None here too.
        return to_host(AL), [tuple(None if part is None else to_host(part) for part in (c.A_prev, c.Z, c.A)) for c in caches]


def vectorized_cost(AL, Y, loss="binary_crossentropy"):
    """xpnet's loss on host arrays (computed from A, not fused with the logits)."""
    loss = _losses.get(S.loss_name(loss))
    AL = np.asarray(AL)
    return float(loss.cost(AL, check_targets(Y, AL)))


def vectorized_gradients(params, X, Y, activations, loss=None, backend="numpy"):
    """``Sequential.gradients`` for these params, as host arrays."""
    acts, X = check(params, X, activations)
    net = vectorized_net(params, acts, backend)
    return _host(net, net.gradients(X, Y, loss=_loss(loss, acts)))


def vectorized_update(params, grads, learning_rate):
    """:class:`~xpnet.GradientDescent`'s update."""
    return GradientDescent(learning_rate).update(dict(params), grads)


def vectorized_train_step(params, X, Y, activations, learning_rate, loss=None, backend="numpy"):
    """:func:`xpnet.training.train_step` on the full batch: ``(cost before the update, new params)``."""
    acts, X = check(params, X, activations)
    net = vectorized_net(params, acts, backend)
    loss = _loss(loss, acts)
    with net.backend.context():
        X = net.prepare_input(X)
        Y = net.prepare_targets(Y, net.n_examples(X), loss=loss)
        cost = train_step(net, X, Y, loss=loss, optimizer=GradientDescent(learning_rate))
        return float(net.backend.to_numpy(cost)), _host(net, net.parameters())
