"""Activation functions g(Z) and their backward passes dZ = dA * g'(Z).

Each activation is a small object with ``forward(Z) -> A`` and
``backward(dA, Z, A) -> dZ``. The backward pass receives both Z and A because several
derivatives are cheapest from the output (sigmoid: A(1 - A), tanh: 1 - A^2). Element-wise
activations also expose ``derivative(Z)`` = g'(Z), the course's ``g'``.

All code is array-API only: the namespace comes from the input array. These methods are the
portable, gradient-checked reference; a training step reaches them through its backend's
kernels (:mod:`xpnet.backends.kernels`), which may compute the same values faster.
"""

from __future__ import annotations

from array_api_compat import array_namespace

from ._validation import check_float_array, check_number
from .errors import ShapeError, XpnetTypeError, XpnetValueError

__all__ = [
    "Activation",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "Linear",
    "Softmax",
    "get",
    "ACTIVATIONS",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "linear",
    "softmax",
]


class Activation:
    """Base class: subclasses define ``forward`` and ``backward``."""

    name = "activation"
    #: Whether g acts on each element alone (softmax does not).
    elementwise = True
    #: Whether ``backward`` reads Z. When False a layer may drop Z from its cache and pass
    #: ``Z=None`` (a training step then keeps one array per layer fewer alive).
    backward_needs_Z = True

    def forward(self, Z):
        raise NotImplementedError

    def derivative(self, Z):
        """g'(Z), element-wise."""
        raise NotImplementedError

    def backward(self, dA, Z, A):
        """dZ = dA * g'(Z)."""
        return dA * self.derivative(Z)

    def __call__(self, Z):
        """g(Z), after checking that Z is a floating-point array (``forward`` skips the check)."""
        check_float_array(Z, "Z")
        return self.forward(Z)

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.get_config().items())))


class Sigmoid(Activation):
    """sigma(z) = 1 / (1 + e^-z), computed without overflow for any |z|."""

    name = "sigmoid"
    backward_needs_Z = False

    def forward(self, Z):
        xp = array_namespace(Z)
        # exp(-|z|) is in (0, 1]: no overflow whatever the sign of z.
        E = xp.exp(-xp.abs(Z))
        return xp.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))

    def derivative(self, Z):
        A = self.forward(Z)
        return A * (1.0 - A)

    def backward(self, dA, Z, A):
        return dA * A * (1.0 - A)


class Tanh(Activation):
    name = "tanh"
    backward_needs_Z = False

    def forward(self, Z):
        return array_namespace(Z).tanh(Z)

    def derivative(self, Z):
        A = self.forward(Z)
        return 1.0 - A * A

    def backward(self, dA, Z, A):
        return dA * (1.0 - A * A)


class ReLU(Activation):
    """max(0, z); g'(0) is taken as 0."""

    name = "relu"
    backward_needs_Z = False

    def forward(self, Z):
        xp = array_namespace(Z)
        return xp.maximum(Z, 0.0)

    def derivative(self, Z):
        xp = array_namespace(Z)
        return xp.astype(Z > 0, Z.dtype)

    def backward(self, dA, Z, A):
        # The mask is rebuilt from A (A > 0 exactly where Z > 0), so Z need not be kept.
        return dA * array_namespace(A).astype(A > 0, dA.dtype)


class LeakyReLU(Activation):
    """z for z > 0, ``slope * z`` otherwise (slope 0.01 by default)."""

    name = "leaky_relu"
    backward_needs_Z = False

    def __init__(self, slope: float = 0.01):
        self.slope = check_number(slope, "leaky_relu slope", low=0.0, high=1.0, high_open=True)

    def forward(self, Z):
        xp = array_namespace(Z)
        return xp.where(Z > 0, Z, self.slope * Z)

    def derivative(self, Z):
        xp = array_namespace(Z)
        positive = xp.astype(Z > 0, Z.dtype)
        return positive + self.slope * (1.0 - positive)

    def backward(self, dA, Z, A):
        # For slope >= 0, A > 0 exactly where Z > 0: the derivative comes from A alone.
        positive = array_namespace(A).astype(A > 0, dA.dtype)
        return dA * (self.slope + (1.0 - self.slope) * positive)

    def get_config(self) -> dict:
        return {"name": self.name, "slope": self.slope}

    def __repr__(self) -> str:
        return f"LeakyReLU(slope={self.slope})"


class Linear(Activation):
    """The identity: a regression output."""

    name = "linear"
    backward_needs_Z = False

    def forward(self, Z):
        return Z

    def derivative(self, Z):
        return array_namespace(Z).ones_like(Z)

    def backward(self, dA, Z, A):
        return dA


class Softmax(Activation):
    """Softmax over the class axis (axis 0: one example per column)."""

    name = "softmax"
    elementwise = False
    backward_needs_Z = False

    def forward(self, Z):
        xp = array_namespace(Z)
        # Shifting by the column max leaves softmax unchanged and keeps exp() <= 1.
        E = xp.exp(Z - xp.max(Z, axis=0, keepdims=True))
        return E / xp.sum(E, axis=0, keepdims=True)

    def __call__(self, Z):
        check_float_array(Z, "Z")
        if Z.ndim < 1 or Z.shape[0] == 0:
            raise ShapeError(
                f"softmax needs Z of shape (k, m) with k >= 1 classes in rows, got shape {tuple(Z.shape)}"
            )
        return self.forward(Z)

    def derivative(self, Z):
        raise XpnetTypeError("softmax is not element-wise: use backward(dA, Z, A) (a Jacobian-vector product)")

    def backward(self, dA, Z, A):
        xp = array_namespace(dA)
        # J^T dA for J = diag(A) - A A^T, one column at a time, without forming J.
        return A * (dA - xp.sum(dA * A, axis=0, keepdims=True))


ACTIVATIONS = {cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Linear, Softmax)}

sigmoid = Sigmoid()
tanh = Tanh()
relu = ReLU()
leaky_relu = LeakyReLU()
linear = Linear()
softmax = Softmax()


def get(activation) -> Activation:
    """An :class:`Activation` from a name (``"relu"``), a config dict, or an instance."""
    if activation is None:
        return Linear()
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, dict):
        config = dict(activation)
        name = config.pop("name", None)
        return _by_name(name)(**config)
    if isinstance(activation, str):
        return _by_name(activation)()
    raise XpnetTypeError(
        f"activation must be a name or an xpnet Activation, got {type(activation).__name__}; "
        f"valid names are: {', '.join(ACTIVATIONS)}"
    )


def _by_name(name):
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise XpnetValueError(f"unknown activation {name!r}; valid names are: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[key]
