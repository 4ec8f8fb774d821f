"""Sequence plumbing: time-distributed layers, embeddings, pooling over time.

Conventions (the course's sequence notation): a batch of sequences is ``(n_x, m, T)``
(features, examples, time steps); per-example shapes leave m out, so such a layer is
built for ``(n_x, T)``. Token ids for :class:`Embedding` are integers ``(m, T)``.
"""

from __future__ import annotations

from typing import NamedTuple

from array_api_compat import array_namespace

from .. import initializers as _initializers
from ..errors import ShapeError, XpnetTypeError, XpnetValueError
from ._time import SequenceInput, flat, positive_int, require_sequence_shape, seq_matmul
from .base import Layer, layer_from_config, register_layer

__all__ = ["SequenceInput", "TimeDistributed", "Embedding", "GlobalAveragePooling1D", "seq_matmul", "positive_int"]


class TimeDistributedCache(NamedTuple):
    inner: object
    m: int
    T: int


@register_layer
class TimeDistributed(SequenceInput, Layer):
    """Apply one 2-D layer (e.g. ``Dense(k)``) at every time step, with shared parameters.

    Shapes: ``(n, m, T) -> (k, m, T)``; the wrapped Dense keeps its names ``W`` ``(k, n)``
    and ``b`` ``(k, 1)``, so in a network they appear as ``W{l}``, ``b{l}``.
    A softmax/sigmoid inner activation pairs with the cross-entropy losses as for Dense.
    """

    def __init__(self, layer):
        super().__init__()
        if not isinstance(layer, Layer):
            raise XpnetTypeError(f"TimeDistributed wraps an xpnet Layer such as Dense(k), got {type(layer).__name__}")
        self.layer = layer
        self.has_parameters = layer.has_parameters
        self.regularized = layer.regularized

    # The wrapped layer's own dict: a network's reads and writes reach it, nothing is copied.
    @property
    def params(self):
        return self.layer.params

    @params.setter
    def params(self, value):
        if "layer" in self.__dict__:
            self.layer.params = value

    @property
    def activation(self):
        return getattr(self.layer, "activation", None)

    def build(self, input_shape, *, backend, dtype, rng):
        n, T = require_sequence_shape(input_shape, "TimeDistributed")
        out = self.layer.build((n,), backend=backend, dtype=dtype, rng=rng)
        self.input_shape = (n, T)
        self.output_shape = (*out, T)
        return self.output_shape

    def parameter_shapes(self):
        return self.layer.parameter_shapes()

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        _, m, T = A_prev.shape
        A2, inner = self.layer.forward(flat(A_prev), training=training)
        A = xp.reshape(A2, (A2.shape[0], m, T))
        return A, TimeDistributedCache(inner, m, T)

    def _unflat(self, dA_prev2, cache):
        if dA_prev2 is None:
            return None
        xp = array_namespace(dA_prev2)
        return xp.reshape(dA_prev2, (dA_prev2.shape[0], cache.m, cache.T))

    def backward(self, dA, cache, need_dA_prev=True):
        dA_prev2, grads = self.layer.backward(flat(dA), cache.inner, need_dA_prev)
        return self._unflat(dA_prev2, cache), grads

    def backward_from_dZ(self, dZ, cache, need_dA_prev=True):
        dA_prev2, grads = self.layer.backward_from_dZ(flat(dZ), cache.inner, need_dA_prev)
        return self._unflat(dA_prev2, cache), grads

    def logits(self, cache):
        Z2 = self.layer.logits(cache.inner)
        if Z2 is None:
            return None
        xp = array_namespace(Z2)
        return xp.reshape(Z2, (Z2.shape[0], cache.m, cache.T))

    def get_config(self):
        return {"layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}

    @classmethod
    def from_config(cls, config):
        spec = config["layer"]
        return cls(layer_from_config(spec["class_name"], spec["config"]))


class EmbeddingCache(NamedTuple):
    ids: object  # (m*T,) flat token ids
    m: int
    T: int


@register_layer
class Embedding(Layer):
    """Token ids ``(m, T)`` -> vectors ``(d, m, T)``: column ``E[:, id]`` of the embedding matrix.

    Parameters
    ----------
    vocab_size : int
        V, the number of distinct tokens; ids must satisfy ``0 <= id < V``.
    dim : int
        d, the size of each embedding vector.
    init : str, optional
        Initialiser of E ``(d, V)``; default ``"xavier"`` (N(0, 1) / sqrt(d)).
    mask_zero : bool, optional
        The id 0 is padding (Keras's ``mask_zero``): as the first layer of a
        :class:`~xpnet.Sequential`, it hands the mask ``ids != 0`` to the layers that take one
        (attention blocks hide padded keys, :class:`GlobalAveragePooling1D` averages the real
        steps only).

    Notes
    -----
    The input ids are integers with the examples on axis 0 (``(m, T)``), so an Embedding
    first layer makes ``fit`` slice mini-batches along that axis. The gradient dE is
    computed as ``dA (d, mT) @ one_hot(ids) (mT, V)``: a matrix product, since the array
    API has no scatter-add.
    """

    has_parameters = True
    regularized = ("E",)
    examples_axis = 0

    def __init__(self, vocab_size: int, dim: int, init="xavier", mask_zero: bool = False):
        super().__init__()
        if not isinstance(mask_zero, bool):
            raise XpnetTypeError(f"Embedding mask_zero must be True or False, got {mask_zero!r}")
        self.mask_zero = mask_zero
        self.vocab_size = positive_int(vocab_size, "Embedding vocab_size")
        self.dim = positive_int(dim, "Embedding dim")
        self.init_name = init
        self.init = _initializers.get(init)

    def prepare_input(self, X, *, backend, dtype, name="X"):
        """Token ids (m, T) as an int64 array on the backend, range-checked."""
        xp = backend.xp
        if backend.owns(X):
            X = backend.to_device(X)
        else:
            try:
                X = backend.asarray(X)  # no dtype: integer ids stay integers
            except Exception as exc:
                raise XpnetTypeError(f"{name} must be an integer array of token ids, got {type(X).__name__} ({exc})") from None
        try:
            integral = xp.isdtype(X.dtype, "integral")
        except Exception:
            integral = False
        if not integral:
            raise XpnetTypeError(
                f"{name} must hold integer token ids 0 <= id < {self.vocab_size} for Embedding, got dtype {X.dtype}"
            )
        X = xp.astype(X, xp.int64)
        if X.ndim != 2:
            raise ShapeError(f"{name} must be 2-D token ids (m, T), got {X.ndim}-D shape {tuple(X.shape)}")
        if 0 in tuple(X.shape):
            raise ShapeError(f"{name} is empty (shape {tuple(X.shape)})")
        lo, hi = int(xp.min(X)), int(xp.max(X))
        if lo < 0 or hi >= self.vocab_size:
            raise XpnetValueError(
                f"{name} holds token ids in [{lo}, {hi}] but Embedding(vocab_size={self.vocab_size}) "
                f"needs 0 <= id < {self.vocab_size}"
            )
        return X, (int(X.shape[1]),)

    def build(self, input_shape, *, backend, dtype, rng):
        if len(input_shape) != 1:
            raise ShapeError(f"Embedding expects token ids (m, T), i.e. per-example shape (T,); got {tuple(input_shape)}")
        (T,) = input_shape
        self.input_shape = (T,)
        self.output_shape = (self.dim, T)
        self.params = {"E": backend.asarray(self.init((self.dim, self.vocab_size), self.dim, rng), dtype)}
        return self.output_shape

    def parameter_shapes(self):
        return {"E": (self.dim, self.vocab_size)}

    def forward(self, A_prev, training=False):
        xp = array_namespace(A_prev)
        m, T = A_prev.shape
        ids = xp.reshape(A_prev, (m * T,))
        E = self.params["E"]
        A = xp.reshape(xp.take(E, ids, axis=1), (self.dim, m, T))
        return A, EmbeddingCache(ids, m, T)

    def backward(self, dA, cache, need_dA_prev=True):
        xp = array_namespace(dA)
        E = self.params["E"]
        vocab = xp.arange(self.vocab_size, dtype=cache.ids.dtype)
        one_hot = xp.astype(xp.reshape(cache.ids, (-1, 1)) == xp.reshape(vocab, (1, -1)), E.dtype)  # (mT, V)
        dE = flat(dA) @ one_hot
        # Ids are not differentiable: nothing flows below an Embedding.
        return None, {"E": dE}

    def get_config(self):
        init_name = _initializers.name_of(self.init_name)
        if init_name is None:
            raise XpnetTypeError("an Embedding with a custom init callable cannot be serialised")
        config = {"vocab_size": self.vocab_size, "dim": self.dim, "init": init_name}
        return dict(config, mask_zero=True) if self.mask_zero else config  # older files have no mask_zero

    def compute_mask(self, X):
        """``X != 0`` (True for a real token) when ``mask_zero``, else None."""
        return X != 0 if self.mask_zero else None


class PoolCache(NamedTuple):
    T: int
    weights: object  # (1, m, T): 1/T, or mask/(real steps of each example) with a padding mask


@register_layer
class GlobalAveragePooling1D(SequenceInput, Layer):
    """Mean over the time axis: ``(n, m, T) -> (n, m)``. No parameters.

    With a padding ``mask`` ``(m, T)`` (from an ``Embedding(..., mask_zero=True)`` first
    layer) the mean is over each example's real steps only, as Keras's.
    """

    def build(self, input_shape, *, backend, dtype, rng):
        n, T = require_sequence_shape(input_shape, "GlobalAveragePooling1D")
        self.input_shape = (n, T)
        self.output_shape = (n,)
        return self.output_shape

    def forward(self, A_prev, training=False, mask=None):
        xp = array_namespace(A_prev)
        T = int(A_prev.shape[2])
        if mask is None:
            return xp.mean(A_prev, axis=2), PoolCache(T, None)
        if tuple(mask.shape) != (A_prev.shape[1], T):
            raise ShapeError(f"GlobalAveragePooling1D's padding mask must be (m, T) = ({A_prev.shape[1]}, {T}), "
                             f"got {tuple(mask.shape)}")
        keep = xp.astype(mask, A_prev.dtype)
        # An all-padding example averages nothing: its output is 0, not 0/0.
        count = xp.maximum(xp.sum(keep, axis=1, keepdims=True), xp.ones_like(keep[:, :1]))
        weights = xp.expand_dims(keep / count, axis=0)  # (1, m, T)
        return xp.sum(A_prev * weights, axis=2), PoolCache(T, weights)

    def backward(self, dA, cache, need_dA_prev=True):
        if not need_dA_prev:
            return None, {}
        xp = array_namespace(dA)
        if cache.weights is not None:
            return xp.expand_dims(dA, axis=2) * cache.weights, {}
        dA3 = xp.expand_dims(dA, axis=2) / float(cache.T)
        return xp.broadcast_to(dA3, (dA.shape[0], dA.shape[1], cache.T)), {}

