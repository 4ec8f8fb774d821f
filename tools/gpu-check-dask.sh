#!/usr/bin/env bash
# The dask:gpu check, separate from tools/gpu-check.sh (which may call it): on a CUDA machine,
# a dask-cuda LocalCUDACluster (one worker per GPU) trains a tanh network with CuPy chunks and
# must match NumPy; the client side never touches the GPU (it works with CUDA_VISIBLE_DEVICES
# hidden from it, the way a laptop drives a GPU cluster). Needs: pip install dask-cuda
# 'xpnet[dask,cuda12]'. Writes ${OUT:-gpu-results}/dask-gpu.txt and prints it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
timeout 300 python3 - > "$OUT/dask-gpu.txt" 2>&1 <<'PY'
import time

import numpy as np

try:
    from dask_cuda import LocalCUDACluster
except ImportError as exc:
    raise SystemExit(f"SKIP: dask-cuda is not installed ({exc}); pip install dask-cuda")
import distributed

import xpnet as xn

g = np.random.default_rng(0)
m, n_x = 200_000, 64
X = g.normal(size=(n_x, m))
Y = (X[0:1] * X[1:2] > 0).astype(np.float64)


def net(backend):
    return xn.Sequential([xn.Dense(32, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                         input_size=n_x, backend=backend, dtype="float64", seed=1)


if __name__ == "__main__":
    with LocalCUDACluster(dashboard_address=":0", scheduler_port=0) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        print("workers:", len(client.scheduler_info()["workers"]))
        backend = xn.get_backend("dask:gpu", client=client, chunks=25_000)
        print("backend:", backend.describe())
        gpu_net = net(backend)
        start = time.perf_counter()
        costs = gpu_net.fit(X, Y, learning_rate=0.5, epochs=5).costs
        print(f"dask:gpu 5 epochs in {time.perf_counter() - start:.2f} s")
        W1 = xn.to_numpy(gpu_net.parameters()["W1"])
        print("bytes sent by workers:", {k[-5:]: v["outgoing_bytes"] for k, v in backend.metrics().items()})
        # The same cluster driven by a client that sees no GPU, through the CLI.
        import os
        import subprocess
        import sys

        env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
        r = subprocess.run([sys.executable, "-m", "xpnet", "train", "--data", "breast_cancer", "--layers", "8",
                            "--activation", "tanh", "--epochs", "3", "--quiet", "--out", "/tmp/xpnet-dask-gpu-run",
                            "--backend", "dask:gpu", "--scheduler", cluster.scheduler_address],
                           capture_output=True, text=True, env=env, timeout=240)
        print("client without a GPU, via the CLI:", "PASS" if r.returncode == 0 else "FAIL")
        print(r.stdout[-1500:], r.stderr[-1500:])
    ref = net("numpy")
    expected = ref.fit(X, Y, learning_rate=0.5, epochs=5).costs
    np.testing.assert_allclose(costs, expected, rtol=1e-8)
    np.testing.assert_allclose(W1, ref.parameters()["W1"], rtol=0, atol=1e-8)
    print("PASS: dask:gpu on LocalCUDACluster matches NumPy (costs rtol 1e-8, W1 atol 1e-8)")
PY
echo "== dask:gpu"; cat "$OUT/dask-gpu.txt"
