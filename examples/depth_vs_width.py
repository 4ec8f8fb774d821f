"""
Depth vs width on the parity of n bits
======================================

Course 1, week 4: "why deep representations". The course's circuit-theory argument: parity of n bits can be computed by O(log n) layers of
a few units, while one hidden layer needs exponentially many. This trains shallow-and-wide
and deep-and-narrow tanh networks (Adam) on all 2**n bit patterns and plots their cost per
epoch, with each network's parameter count in the legend, so you can compare them at similar
sizes. Expect the experiment to be more nuanced than the theory: gradient descent does not
find the compact deep circuit easily, and very narrow deep nets (2-2-2) can get stuck.

.. code-block:: bash

    python examples/depth_vs_width.py --bits 8 --out-dir plots
"""

from __future__ import annotations

import argparse
import itertools
import os

import numpy as np

import xpnet as xn
from xpnet.plot import plot_curves


def parity_data(n_bits):
    """Every n-bit pattern as a column of X (n_bits, 2**n_bits) in {-1, 1}; Y = XOR of the bits."""
    bits = np.array(list(itertools.product([0, 1], repeat=n_bits)), dtype=np.float64).T
    Y = (bits.sum(axis=0, keepdims=True) % 2).astype(np.float64)
    return 2.0 * bits - 1.0, Y


def main(argv=None):
    parser = argparse.ArgumentParser(description="Depth vs width on the parity of n bits")
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=800)
    parser.add_argument("--architectures", nargs="+", default=["4", "8", "16", "4,4", "4,4,4", "8,8,8"],
                        help="hidden sizes per network, e.g. 64 (one wide layer) or 8,8,8 (three narrow)")
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args(argv)

    X, Y = parity_data(args.bits)
    curves = {}
    for spec in args.architectures:
        hidden = [int(n) for n in spec.split(",")]
        net = xn.Sequential([xn.Dense(n, activation="tanh") for n in hidden] + [xn.Dense(1, activation="sigmoid")],
                            input_size=args.bits, backend=args.backend, seed=1)
        n_params = sum(int(np.prod(s)) for s in net.parameter_shapes().values())
        hist = net.fit(X, Y, optimizer=xn.Adam(0.01), epochs=args.epochs)
        accuracy = net.evaluate(X, Y)["accuracy"]
        label = f"{'-'.join(map(str, hidden))} ({len(hidden)} hidden, {n_params} params)"
        curves[label] = hist.costs
        print(f"{label}: final cost {hist.costs[-1]:.4f}, accuracy {accuracy:.3f}")

    path = plot_curves(curves, os.path.join(args.out_dir, "depth_vs_width.png"),
                       title=f"XOR of {args.bits} bits: depth vs width (Adam)", log_y=True)
    print(f"saved {path}")
    return curves


if __name__ == "__main__":
    main()
