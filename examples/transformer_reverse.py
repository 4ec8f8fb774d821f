"""
A Transformer learns to reverse sequences of tokens (course 5, week 4)
======================================================================

The encoder reads a random sequence of digits; the decoder, fed the reversed sequence
shifted right behind a start token (teacher forcing), predicts each next token. Reversal
needs the positions (sinusoidal encodings) and attention across the whole source: every
output token t copies input token T + 1 - t. After training, greedy decoding (each step
feeds the decoder its own previous output) reverses unseen sequences.

.. code-block:: bash

    python examples/transformer_reverse.py --epochs 25
"""

from __future__ import annotations

import argparse

import numpy as np

import xpnet as xn

START = 0  # token 0 starts the decoder's input; digits are tokens 1..V-1


def reverse_task(m, T, V, seed):
    """Source ids (m, T) in 1..V-1, decoder input (start + reversed[:-1]) and target (reversed)."""
    src = np.random.default_rng(seed).integers(1, V, size=(m, T))
    tgt = src[:, ::-1].copy()
    dec_in = np.concatenate([np.full((m, 1), START), tgt[:, :-1]], axis=1)
    return src, dec_in, tgt


def main(argv=None):
    parser = argparse.ArgumentParser(description='A Transformer learns to reverse sequences of tokens (course 5, week 4)')
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--m", type=int, default=2000)
    parser.add_argument("--T", type=int, default=6, help="sequence length")
    parser.add_argument("--V", type=int, default=10, help="tokens (start token + V-1 digits)")
    parser.add_argument("--backend", default="numpy")
    args = parser.parse_args(argv)

    src, dec_in, tgt = reverse_task(args.m, args.T, args.V, seed=0)
    model = xn.Transformer(num_layers=1, d_model=32, heads=4, d_ff=64, input_vocab=args.V, target_vocab=args.V,
                           backend=args.backend, seed=0)
    hist = model.fit(src, dec_in, tgt, optimizer=xn.Adam(learning_rate=0.003), epochs=args.epochs, batch_size=100)
    test_src, test_in, test_tgt = reverse_task(500, args.T, args.V, seed=1)
    teacher = model.evaluate(test_src, test_in, test_tgt)["accuracy"]
    decoded = np.array(xn.greedy_decode(model, test_src, START, max_length=args.T))
    greedy = float((decoded == test_tgt).mean())
    print(f"cost {hist.costs[0]:.3f} -> {hist.costs[-1]:.3f}; token accuracy on new sequences: "
          f"{teacher:.4f} (teacher forcing), {greedy:.4f} (greedy decoding)")
    print("source ", test_src[0].tolist(), "\ndecoded", decoded[0].tolist())
    return {"costs": hist.costs, "teacher_accuracy": teacher, "greedy_accuracy": greedy}


if __name__ == "__main__":
    main()
