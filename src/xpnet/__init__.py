"""xpnet: neural networks written once against the Python array API.

The same vectorized forward and backward propagation runs on NumPy (CPU), CuPy (CUDA
GPU) or any registered array-API backend. Importing xpnet imports no GPU library.

>>> import xpnet as xn
>>> "numpy" in xn.available_backends()
True
"""

from __future__ import annotations

from . import activations, callbacks, data, initializers, losses, optim
from .backends import (
    Backend,
    available_backends,
    backend_of,
    get_backend,
    register_backend,
    registered_backends,
    use_backend,
)
from .backends._convert import to_numpy
from .errors import (
    BackendUnavailableError,
    DeviceOutOfMemoryError,
    NotFittedError,
    ShapeError,
    TrainingDivergedError,
    XpnetError,
    ModelFileError,
    XpnetTypeError,
    XpnetValueError,
)
from .io import read_header
from .saving import load, save
from .callbacks import Callback, EarlyStopping, InverseTimeDecay, LambdaCallback, StepDecay
from .layers import (
    GRU,
    LSTM,
    Conv1D,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    Layer,
    LayerNorm,
    MultiHeadAttention,
    PositionalEncoding,
    SimpleRNN,
    TimeDistributed,
    TransformerEncoderBlock,
    TransformerDecoderBlock,
    CrossAttention,
    Bidirectional,
    padding_mask,
)
from .model import History, Sequential
from .functional import Seq2Seq
from .transformer import Transformer
from .generate import beam_search, greedy_decode, sample
from .optim import Adam, GradientDescent, Momentum, RMSprop
from .sweep import sweep

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # backends
    "Backend",
    "available_backends",
    "backend_of",
    "get_backend",
    "register_backend",
    "registered_backends",
    "use_backend",
    "to_numpy",
    # model
    "Sequential",
    "Seq2Seq",
    "Transformer",
    "sample",
    "greedy_decode",
    "beam_search",
    "History",
    "Dense",
    "Layer",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "TimeDistributed",
    "Conv1D",
    "Embedding",
    "GlobalAveragePooling1D",
    "LayerNorm",
    "PositionalEncoding",
    "MultiHeadAttention",
    "TransformerEncoderBlock",
    "TransformerDecoderBlock",
    "CrossAttention",
    "Bidirectional",
    "padding_mask",
    "GradientDescent",
    "Momentum",
    "RMSprop",
    "Adam",
    "activations",
    "initializers",
    "losses",
    "optim",
    # regularisation, callbacks, sweeps
    "Dropout",
    "callbacks",
    "Callback",
    "EarlyStopping",
    "StepDecay",
    "InverseTimeDecay",
    "LambdaCallback",
    "sweep",
    # errors
    "XpnetError",
    "BackendUnavailableError",
    "ShapeError",
    "XpnetValueError",
    "XpnetTypeError",
    "NotFittedError",
    "TrainingDivergedError",
    "ModelFileError",
    # save / load
    "save",
    "load",
    "read_header",
    "DeviceOutOfMemoryError",
]
