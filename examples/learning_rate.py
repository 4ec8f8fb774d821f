"""
Learning rate: too small, about right, too large
================================================

Course 1, week 3 and course 2, week 2. Trains the same tanh network on the planar flower with three learning rates and plots the
cost per epoch: too small crawls, too large oscillates or diverges (xpnet stops with
TrainingDivergedError; the curve up to that point is kept by a per-epoch hook).

Each learning rate gets its own panel on a shared log-scale cost axis, so a curve that
blows up cannot hide one that crawls.

.. code-block:: bash

    python examples/learning_rate.py --out-dir plots
"""

from __future__ import annotations

import argparse
import os

import xpnet as xn
from xpnet.data import planar_flower
from xpnet.plot import plot_panels


def main(argv=None):
    parser = argparse.ArgumentParser(description="Learning rate: too small, about right, too large")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.005, 1.2, 30.0])
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--m", type=int, default=400, help="number of examples")
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args(argv)

    X, Y = planar_flower(m=args.m, seed=1)
    curves, notes = {}, {}
    for lr in args.learning_rates:
        costs = []
        net = xn.Sequential([xn.Dense(8, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                            input_size=2, backend=args.backend, seed=1)
        hook = xn.LambdaCallback(on_epoch_end=lambda epoch, logs, costs=costs: costs.append(logs["cost"]))
        try:
            net.fit(X, Y, optimizer=xn.GradientDescent(lr), epochs=args.epochs, callbacks=[hook])
            note = f"accuracy {net.evaluate(X, Y)['accuracy']:.3f}"
        except xn.TrainingDivergedError:
            note = f"diverged at epoch {len(costs)}"
        curves[lr] = costs
        notes[f"learning rate {lr:g}"] = note if costs else "diverged in the first epoch"
        print(f"learning rate {lr:g}: final cost {costs[-1] if costs else float('nan'):.4f}, {note}")

    path = plot_panels({f"learning rate {lr:g}": costs for lr, costs in curves.items()},
                       os.path.join(args.out_dir, "learning_rate.png"), notes=notes,
                       title="Learning rate: too small, about right, too large (cost per epoch, log scale)", log_y=True)
    print(f"saved {path}")
    return curves


if __name__ == "__main__":
    main()
