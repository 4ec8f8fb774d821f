"""
Vanishing gradients: deep sigmoid vs ReLU
=========================================

Course 2, week 1: a deep sigmoid network vs the same depth with ReLU. At initialisation, backpropagation multiplies by sigmoid'(Z) <= 1/4 once per layer, so the
gradient norm ||dW[l]|| shrinks geometrically towards the input; with ReLU and He
initialisation it stays of the same order. The plot shows ||dW[l]|| per layer l (log scale)
from ``net.gradients(X, Y)``, before and after some training.

.. code-block:: bash

    python examples/vanishing_gradients.py --depth 10 --out-dir plots
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import xpnet as xn
from xpnet.data import planar_flower
from xpnet.plot import plot_curves


def layer_norms(net, X, Y):
    """||dW[l]|| (Frobenius) for l = 1..L."""
    grads = net.gradients(X, Y)
    L = sum(1 for k in grads if k.startswith("dW"))
    return [float(np.linalg.norm(xn.to_numpy(grads[f"dW{l}"]))) for l in range(1, L + 1)]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Vanishing gradients: deep sigmoid vs ReLU")
    parser.add_argument("--depth", type=int, default=10, help="hidden layers")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=200, help="training before the second measurement")
    parser.add_argument("--m", type=int, default=400)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args(argv)

    X, Y = planar_flower(m=args.m, seed=1)
    X = X / X.std(axis=1, keepdims=True)
    norms = {}
    for activation in ("sigmoid", "relu"):
        layers = [xn.Dense(args.width, activation=activation) for _ in range(args.depth)]
        net = xn.Sequential(layers + [xn.Dense(1, activation="sigmoid")], input_size=2, backend=args.backend,
                            dtype="float64", seed=1)
        norms[f"{activation}, initial"] = layer_norms(net, X, Y)
        net.fit(X, Y, optimizer=xn.GradientDescent(0.1), epochs=args.epochs)
        norms[f"{activation}, after {args.epochs} epochs"] = layer_norms(net, X, Y)
        first, last = norms[f"{activation}, initial"][0], norms[f"{activation}, initial"][-1]
        print(f"{activation:8s}: ||dW1|| / ||dW{args.depth + 1}|| = {first / last:.3g} at initialisation")

    path = plot_curves(norms, os.path.join(args.out_dir, "vanishing_gradients.png"),
                       title=f"Gradient norm per layer, {args.depth} hidden layers of {args.width}",
                       xlabel="layer l", ylabel="||dW[l]||", log_y=True,
                       styles={label: {"marker": "o", "linestyle": "--" if "after" in label else "-"} for label in norms})
    print(f"saved {path}")
    return norms


if __name__ == "__main__":
    main()
