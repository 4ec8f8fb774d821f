"""Recurrent layers: SimpleRNN, LSTM and GRU, with backpropagation through time.

Input ``(n_x, m, T)``; hidden state ``(n_a, m)``. With ``return_sequences=True`` the output
is every state ``(n_a, m, T)``, else the last state ``(n_a, m)``. The time loop is
inherent (a_t needs a_{t-1}); it lives in the backend's sequence kernels
(``backends/_generic_sequence_kernels.py`` and its overrides), which the layers call with
their gates stacked. The layers hold the parameters, the states and the gradients' names.

States: the initial state is zeros unless given (``initial_state=`` of :meth:`forward_with_state`
or of a call ``layer(X, initial_state=[a0])``; ``[a0, c0]`` for an LSTM), each ``(n_a, m)``.
:meth:`forward_with_state` also returns the final state (``(a_T,)``; ``(a_T, c_T)`` for an
LSTM) and :meth:`backward_with_state` takes the gradient flowing into it and returns the
gradient into the initial state: what an encoder-decoder model needs to train both halves.

Padding: ``forward(X, mask=...)`` with a mask ``(m, T)`` (1 for a real step, 0 for padding;
what ``Embedding(..., mask_zero=True)`` makes in a :class:`~xpnet.Sequential`) carries the
state over the padded steps unchanged, as Keras does: the final state of an example is its
state after its last real step, and padding gets no gradient.
"""

from __future__ import annotations

from array_api_compat import array_namespace, device

from .. import initializers as _initializers
from .._validation import check_bool, check_number
from ..backends import backend_of
from ..backends.kernels import kernels_of
from ..errors import NotFittedError, ShapeError, XpnetTypeError
from .attention import check_mask
from .base import Layer, register_layer
from .sequence import SequenceInput, positive_int, require_sequence_shape

__all__ = ["SimpleRNN", "LSTM", "GRU"]


def _course_layout(xp, S):
    """A time-major (T, n, m) stack in the course's (n, m, T) layout."""
    return xp.permute_dims(S, (1, 2, 0))


def _last(S):
    """The final state of a (T + 1, n, m) stack that starts with the initial state."""
    return S[S.shape[0] - 1, ...]


def _plus(x, y):
    """x + y where either may be None (no gradient)."""
    return y if x is None else (x if y is None else x + y)


class _Recurrent(SequenceInput, Layer):
    has_parameters = True

    #: Arrays in the state: a (SimpleRNN, GRU) or a and c (LSTM).
    n_states = 1

    def __init__(self, units: int, return_sequences: bool = False, init="xavier", return_state: bool = False):
        super().__init__()
        self.units = positive_int(units, f"{type(self).__name__} units")
        self.return_sequences = check_bool(return_sequences, "return_sequences")
        self.return_state = check_bool(return_state, "return_state")
        self.init_name = init
        self.init = _initializers.get(init)

    def build(self, input_shape, *, backend, dtype, rng):
        if len(input_shape) == 1:
            raise ShapeError(f"{type(self).__name__} reads sequences, but the layer before it returns one vector per "
                             "example: give that layer return_sequences=True to stack recurrent layers")
        n_x, T = require_sequence_shape(input_shape, type(self).__name__)
        self.input_shape = (n_x, T)
        self.output_shape = (self.units, T) if self.return_sequences else (self.units,)
        self.params = {name: backend.asarray(value, dtype) for name, value in self._initial(n_x, rng).items()}
        return self.output_shape

    def _output(self, xp, S):
        """The layer's output from the kernels' (T + 1, n_a, m) states (initial state first)."""
        return _course_layout(xp, S[1:, ...]) if self.return_sequences else _last(S)

    def _split_output_grad(self, dA, d_state):
        """(dJ/da_t of every step (n_a, m, T) or None, dJ/da_T or None) for the kernels."""
        d_last = None if d_state is None else d_state[0]
        if self.return_sequences:
            return dA, d_last
        return None, _plus(dA, d_last)  # the output is a_T itself

    def _initial_states(self, X, initial_state):
        """The initial state arrays, each (n_a, m) on X's backend (zeros when not given)."""
        xp = array_namespace(X)
        n_a, m = self.units, X.shape[1]
        if initial_state is None:
            zeros = xp.zeros((n_a, m), dtype=X.dtype, device=device(X))
            return (zeros,) * self.n_states
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        what = "[a0, c0]" if self.n_states == 2 else "[a0]"
        if len(initial_state) != self.n_states:
            raise ShapeError(f"{type(self).__name__} takes initial_state={what}, got {len(initial_state)} arrays")
        backend = backend_of(X)
        out = []
        for name, s in zip(("a0", "c0"), initial_state):
            s = s if backend.owns(s) else backend.asarray(s)
            s = xp.astype(s, X.dtype)
            if tuple(s.shape) != (n_a, m):
                raise ShapeError(f"{type(self).__name__} initial state {name} must have shape (n_a, m) = "
                                 f"({n_a}, {m}), got {tuple(s.shape)}")
            out.append(s)
        return tuple(out)

    def forward(self, A_prev, training=False, mask=None):
        A, _, cache = self.forward_with_state(A_prev, None, training, mask=mask)
        return A, cache

    def _mask(self, X, mask):
        """The padding mask checked against X ``(n_x, m, T)``: ``(m, T)`` or None."""
        return check_mask(mask, X.shape[1], X.shape[2], f"{type(self).__name__}'s padding mask")

    def backward(self, dA, cache, need_dA_prev=True):
        dX, _, grads = self.backward_with_state(dA, None, cache, need_dA_prev)
        return dX, grads

    def __call__(self, X, initial_state=None, training=False):
        """Keras-style call of a built layer: the output, or ``[output, a_T(, c_T)]`` with ``return_state``.

        ``X`` is ``(n_x, m, T)`` on the layer's backend; ``initial_state`` is ``[a0]``
        (``[a0, c0]`` for an LSTM), each ``(n_a, m)``.
        """
        if not self.params:
            raise NotFittedError(f"build the {type(self).__name__} first (in a network with input_size=..., or "
                                 "layer.build((n_x, T), backend=..., dtype=..., rng=...))")
        A, state, _ = self.forward_with_state(X, initial_state, training)
        return [A, *state] if self.return_state else A

    def get_config(self):
        init_name = _initializers.name_of(self.init_name)
        if init_name is None:
            raise XpnetTypeError(f"a {type(self).__name__} with a custom init callable cannot be serialised")
        return {"units": self.units, "return_sequences": self.return_sequences, "init": init_name,
                "return_state": self.return_state}


class _GatedRecurrent(_Recurrent):
    """Gates that act on [a_{t-1}; x_t]: one W (n_a, n_a + n_x) and one b (n_a, 1) per gate."""

    _GATES: tuple = ()

    def _initial_bias(self, gate) -> float:
        return 0.0

    def _initial(self, n_x, rng):
        n_a = self.units
        params = {}
        for g in self._GATES:
            params["W" + g] = self.init((n_a, n_a + n_x), n_a + n_x, rng)
            params["b" + g] = [[self._initial_bias(g)]] * n_a
        return params

    def _stacked(self, xp):
        """W (gates x n_a, n_a + n_x) and b, gates in the kernels' order (sigmoid gates first)."""
        W = xp.concat([self.params["W" + g] for g in self._KERNEL_ORDER], axis=0)
        b = xp.concat([self.params["b" + g] for g in self._KERNEL_ORDER], axis=0)
        return W, b

    def _gate_grads(self, dW, db):
        n, rows = self.units, {g: k for k, g in enumerate(self._KERNEL_ORDER)}
        grads = {}
        for g in self._GATES:
            k = rows[g]
            grads["W" + g] = dW[k * n : (k + 1) * n, :]
            grads["b" + g] = db[k * n : (k + 1) * n, :]
        return grads

    def parameter_shapes(self):
        n_a, n_x = self.units, self.input_shape[0]
        shapes = {}
        for g in self._GATES:
            shapes["W" + g] = (n_a, n_a + n_x)
            shapes["b" + g] = (n_a, 1)
        return shapes


@register_layer
class SimpleRNN(_Recurrent):
    """The basic RNN cell: a_t = tanh(Waa a_{t-1} + Wax x_t + ba).

    Parameters: ``Waa (n_a, n_a)``, ``Wax (n_a, n_x)``, ``ba (n_a, 1)``.
    Shapes: ``(n_x, m, T) -> (n_a, m, T)`` (return_sequences) or ``(n_a, m)``.
    """

    regularized = ("Waa", "Wax")

    def _initial(self, n_x, rng):
        n_a = self.units
        Wax = self.init((n_a, n_x), n_x, rng)  # Wax first: the course's initialize_parameters order
        Waa = self.init((n_a, n_a), n_a, rng)
        return {"Waa": Waa, "Wax": Wax, "ba": [[0.0]] * n_a}

    def parameter_shapes(self):
        n_a, n_x = self.units, self.input_shape[0]
        return {"Waa": (n_a, n_a), "Wax": (n_a, n_x), "ba": (n_a, 1)}

    def _W(self, xp):
        return xp.concat([self.params["Waa"], self.params["Wax"]], axis=1)

    def forward_with_state(self, A_prev, initial_state=None, training=False, mask=None):
        """(output, (a_T,), cache), starting from ``initial_state=[a0]`` (zeros if None)."""
        xp = array_namespace(A_prev)
        (a0,) = self._initial_states(A_prev, initial_state)
        mask = self._mask(A_prev, mask)
        cache = kernels_of(A_prev).rnn_forward(A_prev, self._W(xp), self.params["ba"], a0, mask=mask)
        return self._output(xp, cache.A), (_last(cache.A),), cache

    def backward_with_state(self, dA, d_state, cache, need_dA_prev=True):
        """(dJ/dX or None, (dJ/da0,), grads); ``d_state`` is ``(dJ/da_T,)`` or None, ``dA`` may be None."""
        W = self._W(array_namespace(cache.A))
        dA_seq, da_T = self._split_output_grad(dA, d_state)
        dX, da0, dW, db = kernels_of(W).rnn_backward(dA_seq, da_T, cache, W, need_dA_prev)
        n = self.units
        return dX, (da0,), {"Waa": dW[:, :n], "Wax": dW[:, n:], "ba": db}


@register_layer
class LSTM(_GatedRecurrent):
    """Long short-term memory (the course's form), gates acting on [a_{t-1}; x_t].

    f, i, o = sigmoid(W_{f,i,o} [a_{t-1}; x_t] + b_{f,i,o}), c~ = tanh(Wc [a_{t-1}; x_t] + bc),
    c_t = f * c_{t-1} + i * c~, a_t = o * tanh(c_t).

    Parameters: ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)`` and ``bf, bi, bc, bo (n_a, 1)``.
    ``forget_bias`` (default 1.0) is bf's initial value: the forget gate starts open, so
    memory (and the gradient) survives many steps from the first update (Jozefowicz et al.
    2015); 0.0 gives the course's all-zero biases.

    ``return_cell_sequence=True`` adds every memory cell c_1..c_T ``(n_a, m, T)`` to what a
    call ``layer(X)`` returns (after the states, if any), as the course's ``lstm_forward``
    returns ``c``; it is for inspection, and no gradient flows back through it.
    """

    regularized = ("Wf", "Wi", "Wc", "Wo")
    _GATES = ("f", "i", "c", "o")
    _KERNEL_ORDER = ("f", "i", "o", "c")  # the kernels' rows: sigmoid gates first

    n_states = 2

    def __init__(self, units: int, return_sequences: bool = False, init="xavier", forget_bias: float = 1.0,
                 return_state: bool = False, return_cell_sequence: bool = False):
        super().__init__(units, return_sequences, init, return_state)
        self.forget_bias = check_number(forget_bias, "forget_bias")
        self.return_cell_sequence = check_bool(return_cell_sequence, "return_cell_sequence")

    def __call__(self, X, initial_state=None, training=False):
        out = super().__call__(X, initial_state, training)
        if not self.return_cell_sequence:
            return out
        _, _, cache = self.forward_with_state(X, initial_state, training)
        C = cache.C[1:, ...]
        return [*(out if self.return_state else [out]), _course_layout(array_namespace(X), C)]

    def _initial_bias(self, gate):
        return self.forget_bias if gate == "f" else 0.0

    def forward_with_state(self, A_prev, initial_state=None, training=False, mask=None):
        """(output, (a_T, c_T), cache), starting from ``initial_state=[a0, c0]`` (zeros if None)."""
        xp = array_namespace(A_prev)
        a0, c0 = self._initial_states(A_prev, initial_state)
        mask = self._mask(A_prev, mask)
        W, b = self._stacked(xp)
        cache = kernels_of(A_prev).lstm_forward(A_prev, W, b, a0, c0, mask=mask)
        return self._output(xp, cache.A), (_last(cache.A), _last(cache.C)), cache

    def backward_with_state(self, dA, d_state, cache, need_dA_prev=True):
        """(dJ/dX or None, (dJ/da0, dJ/dc0), grads); ``d_state`` is ``(dJ/da_T, dJ/dc_T)`` or None."""
        W, _ = self._stacked(array_namespace(cache.A))
        dA_seq, da_T = self._split_output_grad(dA, d_state)
        dc_T = None if d_state is None else d_state[1]
        dX, da0, dc0, dW, db = kernels_of(W).lstm_backward(dA_seq, da_T, dc_T, cache, W, need_dA_prev)
        return dX, (da0, dc0), self._gate_grads(dW, db)

    def get_config(self):
        return {**super().get_config(), "forget_bias": self.forget_bias,
                "return_cell_sequence": self.return_cell_sequence}


@register_layer
class GRU(_GatedRecurrent):
    """Gated recurrent unit (the course's full form).

    Gu = sigmoid(Wu [c_{t-1}; x_t] + bu), Gr = sigmoid(Wr [c_{t-1}; x_t] + br),
    c~ = tanh(Wc [Gr * c_{t-1}; x_t] + bc), c_t = Gu * c~ + (1 - Gu) * c_{t-1}; a_t = c_t.

    Parameters: ``Wu, Wr, Wc (n_a, n_a + n_x)`` and ``bu, br, bc (n_a, 1)``.
    """

    regularized = ("Wu", "Wr", "Wc")
    _GATES = ("u", "r", "c")
    _KERNEL_ORDER = _GATES

    def __init__(self, units: int, return_sequences: bool = False, init="xavier", update_bias: float = 0.0,
                 return_state: bool = False):
        super().__init__(units, return_sequences, init, return_state)
        self.update_bias = check_number(update_bias, "update_bias")

    def _initial_bias(self, gate):
        return self.update_bias if gate == "u" else 0.0

    def get_config(self):
        return {**super().get_config(), "update_bias": self.update_bias}

    def forward_with_state(self, A_prev, initial_state=None, training=False, mask=None):
        """(output, (c_T,), cache), starting from ``initial_state=[c0]`` (zeros if None)."""
        xp = array_namespace(A_prev)
        (c0,) = self._initial_states(A_prev, initial_state)
        mask = self._mask(A_prev, mask)
        W, b = self._stacked(xp)
        cache = kernels_of(A_prev).gru_forward(A_prev, W, b, c0, mask=mask)
        return self._output(xp, cache.C), (_last(cache.C),), cache

    def backward_with_state(self, dA, d_state, cache, need_dA_prev=True):
        """(dJ/dX or None, (dJ/dc0,), grads); ``d_state`` is ``(dJ/dc_T,)`` or None."""
        W, _ = self._stacked(array_namespace(cache.C))
        dA_seq, dc_T = self._split_output_grad(dA, d_state)
        dX, dc0, dW, db = kernels_of(W).gru_backward(dA_seq, dc_T, cache, W, need_dA_prev)
        return dX, (dc0,), self._gate_grads(dW, db)
