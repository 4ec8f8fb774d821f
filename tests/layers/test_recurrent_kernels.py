"""The sequence kernels: the NumPy overrides against the generic reference, float32 and float64.

The generic :class:`~xpnet.backends.kernels.Kernels` is the gradient-checked reference (the
layer gradient checks run it on array_api_strict); here every override must return what it
returns, forward and backward, with initial states, gradients into the final state, with
and without a gradient for every step, and with dX skipped.
"""

from __future__ import annotations

import numpy as np
import pytest

from xpnet.backends.kernels import Kernels, kernels_of

N_X, N_A, M, T = 3, 4, 5, 6
GENERIC = Kernels()
TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-12)}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _draw(dtype, seed=0):
    rng = np.random.default_rng(seed)
    arr = lambda *shape, scale=1.0: (scale * rng.normal(size=shape)).astype(dtype)  # noqa: E731
    return arr, rng


def _case(cell, dtype, seed=0):
    arr, _ = _draw(dtype, seed)
    k = GATES[cell]
    return {"X": arr(N_X, M, T), "W": arr(k * N_A, N_A + N_X, scale=0.6), "b": arr(k * N_A, 1, scale=0.5),
            "s0": [arr(N_A, M) for _ in range(2 if cell == "lstm" else 1)],
            "dA": arr(N_A, M, T), "dT": [arr(N_A, M) for _ in range(2 if cell == "lstm" else 1)]}


def _mask():
    """Padding at the end, at the start, in the middle, none at all, and everywhere."""
    mask = np.ones((M, T), dtype=bool)
    mask[0, 4:] = mask[1, :2] = mask[2, 2:4] = mask[4, :] = False
    return mask


def _run(kernels, cell, c, with_dA=True, with_dT=True, need_dX=True, mask=None):
    """Forward then backward through one kernel set: every array out, as NumPy."""
    forward = getattr(kernels, cell + "_forward")
    backward = getattr(kernels, cell + "_backward")
    cache = forward(c["X"], c["W"], c["b"], *c["s0"], mask=mask)
    dA = c["dA"] if with_dA else None
    dT = c["dT"] if with_dT else [None] * len(c["dT"])
    out = backward(dA, *dT, cache, c["W"], need_dX)
    states = cache.C if cell == "gru" else cache.A
    return [np.asarray(states)] + [None if o is None else np.asarray(o) for o in out]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("with_dA,with_dT,need_dX", [(True, True, True), (True, False, True), (False, True, False)])
@pytest.mark.parametrize("masked", [False, True])
def test_numpy_override_equals_the_generic_kernel(cell, dtype, with_dA, with_dT, need_dX, masked):
    c = _case(cell, dtype)
    mask = _mask() if masked else None
    numpy_kernels = kernels_of(c["X"])
    assert type(numpy_kernels).__name__ == "NumpyKernels"
    assert getattr(type(numpy_kernels), cell + "_forward") is not getattr(Kernels, cell + "_forward")
    got = _run(numpy_kernels, cell, c, with_dA, with_dT, need_dX, mask)
    want = _run(GENERIC, cell, c, with_dA, with_dT, need_dX, mask)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
            continue
        assert g.dtype == np.dtype(dtype) and g.shape == w.shape
        np.testing.assert_allclose(g, w, **TOL[dtype])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_interleaved_calls_keep_their_own_caches(cell):
    """Two forwards, then their backwards in reverse order: reused scratch must not leak between calls."""
    K = kernels_of(np.zeros(1))
    c1, c2 = _case(cell, "float64", 1), _case(cell, "float64", 2)
    alone = [_run(K, cell, c) for c in (c1, c2)]
    fw = getattr(K, cell + "_forward")
    bw = getattr(K, cell + "_backward")
    caches = [fw(c["X"], c["W"], c["b"], *c["s0"]) for c in (c1, c2)]
    for c, cache, ref in reversed(list(zip((c1, c2), caches, alone))):
        out = bw(c["dA"], *c["dT"], cache, c["W"], True)
        for g, w in zip(out, ref[1:]):
            np.testing.assert_array_equal(np.asarray(g), w)


def test_the_lstm_kernel_returns_course_layout_gradients():
    """dX comes back in the course's (n_x, m, T) layout; dW is (4 n_a, n_a + n_x), db (4 n_a, 1)."""
    c = _case("lstm", "float64")
    _, dX, da0, dc0, dW, db = _run(kernels_of(c["X"]), "lstm", c)
    assert dX.shape == (N_X, M, T) and dW.shape == (4 * N_A, N_A + N_X) and db.shape == (4 * N_A, 1)
    assert da0.shape == dc0.shape == (N_A, M)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_softmax_kernels_equal_the_generic_ones(dtype):
    arr, _ = _draw(dtype, 4)
    S = arr(2, 3, 5, 7, scale=4.0)
    S[..., 0, 2:] -= 1e9  # a masked key: probability and gradient exactly 0
    dP = arr(2, 3, 5, 7)
    numpy_kernels = kernels_of(S)
    P = numpy_kernels.softmax_rows(S.copy())
    P_ref = GENERIC.softmax_rows(S.copy())
    np.testing.assert_allclose(P, P_ref, **TOL[dtype])
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-6)
    assert np.all(P[..., 0, 2:] == 0.0)
    dS = numpy_kernels.softmax_rows_backward(dP.copy(), P)
    np.testing.assert_allclose(dS, GENERIC.softmax_rows_backward(dP.copy(), P_ref), **TOL[dtype])
    assert np.all(dS[..., 0, 2:] == 0.0)
    # A read-only input is left alone (the generic formula runs instead).
    S.flags.writeable = False
    np.testing.assert_allclose(numpy_kernels.softmax_rows(S), P_ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["row far below", "scores past overflow", "both"])
def test_numpy_softmax_shifts_and_redoes_rows_as_needed(dtype, case):
    """NumPy's softmax exponentiates scores unshifted while they are far from overflow, else
    shifted by each (T_q, T_k) block's maximum; a row far below the shift would underflow to
    0 / 0, so it is redone with its own maximum. Every way matches the generic softmax."""
    arr, _ = _draw(dtype, 6)
    S = arr(2, 3, 5, 7, scale=2.0)
    if case != "row far below":
        S += 1000.0  # exp overflows even in float64 without a shift
    if case != "scores past overflow":
        S[1, 2, 3, :] -= 2000.0  # exp(S - shift) underflows to 0 for the whole row
    P_ref = GENERIC.softmax_rows(S.copy())
    P = kernels_of(S).softmax_rows(S.copy())
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P, P_ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_backward_takes_the_row_sums_from_the_caller(dtype):
    arr, _ = _draw(dtype, 7)
    P = GENERIC.softmax_rows(arr(2, 3, 5, 7, scale=2.0))
    dP = arr(2, 3, 5, 7)
    delta = np.sum(dP * P, axis=-1, keepdims=True)
    expected = GENERIC.softmax_rows_backward(dP.copy(), P)
    for kernels in (GENERIC, kernels_of(P)):
        np.testing.assert_allclose(kernels.softmax_rows_backward(dP.copy(), P, delta), expected, **TOL[dtype])
    # dJ/dS rows sum to 0: adding a constant to a row of scores leaves the softmax unchanged.
    np.testing.assert_allclose(expected.sum(axis=-1), 0.0, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 4)])
def test_numpy_layer_norm_kernels_equal_the_generic_ones(dtype, shape):
    arr, _ = _draw(dtype, 5)
    X, dA = arr(*shape, scale=3.0) + 2.0, arr(*shape)
    column = (shape[0],) + (1,) * (len(shape) - 1)
    gamma, beta = arr(*column), arr(*column)
    numpy_kernels = kernels_of(X)
    got = numpy_kernels.layer_norm(X, gamma, beta, 1e-5)
    want = GENERIC.layer_norm(X, gamma, beta, 1e-5)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **TOL[dtype])
    np.testing.assert_allclose(got[1].mean(axis=0), 0.0, atol=1e-5)
    for need_dX in (True, False):
        got_b = numpy_kernels.layer_norm_backward(dA.copy(), got[1], got[2], gamma, need_dX)
        want_b = GENERIC.layer_norm_backward(dA.copy(), want[1], want[2], gamma, need_dX)
        for g, w in zip(got_b, want_b):
            if w is None:
                assert g is None
            else:
                assert g.shape == w.shape
                np.testing.assert_allclose(g, w, **TOL[dtype])
