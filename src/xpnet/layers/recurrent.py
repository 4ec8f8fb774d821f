"""Recurrent layers: SimpleRNN, LSTM and GRU, with backpropagation through time.

Input ``(n_x, m, T)``; hidden state ``(n_a, m)``. With ``return_sequences=True`` the output
is every state ``(n_a, m, T)``, else the last state ``(n_a, m)``. The time loop is
inherent (a_t needs a_{t-1}), but everything inside it is vectorized over the m examples,
and the input half of every product (W_x x_t for all t) is done in one matrix product
before the loop; the weight gradients of that half likewise after the backward loop.

States: the initial state is zeros unless given (``initial_state=`` of :meth:`forward_with_state`
or of a call ``layer(X, initial_state=[a0])``; ``[a0, c0]`` for an LSTM), each ``(n_a, m)``.
:meth:`forward_with_state` also returns the final state (``(a_T,)``; ``(a_T, c_T)`` for an
LSTM) and :meth:`backward_with_state` takes the gradient flowing into it and returns the
gradient into the initial state: what an encoder-decoder model needs to train both halves.
"""

from __future__ import annotations

from typing import NamedTuple

from array_api_compat import array_namespace, device

from .. import activations as _activations
from .. import initializers as _initializers
from .._validation import check_bool, check_number
from ..backends import backend_of
from ..errors import NotFittedError, ShapeError, XpnetTypeError
from .base import Layer, register_layer
from .sequence import SequenceInput, flat, positive_int, require_sequence_shape, seq_matmul

__all__ = ["SimpleRNN", "LSTM", "GRU"]

_sigmoid = _activations.Sigmoid().forward


def _column(xp, b):
    """A bias (n, 1) shaped to broadcast over (n, m, T)."""
    return xp.reshape(b, (b.shape[0], 1, 1))


def _course_layout(xp, S):
    """A time-major (T, n, m) stack in the course's (n, m, T) layout."""
    return xp.permute_dims(S, (1, 2, 0))


def _state_grad(d_next, dA, t, T, return_sequences):
    """dJ/da_t: what flows back from step t+1, plus what the layer's output at t receives."""
    if dA is None:  # the output feeds nothing (only the final state is used)
        return d_next
    if return_sequences:
        return d_next + dA[:, :, t]
    return d_next + dA if t == T - 1 else d_next


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

    def _output(self, xp, states):
        return xp.stack(states, axis=2) if self.return_sequences else states[-1]

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

    def forward(self, A_prev, training=False):
        A, _, cache = self.forward_with_state(A_prev, None, training)
        return A, cache

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

    def parameter_shapes(self):
        n_a, n_x = self.units, self.input_shape[0]
        shapes = {}
        for g in self._GATES:
            shapes["W" + g] = (n_a, n_a + n_x)
            shapes["b" + g] = (n_a, 1)
        return shapes


class RNNCache(NamedTuple):
    X: object
    A: object  # every state a_1..a_T, (n_a, m, T)
    a0: object  # the initial state (n_a, m)


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

    def forward_with_state(self, A_prev, initial_state=None, training=False):
        """(output, (a_T,), cache), starting from ``initial_state=[a0]`` (zeros if None)."""
        xp = array_namespace(A_prev)
        Waa, Wax, ba = self.params["Waa"], self.params["Wax"], self.params["ba"]
        XZ = seq_matmul(Wax, A_prev) + _column(xp, ba)
        (a0,) = self._initial_states(A_prev, initial_state)
        a = a0
        states = []
        for t in range(A_prev.shape[2]):
            a = xp.tanh(Waa @ a + XZ[:, :, t])
            states.append(a)
        A = xp.stack(states, axis=2)
        return (A if self.return_sequences else states[-1]), (states[-1],), RNNCache(A_prev, A, a0)

    def backward_with_state(self, dA, d_state, cache, need_dA_prev=True):
        """(dJ/dX or None, (dJ/da0,), grads); ``d_state`` is ``(dJ/da_T,)`` or None, ``dA`` may be None."""
        xp = array_namespace(cache.A)
        Waa, Wax = self.params["Waa"], self.params["Wax"]
        A = cache.A
        T = A.shape[2]
        da_next = xp.zeros_like(A[:, :, 0]) if d_state is None else d_state[0]
        dWaa = xp.zeros_like(Waa)
        dZs = [None] * T
        for t in range(T - 1, -1, -1):
            da = _state_grad(da_next, dA, t, T, self.return_sequences)
            a_t = A[:, :, t]
            dz = da * (1.0 - a_t * a_t)
            dWaa = dWaa + dz @ (A[:, :, t - 1] if t > 0 else cache.a0).T
            dZs[t] = dz
            da_next = Waa.T @ dz
        dZ = xp.stack(dZs, axis=2)
        grads = {
            "Waa": dWaa,
            "Wax": flat(dZ) @ flat(cache.X).T,
            "ba": xp.sum(flat(dZ), axis=1, keepdims=True),
        }
        return (seq_matmul(Wax.T, dZ) if need_dA_prev else None), (da_next,), grads


class LSTMCache(NamedTuple):
    X: object  # the input (n_x, m, T)
    G: object  # gates f, i, c~, o stacked on axis 1, time-major: (T, 4 n_a, m)
    C: object  # memory cells c_t (T, n_a, m)
    TC: object  # tanh(c_t)
    A: object  # states a_t (T, n_a, m)
    a0: object  # initial states (n_a, m)
    c0: object


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
        return [*(out if self.return_state else [out]), _course_layout(array_namespace(X), cache.C)]

    def _initial_bias(self, gate):
        return self.forget_bias if gate == "f" else 0.0

    def _stacked(self, xp):
        W = xp.concat([self.params["W" + g] for g in self._GATES], axis=0)  # (4 n_a, n_a + n_x)
        b = xp.concat([self.params["b" + g] for g in self._GATES], axis=0)
        return W[:, : self.units], W[:, self.units :], b

    def forward_with_state(self, A_prev, initial_state=None, training=False):
        """(output, (a_T, c_T), cache), starting from ``initial_state=[a0, c0]`` (zeros if None)."""
        xp = array_namespace(A_prev)
        n = self.units
        Wa, Wx, b = self._stacked(xp)
        # Time-major inside the loop: step t reads and writes one contiguous (4 n_a, m) block,
        # where a slice [:, :, t] of the course's (n, m, T) layout is a strided gather.
        XZ = xp.matmul(Wx, xp.permute_dims(A_prev, (2, 0, 1))) + b  # (T, 4 n_a, m)
        a0, c0 = self._initial_states(A_prev, initial_state)
        a, c = a0, c0
        gates, cells, tcells, states = [], [], [], []
        for t in range(A_prev.shape[2]):
            Z = Wa @ a + XZ[t, ...]
            f = _sigmoid(Z[:n, ...])
            i = _sigmoid(Z[n : 2 * n, ...])
            cc = xp.tanh(Z[2 * n : 3 * n, ...])
            o = _sigmoid(Z[3 * n :, ...])
            c = f * c + i * cc
            tc = xp.tanh(c)
            a = o * tc
            gates.append(xp.concat([f, i, cc, o], axis=0))
            cells.append(c)
            tcells.append(tc)
            states.append(a)
        A = xp.stack(states, axis=0)
        cache = LSTMCache(A_prev, xp.stack(gates, axis=0), xp.stack(cells, axis=0), xp.stack(tcells, axis=0), A, a0, c0)
        return (_course_layout(xp, A) if self.return_sequences else a), (a, c), cache

    def backward_with_state(self, dA, d_state, cache, need_dA_prev=True):
        """(dJ/dX or None, (dJ/da0, dJ/dc0), grads); ``d_state`` is ``(dJ/da_T, dJ/dc_T)`` or None."""
        xp = array_namespace(cache.A)
        n = self.units
        Wa, Wx, _ = self._stacked(xp)
        G, C, TC, A = cache.G, cache.C, cache.TC, cache.A  # time-major: (T, ., m)
        T = A.shape[0]
        zeros = xp.zeros_like(A[0, ...])
        da_next, dc_next = (zeros, zeros) if d_state is None else d_state
        dWa = xp.zeros_like(Wa)
        dZs = [None] * T
        for t in range(T - 1, -1, -1):
            da = _state_grad(da_next, dA, t, T, self.return_sequences)
            g = G[t, ...]
            f, i, cc, o = g[:n, ...], g[n : 2 * n, ...], g[2 * n : 3 * n, ...], g[3 * n :, ...]
            tc = TC[t, ...]
            c_prev = C[t - 1, ...] if t > 0 else cache.c0
            do = da * tc
            dc = dc_next + da * o * (1.0 - tc * tc)
            df, di, dcc = dc * c_prev, dc * cc, dc * i
            dc_next = dc * f
            dZ = xp.concat([df * f * (1.0 - f), di * i * (1.0 - i), dcc * (1.0 - cc * cc), do * o * (1.0 - o)], axis=0)
            dWa = dWa + dZ @ (A[t - 1, ...] if t > 0 else cache.a0).T
            dZs[t] = dZ
            da_next = Wa.T @ dZ
        dZ = xp.stack(dZs, axis=0)  # (T, 4 n_a, m)
        n_x, m = cache.X.shape[0], cache.X.shape[1]
        # One product for every (step, example) column: both sides flattened in (t, m) order.
        dZ_flat = xp.reshape(xp.permute_dims(dZ, (1, 0, 2)), (4 * n, T * m))
        X_flat = xp.reshape(xp.permute_dims(cache.X, (0, 2, 1)), (n_x, T * m))
        dW = xp.concat([dWa, dZ_flat @ X_flat.T], axis=1)
        db = xp.sum(dZ_flat, axis=1, keepdims=True)
        grads = {}
        for k, gname in enumerate(self._GATES):
            grads["W" + gname] = dW[k * n : (k + 1) * n, :]
            grads["b" + gname] = db[k * n : (k + 1) * n, :]
        dX = _course_layout(xp, xp.matmul(Wx.T, dZ)) if need_dA_prev else None
        return dX, (da_next, dc_next), grads

    def get_config(self):
        return {**super().get_config(), "forget_bias": self.forget_bias,
                "return_cell_sequence": self.return_cell_sequence}


class GRUCache(NamedTuple):
    X: object
    GU: object  # update gate Gu (n_a, m, T)
    GR: object  # relevance gate Gr
    CC: object  # candidate c~
    C: object  # states c_t
    c0: object  # initial state (n_a, m)


@register_layer
class GRU(_GatedRecurrent):
    """Gated recurrent unit (the course's full form).

    Gu = sigmoid(Wu [c_{t-1}; x_t] + bu), Gr = sigmoid(Wr [c_{t-1}; x_t] + br),
    c~ = tanh(Wc [Gr * c_{t-1}; x_t] + bc), c_t = Gu * c~ + (1 - Gu) * c_{t-1}; a_t = c_t.

    Parameters: ``Wu, Wr, Wc (n_a, n_a + n_x)`` and ``bu, br, bc (n_a, 1)``.
    """

    regularized = ("Wu", "Wr", "Wc")
    _GATES = ("u", "r", "c")

    def __init__(self, units: int, return_sequences: bool = False, init="xavier", update_bias: float = 0.0,
                 return_state: bool = False):
        super().__init__(units, return_sequences, init, return_state)
        self.update_bias = check_number(update_bias, "update_bias")

    def _initial_bias(self, gate):
        return self.update_bias if gate == "u" else 0.0

    def get_config(self):
        return {**super().get_config(), "update_bias": self.update_bias}

    def _split(self, xp):
        n = self.units
        Wur = xp.concat([self.params["Wu"], self.params["Wr"]], axis=0)  # (2 n_a, n_a + n_x)
        bur = xp.concat([self.params["bu"], self.params["br"]], axis=0)
        Wc = self.params["Wc"]
        return Wur[:, :n], Wur[:, n:], bur, Wc[:, :n], Wc[:, n:], self.params["bc"]

    def forward_with_state(self, A_prev, initial_state=None, training=False):
        """(output, (c_T,), cache), starting from ``initial_state=[c0]`` (zeros if None)."""
        xp = array_namespace(A_prev)
        n = self.units
        Wur_a, Wur_x, bur, Wc_a, Wc_x, bc = self._split(xp)
        XUR = seq_matmul(Wur_x, A_prev) + _column(xp, bur)
        XC = seq_matmul(Wc_x, A_prev) + _column(xp, bc)
        (c0,) = self._initial_states(A_prev, initial_state)
        c = c0
        us, rs, ccs, states = [], [], [], []
        for t in range(A_prev.shape[2]):
            G = _sigmoid(Wur_a @ c + XUR[:, :, t])
            gu, gr = G[:n, ...], G[n:, ...]
            cc = xp.tanh(Wc_a @ (gr * c) + XC[:, :, t])
            c = gu * cc + (1.0 - gu) * c
            us.append(gu)
            rs.append(gr)
            ccs.append(cc)
            states.append(c)
        stack = lambda s: xp.stack(s, axis=2)  # noqa: E731
        cache = GRUCache(A_prev, stack(us), stack(rs), stack(ccs), stack(states), c0)
        return self._output(xp, states), (c,), cache

    def backward_with_state(self, dA, d_state, cache, need_dA_prev=True):
        """(dJ/dX or None, (dJ/dc0,), grads); ``d_state`` is ``(dJ/dc_T,)`` or None."""
        xp = array_namespace(cache.C)
        Wur_a, Wur_x, _, Wc_a, Wc_x, _ = self._split(xp)
        C = cache.C
        T = C.shape[2]
        dc_next = xp.zeros_like(C[:, :, 0]) if d_state is None else d_state[0]
        dWur_a, dWc_a = xp.zeros_like(Wur_a), xp.zeros_like(Wc_a)
        dZurs, dZcs = [None] * T, [None] * T
        for t in range(T - 1, -1, -1):
            dc = _state_grad(dc_next, dA, t, T, self.return_sequences)
            gu, gr, cc = cache.GU[:, :, t], cache.GR[:, :, t], cache.CC[:, :, t]
            c_prev = C[:, :, t - 1] if t > 0 else cache.c0
            dgu = dc * (cc - c_prev)
            dc_prev = dc * (1.0 - gu)
            dZc = dc * gu * (1.0 - cc * cc)
            dWc_a = dWc_a + dZc @ (gr * c_prev).T
            drc = Wc_a.T @ dZc  # dJ/d(Gr * c_prev)
            dc_prev = dc_prev + drc * gr
            dZur = xp.concat([dgu * gu * (1.0 - gu), drc * c_prev * gr * (1.0 - gr)], axis=0)
            dWur_a = dWur_a + dZur @ c_prev.T
            dc_next = dc_prev + Wur_a.T @ dZur
            dZurs[t], dZcs[t] = dZur, dZc
        dZur, dZc = xp.stack(dZurs, axis=2), xp.stack(dZcs, axis=2)
        Xf = flat(cache.X)
        dWur = xp.concat([dWur_a, flat(dZur) @ Xf.T], axis=1)
        dbur = xp.sum(flat(dZur), axis=1, keepdims=True)
        n = self.units
        grads = {
            "Wu": dWur[:n, :],
            "bu": dbur[:n, :],
            "Wr": dWur[n:, :],
            "br": dbur[n:, :],
            "Wc": xp.concat([dWc_a, flat(dZc) @ Xf.T], axis=1),
            "bc": xp.sum(flat(dZc), axis=1, keepdims=True),
        }
        dX = seq_matmul(Wur_x.T, dZur) + seq_matmul(Wc_x.T, dZc) if need_dA_prev else None
        return dX, (dc_next,), grads


