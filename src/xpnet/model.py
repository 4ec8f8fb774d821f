"""The Sequential model: an L-layer network trained by forward and backward propagation.

Data flows in one direction: user data is moved onto the model's backend once
(``backends._convert``), each layer's ``forward`` returns its output and a cache, the loss
gives the cost and dJ/dA_L (or dZ_L = (A_L - Y)/m for a fused output pair), each layer's
``backward`` turns dA into dA_prev and its gradients, and the optimiser makes the new
parameters. Nothing here imports NumPy or CuPy: the namespace is the backend's ``xp``.
"""

from __future__ import annotations

import random

from . import initializers as _initializers
from ._friendly import class_labels_to_one_hot, keras_hints
from . import losses as _losses
from . import optim as _optim
from ._validation import (
    check_example_shape,
    check_finite,
    check_int,
    check_verbose,
    check_Y,
    check_Y_sequence,
    check_pair,
    holdout_size,
    is_integer,
)
from .backends import get_backend, resolve_backend
from .backends._convert import parameters_to_backend, to_backend
from .backends.kernels import is_finite
from .checkpoint import fit_setup, prepend_history
from .errors import NotFittedError, XpnetTypeError, XpnetValueError
from .inference import Inference
from .layers import Layer
from .layers.base import check_masked_stack, layer_specs, layers_from_specs
from .training import History, hold_out_last, shuffle_rng, train

__all__ = ["Sequential", "History"]


_DTYPES = ("float32", "float64")


class Sequential(Inference):
    """A stack of layers trained as one network.

    Parameters
    ----------
    layers : list of Layer
        E.g. ``[Dense(20, activation="relu"), Dense(1, activation="sigmoid")]``.
    input_size : int, optional
        n_x. Given, the parameters are created now; otherwise at the first ``fit``.
    backend : str or Backend, optional
        ``"numpy"``, ``"cupy"``, ``"array_api_strict"``, ``"cpu"``, ``"gpu"``, ``"auto"``,
        ``"name:device"``; default: the :func:`~xpnet.use_backend` scope, then
        ``XPNET_BACKEND``, then auto (GPU when present).
    dtype : {"float32", "float64"}
        Floating-point type of parameters and computation (float32 by default).
    seed : int, optional
        Seeds the host generator the initial weights are drawn from; the same seed gives
        the same weights on every backend. None draws a fresh seed (kept in ``self.seed``).
    init_rng : {"numpy", "course"}
        The stream the weights are drawn from: NumPy's Generator (default), or the legacy
        ``np.random.seed(seed); np.random.randn(...)`` stream of the course's notebooks
        (with ``init="small_random"``: their exact ``randn(...) * 0.01`` weights).

    Examples
    --------
    >>> import numpy as np, xpnet as xn
    >>> X = np.random.default_rng(0).normal(size=(2, 200)); Y = (X[0:1] * X[1:2] > 0) * 1.0
    >>> net = xn.Sequential([xn.Dense(4, activation="tanh"), xn.Dense(1, activation="sigmoid")],
    ...                     input_size=2, backend="numpy", dtype="float64", seed=1)
    >>> hist = net.fit(X, Y, optimizer=xn.GradientDescent(learning_rate=0.5), epochs=10)
    >>> len(hist.costs)
    10
    """

    @keras_hints
    def __init__(self, layers, input_size=None, backend=None, dtype="float32", seed=None, init_rng="numpy"):
        layers = list(layers)
        if not layers:
            raise XpnetValueError("Sequential needs at least one layer, e.g. [Dense(1, activation='sigmoid')]")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise XpnetTypeError(f"layers[{i}] is a {type(layer).__name__}, not an xpnet Layer")
        if dtype not in _DTYPES:
            raise XpnetValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
        check_masked_stack(layers)
        seed = check_int(seed, "seed", 0, allow_none=True)
        self.layers, self.dtype, self.backend = layers, dtype, resolve_backend(backend)
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        _initializers.host_rng(0, init_rng)  # validates the name
        self.init_rng = init_rng
        self.input_size = None
        self.loss: _losses.Loss | None = None
        self.optimizer: _optim.Optimizer | None = None
        #: Epochs completed by fit (carried by checkpoints, so a resumed run continues the count).
        self.epochs_trained = 0
        #: The History of the running or latest fit (one entry per completed epoch of it).
        self.history = None
        #: The host generator that orders mini-batches (saved and restored by checkpoints).
        self.shuffle_rng = shuffle_rng(self.seed)
        for index, layer in enumerate([layer for layer in layers if layer.has_parameters], start=1):
            layer.index = index
        if input_size is not None:
            self.build(input_size)

    # -- construction ------------------------------------------------------------------
    @property
    def xp(self):
        return self.backend.xp

    @property
    def built(self) -> bool:
        return self.input_size is not None

    def build(self, input_size):
        """Create every layer's parameters for inputs of ``input_size`` features (n_x)."""
        shape = tuple(input_size) if isinstance(input_size, (tuple, list)) else (input_size,)
        if not shape or not all(n is None or (is_integer(n) and n >= 1) for n in shape):
            raise XpnetValueError(f"input_size must be a positive int (n_x), got {input_size!r}")
        rng = _initializers.host_rng(self.seed, self.init_rng)
        with self.backend.context():
            for layer in self.layers:
                shape = layer.build(shape, backend=self.backend, dtype=self.dtype, rng=rng)
        self.input_size = input_size
        return self

    def require_built(self) -> None:
        """Raise :class:`~xpnet.NotFittedError` unless the parameters exist."""
        if not self.built:
            raise NotFittedError("the network has no parameters yet: pass input_size=... or call fit() first")

    @property
    def output_activation(self):
        return getattr(self.layers[-1], "activation", None)

    @property
    def n_out(self) -> int:
        self.require_built()
        return self.layers[-1].output_shape[0]

    # -- parameters ----------------------------------------------------------------------
    def parameters(self) -> dict:
        """Every parameter by its course name (``W1``, ``b1``, ...), as arrays on the device."""
        self.require_built()
        return {f"{name}{layer.index}": value for layer in self.layers for name, value in layer.params.items()}

    def parameter_shapes(self) -> dict:
        self.require_built()
        return {
            f"{name}{layer.index}": shape for layer in self.layers for name, shape in layer.parameter_shapes().items()
        }

    def set_parameters(self, params: dict) -> "Sequential":
        """Replace the parameters from a dict of host or device arrays (shapes validated).

        Every parameter must be present; values are copied to the model's device and dtype.
        """
        self.require_built()
        self.assign_parameters(parameters_to_backend(params, self.parameter_shapes(), self.backend, self.dtype))
        return self

    def assign_parameters(self, params: dict) -> None:
        """Install ``params`` (course names, arrays already on the device) without any checks.

        The fast path of the training step and of callbacks restoring a snapshot of
        :meth:`parameters`; user data goes through :meth:`set_parameters`.
        """
        for layer in self.layers:
            for name in layer.params:
                layer.params[name] = params[f"{name}{layer.index}"]

    # -- propagation ---------------------------------------------------------------------
    def forward(self, X, training=False):
        """Forward propagation: returns A_L and the list of every layer's cache.

        A padding mask made by the first layer (``Embedding(..., mask_zero=True)``) goes to
        every layer that takes one (:attr:`Layer.takes_mask`).
        """
        caches = []
        A = X
        mask = self.layers[0].compute_mask(X)  # padding (m, T), e.g. from Embedding(mask_zero=True)
        for layer in self.layers:
            if mask is not None and layer.takes_mask:
                A, cache = layer.forward(A, training=training, mask=mask)
            else:
                A, cache = layer.forward(A, training=training)
            caches.append(cache)
        return A, caches

    def cost(self, AL, Y, caches, loss):
        """J for the output ``AL`` of :meth:`forward` (from the logits for a fused output pair)."""
        return loss.output_cost(self.layers[-1], AL, Y, caches[-1])

    def backward(self, AL, Y, caches, loss) -> dict:
        """Backward propagation: the gradient of every parameter, keyed ``dW1``, ``db1``, ...

        ``caches`` (from :meth:`forward`) is consumed: each layer's entry is released as soon
        as that layer is done, so the activations are freed from the top down.
        """
        grads = {}
        last = len(self.layers) - 1
        first_with_input_grad = self._first_trainable()
        dA = None
        for i in range(last, -1, -1):
            layer, cache = self.layers[i], caches[i]
            caches[i] = None
            need_dA_prev = i > first_with_input_grad
            if i == last and loss.fuses_with(self.output_activation):
                dA_prev, layer_grads = layer.backward_from_dZ(loss.fused_gradient(AL, Y), cache, need_dA_prev)
            else:
                if i == last:
                    dA = loss.gradient(AL, Y)
                dA_prev, layer_grads = layer.backward(dA, cache, need_dA_prev)
            for name, g in layer_grads.items():
                grads[f"d{name}{layer.index}"] = g
            dA = dA_prev
            if not need_dA_prev:
                break
        return grads

    def _first_trainable(self) -> int:
        # Below the first layer with parameters nothing needs a gradient.
        for i, layer in enumerate(self.layers):
            if layer.has_parameters:
                return i
        return len(self.layers)

    # -- user data -------------------------------------------------------------------------
    def prepare_input(self, X, name="X"):
        """X on the model's backend, checked by the first layer (built on first use)."""
        first = self.layers[0]
        X, shape = first.prepare_input(X, backend=self.backend, dtype=self.dtype, name=name)
        if not self.built:
            # Plain (n_x, m) data keeps the course's integer n_x as input_size.
            self.build(shape[0] if len(shape) == 1 and first.examples_axis == 1 else shape)
        check_example_shape(shape, first.input_shape, name)
        return X

    @property
    def examples_axis(self) -> int:
        """The axis of X that holds the m examples: 1 for (n_x, m[, T]), 0 for token ids (m, T)."""
        return self.layers[0].examples_axis

    def n_examples(self, X) -> int:
        """m, the number of examples in the network input X."""
        return int(X.shape[self.examples_axis])

    def prepare_targets(self, Y, m, name="Y", loss=None):
        """Y on the model's backend, checked against the output shape, m and ``loss``'s domain."""
        Y = to_backend(Y, self.backend, self.dtype, name, examples=True)
        out = self.layers[-1].output_shape if self.built else None
        if out is not None and getattr(self.output_activation, "name", "") == "softmax":
            Y = class_labels_to_one_hot(Y, out[0], m, name, out[1:])  # integer labels, as Keras's sparse loss
        if out is not None and len(out) > 1:
            check_Y_sequence(Y, out, m, name)
        else:
            check_Y(Y, self.n_out, m, name)
        if loss is None:
            check_finite(Y, name, is_finite)
        else:
            loss.check_targets(Y, name)  # NaN and infinity included, in the loss's one read-back
        return Y

    def _resolve_loss(self, loss):
        return _losses.resolve(loss, self.loss, self.output_activation)

    def _returns_host(self, X) -> bool:
        # Results follow the input: host data in, NumPy out; device arrays in, device out.
        return not self.backend.owns(X)

    # -- training --------------------------------------------------------------------------
    @keras_hints
    def fit(
        self,
        X,
        Y,
        loss=None,
        optimizer=None,
        epochs=100,
        learning_rate=None,
        batch_size=None,
        shuffle=True,
        validation_data=None,
        validation_split=None,
        l2=0.0,
        clip_norm=None,
        clip_value=None,
        callbacks=None,
        verbose=False,
        checkpoint_every=None,
        checkpoint_path=None,
        resume_from=None,
    ) -> History:
        """Train the network by (mini-batch) gradient descent or the given optimiser.

        Parameters
        ----------
        X : array, shape (n_x, m)
            One example per column; host (NumPy) or on the model's backend.
        Y : array, shape (n_out, m)
            Labels: 0/1 for sigmoid outputs, one-hot columns for softmax, values for regression.
        loss : str or Loss, optional
            Default: binary_crossentropy for a sigmoid output, categorical_crossentropy for
            softmax, mean_squared_error otherwise.
        optimizer : Optimizer or str, optional
            Default: the optimiser of the previous ``fit`` (its state, on the model's device,
            carries over), else ``GradientDescent(learning_rate=0.01)``.
        epochs : int
            Number of passes over the training set.
        learning_rate : float, optional
            Shortcut for ``optimizer=GradientDescent(learning_rate)``.
        batch_size : int or None
            None (the course's full batch: one update per epoch) or the mini-batch size; the
            last partial batch is kept.
        shuffle : bool
            Shuffle the examples every epoch (mini-batches only), from the model's seed: the
            same seed gives the same order on every backend. Each batch is then gathered
            from X; on NumPy and torch (CPU) that is quickest with each example's values
            contiguous, as in ``data.T`` of row-major ``data``, so a C-ordered X is copied
            once per call into that layout (memory for a second X; 8.7 us instead of 188 us
            to gather 64 examples of a 784 x 8192 float32 X). A memory-mapped X is never copied.
        validation_data : (X_val, Y_val), optional
            Evaluated after every epoch into ``history["val_cost"]`` (and ``"val_accuracy"``).
        validation_split : float, optional
            Hold out this fraction of the examples (the last columns, before shuffling).
        l2 : float
            lambda of L2 regularisation: adds lambda/(2m) * sum ||W||^2 to the cost.
        clip_norm : float, optional
            Rescale the gradients whenever their global L2 norm exceeds this.
        clip_value : float, optional
            Clip every gradient element to [-clip_value, clip_value] (after ``clip_norm``).
        callbacks : list, optional
            Objects with any of ``set_model``, ``on_train_begin``, ``on_epoch_begin``,
            ``on_epoch_end(epoch, logs)`` (return True to stop) and ``on_train_end``.
        verbose : bool or int
            Print the cost every 100 epochs (or every ``verbose`` epochs if an int > 1).
        checkpoint_every, checkpoint_path : int, str, optional
            Save the whole training state (:func:`xpnet.save`, atomically) to
            ``checkpoint_path`` every ``checkpoint_every`` epochs and at the end.
        resume_from : str, optional
            A checkpoint to continue from: parameters, optimiser state, ``epochs_trained``
            and the shuffle generator are restored and training continues at epoch
            ``epochs_trained``. ``epochs`` is then the TOTAL (as Keras), so the run ends
            exactly where an uninterrupted ``fit(..., epochs=epochs)`` would; the returned
            History includes the checkpoint's earlier epochs.

        Returns
        -------
        History

        Raises
        ------
        TrainingDivergedError
            The cost became NaN or infinite; the model keeps the last finite parameters.
        """
        loss, optimizer, callbacks, initial_epoch, previous = fit_setup(
            self, resume_from=resume_from, optimizer=optimizer, learning_rate=learning_rate, loss=loss, epochs=epochs,
            callbacks=callbacks, checkpoint_every=checkpoint_every, checkpoint_path=checkpoint_path)
        loss = self._resolve_loss(loss)
        every = check_verbose(verbose)
        with self.backend.context():
            X = self.prepare_input(X)
            Y = self.prepare_targets(Y, self.n_examples(X), loss=loss)
            validation = None
            if validation_split is not None:
                X, Y, validation = hold_out_last(X, Y, holdout_size(self.n_examples(X), validation_split),
                                                 self.examples_axis)
            if validation_data is not None:
                if validation is not None:
                    raise XpnetValueError("give validation_data or validation_split, not both")
                Xv, Yv = check_pair(validation_data, "validation_data")
                Xv = self.prepare_input(Xv, "X_val")
                validation = (Xv, self.prepare_targets(Yv, self.n_examples(Xv), "Y_val", loss))
            self.loss, self.optimizer = loss, optimizer
            history = train(
                self, X, Y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                validation=validation, l2=l2, clip_norm=clip_norm, clip_value=clip_value, callbacks=callbacks, verbose=every,
                initial_epoch=initial_epoch,
            )
        return prepend_history(history, previous)

    def gradients(self, X, Y, loss=None) -> dict:
        """dJ/d(every parameter) at the current parameters, keyed ``dW1``, ``db1``, ..."""
        loss = self._resolve_loss(loss)
        with self.backend.context():
            X = self.prepare_input(X)
            Y = self.prepare_targets(Y, self.n_examples(X), loss=loss)
            AL, caches = self.forward(X, training=True)
            return self.backward(AL, Y, caches, loss)

    # -- devices ------------------------------------------------------------------------------
    def to(self, backend) -> "Sequential":
        """Move the parameters (and optimiser state) to another backend; returns self."""
        target = get_backend(backend)
        if self.built:
            host = {name: self.backend.to_numpy(v) for name, v in self.parameters().items()}
            with target.context():
                self.assign_parameters({name: target.asarray(v, self.dtype) for name, v in host.items()})
            if self.optimizer is not None and self.optimizer.state:
                self.optimizer.state = {
                    k: target.asarray(self.backend.to_numpy(v), self.dtype) for k, v in self.optimizer.state.items()
                }
        self.backend = target
        return self

    # -- description ---------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The architecture as plain JSON-able data (what ``xn.save`` writes beside the weights)."""
        return {
            "input_size": self.input_size,
            "dtype": self.dtype,
            "seed": self.seed,
            "layers": layer_specs(self.layers),
        }

    @classmethod
    def from_config(cls, config: dict, backend=None) -> "Sequential":
        layers = layers_from_specs(config["layers"])
        return cls(layers, input_size=config.get("input_size"), backend=backend, dtype=config["dtype"], seed=config["seed"])

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], input_size={self.input_size}, backend={self.backend.name!r}, dtype={self.dtype!r})"
