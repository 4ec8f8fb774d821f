"""The time axis: helpers every sequence layer shares.

A batch of sequences is ``(n_x, m, T)`` (features, examples, time steps), the course's
sequence notation; per-example shapes leave m out, so such a layer is built for ``(n_x, T)``.
"""

from __future__ import annotations

from array_api_compat import array_namespace

from .._validation import check_finite, check_positive_int
from ..backends._convert import to_backend
from ..backends.kernels import is_finite
from ..errors import ShapeError

__all__ = ["SequenceInput", "positive_int", "seq_matmul", "flat", "require_sequence_shape"]


def positive_int(value, what: str) -> int:
    """``value`` as an int >= 1, or the xpnet error naming ``what``."""
    return check_positive_int(value, what)


def seq_matmul(W, X):
    """W @ X for every example and step: W (p, n), X (n, m, T) -> (p, m, T) in one product."""
    xp = array_namespace(W, X)
    n, m, T = X.shape
    return xp.reshape(W @ xp.reshape(X, (n, m * T)), (W.shape[0], m, T))


def flat(X):
    """(n, m, T) -> (n, m*T): every (example, step) pair as one column."""
    xp = array_namespace(X)
    return xp.reshape(X, (X.shape[0], X.shape[1] * X.shape[2]))


def require_sequence_shape(input_shape, layer_name: str):
    """``input_shape`` as the per-example ``(n_x, T)`` of a sequence, or a ShapeError."""
    if len(input_shape) != 2:
        raise ShapeError(
            f"{layer_name} expects sequences (n_x, m, T), i.e. per-example shape (n_x, T); "
            f"got per-example shape {tuple(input_shape)}"
        )
    return tuple(input_shape)


class SequenceInput:
    """Mixin for layers that can come first and take float sequences ``(n_x, m, T)``."""

    #: Axis of the network input that holds the m examples.
    examples_axis = 1
    #: Whether the layer also takes plain (n_x, m) batches (LayerNorm does).
    accepts_2d = False

    def prepare_input(self, X, *, backend, dtype, name="X"):
        """Move X to the backend, check it is (n_x, m, T) and finite; return X and its (n_x, T)."""
        X = to_backend(X, backend, dtype, name, examples=True)
        if self.accepts_2d and X.ndim == 2 and 0 not in tuple(X.shape):
            check_finite(X, name, is_finite)
            return X, (int(X.shape[0]),)
        if X.ndim != 3:
            raise ShapeError(
                f"{name} must be 3-D (n_x, m, T) (features, examples, time steps) for a "
                f"{type(self).__name__} first layer, got {X.ndim}-D shape {tuple(X.shape)}"
            )
        if 0 in tuple(X.shape):
            raise ShapeError(f"{name} is empty (shape {tuple(X.shape)})")
        check_finite(X, name, is_finite)
        return X, (int(X.shape[0]), int(X.shape[2]))
