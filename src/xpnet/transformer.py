"""The encoder-decoder Transformer as one model: two stacks of blocks wired by :class:`Seq2Seq`."""

from __future__ import annotations

from ._validation import check_positive_int
from .functional import Seq2Seq
from .layers import Dense, Dropout, Embedding, PositionalEncoding, TimeDistributed
from .layers.transformer import TransformerDecoderBlock, TransformerEncoderBlock

__all__ = ["Transformer"]


class Transformer(Seq2Seq):
    """The encoder-decoder Transformer (Vaswani et al. 2017; the course's ``Transformer``).

    Encoder: Embedding, sinusoidal positions, Dropout, ``num_layers`` encoder blocks.
    Decoder: Embedding, positions, Dropout, ``num_layers`` decoder blocks (causal
    self-attention, attention over the encoder's output, feed-forward; post-norm), and the
    output projection ``TimeDistributed(Dense(target_vocab, "softmax"))``. Token id 0 is
    padding of the encoder's input (``mask_zero=True``).

    Parameters
    ----------
    num_layers, d_model, heads, d_ff : int
        Blocks per stack, model width, attention heads, feed-forward width.
    input_vocab, target_vocab : int
        Vocabulary sizes of the source and the target.
    dropout : float, optional
        Dropout rate after the positions and inside every block; default 0.
    eps : float, optional
        LayerNorm eps; default 1e-6, the course's.
    backend, dtype, seed
        As :class:`~xpnet.Sequential`.

    Notes
    -----
    Unlike the course, the embeddings are not multiplied by sqrt(d_model) before the
    positions are added; the Embedding's Xavier init (N(0, 1) / sqrt(d_model)) is scaled
    for that sum instead.
    """

    def __init__(self, num_layers: int, d_model: int, heads: int, d_ff: int, input_vocab: int, target_vocab: int,
                 dropout: float = 0.0, eps: float = 1e-6, backend=None, dtype="float32", seed=None):
        def stem(vocab):
            layers = [Embedding(vocab, d_model), PositionalEncoding()]
            return layers + ([Dropout(1.0 - dropout)] if dropout else [])

        check_positive_int(num_layers, "Transformer num_layers")
        self.hyperparameters = {"num_layers": num_layers, "d_model": d_model, "heads": heads, "d_ff": d_ff,
                                "input_vocab": input_vocab, "target_vocab": target_vocab, "dropout": dropout,
                                "eps": eps}
        encoder = stem(input_vocab) + [TransformerEncoderBlock(d_model, heads, d_ff, dropout=dropout, eps=eps)
                                       for _ in range(num_layers)]
        decoder = stem(target_vocab) + [TransformerDecoderBlock(d_model, heads, d_ff, dropout=dropout, eps=eps)
                                        for _ in range(num_layers)]
        decoder.append(TimeDistributed(Dense(target_vocab, activation="softmax")))
        super().__init__(encoder, decoder, backend=backend, dtype=dtype, seed=seed, mask_zero=True)

    def get_config(self) -> dict:
        """:meth:`Seq2Seq.get_config` plus the constructor's arguments (``transformer``)."""
        return dict(super().get_config(), transformer=dict(self.hyperparameters))

    @classmethod
    def from_config(cls, config: dict, backend=None) -> "Transformer":
        return cls(**config["transformer"], backend=backend, dtype=config["dtype"], seed=config["seed"])
