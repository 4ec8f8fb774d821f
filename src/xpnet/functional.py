"""Encoder-decoder models: two inputs wired the one way sequence-to-sequence models need.

``Sequential`` chains one input through a list of layers; a translation model has two
inputs, the source sentence for the encoder and the (shifted) target sentence for the
decoder, joined in two ways:

* the encoder's output sequence is the decoder's *memory*: layers with ``uses_memory``
  (:class:`~xpnet.layers.CrossAttention`, :class:`~xpnet.layers.TransformerDecoderBlock`)
  attend over it;
* the final state of the last encoder layer built with ``return_state=True`` is the
  initial state of the decoder's first recurrent layer (the classic RNN seq2seq).

Backward propagation runs the decoder's hand-written backward passes first, sums the
gradients flowing into the memory and the state, and feeds them to the encoder's.
Shapes keep the course's notation: sequences ``(n, m, T)``, states ``(n_a, m)``, token ids
``(m, T)``, one-hot targets ``(V, m, T_dec)``.
"""

from __future__ import annotations

import random

from . import initializers as _initializers
from . import losses as _losses
from ._validation import check_bool, check_finite, check_int, check_pair, check_verbose, holdout_size
from .backends import resolve_backend
from .backends._convert import parameters_to_backend
from .backends.kernels import is_finite
from .checkpoint import fit_setup, prepend_history
from .errors import NotFittedError, ShapeError, XpnetTypeError, XpnetValueError
from .layers import Layer
from .layers.attention import padding_mask
from .layers.base import layer_specs, layers_from_specs
from .training import History, hold_out_last, shuffle_rng, train

__all__ = ["Seq2Seq"]


def _is_recurrent(layer) -> bool:
    return hasattr(layer, "forward_with_state")


class Seq2Seq:
    """An encoder and a decoder, trained together (teacher forcing).

    Parameters
    ----------
    encoder, decoder : list of Layer
        Each a list as for :class:`~xpnet.Sequential`. The decoder's last layer gives the
        output, typically ``TimeDistributed(Dense(V, activation="softmax"))``.
    mask_zero : bool, optional
        Token id 0 of the encoder's input is padding: attention (the encoder's blocks and
        the decoder's cross-attention) gives it weight 0, and the encoder's recurrent layers
        carry their state over it, so the state handed to the decoder is the one after each
        example's last real token. Needs an Embedding first.
    backend, dtype, seed, init_rng
        As :class:`~xpnet.Sequential`.

    Examples
    --------
    >>> import xpnet as xn
    >>> model = xn.Seq2Seq(
    ...     encoder=[xn.Embedding(12, 8), xn.LSTM(16, return_sequences=True, return_state=True)],
    ...     decoder=[xn.Embedding(12, 8), xn.LSTM(16, return_sequences=True), xn.CrossAttention(16),
    ...              xn.TimeDistributed(xn.Dense(12, activation="softmax"))], seed=0)

    Parameter names follow Sequential's: ``E1``, ``Wf2`` ... numbered across the encoder,
    then the decoder.
    """

    def __init__(self, encoder, decoder, backend=None, dtype="float32", seed=None, mask_zero=False, init_rng="numpy"):
        self.encoder, self.decoder = list(encoder), list(decoder)
        for part, layers in (("encoder", self.encoder), ("decoder", self.decoder)):
            if not layers:
                raise XpnetValueError(f"Seq2Seq needs at least one {part} layer")
            for i, layer in enumerate(layers):
                if not isinstance(layer, Layer):
                    raise XpnetTypeError(f"{part}[{i}] is a {type(layer).__name__}, not an xpnet Layer")
        if any(getattr(layer, "uses_memory", False) for layer in self.encoder):
            raise XpnetValueError("a layer that reads an encoder's output (CrossAttention, TransformerDecoderBlock) "
                                  "belongs in the decoder")
        if dtype not in ("float32", "float64"):
            raise XpnetValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        check_int(seed, "seed", allow_none=True)
        check_bool(mask_zero, "mask_zero")
        self.backend = resolve_backend(backend)
        self.dtype, self.mask_zero = dtype, mask_zero
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        _initializers.host_rng(0, init_rng)  # validates the name
        self.init_rng = init_rng
        self.layers = self.encoder + self.decoder
        self.built, self.loss, self.optimizer = False, None, None
        self.epochs_trained = 0
        #: The host generator that orders mini-batches (saved and restored by checkpoints).
        self.shuffle_rng = shuffle_rng(self.seed)
        #: The History of the running or latest fit.
        self.history = None
        index = 0
        for layer in self.layers:
            if layer.has_parameters:
                index += 1
                layer.index = index
        stateful = [layer for layer in self.encoder if getattr(layer, "return_state", False)]
        self._state_source = stateful[-1] if stateful else None
        targets = [layer for layer in self.decoder if _is_recurrent(layer)]
        self._state_target = targets[0] if (targets and self._state_source is not None) else None
        self._bidirectional_source = hasattr(self._state_source, "backward_layer")

    def _bridge(self, state):
        """A Bidirectional encoder's [a_fw, (c_fw,) a_bw, (c_bw)] -> the decoder's [a, (c)]: each
        forward array stacked over its backward twin on the feature axis (as Keras's tutorial)."""
        if not self._bidirectional_source:
            return state
        k = len(state) // 2
        return tuple(self.xp.concat([state[i], state[k + i]], axis=0) for i in range(k))

    def _unbridge(self, d_state):
        if not self._bidirectional_source or d_state is None:
            return d_state
        n = self._state_source.units
        return tuple(d[:n, ...] for d in d_state) + tuple(d[n:, ...] for d in d_state)

    @property
    def xp(self):
        return self.backend.xp

    # -- construction and parameters ---------------------------------------------------------
    def build(self, encoder_input_shape, decoder_input_shape) -> "Seq2Seq":
        """Create every parameter for per-example input shapes: ``(T,)`` for token ids, ``(n_x, T)``
        for sequences (the first call of fit/predict does this from the data)."""
        self._build(tuple(encoder_input_shape), tuple(decoder_input_shape))
        return self

    def _build(self, enc_shape, dec_shape):
        self.input_shapes = (tuple(enc_shape), tuple(dec_shape))
        rng = _initializers.host_rng(self.seed, self.init_rng)
        with self.backend.context():
            shape = enc_shape
            for layer in self.encoder:
                shape = layer.build(shape, backend=self.backend, dtype=self.dtype, rng=rng)
            memory_shape = shape
            shape = dec_shape
            for layer in self.decoder:
                if getattr(layer, "uses_memory", False) and (len(memory_shape) != 2 or memory_shape[0] != shape[0]):
                    raise ShapeError(
                        f"{type(layer).__name__} attends over the encoder's output, which must be a sequence with as "
                        f"many features as the decoder's ({shape[0]}); the encoder gives per-example shape "
                        f"{tuple(memory_shape)} (return_sequences=True on its last recurrent layer?)"
                    )
                shape = layer.build(shape, backend=self.backend, dtype=self.dtype, rng=rng)
        src, dst = self._state_source, self._state_target
        if src is not None and dst is not None:
            k = 2 if self._bidirectional_source else 1
            if src.units * k != dst.units or src.n_states != dst.n_states * k:
                raise ShapeError(
                    f"the encoder's {type(src).__name__}({src.units}) hands its final state to the decoder's "
                    f"{type(dst).__name__}({dst.units}): they need the same cell type and units "
                    "(twice the units after a Bidirectional encoder, whose two states are stacked)"
                )
        self.built = True

    def parameters(self) -> dict:
        """Every parameter by its numbered name (``E1``, ``Wf2``, ...), on the device."""
        self.require_built()
        return {f"{k}{layer.index}": v for layer in self.layers for k, v in layer.params.items()}

    def assign_parameters(self, params: dict) -> None:
        """Install ``params`` (numbered names, arrays already on the device) without checks."""
        for layer in self.layers:
            for k in layer.params:
                layer.params[k] = params[f"{k}{layer.index}"]

    def set_parameters(self, params: dict) -> "Seq2Seq":
        """Replace every parameter from host or device arrays (names and shapes checked)."""
        expected = {f"{k}{layer.index}": s for layer in self.layers for k, s in layer.parameter_shapes().items()}
        self.assign_parameters(parameters_to_backend(params, expected, self.backend, self.dtype))
        return self

    def require_built(self) -> None:
        if not self.built:
            raise NotFittedError("the model has no parameters yet: call build(), fit() or predict_proba() first")

    # -- inputs ----------------------------------------------------------------------------------
    def _inputs(self, X_enc, X_dec, suffix=""):
        prepared = []
        for name, X, layer in (("X_enc" + suffix, X_enc, self.encoder[0]), ("X_dec" + suffix, X_dec, self.decoder[0])):
            prepare = getattr(layer, "prepare_input", None)
            if prepare is None:
                raise XpnetTypeError(f"the first {name[2:]}oder layer must take sequences or token ids "
                                     f"(Embedding, a recurrent layer, ...), got {type(layer).__name__}")
            prepared.append(prepare(X, backend=self.backend, dtype=self.dtype, name=name))
        (Xe, enc_shape), (Xd, dec_shape) = prepared
        me, md = int(Xe.shape[self.encoder[0].examples_axis]), int(Xd.shape[self.decoder[0].examples_axis])
        if me != md:
            raise ShapeError(f"X_enc{suffix} holds {me} examples but X_dec{suffix} holds {md}: one target sentence "
                             "per source")
        if not self.built:
            self._build(enc_shape, dec_shape)
        return Xe, Xd

    def _targets(self, Y, m, name="Y"):
        xp = self.xp
        V = self.decoder[-1].output_shape[0]
        Y = self.backend.to_device(Y) if self.backend.owns(Y) else self.backend.asarray(Y)
        if xp.isdtype(Y.dtype, "integral"):  # token ids (m, T) -> one-hot (V, m, T)
            if Y.ndim != 2:
                raise ShapeError(f"integer {name} must be token ids (m, T_dec), got shape {tuple(Y.shape)}")
            vocab = xp.reshape(xp.arange(V, dtype=Y.dtype), (V, 1, 1))
            Y = xp.astype(xp.expand_dims(Y, axis=0) == vocab, self.backend.dtype(self.dtype))
        else:
            Y = xp.astype(Y, self.backend.dtype(self.dtype))
        if Y.ndim != 3 or Y.shape[0] != V or Y.shape[1] != m:
            raise ShapeError(f"{name} must be one-hot (V, m, T_dec) with V = {V}, m = {m} (or ids (m, T_dec)); "
                             f"got shape {tuple(Y.shape)}")
        check_finite(Y, name, is_finite)
        return Y

    def _enc_mask(self, X_enc):
        return padding_mask(X_enc) if self.mask_zero else self.encoder[0].compute_mask(X_enc)

    # -- propagation -------------------------------------------------------------------------------
    def forward(self, X_enc, X_dec, training=False):
        """Forward propagation of both halves: the decoder's output and every cache."""
        memory, state, mask, caches = self.encode(X_enc, training)
        D, dec_caches = self.decode(X_dec, memory, state, mask, training)
        return D, caches + dec_caches

    def encode(self, X_enc, training=False):
        """The encoder alone: ``(memory, state, memory_mask, caches)`` for :meth:`decode`."""
        mask = self._enc_mask(X_enc)
        caches, A, state = [], X_enc, None
        for layer in self.encoder:
            if layer is self._state_source:  # with the mask, its final state is the last real step's
                A, state, cache = layer.forward_with_state(A, None, training, mask=mask)
                state = self._bridge(state)
            elif getattr(layer, "takes_mask", False):
                A, cache = layer.forward(A, training, mask=mask)
            else:
                A, cache = layer.forward(A, training)
            caches.append(cache)
        return A, state, mask, caches

    def decode(self, X_dec, memory, state=None, memory_mask=None, training=False):
        """The decoder alone, given what :meth:`encode` returned: ``(output, caches)``."""
        caches, D = [], X_dec
        for layer in self.decoder:
            if getattr(layer, "uses_memory", False):
                D, cache = layer.forward_with_memory(D, memory, memory_mask=memory_mask, training=training)
            elif layer is self._state_target:
                D, _, cache = layer.forward_with_state(D, state, training)
            else:
                D, cache = layer.forward(D, training)
            caches.append(cache)
        return D, caches

    def cost(self, AL, Y, caches, loss):
        """J for the decoder's output ``AL`` of :meth:`forward`."""
        return loss.output_cost(self.decoder[-1], AL, Y, caches[-1])

    def backward(self, AL, Y, caches, loss) -> dict:
        """Every parameter's gradient (``dE1``, ``dWf2``, ...): decoder first, then the encoder."""
        grads, n_enc = {}, len(self.encoder)
        d_memory = d_state = None
        dA = None
        for i in range(len(self.decoder) - 1, -1, -1):
            layer, cache, need = self.decoder[i], caches[n_enc + i], i > 0
            if i == len(self.decoder) - 1 and loss.fuses_with(getattr(layer, "activation", None)):
                dA, g = layer.backward_from_dZ(loss.fused_gradient(AL, Y), cache, need)
            else:
                dA = loss.gradient(AL, Y) if i == len(self.decoder) - 1 else dA
                if getattr(layer, "uses_memory", False):
                    dA, dM, g = layer.backward_with_memory(dA, cache, need)
                    d_memory = dM if d_memory is None else d_memory + dM
                elif layer is self._state_target:
                    dA, d_state, g = layer.backward_with_state(dA, None, cache, need)
                else:
                    dA, g = layer.backward(dA, cache, need)
            grads.update({f"d{k}{layer.index}": v for k, v in g.items()})
        dA = d_memory
        for i in range(n_enc - 1, -1, -1):
            layer, cache, need = self.encoder[i], caches[i], i > 0
            if layer is self._state_source:
                dA, _, g = layer.backward_with_state(dA, self._unbridge(d_state), cache, need)
            elif dA is None:  # nothing downstream used this layer's output
                g = {k: self.xp.zeros_like(v) for k, v in layer.params.items()}
            else:
                dA, g = layer.backward(dA, cache, need)
            grads.update({f"d{k}{layer.index}": v for k, v in g.items()})
        return grads

    # -- user API ----------------------------------------------------------------------------------
    def _resolve_loss(self, loss):
        return _losses.resolve(loss, self.loss, getattr(self.decoder[-1], "activation", None))

    def gradients(self, X_enc, X_dec, Y, loss=None) -> dict:
        """dJ/d(every parameter) on one batch (what a gradient check compares)."""
        loss = self._resolve_loss(loss)
        with self.backend.context():
            Xe, Xd = self._inputs(X_enc, X_dec)
            Y = self._targets(Y, int(Xd.shape[self.decoder[0].examples_axis]))
            AL, caches = self.forward(Xe, Xd, training=True)
            return self.backward(AL, Y, caches, loss)

    def compute_cost(self, X_enc, X_dec, Y, loss=None) -> float:
        loss = self._resolve_loss(loss)
        with self.backend.context():
            Xe, Xd = self._inputs(X_enc, X_dec)
            Y = self._targets(Y, int(Xd.shape[self.decoder[0].examples_axis]))
            AL, caches = self.forward(Xe, Xd)
            return float(self.cost(AL, Y, caches, loss))

    def predict_proba(self, X_enc, X_dec):
        """The decoder's output (e.g. next-token probabilities ``(V, m, T_dec)``), on the host."""
        with self.backend.context():
            Xe, Xd = self._inputs(X_enc, X_dec)
            AL, _ = self.forward(Xe, Xd)
            return self.backend.to_numpy(AL)

    def evaluate(self, X_enc, X_dec, Y, loss=None) -> dict:
        """``{"cost": ..., "accuracy": ...}``; accuracy is per token (argmax vs target)."""
        loss = self._resolve_loss(loss)
        with self.backend.context():
            X = self._inputs(X_enc, X_dec)
            return self.compute_metrics(X, self._targets(Y, self.n_examples(X)), loss)

    def compute_metrics(self, X, Y, loss) -> dict:
        """:meth:`evaluate` of device arrays already checked; ``X`` is ``(X_enc, X_dec)``."""
        xp = self.xp
        AL, caches = self.forward(*X)
        hits = xp.astype(xp.argmax(AL, axis=0) == xp.argmax(Y, axis=0), AL.dtype)
        # Both metrics in one device -> host transfer.
        cost, accuracy = self.backend.to_numpy(xp.stack([self.cost(AL, Y, caches, loss), xp.mean(hits)]))
        return {"cost": float(cost), "accuracy": float(accuracy)}

    @property
    def examples_axis(self) -> tuple:
        """The axis holding the m examples of each input: 0 for token ids (m, T), 1 for (n, m, T)."""
        return self.encoder[0].examples_axis, self.decoder[0].examples_axis

    def n_examples(self, X) -> int:
        """m, the number of examples of the inputs ``(X_enc, X_dec)``."""
        return int(X[1].shape[self.decoder[0].examples_axis])

    def fit(self, X_enc, X_dec, Y, loss=None, optimizer=None, epochs=10, learning_rate=None, batch_size=None,
            shuffle=True, validation_data=None, validation_split=None, l2=0.0, clip_norm=None, clip_value=None,
            callbacks=None, verbose=False, checkpoint_every=None, checkpoint_path=None, resume_from=None) -> History:
        """Train both halves together by (mini-batch) gradient descent or ``optimizer``.

        ``X_dec`` is the decoder's input under teacher forcing (the target sentence shifted
        right behind a start token) and ``Y`` the target sentence: one-hot ``(V, m, T_dec)``
        or token ids ``(m, T_dec)``. ``validation_data`` is ``((X_enc_val, X_dec_val), Y_val)``
        (as Keras's multi-input models) or ``(X_enc_val, X_dec_val, Y_val)``. The other
        arguments are those of :meth:`xpnet.Sequential.fit`, with the same loop (callbacks,
        checkpoints, ``resume_from``, the rollback on divergence, Ctrl-C and out of memory);
        ``History.costs`` has one cost per epoch and ``history["val_accuracy"]`` is per token.
        """
        loss, optimizer, callbacks, initial_epoch, previous = fit_setup(
            self, resume_from=resume_from, optimizer=optimizer, learning_rate=learning_rate, loss=loss, epochs=epochs,
            callbacks=callbacks, checkpoint_every=checkpoint_every, checkpoint_path=checkpoint_path)
        loss = self._resolve_loss(loss)
        every = check_verbose(verbose)
        with self.backend.context():
            X = self._inputs(X_enc, X_dec)
            Y = self._targets(Y, self.n_examples(X))
            validation = None
            if validation_split is not None:
                X, Y, validation = hold_out_last(X, Y, holdout_size(self.n_examples(X), validation_split),
                                                 self.examples_axis)
            if validation_data is not None:
                if validation is not None:
                    raise XpnetValueError("give validation_data or validation_split, not both")
                validation = self._validation(validation_data)
            self.loss, self.optimizer = loss, optimizer
            history = train(self, X, Y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                            shuffle=shuffle, validation=validation, l2=l2, clip_norm=clip_norm, clip_value=clip_value,
                            callbacks=callbacks, verbose=every, initial_epoch=initial_epoch)
        return prepend_history(history, previous)

    def _validation(self, data):
        if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], (tuple, list)):
            (Xe, Xd), Yv = check_pair(data[0], "validation_data[0]"), data[1]
        elif isinstance(data, (tuple, list)) and len(data) == 3:
            Xe, Xd, Yv = data
        else:
            raise XpnetTypeError("validation_data must be ((X_enc_val, X_dec_val), Y_val) or "
                                 f"(X_enc_val, X_dec_val, Y_val), got {type(data).__name__}")
        X = self._inputs(Xe, Xd, "_val")
        return X, self._targets(Yv, self.n_examples(X), "Y_val")

    # -- description ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The architecture as plain JSON-able data (what ``xn.save`` writes beside the weights).

        ``layers`` lists the encoder's layers, then the decoder's; ``encoder_layers`` says
        where the decoder starts, and ``input_size`` / ``decoder_input_size`` are the
        per-example input shapes of the two halves (None before the model is built).
        """
        sizes = [list(s) for s in self.input_shapes] if self.built else [None, None]
        return {
            "model": type(self).__name__,
            "input_size": sizes[0],
            "decoder_input_size": sizes[1],
            "encoder_layers": len(self.encoder),
            "mask_zero": self.mask_zero,
            "dtype": self.dtype,
            "seed": self.seed,
            "layers": layer_specs(self.layers),
        }

    @classmethod
    def from_config(cls, config: dict, backend=None) -> "Seq2Seq":
        """A new, unbuilt model with the architecture of :meth:`get_config`'s ``config``."""
        layers = layers_from_specs(config["layers"])
        k = config["encoder_layers"]
        return cls(layers[:k], layers[k:], backend=backend, dtype=config["dtype"], seed=config["seed"],
                   mask_zero=config["mask_zero"])

    def __repr__(self):
        return f"Seq2Seq(encoder={self.encoder!r}, decoder={self.decoder!r})"
