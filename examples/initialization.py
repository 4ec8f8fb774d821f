"""
Initialisation: zeros vs small random vs He
===========================================

Course 2, week 1, "Initialization". The course's 3-layer ReLU network [10, 5, 1] on a two-class planar set: zeros never break
symmetry (every unit of a layer learns the same thing and the cost stays at log 2), small
random weights learn slowly in a deep ReLU net, He initialisation learns quickly.

Each initialisation gets its own panel (same axes), so the zeros curve, flat at log 2, is
not hidden under small random's long plateau near the same value.

.. code-block:: bash

    python examples/initialization.py --out-dir plots
"""

from __future__ import annotations

import argparse
import math
import os

import xpnet as xn
from xpnet.data import planar_flower
from xpnet.plot import plot_panels


def main(argv=None):
    parser = argparse.ArgumentParser(description="Initialisation: zeros vs small random vs He")
    parser.add_argument("--inits", nargs="+", default=["zeros", "small_random", "he"])
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--m", type=int, default=400)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args(argv)

    X, Y = planar_flower(m=args.m, seed=1)
    X = X / X.std(axis=1, keepdims=True)
    curves, notes = {}, {}
    for init in args.inits:
        net = xn.Sequential([xn.Dense(10, activation="relu", init=init), xn.Dense(5, activation="relu", init=init),
                             xn.Dense(1, activation="sigmoid", init=init)], input_size=2, backend=args.backend, seed=3)
        hist = net.fit(X, Y, optimizer=xn.GradientDescent(args.learning_rate), epochs=args.epochs)
        curves[init] = hist.costs
        accuracy = net.evaluate(X, Y)["accuracy"]
        notes[init] = f"final cost {hist.costs[-1]:.3f}, accuracy {accuracy:.2f}"
        print(f"{init:12s}: final cost {hist.costs[-1]:.4f}, accuracy {accuracy:.3f}")

    path = plot_panels(curves, os.path.join(args.out_dir, "initialization.png"), notes=notes,
                       hline=(math.log(2.0), "log 2 (guessing)"),
                       title="Initialisation of a 3-layer ReLU network [10, 5, 1]: cost per epoch")
    print(f"saved {path}")
    return curves


if __name__ == "__main__":
    main()
