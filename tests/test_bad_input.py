"""Every bad input gets an xpnet error with an exact, helpful message.

``CASES`` is the single source of the documentation's error table (docs/guide/errors.rst):
each case is run here and its exact message compared, and ``test_documented_table_is_true``
checks that the page shows each of them word for word.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import xpnet as xn
from xpnet.backends.cupy_backend import CupyBackend

ERRORS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "errors.rst"

X = np.linspace(-1.0, 1.0, 20).reshape(10, 2).T  # n_x = 2, m = 10, both signs in each row
Y = (X[0:1] > 0) * 1.0


def _net(output="sigmoid", n_out=1, **kwargs):
    return xn.Sequential([xn.Dense(n_out, activation=output, **kwargs)], input_size=2, backend="numpy", seed=0)


def _fit(X_=X, Y_=Y, **kwargs):
    kwargs.setdefault("epochs", 1)
    return lambda: _net().fit(X_, Y_, **kwargs)


def _softmax_fit(Y_):
    return lambda: _net("softmax", 3).fit(X[:, :3], Y_, epochs=1)


def _set(name, value):
    def run():
        net = _net()
        params = {k: xn.to_numpy(v) for k, v in net.parameters().items()}
        params[name] = value
        net.set_parameters(params)
    return run


def _strict_X():
    import array_api_strict

    return lambda: _net().fit(array_api_strict.asarray(X), Y, epochs=1)


# (what the user passes, the call, the error class, the exact message)
CASES = [
    ("`X` with the wrong number of rows", _fit(np.ones((3, 10))), xn.ShapeError,
     "X has 3 rows but the network expects n_x = 2; examples go in columns, features in rows"),
    ("`X` transposed (examples in rows)", _fit(X.T), xn.ShapeError,
     "X has 10 rows but the network expects n_x = 2; it looks transposed: examples go in columns, pass X.T"),
    ("`X` 1-D", _fit(np.ones(10)), xn.ShapeError,
     "X must be 2-D (n_x, m) with one example per column, got 1-D shape (10,)"),
    ("`X` empty", _fit(np.ones((2, 0)), np.ones((1, 0))), xn.ShapeError,
     "X is empty (shape (2, 0)); it needs at least one feature and one example"),
    ("`Y` of shape `(m,)`", _fit(X, Y[0]), xn.ShapeError,
     "Y must be 2-D (n_out, m) = (1, 10), got 1-D shape (10,); reshape it to (1, m) with Y.reshape(1, -1)"),
    ("X and Y with different m", _fit(X, Y[:, :9]), xn.ShapeError,
     "X has m = 10 examples (columns) but Y has 9; they must match"),
    ("NaN or inf in X or Y", _fit(np.where(X > 0.5, np.nan, X)), xn.XpnetValueError,
     "X contains NaN or infinite values; clean or impute them before training"),
    ("strings", _fit(np.array([["a"] * 10, ["b"] * 10])), xn.XpnetTypeError,
     "X must hold numbers (int, float or bool), got dtype <U1; encode text or categories as numbers first"),
    ("complex numbers", _fit(X + 1j), xn.XpnetTypeError,
     "X must hold numbers (int, float or bool), got dtype complex128; encode text or categories as numbers first"),
    ("Python objects (e.g. `None`)", _fit(X, np.array([[None] * 10])), xn.XpnetTypeError,
     "Y must hold numbers (int, float or bool), got dtype object; encode text or categories as numbers first"),
    ("labels other than 0/1 with a sigmoid output", _fit(X, Y + 1), xn.XpnetValueError,
     "binary_crossentropy needs Y in [0, 1] (0/1 labels), got values from 1 to 2; "
     "map the two classes to 0 and 1 first (e.g. labels -1/+1 -> (y + 1) / 2)"),
    ("one-hot columns that do not sum to 1", _softmax_fit(np.array([[1.0, 1, 0], [0, 1, 0], [0, 0, 1]])),
     xn.XpnetValueError,
     "categorical_crossentropy needs one-hot columns in Y (k, m), each summing to 1, but column 1 sums to 2; "
     "examples go in columns, classes in rows (pass Y.T if it is (m, k))"),
    ("negative one-hot values", _softmax_fit(np.array([[2.0, 1, 0], [-1, 0, 0], [0, 0, 1]])), xn.XpnetValueError,
     "categorical_crossentropy needs one-hot columns in Y (k, m), got a negative value -1; "
     "one-hot encode the class indices first"),
    ("`epochs=0`", _fit(epochs=0), xn.XpnetValueError, "epochs must be a positive int, got 0"),
    ("`learning_rate=-0.1`", _fit(learning_rate=-0.1), xn.XpnetValueError,
     "learning_rate must be a finite number > 0, got -0.1"),
    ("`batch_size=0`", _fit(batch_size=0), xn.XpnetValueError,
     "batch_size must be a positive int or None (full batch), got 0"),
    ("`l2=-1`", _fit(l2=-1), xn.XpnetValueError, "l2 must be a finite number >= 0, got -1"),
    ("`clip_norm=0`", _fit(clip_norm=0), xn.XpnetValueError, "clip_norm must be a finite number > 0, got 0"),
    ("`validation_split=1.5`", _fit(validation_split=1.5), xn.XpnetValueError,
     "validation_split must be a float in (0, 1), got 1.5"),
    ("`verbose=\"yes\"`", _fit(verbose="yes"), xn.XpnetValueError,
     "verbose must be a bool or an int >= 0 (print every N epochs), got 'yes'"),
    ("`Adam(beta1=1.0)`", lambda: xn.Adam(beta1=1.0), xn.XpnetValueError, "beta1 must be a float in [0, 1), got 1.0"),
    ("an unknown activation", lambda: xn.Dense(2, activation="swish"), xn.XpnetValueError,
     "unknown activation 'swish'; valid names are: sigmoid, tanh, relu, leaky_relu, linear, softmax"),
    ("an unknown loss", _fit(loss="hinge"), xn.XpnetValueError,
     "unknown loss 'hinge'; valid names are: binary_crossentropy, categorical_crossentropy, mean_squared_error "
     "(aliases: bce, cce, mse)"),
    ("an unknown initialiser", lambda: xn.Dense(2, init="glorot"), xn.XpnetValueError,
     "unknown initializer 'glorot'; valid names are: zeros, small_random, xavier, he"),
    ("an unknown optimizer", _fit(optimizer="lbfgs"), xn.XpnetValueError,
     "unknown optimizer 'lbfgs'; valid names are: gradient_descent, sgd, gd, momentum, rmsprop, adam"),
    ("an array of another backend", _strict_X(), xn.XpnetTypeError,
     "X is a array_api_strict array but the model runs on numpy (cpu); move the data with xn.to_numpy(X) "
     "or move the model with net.to('array_api_strict')"),
    ("`predict` before the network has parameters",
     lambda: xn.Sequential([xn.Dense(1)], backend="numpy").predict(X), xn.NotFittedError,
     "the network has no parameters yet: pass input_size=... or call fit() first"),
    ("`set_parameters` with a wrong shape", _set("W1", np.ones((2, 1))), xn.ShapeError,
     "W1 must have shape (1, 2), got (2, 1)"),
    ("`set_parameters` with NaN", _set("b1", np.array([[np.nan]])), xn.XpnetValueError,
     "b1 contains NaN or infinite values; clean or impute them before training"),
    ("a learning rate so large that the cost diverges",
     lambda: _net("linear").fit(X * 100, Y, learning_rate=1e6, epochs=50), xn.TrainingDivergedError,
     "the training cost became inf at epoch 2; the model keeps the parameters from before that epoch. "
     "Try a smaller learning rate (now 1000000.0), gradient clipping (clip_norm=...) or standardised inputs"),
]


@pytest.mark.parametrize("what, call, error, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_the_documented_message(what, call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message
    assert isinstance(info.value, xn.XpnetError)
    assert isinstance(info.value, (ValueError, TypeError, RuntimeError, FloatingPointError, MemoryError))


def _documented_rows():
    text = ERRORS_PAGE.read_text(encoding="utf-8")
    rows = re.findall(r"^   \* - (.+)\n     - ``(.+)``$", text, flags=re.M)
    # The page writes inline code as ``x`` (reStructuredText); CASES names it `x`.
    return {re.sub(r"``([^`]+)``", r"`\1`", what): message for what, message in rows}


class _GPU:
    """What a CuPy backend's ``describe()`` looks like (the page shows a placeholder GPU name)."""

    @staticmethod
    def describe():
        return "cupy (cuda:0, <your GPU>)"


@pytest.mark.skipif(not ERRORS_PAGE.exists(), reason="docs/ not beside the tests (installed package)")
def test_documented_table_is_true():
    from xpnet.training import out_of_memory_error

    rows = _documented_rows()
    for what, _, error, message in CASES:
        assert rows.get(what) == f"{error.__name__}: {message}", what
    oom = out_of_memory_error(_GPU, 0, 4096, 100_000)
    assert rows["GPU memory runs out during `fit`"] == f"DeviceOutOfMemoryError: {oom}"


def test_cce_accepts_probability_columns_and_float32_rounding():
    P = np.array([[0.2, 1 / 3], [0.3, 1 / 3], [0.5, 1 / 3]], dtype=np.float32)
    net = xn.Sequential([xn.Dense(3, activation="softmax")], input_size=2, backend="numpy", seed=0)
    assert np.isfinite(net.fit(X[:, :2], P, epochs=1).costs[0])
    assert np.isfinite(net.evaluate(X[:, :2], P)["cost"])


def test_label_domain_is_checked_in_evaluate_and_validation_data():
    net = _net()
    with pytest.raises(xn.XpnetValueError, match="binary_crossentropy needs Y_val in"):
        net.fit(X, Y, epochs=1, validation_data=(X, Y - 1))
    with pytest.raises(xn.XpnetValueError, match="binary_crossentropy needs Y in"):
        net.evaluate(X, Y * 3)
    # Mean squared error takes any finite target.
    assert np.isfinite(net.evaluate(X, Y * 3, loss="mse")["cost"])


def test_other_dtypes_are_accepted_and_cast():
    net = _net()
    for X_ in (X.astype(np.float32), (X > 0), np.arange(20).reshape(2, 10)):
        assert net.predict_proba(X_).dtype == np.float32
    net.fit(X, Y.astype(np.int64), epochs=1)
    net.fit(X, Y.astype(bool), epochs=1)


def test_activation_and_loss_calls_check_their_arguments():
    with pytest.raises(xn.XpnetTypeError, match="Z must be an array"):
        xn.activations.relu([[1.0, 2.0]])
    with pytest.raises(xn.XpnetTypeError, match="Z must be a float32 or float64 array, got dtype int64"):
        xn.activations.sigmoid(np.ones((2, 2), dtype=np.int64))
    with pytest.raises(xn.ShapeError, match=r"same shape \(n_out, m\), got \(1, 3\) and \(1, 2\)"):
        xn.losses.binary_crossentropy(np.full((1, 3), 0.5), np.ones((1, 2)))
    with pytest.raises(xn.XpnetValueError, match="binary_crossentropy needs Y in"):
        xn.losses.binary_crossentropy(np.full((1, 2), 0.5), np.array([[0.0, 2.0]]))


# -- numerical faults --------------------------------------------------------------------------
def test_divergence_keeps_the_last_finite_parameters_and_optimizer_state():
    X_ = X * 100
    net = _net("linear")
    momentum = xn.Momentum(learning_rate=1e6)
    with pytest.raises(xn.TrainingDivergedError, match="at epoch [0-9]+;.*smaller learning rate") as info:
        net.fit(X_, Y, optimizer=momentum, epochs=50)
    epoch = int(re.search("at epoch ([0-9]+);", str(info.value)).group(1))
    assert epoch >= 1
    # The same run stopped just before the diverging epoch has exactly the parameters kept.
    again = _net("linear")
    hist = again.fit(X_, Y, optimizer=xn.Momentum(learning_rate=1e6), epochs=epoch)
    assert all(np.isfinite(c) for c in hist.costs)
    for name, W in net.parameters().items():
        assert np.all(np.isfinite(W)), name
        np.testing.assert_array_equal(W, again.parameters()[name])
    assert momentum.iterations == epoch and all(np.all(np.isfinite(v)) for v in momentum.state.values())
    assert net.epochs_trained == epoch


def test_divergence_on_every_backend_with_warnings_as_errors(backend):
    net = xn.Sequential([xn.Dense(3, activation="relu"), xn.Dense(1)], input_size=2, backend=backend,
                        dtype="float32", seed=1)
    with pytest.raises(xn.TrainingDivergedError, match="Try a smaller learning rate"):
        net.fit(X * 1e3, Y, learning_rate=1e8, epochs=100)
    assert all(np.all(np.isfinite(backend.to_numpy(W))) for W in net.parameters().values())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output, n_out", [("sigmoid", 1), ("softmax", 3), ("tanh", 1)])
def test_huge_inputs_give_finite_outputs_without_warnings(backend, dtype, output, n_out):
    # |z| up to ~1e4 and beyond: the stable sigmoid/softmax/cross-entropies stay finite.
    X_ = np.array([[1e4, -1e4, 3e3, 0.0], [-1e4, 1e4, 0.0, 1.0]])
    Y_ = np.eye(n_out)[:, [0, 0, 0, 0]] if n_out > 1 else np.array([[0.0, 1.0, 1.0, 0.0]])
    net = xn.Sequential([xn.Dense(4, activation="relu"), xn.Dense(n_out, activation=output)],
                        input_size=2, backend=backend, dtype=dtype, seed=2)
    P = net.predict_proba(X_)
    assert np.all(np.isfinite(P))
    assert np.isfinite(net.evaluate(X_, Y_)["cost"])
    assert np.all(np.isfinite(net.predict(X_)))
    hist = net.fit(X_, Y_, learning_rate=1e-6, epochs=2)
    assert all(np.isfinite(c) for c in hist.costs)


class OutOfMemoryError(MemoryError):
    """Stands in for cupy.cuda.memory.OutOfMemoryError (a MemoryError) where there is no GPU."""

    __module__ = "cupy.cuda.memory"


class CUDARuntimeError(RuntimeError):
    __module__ = "cupy_backends.cuda.api.runtime"


def test_device_out_of_memory_becomes_a_clear_error(monkeypatch):
    net = _net()
    before = {k: v.copy() for k, v in net.parameters().items()}
    layer = net.layers[0]
    real_forward = layer.forward

    def forward(A, training=False):
        if A.shape[1] > 4:  # only batches larger than 4 examples "do not fit"
            raise OutOfMemoryError("Out of memory allocating 1,024 bytes (allocated so far: 0 bytes).")
        return real_forward(A, training)

    monkeypatch.setattr(layer, "forward", forward)
    with pytest.raises(xn.DeviceOutOfMemoryError) as info:
        net.fit(X, Y, epochs=2, optimizer=xn.Adam())
    assert str(info.value) == (
        "numpy (cpu) ran out of memory at epoch 0 with the full batch (all 10 examples at once); pass a smaller "
        "batch_size (e.g. batch_size=5), fewer or narrower layers, or dtype='float32'. "
        "The model keeps the parameters from before that epoch"
    )
    assert isinstance(info.value, MemoryError) and isinstance(info.value.__cause__, OutOfMemoryError)
    for k, v in net.parameters().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(xn.DeviceOutOfMemoryError, match=r"with batch_size=5; .*batch_size=2\)"):
        net.fit(X, Y, epochs=1, batch_size=5)
    assert len(net.fit(X, Y, epochs=1, batch_size=4).costs) == 1  # the suggested fix works


def test_cupy_backend_recognises_its_out_of_memory_errors_without_a_gpu():
    gpu = CupyBackend()
    assert gpu.is_out_of_memory(OutOfMemoryError("Out of memory allocating 512 bytes"))
    assert gpu.is_out_of_memory(CUDARuntimeError("cudaErrorMemoryAllocation: out of memory"))
    assert not gpu.is_out_of_memory(CUDARuntimeError("cudaErrorInvalidValue: invalid argument"))
    assert not gpu.is_out_of_memory(ValueError("out of memory"))  # not CuPy's


def test_other_errors_inside_training_are_not_translated(monkeypatch):
    net = _net()
    monkeypatch.setattr(net.layers[0], "forward", lambda A, training=False: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        net.fit(X, Y, epochs=1)
