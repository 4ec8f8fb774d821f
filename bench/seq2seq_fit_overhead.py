"""The shared training loop's overhead on a Transformer: ``fit`` against a bare loop.

The bare loop is the least a training step can do (forward, cost, backward, the optimiser's
update on each batch, no checks, no snapshot, no rollback); ``fit`` adds the loop's
bookkeeping (validation of arguments, the per-epoch snapshot and finite check, History,
callbacks). Both run in this process on the same model, interleaved, and the ratio of the
minima over the repetitions is printed.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python bench/seq2seq_fit_overhead.py
"""

from __future__ import annotations

import time

import numpy as np

import xpnet as xn
from xpnet import losses


def main(m=2000, T=12, V=13, batch=100, reps=7):
    g = np.random.default_rng(0)
    Xe, Xd, Y = (g.integers(1, V, size=(m, T)) for _ in range(3))
    model = xn.Transformer(1, 32, 4, 64, V, V, backend="numpy", seed=0)
    model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.003), epochs=1, batch_size=batch)  # builds, warms up
    loss = losses.get("categorical_crossentropy")
    Y1 = np.moveaxis(np.eye(V, dtype=np.float32)[Y], -1, 0)

    def bare():
        for s in range(0, m, batch):
            y = Y1[:, s:s + batch]
            AL, caches = model.forward(Xe[s:s + batch], Xd[s:s + batch], training=True)
            model.cost(AL, y, caches, loss)
            grads = model.backward(AL, y, caches, loss)
            model.assign_parameters(model.optimizer.update(model.parameters(), grads))

    def fit():
        model.fit(Xe, Xd, Y, epochs=1, batch_size=batch, shuffle=False)

    times = {"bare": [], "fit": []}
    for _ in range(reps):
        for name, run in (("bare", bare), ("fit", fit)):
            start = time.process_time()
            run()
            times[name].append(time.process_time() - start)
    best = {k: min(v) for k, v in times.items()}
    print(f"CPU s per epoch (min of {reps}): bare loop {best['bare']:.4f}, fit {best['fit']:.4f}, "
          f"ratio fit/bare {best['fit'] / best['bare']:.3f}")


if __name__ == "__main__":
    main()
