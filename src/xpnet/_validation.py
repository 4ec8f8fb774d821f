"""Shape and value checks at the public boundary, in course terms.

Only shapes and the array namespace are used, so these checks run on any backend.
"""

from __future__ import annotations

from array_api_compat import array_namespace

from .errors import ShapeError, XpnetTypeError, XpnetValueError

__all__ = [
    "check_X",
    "check_Y",
    "check_Y_sequence",
    "check_example_shape",
    "check_finite",
    "check_epochs",
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


def check_finite(A, name: str) -> None:
    """Refuse NaN and infinity: they would silently turn every cost into NaN."""
    xp = array_namespace(A)
    if not bool(xp.all(xp.isfinite(A))):
        raise XpnetValueError(f"{name} contains NaN or infinite values; clean or impute them before training")


def check_epochs(epochs) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise XpnetValueError(f"epochs must be a positive int, got {epochs!r}")
    return epochs


def check_verbose(verbose) -> int:
    """``verbose`` -> print every N epochs (True: 100; False/0/None: never)."""
    if verbose is True:
        return 100
    if verbose is None or verbose is False:
        return 0
    if not isinstance(verbose, int) or verbose < 0:
        raise XpnetValueError(f"verbose must be a bool or an int >= 0 (print every N epochs), got {verbose!r}")
    return verbose


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
