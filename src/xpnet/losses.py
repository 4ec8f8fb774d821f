"""Cost functions J(A, Y) and their gradients dJ/dA.

Conventions
-----------
* Examples are columns: ``A`` and ``Y`` are ``(n_out, m)`` (or ``(n_out, m, T)`` for
  sequences, where the cost also averages over the T time steps).
* ``gradient`` returns the exact dJ/dA, including the 1/m of the mean. The course puts
  that 1/m into ``dW = (1/m) dZ A_prev^T`` instead; the two are equal, and keeping it
  in the loss lets every layer's backward pass be the plain chain rule.
* A loss that pairs with an output activation (sigmoid + binary cross-entropy, softmax +
  categorical cross-entropy) also computes its cost from the logits Z, which is finite
  for any |z|, and the pair's gradient ``dZ = (A - Y) / m`` without ever forming dJ/dA.
"""

from __future__ import annotations

import math

from array_api_compat import array_namespace

from ._validation import check_finite, check_float_array
from .backends.kernels import is_finite, kernels_of
from .errors import ShapeError, XpnetTypeError, XpnetValueError

__all__ = [
    "Loss",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "MeanSquaredError",
    "get",
    "resolve",
    "LOSSES",
    "binary_crossentropy",
    "categorical_crossentropy",
    "mean_squared_error",
]


def _clip_probabilities(A):
    # log(0) guard for probabilities that did not come from logits we can see.
    xp = array_namespace(A)
    eps = float(xp.finfo(A.dtype).eps)
    return xp.clip(A, eps, 1.0 - eps)


class Loss:
    """Base class. Subclasses define ``cost`` and ``gradient``."""

    name = "loss"
    #: The output activation whose logits this loss can take directly (or None).
    fused_activation: str | None = None

    def denominator(self, Y) -> float:
        """What the summed cost is divided by: every element (m*T*n_out) by default."""
        return float(math.prod(Y.shape))

    def cost(self, A, Y):
        """J(A, Y) as a 0-d array of A's dtype."""
        raise NotImplementedError

    def gradient(self, A, Y):
        """dJ/dA, the same shape as A."""
        raise NotImplementedError

    def cost_from_logits(self, Z, Y):
        """J(g(Z), Y) computed from the logits (only for ``fused_activation``)."""
        raise NotImplementedError

    def fuses_with(self, activation) -> bool:
        """Whether this loss takes ``activation``'s logits directly (sigmoid + binary, softmax +
        categorical cross-entropy): finite for any logit, and dZ = (A - Y) / m."""
        return self.fused_activation is not None and getattr(activation, "name", None) == self.fused_activation

    def output_cost(self, output_layer, AL, Y, cache):
        """J of a network whose last layer ``output_layer`` gave ``AL`` (from its logits when fused)."""
        kernels = kernels_of(AL)
        if self.fuses_with(getattr(output_layer, "activation", None)):
            return kernels.loss_cost(self, output_layer.logits(cache), Y, from_logits=True)
        return kernels.loss_cost(self, AL, Y)

    def fused_gradient(self, A, Y):
        """dJ/dZ for the fused pair: (A - Y) / m (the backend's fused kernel)."""
        return kernels_of(A).cross_entropy_dZ(A, Y, self.denominator(Y))

    def check_targets(self, Y, name: str = "Y") -> None:
        """Raise :class:`~xpnet.XpnetValueError` if ``Y`` holds NaN or infinity or lies outside
        this loss's domain.

        Called by ``fit``, ``evaluate`` and ``gradients`` on the labels, once per call; the
        base class accepts any finite values (regression). A subclass settles the common case
        with ONE scalar read back from the device (one transfer on a GPU, one graph run on
        dask) and works out what is wrong only when that scalar says something is. An
        override must refuse NaN and infinity as well (``fit`` no longer checks them apart).
        """
        check_finite(Y, name, is_finite)

    def __call__(self, A, Y):
        """J(A, Y), after checking both arrays and Y's domain (``cost`` skips the checks)."""
        check_float_array(A, "A")
        check_float_array(Y, "Y")
        if tuple(A.shape) != tuple(Y.shape):
            raise ShapeError(f"A and Y must have the same shape (n_out, m), got {tuple(A.shape)} and {tuple(Y.shape)}")
        if A.ndim < 2 or 0 in tuple(A.shape):
            raise ShapeError(f"A and Y must be non-empty (n_out, m) arrays, got shape {tuple(A.shape)}")
        self.check_targets(Y, "Y")
        return self.cost(A, Y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BinaryCrossentropy(Loss):
    """-mean(Y log A + (1 - Y) log(1 - A)) over every element (one per example for Y (1, m))."""

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def check_targets(self, Y, name="Y"):
        # Y log A + (1 - Y) log(1 - A) is a cross-entropy only for Y in [0, 1]; outside it the
        # cost has no minimum and training runs away. Soft labels (0.9) are allowed.
        xp = array_namespace(Y)
        if bool(xp.all((Y >= 0.0) & (Y <= 1.0))):  # NaN compares false: refused here too
            return
        check_finite(Y, name, is_finite)
        low, high = float(xp.min(Y)), float(xp.max(Y))
        if low < 0.0 or high > 1.0:
            raise XpnetValueError(
                f"binary_crossentropy needs {name} in [0, 1] (0/1 labels), got values from {low:g} to {high:g}; "
                "map the two classes to 0 and 1 first (e.g. labels -1/+1 -> (y + 1) / 2)"
            )

    def cost(self, A, Y):
        xp = array_namespace(A, Y)
        A = _clip_probabilities(A)
        return -xp.sum(Y * xp.log(A) + (1.0 - Y) * xp.log(1.0 - A)) / self.denominator(Y)

    def gradient(self, A, Y):
        A = _clip_probabilities(A)
        return (A - Y) / (A * (1.0 - A)) / self.denominator(Y)

    def cost_from_logits(self, Z, Y):
        xp = array_namespace(Z, Y)
        # -[y log s(z) + (1-y) log(1-s(z))] = max(z, 0) - z y + log(1 + e^-|z|): no overflow.
        per_element = xp.maximum(Z, 0.0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))
        return xp.sum(per_element) / self.denominator(Y)


class CategoricalCrossentropy(Loss):
    """-sum over classes of Y log A, averaged over examples; Y is one-hot ``(k, m)``."""

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def denominator(self, Y) -> float:
        # Summed over classes (axis 0), averaged over examples (and time steps).
        return float(math.prod(Y.shape[1:]))

    def check_targets(self, Y, name="Y"):
        # One example per column: each column is a one-hot vector (or a probability vector).
        xp = array_namespace(Y)
        # Flattened, so (k, m) and per-step (k, m, T) targets are checked alike.
        sums = xp.reshape(xp.sum(Y, axis=0), (-1,))
        error = xp.abs(sums - 1.0)
        tolerance = math.sqrt(float(xp.finfo(Y.dtype).eps))
        if bool(xp.all(Y >= 0.0) & xp.all(error <= tolerance)):  # NaN and infinity fail it too
            return
        check_finite(Y, name, is_finite)
        low = float(xp.min(Y))
        if low < 0.0:
            raise XpnetValueError(
                f"categorical_crossentropy needs one-hot columns in {name} (k, m), got a negative value {low:g}; "
                "one-hot encode the class indices first"
            )
        worst = int(xp.argmax(error))
        if float(error[worst]) > tolerance:
            raise XpnetValueError(
                f"categorical_crossentropy needs one-hot columns in {name} (k, m), each summing to 1, "
                f"but column {worst} sums to {float(sums[worst]):g}; examples go in columns, classes in rows "
                f"(pass {name}.T if it is (m, k))"
            )

    def cost(self, A, Y):
        xp = array_namespace(A, Y)
        return -xp.sum(Y * xp.log(_clip_probabilities(A))) / self.denominator(Y)

    def gradient(self, A, Y):
        return -Y / _clip_probabilities(A) / self.denominator(Y)

    def cost_from_logits(self, Z, Y):
        xp = array_namespace(Z, Y)
        # -sum y log softmax(z) = sum(y) logsumexp(z) - sum y z, with the max shifted out.
        Zmax = xp.max(Z, axis=0, keepdims=True)
        logsumexp = Zmax + xp.log(xp.sum(xp.exp(Z - Zmax), axis=0, keepdims=True))
        return (xp.sum(xp.sum(Y, axis=0, keepdims=True) * logsumexp) - xp.sum(Y * Z)) / self.denominator(Y)


class MeanSquaredError(Loss):
    """mean((A - Y)^2) over every element, as Keras and PyTorch define it."""

    name = "mean_squared_error"

    def cost(self, A, Y):
        xp = array_namespace(A, Y)
        D = A - Y
        return xp.sum(D * D) / self.denominator(Y)

    def gradient(self, A, Y):
        return 2.0 * (A - Y) / self.denominator(Y)


LOSSES = {cls.name: cls for cls in (BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError)}
_ALIASES = {"bce": "binary_crossentropy", "cce": "categorical_crossentropy", "mse": "mean_squared_error"}

binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
mean_squared_error = MeanSquaredError()


def get(loss) -> Loss:
    """A :class:`Loss` from a name (``"binary_crossentropy"``, ``"mse"``) or an instance."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = _ALIASES.get(loss.lower(), loss.lower())
        if key in LOSSES:
            return LOSSES[key]()
        raise XpnetValueError(
            f"unknown loss {loss!r}; valid names are: {', '.join(LOSSES)} (aliases: {', '.join(_ALIASES)})"
        )
    raise XpnetTypeError(f"loss must be a name or an xpnet Loss, got {type(loss).__name__}")


def default_for(activation_name: str) -> Loss:
    """The loss that pairs with an output activation: sigmoid -> BCE, softmax -> CCE, else MSE."""
    for cls in LOSSES.values():
        if cls.fused_activation == activation_name:
            return cls()
    return MeanSquaredError()


def resolve(loss, previous: Loss | None, output_activation) -> Loss:
    """The loss a model uses: ``loss`` when given, else ``previous`` (the last fit's), else
    :func:`default_for` the output activation (None: a linear output)."""
    if loss is not None:
        return get(loss)
    if previous is not None:
        return previous
    return default_for(getattr(output_activation, "name", "linear"))
