"""Every argument check at the public boundary, in one place and in course terms.

One rule per mistake, the same everywhere: a number argument that cannot be used (not a
number, a bool, NaN or out of its range) raises :class:`~xpnet.XpnetValueError`; a flag
that is not True/False, or an object of the wrong kind (an array, a loss, a layer), raises
:class:`~xpnet.XpnetTypeError`. Every message names the argument, what it must be and
what it got. Array checks use only shapes and the array namespace, so they run
on any backend.
"""

from __future__ import annotations

import math
import numbers

from array_api_compat import array_namespace

from .errors import ShapeError, XpnetTypeError, XpnetValueError

__all__ = [
    "is_integer",
    "check_int",
    "check_positive_int",
    "check_number",
    "check_positive",
    "check_non_negative",
    "check_fraction",
    "check_bool",
    "check_pair",
    "holdout_size",
    "output_kind",
    "output_kind_of_activation",
    "OUTPUT_ACTIVATIONS",
    "check_X",
    "check_Y",
    "check_Y_sequence",
    "check_example_shape",
    "check_finite",
    "check_epochs",
    "check_batch_size",
    "check_float_array",
    "check_verbose",
]


def check_X(X, n_x: int | None, name: str = "X") -> None:
    """X must be (n_x, m) with m >= 1; suggest the transpose when that would fit."""
    if X.ndim != 2:
        raise ShapeError(
            f"{name} must be 2-D (n_x, m) with one example per column, got {X.ndim}-D shape {tuple(X.shape)}"
        )
    rows, m = X.shape
    if m == 0 or rows == 0:
        raise ShapeError(f"{name} is empty (shape {tuple(X.shape)}); it needs at least one feature and one example")
    if n_x is not None and rows != n_x:
        hint = (
            f"; it looks transposed: examples go in columns, pass {name}.T"
            if m == n_x
            else "; examples go in columns, features in rows"
        )
        raise ShapeError(f"{name} has {rows} rows but the network expects n_x = {n_x}{hint}")


def check_Y(Y, n_out: int, m: int, name: str = "Y") -> None:
    """Y must be (n_out, m), matching X's number of examples."""
    if Y.ndim != 2:
        hint = f"; reshape it to (1, m) with {name}.reshape(1, -1)" if Y.ndim == 1 and n_out == 1 else ""
        raise ShapeError(
            f"{name} must be 2-D (n_out, m) = ({n_out}, {m}), got {Y.ndim}-D shape {tuple(Y.shape)}{hint}"
        )
    if Y.shape[0] != n_out:
        hint = "; it looks transposed: pass Y.T" if Y.shape == (m, n_out) else ""
        raise ShapeError(
            f"{name} has {Y.shape[0]} rows but the network's output layer has {n_out} units{hint}"
        )
    if Y.shape[1] != m:
        raise ShapeError(f"X has m = {m} examples (columns) but {name} has {Y.shape[1]}; they must match")


def check_Y_sequence(Y, out_shape, m: int, name: str = "Y") -> None:
    """Y must be (n_out, m, T...) for a network whose per-example output shape is (n_out, T...)."""
    expected = (out_shape[0], m, *out_shape[1:])
    if tuple(Y.shape) != tuple(expected):
        raise ShapeError(
            f"{name} must have shape (n_out, m, T) = {expected} to match the network's output, "
            f"got {tuple(Y.shape)}"
        )


def check_example_shape(got, expected, name: str = "X") -> None:
    """The per-example shape of X (the examples axis left out) must be what the network was built for."""
    if expected is not None and tuple(got) != tuple(expected):
        raise ShapeError(
            f"{name} has per-example shape {tuple(got)} (examples axis left out) but the network was "
            f"built for {tuple(expected)}"
        )


def check_finite(A, name: str, is_finite=None) -> None:
    """Refuse NaN and infinity: they would silently turn every cost into NaN.

    ``is_finite``: the backend kernels' exact test (``kernels.is_finite``), quicker on large
    arrays than the array API's ``all(isfinite(A))``, which is used without it.
    """
    if is_finite is not None:
        finite = is_finite(A)
    else:
        xp = array_namespace(A)
        finite = bool(xp.all(xp.isfinite(A)))
    if not finite:
        raise XpnetValueError(f"{name} contains NaN or infinite values; clean or impute them before training")


# -- scalars -------------------------------------------------------------------------------
def is_integer(value) -> bool:
    """Whether ``value`` is an integer scalar: Python or NumPy ints count, bool does not."""
    # The exact-type test first: an ABC isinstance costs microseconds, and train_step checks every step.
    return type(value) is int or (isinstance(value, numbers.Integral) and not isinstance(value, bool))


def _is_real(value) -> bool:
    return type(value) in (float, int) or (isinstance(value, numbers.Real) and not isinstance(value, bool))


def check_int(value, name: str, minimum: int = 0, *, allow_none: bool = False):
    """``value`` as a Python int >= ``minimum`` (None passes through when ``allow_none``)."""
    if value is None and allow_none:
        return None
    what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if allow_none:
        what += " or None"
    if not is_integer(value) or value < minimum:
        raise XpnetValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_positive_int(value, name: str, *, allow_none: bool = False):
    """``value`` as a Python int >= 1 (None passes through when ``allow_none``)."""
    return check_int(value, name, 1, allow_none=allow_none)


def check_number(value, name: str, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """``value`` as a finite Python float within the given bounds.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; a Python float (never
    a NumPy scalar) is returned so that float32 computations stay float32.
    """
    number = float(value) if _is_real(value) else math.nan
    ok = math.isfinite(number)
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number < high if high_open else number <= high
    if ok:
        return number
    if low is not None and high is not None:
        what = f"a float in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        what = f"a finite number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        what = f"a finite number {'<' if high_open else '<='} {high:g}"
    else:
        what = "a finite number"
    raise XpnetValueError(f"{name} must be {what}, got {value!r}")


def check_positive(value, name: str) -> float:
    """A finite number > 0 (learning rates, clip norms, epsilons)."""
    return check_number(value, name, low=0.0, low_open=True)


def check_non_negative(value, name: str) -> float:
    """A finite number >= 0 (regularisation strengths, tolerances)."""
    return check_number(value, name, low=0.0)


def check_fraction(value, name: str) -> float:
    """A number strictly between 0 and 1 (held-out fractions)."""
    return check_number(value, name, low=0.0, high=1.0, low_open=True, high_open=True)


def check_bool(value, name: str) -> bool:
    """True or False, nothing else (a 0/1 or a string is almost always a misplaced argument)."""
    if not isinstance(value, bool):
        raise XpnetTypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_pair(value, name: str):
    """A pair ``(X_val, Y_val)`` (tuple or list of two)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise XpnetTypeError(f"{name} must be a pair (X_val, Y_val), got {type(value).__name__}")
    return value


def check_epochs(epochs) -> int:
    return check_positive_int(epochs, "epochs")


def check_batch_size(batch_size, m: int):
    """A mini-batch size capped at m, or None for the full batch."""
    if batch_size is None:
        return None
    if not is_integer(batch_size) or batch_size < 1:
        raise XpnetValueError(f"batch_size must be a positive int or None (full batch), got {batch_size!r}")
    return min(int(batch_size), m)


def check_verbose(verbose) -> int:
    """``verbose`` -> print every N epochs (True: 100; False/0/None: never)."""
    if verbose is True:
        return 100
    if verbose is None or verbose is False:
        return 0
    if not is_integer(verbose) or verbose < 0:
        raise XpnetValueError(f"verbose must be a bool or an int >= 0 (print every N epochs), got {verbose!r}")
    return int(verbose)


# -- data sets -----------------------------------------------------------------------------
def holdout_size(m: int, fraction, name: str = "validation_split", held_out: str = "validation") -> int:
    """How many of ``m`` examples a held-out ``fraction`` takes; both parts must be non-empty.

    The one split rule of ``fit(validation_split=)``, ``sweep`` and ``train_test_split``;
    which examples are held out (the last ones, or a shuffled draw) is the caller's choice.
    """
    fraction = check_fraction(fraction, name)
    n_held = int(round(m * fraction))
    if n_held < 1 or n_held >= m:
        raise XpnetValueError(
            f"{name}={fraction} leaves {m - n_held} training and {n_held} {held_out} examples of {m}; "
            "choose a fraction that keeps at least one example on each side"
        )
    return n_held


#: The output activation that suits each kind of target.
OUTPUT_ACTIVATIONS = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}


def output_kind_of_activation(activation) -> str:
    """``"binary"`` for a sigmoid output, ``"multiclass"`` for softmax, else ``"regression"``.

    ``activation`` is an activation object, its name, or None (a layer without one).
    """
    name = getattr(activation, "name", activation)
    return {"sigmoid": "binary", "softmax": "multiclass"}.get(name, "regression")


def output_kind(Y, classes=None) -> str:
    """What targets ``Y`` (n_out, m) ask for: ``"binary"``, ``"multiclass"`` or ``"regression"``.

    Several rows are one-hot classes; one row is binary when ``classes`` lists two labels
    or, without ``classes``, when every value is 0 or 1.
    """
    if int(Y.shape[0]) > 1:
        return "multiclass"
    if classes is not None:
        return "binary" if len(classes) == 2 else "regression"
    xp = array_namespace(Y)
    return "binary" if bool(xp.all(xp.logical_or(Y == 0.0, Y == 1.0))) else "regression"


def check_float_array(A, name: str):
    """``A`` must be a real floating-point array of an array-API library; returns its namespace.

    The entry check of the directly callable activations and losses (``xn.activations.relu(Z)``);
    the model's own hot path calls ``forward`` and ``cost``, which skip it.
    """
    try:
        xp = array_namespace(A)
    except TypeError:
        raise XpnetTypeError(
            f"{name} must be an array (NumPy, CuPy, array-api-strict), got {type(A).__name__}"
        ) from None
    try:
        ok = xp.isdtype(A.dtype, "real floating")
    except Exception:  # string/object dtypes are not array-API dtypes at all
        ok = False
    if not ok:
        raise XpnetTypeError(f"{name} must be a float32 or float64 array, got dtype {A.dtype}")
    return xp
