"""
A character-level language model invents names (course 5, week 1: "Dinosaurus Island")
======================================================================================

The corpus is the 405 given names shipped in ``xpnet/datasets/names.txt``. Each name is a
sequence of characters ending with a newline; the model, an LSTM over one-hot characters
(the course's x<1> = 0 first step, then x<t+1> = y<t>), learns the distribution of the next
character. Training clips every gradient element to [-5, 5], as the course's ``clip`` does
(``clip_value=5``); then ``xn.sample`` draws new names character by character, at two
temperatures (lower: more conservative, higher: more inventive).

.. code-block:: bash

    python examples/character_names.py --epochs 60
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import xpnet as xn

NAMES = Path(xn.__file__).resolve().parent / "datasets" / "names.txt"


def load_corpus():
    """The names, and the vocabulary: "\\n" (id 0, end of a name) then the letters."""
    names = NAMES.read_text().split()
    chars = ["\n"] + sorted({c for n in names for c in n})
    return names, chars


def one_hot_batch(names, chars):
    """X (V, m, T): a zero first step, then each name's characters; Y (V, m, T): the next
    character (the name's end padded with newlines)."""
    index = {c: i for i, c in enumerate(chars)}
    T = max(len(n) for n in names) + 1
    V, m = len(chars), len(names)
    ids = np.zeros((m, T), dtype=int)  # 0 = "\n": after the name, the model must keep saying "end"
    for j, n in enumerate(names):
        ids[j, : len(n)] = [index[c] for c in n]
    X = np.zeros((V, m, T))
    for t in range(1, T):
        X[ids[:, t - 1], np.arange(m), t] = 1.0
    Y = np.zeros((V, m, T))
    Y[ids, np.arange(m)[:, None], np.arange(T)[None, :]] = 1.0
    return X, Y


def main(argv=None):
    parser = argparse.ArgumentParser(description='A character-level language model invents names (course 5, week 1: "Dinosaurus Island")')
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--backend", default="numpy")
    args = parser.parse_args(argv)

    names, chars = load_corpus()
    X, Y = one_hot_batch(names, chars)
    V, T = len(chars), X.shape[2]
    net = xn.Sequential([xn.LSTM(args.units, return_sequences=True),
                         xn.TimeDistributed(xn.Dense(V, activation="softmax"))],
                        input_size=(V, T), backend=args.backend, seed=0)
    hist = net.fit(X, Y, optimizer=xn.Adam(learning_rate=0.01), epochs=args.epochs, batch_size=45, clip_value=5.0)
    print(f"cost per character {hist.costs[0]:.3f} -> {hist.costs[-1]:.3f} (uniform guessing: {np.log(V):.3f})")
    samples = {}
    for temperature in (0.6, 1.0):
        drawn = xn.sample(net, 8, max_length=12, stop_id=0, temperature=temperature, seed=1)
        samples[temperature] = ["".join(chars[i] for i in s) for s in drawn]
        print(f"temperature {temperature}: {', '.join(samples[temperature])}")
    return {"costs": hist.costs, "samples": samples, "corpus": names}


if __name__ == "__main__":
    main()
