"""
Neural machine translation with attention: human-readable dates to ISO dates (course 5, week 3)
===============================================================================================

"tuesday 3 may 1979", "05.03.79", "may 3, 1979" all become "1979-05-03". The source dates
are generated with the standard library (``datetime``) in a dozen formats, so nothing is
downloaded. A bidirectional LSTM encoder reads the characters (id 0 is padding, masked out
of the attention); an LSTM decoder, fed the target shifted right behind a start token,
attends over the encoder's outputs at each step (Luong-style ``CrossAttention``) and a
softmax picks the next character. Greedy decoding then translates dates it has not seen.

.. code-block:: bash

    python examples/date_translation.py --m 3000 --epochs 10
"""

from __future__ import annotations

import argparse
import datetime
import random

import numpy as np

import xpnet as xn

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FORMATS = [
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{d.day:02d} {MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    lambda d: f"{DAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{DAYS[d.weekday()]}, {MONTHS[d.month - 1][:3]} {d.day}, {d.year}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
    lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",
    lambda d: f"{d.day} {d.month:02d} {d.year % 100:02d}",
    lambda d: f"{d.year}/{d.month}/{d.day}",
]
TARGET_CHARS = "0123456789-"  # target ids 1..11; 0 is the decoder's start token
START = 0


def make_dates(m, seed):
    """m pairs (human date, ISO date) between 1950 and 2049 (two-digit years read as 19xx/20xx
    the same way: 50-99 -> 19xx, 00-49 -> 20xx)."""
    rng = random.Random(seed)
    first = datetime.date(1950, 1, 1).toordinal()
    pairs = []
    for _ in range(m):
        d = datetime.date.fromordinal(first + rng.randrange(36524))
        pairs.append((rng.choice(FORMATS)(d), d.isoformat()))
    return pairs


def encode(pairs, source_chars, T):
    """Source ids (m, T) padded with 0, decoder input and target ids (m, 10)."""
    index = {c: i + 1 for i, c in enumerate(source_chars)}
    src = np.zeros((len(pairs), T), dtype=np.int64)
    for j, (s, _) in enumerate(pairs):
        src[j, : len(s)] = [index[c] for c in s]
    tgt = np.array([[TARGET_CHARS.index(c) + 1 for c in iso] for _, iso in pairs])
    dec_in = np.concatenate([np.full((len(pairs), 1), START), tgt[:, :-1]], axis=1)
    return src, dec_in, tgt


def main(argv=None):
    parser = argparse.ArgumentParser(description='Neural machine translation with attention: human-readable dates to ISO dates (course 5, week 3)')
    parser.add_argument("--m", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--backend", default="numpy")
    args = parser.parse_args(argv)

    train, test = make_dates(args.m, seed=0), make_dates(300, seed=1)
    source_chars = sorted({c for s, _ in train + test for c in s})
    T = max(len(s) for s, _ in train + test)
    src, dec_in, tgt = encode(train, source_chars, T)
    V_src, V_tgt, n = len(source_chars) + 1, len(TARGET_CHARS) + 1, args.units
    model = xn.Seq2Seq(
        encoder=[xn.Embedding(V_src, 16), xn.Bidirectional(xn.LSTM(n, return_sequences=True), merge="sum")],
        decoder=[xn.Embedding(V_tgt, 16), xn.LSTM(n, return_sequences=True), xn.CrossAttention(n),
                 xn.TimeDistributed(xn.Dense(V_tgt, activation="softmax"))],
        mask_zero=True, backend=args.backend, seed=0)
    hist = model.fit(src, dec_in, tgt, optimizer=xn.Adam(learning_rate=0.01), epochs=args.epochs, batch_size=100,
                     clip_norm=5.0)
    test_src, _, test_tgt = encode(test, source_chars, T)
    decoded = xn.greedy_decode(model, test_src, START, max_length=10)
    iso = ["".join(TARGET_CHARS[i - 1] if i > 0 else "?" for i in seq) for seq in decoded]
    exact = float(np.mean([a == b for a, (_, b) in zip(iso, test)]))
    chars = float((np.array(decoded) == test_tgt).mean())
    print(f"cost {hist.costs[0]:.3f} -> {hist.costs[-1]:.3f}; on 300 new dates: {chars:.3f} of the characters, "
          f"{exact:.3f} of the dates exactly right")
    for (human, _), out in list(zip(test, iso))[:4]:
        print(f"  {human!r:32} -> {out}")
    return {"costs": hist.costs, "char_accuracy": chars, "date_accuracy": exact}


if __name__ == "__main__":
    main()
