"""The layer protocol and the registry that :func:`xpnet.load` builds layers from.

Every layer follows the course's forward/backward pattern with a ``cache``: ``forward``
returns the output and what ``backward`` needs, ``backward`` turns dJ/dA into dJ/dA_prev
and the gradients of the layer's own parameters. Parameters live in ``layer.params`` under
local names (``"W"``, ``"b"``); :class:`~xpnet.Sequential` gives each parameterised layer
an index l = 1, 2, ... and shows them as the course's ``W1, b1, W2, ...``.
"""

from __future__ import annotations

import inspect

from .._friendly import keras_hints
from .._validation import check_finite, check_X
from ..backends._convert import to_backend
from ..backends.kernels import is_finite
from ..errors import XpnetValueError

__all__ = ["Layer", "register_layer", "layer_from_config", "registered_layers", "check_masked_stack",
           "layer_specs", "layers_from_specs"]


class Layer:
    """Base class of every layer: the whole protocol the model relies on.

    Shapes given to and returned by :meth:`build` leave out the examples axis m: a Dense
    layer fed ``(n_prev, m)`` batches is built for ``(n_prev,)``, a sequence layer fed
    ``(n_x, m, T)`` for ``(n_x, T)``.

    Attributes
    ----------
    params : dict of str to array
        The layer's parameters by local name, on the model's device (empty until built).
    index : int or None
        l, the layer's position among the parameterised layers (set by the model).
    input_shape, output_shape : tuple or None
        Per-example shapes, known after :meth:`build`.
    """

    #: Whether the layer owns parameters (and so takes an index l in the network).
    has_parameters = False
    #: Local names of the parameters that L2 regularisation penalises.
    regularized: tuple = ()
    #: Axis of the network input that holds the m examples when this layer comes first:
    #: 1 for ``(n_x, m[, T])``, 0 for token ids ``(m, T)``.
    examples_axis = 1
    #: Whether :meth:`forward` takes ``mask=``: a padding mask ``(m, T)``, 1 (True) for a real
    #: time step, 0 for padding, that the model passes to the layer (attention hides the padded
    #: keys, pooling skips the padded steps). Set from ``forward``'s signature unless a class
    #: says otherwise.
    takes_mask = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "takes_mask" not in cls.__dict__:
            cls.takes_mask = "mask" in inspect.signature(cls.forward).parameters
        if "__init__" in cls.__dict__:  # answer Keras's names (units=, input_shape=, rate=) in xpnet's
            cls.__init__ = keras_hints(cls.__init__)

    def __init__(self):
        self.params: dict = {}
        self.index: int | None = None
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None

    def build(self, input_shape, *, backend, dtype, rng):
        """Create the parameters for inputs of per-example shape ``input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            The per-example shape of the input (examples axis left out).
        backend : Backend
            Where the parameters live (``backend.asarray`` moves host arrays there).
        dtype : {"float32", "float64"}
            The parameters' floating-point type.
        rng : numpy.random.Generator
            The host generator initial weights are drawn from (same seed, same weights
            on every backend).

        Returns
        -------
        tuple of int
            The per-example shape of the output.
        """
        self.input_shape = tuple(input_shape)
        self.output_shape = self.input_shape
        return self.output_shape

    def parameter_shapes(self) -> dict[str, tuple]:
        """Local name -> shape of each parameter (after :meth:`build`)."""
        return {}

    def forward(self, A_prev, training=False):
        """Forward propagation.

        Parameters
        ----------
        A_prev : array
            The previous layer's output (or the network input X).
        training : bool
            True inside ``fit``: layers such as Dropout behave differently then.

        Returns
        -------
        A : array
            The layer's output.
        cache : object
            What :meth:`backward` needs (the course's ``cache``).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dA, cache, need_dA_prev=True):
        """Backward propagation from dJ/dA.

        Parameters
        ----------
        dA : array
            dJ/dA, the gradient of the cost with respect to this layer's output.
        cache : object
            What :meth:`forward` returned beside A.
        need_dA_prev : bool
            False for the first layer with parameters: nothing below needs dA_prev,
            which saves a matrix product per step.

        Returns
        -------
        dA_prev : array or None
            dJ/dA_prev (None when ``need_dA_prev`` is False).
        grads : dict of str to array
            dJ/dP for each parameter P, by local name (``"W"`` -> dW, ``"b"`` -> db).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def backward_from_dZ(self, dZ, cache, need_dA_prev=True):
        """Backward propagation from dJ/dZ of the output activation's input.

        The model calls it on the output layer when the loss computes dZ directly
        (sigmoid with binary cross-entropy, softmax with categorical cross-entropy: dZ = (A - Y)/m).
        Same arguments and return value as :meth:`backward`, with ``dZ`` in place of ``dA``.
        """
        raise NotImplementedError(f"{type(self).__name__} has no output activation to take dZ for")

    def logits(self, cache):
        """Z, the input of the layer's output activation, from ``cache``; None without one.

        The loss of a fused pair computes the cost from Z, which is stable where log(A) is not.
        """
        return None

    def prepare_input(self, X, *, backend, dtype, name="X"):
        """Move the network input onto ``backend`` and check it, when this layer comes first.

        The default takes plain ``(n_x, m)`` batches; layers with other inputs (token ids,
        sequences) override it.

        Returns
        -------
        X : array
            The input on the backend, in ``dtype``.
        shape : tuple of int
            Its per-example shape, what :meth:`build` is given.
        """
        X = to_backend(X, backend, dtype, name, examples=True)
        check_X(X, None if self.input_shape is None else self.input_shape[0], name)
        check_finite(X, name, is_finite)
        return X, (int(X.shape[0]),)

    def compute_mask(self, X):
        """The padding mask ``(m, T)`` this layer derives from the network input X, or None.

        As Keras's ``compute_mask``: an ``Embedding(..., mask_zero=True)`` first layer marks
        the token id 0 as padding; the model hands the mask to every later layer whose
        :attr:`takes_mask` is True. Only the first layer's mask is used.
        """
        return None

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`xpnet.save` writes)."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        """The layer :meth:`get_config` describes (unbuilt)."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


_LAYERS: dict[str, type] = {}


def register_layer(cls):
    """Make a layer class known to :func:`layer_from_config` (and so to ``xn.load``)."""
    _LAYERS[cls.__name__] = cls
    return cls


def registered_layers() -> dict[str, type]:
    """Class name -> class of every registered layer (a copy)."""
    return dict(_LAYERS)


def layer_from_config(class_name: str, config: dict) -> Layer:
    """Build the layer ``class_name`` from what its ``get_config`` returned."""
    if class_name not in _LAYERS:
        raise XpnetValueError(f"unknown layer type {class_name!r}; known: {', '.join(_LAYERS)}")
    return _LAYERS[class_name].from_config(config)


def layer_specs(layers) -> list:
    """``[{"class_name": ..., "config": ...}, ...]``: the layers as a model file's config holds them."""
    return [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in layers]


def layers_from_specs(specs) -> list:
    """New layers from :func:`layer_specs`'s list (the inverse)."""
    return [layer_from_config(spec["class_name"], spec["config"]) for spec in specs]


def check_masked_stack(layers) -> None:
    """Refuse a stack whose first layer makes a padding mask that a recurrent layer would ignore.

    xpnet's recurrent layers take the mask; a user's recurrent layer whose ``forward`` has no
    mask argument would read every step, padding included, and silently differ from Keras,
    where masked steps are skipped.
    """
    if not getattr(layers[0], "mask_zero", False):
        return
    for i, layer in enumerate(layers):
        if hasattr(layer, "forward_with_state") and not layer.takes_mask:
            raise XpnetValueError(
                f"layers[{i}] ({type(layer).__name__}) cannot take the padding mask of the first layer's "
                "mask_zero=True: it would read the padded steps as tokens. Use attention blocks and "
                "GlobalAveragePooling1D with the mask, or drop mask_zero (pad at the end and take the "
                "recurrent layer's outputs up to each length yourself)"
            )
