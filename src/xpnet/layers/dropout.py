"""Regularisation layers: inverted dropout.

The array API has no random numbers, so the masks come from a counter-based generator: a
keyed integer hash of (seed, step, element index), computed by the backend's kernels where
the activations live (:meth:`~xpnet.backends.kernels.Kernels.dropout_mask`). No mask is drawn
on the host or copied per step, and the same seed gives the same masks on every backend.
"""

from __future__ import annotations

from typing import NamedTuple

from .._validation import check_number
from ..backends import backend_of
from ..backends.kernels import kernels_of
from ..errors import XpnetValueError
from .base import Layer, register_layer

__all__ = ["Dropout"]


class DropoutCache(NamedTuple):
    #: D / keep_prob: the mask already scaled, so backward is one product.
    D: object


@register_layer
class Dropout(Layer):
    """Inverted dropout: during training keep each unit with probability ``keep_prob``.

    In training, ``D = (rand < keep_prob)``, ``A = A_prev * D / keep_prob`` (so the
    expected activation is unchanged and nothing needs rescaling at test time) and
    backward gives ``dA_prev = dA * D / keep_prob``. In ``predict``/``evaluate`` (and
    every forward pass with ``training=False``) the layer is the identity.

    Parameters
    ----------
    keep_prob : float
        Probability of keeping a unit, in (0, 1]; 1 turns dropout off.

    Notes
    -----
    Mask number ``step`` (counted per training forward pass) is a pure function of
    (:attr:`seed`, step, shape). The seed is drawn from a child of the model's seeded generator
    when the network is built (spawning does not advance that stream, so adding a Dropout
    layer leaves the other layers' initial weights unchanged). Set :attr:`fixed_mask` to a
    host array of 0/1 of shape (n, m) to use that mask instead (gradient checks).

    Examples
    --------
    >>> import xpnet as xn
    >>> net = xn.Sequential([xn.Dense(8, activation="relu"), xn.Dropout(0.8),
    ...                      xn.Dense(1, activation="sigmoid")], input_size=2, backend="numpy", seed=1)
    >>> [k for k in net.parameters()]
    ['W1', 'b1', 'W2', 'b2']
    """

    def __init__(self, keep_prob: float = 0.5):
        super().__init__()
        self.keep_prob = check_number(keep_prob, "Dropout keep_prob", low=0.0, high=1.0, low_open=True)
        #: The masks' key (set by :meth:`build`).
        self.seed = None
        #: Masks drawn so far: the counter of the generator.
        self.step = 0
        #: A host 0/1 array used as the mask instead of a random draw (None: draw).
        self.fixed_mask = None

    def build(self, input_shape, *, backend, dtype, rng):
        self.input_shape = tuple(input_shape)
        self.output_shape = self.input_shape
        # A child stream: independent of, and without advancing, the weight-init stream.
        self.seed = int(rng.spawn(1)[0].integers(0, 2**63))
        self.step = 0
        return self.output_shape

    def _mask(self, A_prev):
        """D / keep_prob for this step, on A_prev's device."""
        host = self.fixed_mask
        if host is None:
            if self.seed is None:
                raise XpnetValueError("Dropout has no seed yet: build the network (input_size=...) first")
            step, self.step = self.step, self.step + 1
            return kernels_of(A_prev).dropout_mask(A_prev, self.keep_prob, self.seed, step)
        if tuple(host.shape) != tuple(A_prev.shape):
            raise XpnetValueError(
                f"Dropout fixed_mask must have the activations' shape {tuple(A_prev.shape)}, got {tuple(host.shape)}"
            )
        # A user's test mask moves host -> device in the one place data moves: the backend.
        backend = backend_of(A_prev)
        return backend.xp.astype(backend.asarray(host.astype(bool, copy=False)), A_prev.dtype) / self.keep_prob

    def forward(self, A_prev, training=False):
        if not training or self.keep_prob == 1.0:
            return A_prev, None
        D = self._mask(A_prev)
        return A_prev * D, DropoutCache(D)

    def backward(self, dA, cache, need_dA_prev=True):
        if not need_dA_prev:
            return None, {}
        if cache is None:  # identity (keep_prob 1 or a forward without training)
            return dA, {}
        return dA * cache.D, {}

    def get_config(self) -> dict:
        return {"keep_prob": self.keep_prob}
