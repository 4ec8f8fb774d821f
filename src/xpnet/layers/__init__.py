"""Layers: forward propagation that keeps a cache, backward propagation that uses it.

``base`` declares the protocol every layer follows and the registry ``xn.load`` builds
layers from; each other module is one family of layers.
"""

from .attention import MultiHeadAttention, PositionalEncoding, padding_mask
from .base import Layer, layer_from_config, register_layer, registered_layers
from .conv import Conv1D
from .dense import Dense
from .dropout import Dropout
from .normalization import LayerNorm
from .recurrent import GRU, LSTM, SimpleRNN
from .sequence import Embedding, GlobalAveragePooling1D, TimeDistributed
from .wrappers import Bidirectional
from .transformer import CrossAttention, TransformerDecoderBlock, TransformerEncoderBlock

__all__ = [
    "Layer", "register_layer", "layer_from_config", "registered_layers",
    "Dense", "Dropout", "LayerNorm", "Conv1D", "SimpleRNN", "LSTM", "GRU",
    "MultiHeadAttention", "PositionalEncoding", "TransformerEncoderBlock", "TransformerDecoderBlock",
    "CrossAttention", "padding_mask", "Bidirectional",
    "Embedding", "TimeDistributed", "GlobalAveragePooling1D",
]
