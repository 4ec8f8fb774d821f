"""Bidirectional: one recurrent layer reads the sequence forwards, a twin reads it backwards.

Shapes: ``(n_x, m, T) -> (2 n_a, m, T)`` with ``merge="concat"`` (``(n_a, m, T)`` for
``"sum"``, ``"mul"``, ``"ave"``), or the last step's ``(., m)`` without return_sequences.
The backward twin's last state has read x_1 last, so with ``return_sequences=False`` the
output joins a_T of the forward pass with the backward twin's state after x_1 (as Keras).

States (as Keras): ``initial_state`` and the final state list the forward layer's arrays,
then the backward twin's: ``[a_fw, c_fw, a_bw, c_bw]`` for an LSTM.
"""

from __future__ import annotations

from typing import NamedTuple

from array_api_compat import array_namespace

from ..errors import ShapeError, XpnetTypeError, XpnetValueError
from ._composite import Composite
from .base import Layer, layer_from_config, register_layer
from .sequence import SequenceInput

__all__ = ["Bidirectional"]

MERGES = ("concat", "sum", "mul", "ave")


class BidirectionalCache(NamedTuple):
    forward: object
    backward: object
    A_fw: object  # each direction's output, in the input's time order
    A_bw: object


def _flip_time(xp, A):
    return xp.flip(A, axis=2)


@register_layer
class Bidirectional(Composite, SequenceInput, Layer):
    """Run ``layer`` over the sequence and a copy of it over the reversed sequence; merge.

    Parameters
    ----------
    layer : SimpleRNN, LSTM or GRU
        The forward layer; the backward one is a fresh layer of the same configuration
        (its own weights, drawn after the forward layer's).
    merge : {"concat", "sum", "mul", "ave"}
        How the two outputs become one: stacked on the feature axis, added, multiplied
        element-wise, or averaged.

    Notes
    -----
    Parameters: the wrapped layer's names with ``_fw`` (forward) and ``_bw`` (backward)
    appended, e.g. ``Wf_fw`` ... ``bo_bw`` for an LSTM.
    """

    has_parameters = True

    def __init__(self, layer, merge: str = "concat"):
        super().__init__()
        if not isinstance(layer, Layer) or not hasattr(layer, "return_sequences") or layer.params:
            raise XpnetTypeError(
                "Bidirectional wraps a new (unbuilt) recurrent layer such as LSTM(32, return_sequences=True), "
                f"got {layer!r}"
            )
        if merge not in MERGES:
            raise XpnetValueError(f"Bidirectional merge must be one of {', '.join(MERGES)}; got {merge!r}")
        self.forward_layer = layer
        self.backward_layer = layer_from_config(type(layer).__name__, layer.get_config())
        self.merge = merge
        self.regularized = tuple(n + s for s in ("_fw", "_bw") for n in layer.regularized)

    @property
    def return_sequences(self):
        return self.forward_layer.return_sequences

    @property
    def return_state(self):
        return self.forward_layer.return_state

    @property
    def units(self):
        return self.forward_layer.units

    @property
    def n_states(self):
        return 2 * self.forward_layer.n_states

    def build(self, input_shape, *, backend, dtype, rng):
        out = self.forward_layer.build(input_shape, backend=backend, dtype=dtype, rng=rng)
        self.backward_layer.build(input_shape, backend=backend, dtype=dtype, rng=rng)
        self.input_shape = self.forward_layer.input_shape
        n = out[0] * (2 if self.merge == "concat" else 1)
        self.output_shape = (n, *out[1:])
        self._route({
            "forward_layer": {k: k + "_fw" for k in self.forward_layer.params},
            "backward_layer": {k: k + "_bw" for k in self.backward_layer.params},
        })
        return self.output_shape

    def forward(self, A_prev, training=False, mask=None):
        A, _, cache = self.forward_with_state(A_prev, None, training, mask=mask)
        return A, cache

    def backward(self, dA, cache, need_dA_prev=True):
        dX, _, grads = self.backward_with_state(dA, None, cache, need_dA_prev)
        return dX, grads

    def _halves(self, state):
        if state is None:
            return None, None
        k = self.forward_layer.n_states
        if len(state) != 2 * k:
            raise ShapeError(f"Bidirectional({type(self.forward_layer).__name__}) takes {2 * k} state arrays "
                             f"(the forward layer's, then the backward one's), got {len(state)}")
        return tuple(state[:k]), tuple(state[k:])

    def forward_with_state(self, A_prev, initial_state=None, training=False, mask=None):
        """(output, forward final state + backward final state, cache).

        ``mask`` ``(m, T)`` marks padding (0); the backward layer reads it reversed, so with
        padding at the end it starts from its initial state at each example's last real step.
        """
        xp = array_namespace(A_prev)
        s_fw, s_bw = self._halves(initial_state)
        mask_bw = None if mask is None else xp.flip(mask, axis=1)
        A_fw, f_fw, c_fw = self.forward_layer.forward_with_state(A_prev, s_fw, training, mask=mask)
        A_bw, f_bw, c_bw = self.backward_layer.forward_with_state(_flip_time(xp, A_prev), s_bw, training,
                                                                  mask=mask_bw)
        if self.return_sequences:
            A_bw = _flip_time(xp, A_bw)  # step t of the output: both directions at input step t
        if self.merge == "concat":
            A = xp.concat([A_fw, A_bw], axis=0)
        elif self.merge == "sum":
            A = A_fw + A_bw
        elif self.merge == "mul":
            A = A_fw * A_bw
        else:
            A = 0.5 * (A_fw + A_bw)
        keep = self.merge == "mul"
        return A, (*f_fw, *f_bw), BidirectionalCache(c_fw, c_bw, A_fw if keep else None, A_bw if keep else None)

    def backward_with_state(self, dA, d_state, cache, need_dA_prev=True):
        """(dJ/dX or None, dJ/d(initial state, both directions), grads); ``dA`` may be None."""
        n = self.forward_layer.units
        d_fw_state, d_bw_state = self._halves(d_state)
        if dA is None:
            d_fw = d_bw = None
        elif self.merge == "concat":
            d_fw, d_bw = dA[:n, ...], dA[n:, ...]
        elif self.merge == "sum":
            d_fw = d_bw = dA
        elif self.merge == "mul":
            d_fw, d_bw = dA * cache.A_bw, dA * cache.A_fw
        else:
            d_fw = d_bw = 0.5 * dA
        if self.return_sequences and d_bw is not None:
            d_bw = _flip_time(array_namespace(d_bw), d_bw)
        grads = {}
        dX_fw, d0_fw, g = self.forward_layer.backward_with_state(d_fw, d_fw_state, cache.forward, need_dA_prev)
        self._collect("forward_layer", g, grads)
        dX_bw, d0_bw, g = self.backward_layer.backward_with_state(d_bw, d_bw_state, cache.backward, need_dA_prev)
        self._collect("backward_layer", g, grads)
        dX = (dX_fw + _flip_time(array_namespace(dX_bw), dX_bw)) if need_dA_prev else None
        return dX, (*d0_fw, *d0_bw), grads

    def __call__(self, X, initial_state=None, training=False):
        """Keras-style call: the output, or ``[output, *forward state, *backward state]`` with return_state."""
        A, state, _ = self.forward_with_state(X, initial_state, training)
        return [A, *state] if self.return_state else A

    def get_config(self):
        layer = self.forward_layer
        return {"layer": {"class_name": type(layer).__name__, "config": layer.get_config()}, "merge": self.merge}

    @classmethod
    def from_config(cls, config):
        spec = config["layer"]
        return cls(layer_from_config(spec["class_name"], spec["config"]), config.get("merge", "concat"))
