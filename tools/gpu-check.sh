#!/usr/bin/env bash
# The GPU checks the issues ask for, as ONE script for a lent GPU machine (see README: Benchmarks).
# Writes everything under ${OUT:-gpu-results}/ and prints a short summary last.
#   1. the whole test suite, so the cupy (and torch CUDA) cases run instead of skipping;
#   2. 2,500 epochs of the course net [12288, 20, 7, 5, 1], m = 209, on cupy vs numpy;
#   3. xpnet bench (numpy vs cupy vs torch CUDA) with the full-size GEMM-bound net.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
python3 -m xpnet info > "$OUT/info.txt" 2>&1

# 1. The suite: what needs a library the machine lacks skips with its reason.
timeout 400 python3 -m pytest -q -p no:cacheprovider -rs tests > "$OUT/pytest.txt" 2>&1
python3 -m pytest -q -p no:cacheprovider tests -m gpu -k cupy > "$OUT/pytest-cupy.txt" 2>&1

# 2. The course net, 2,500 epochs of full-batch gradient descent, cupy vs numpy.
python3 - > "$OUT/course-2500.txt" 2>&1 <<'PY'
import time
import numpy as np
import xpnet as xn

X = np.random.default_rng(1).uniform(0, 1, size=(12288, 209))
Y = (np.random.default_rng(2).uniform(size=(1, 209)) > 0.5) * 1.0
for backend in ("numpy", "cupy"):
    net = xn.Sequential([xn.Dense(20, activation="relu"), xn.Dense(7, activation="relu"),
                         xn.Dense(5, activation="relu"), xn.Dense(1, activation="sigmoid")],
                        input_size=12288, backend=backend, dtype="float32", seed=1)
    net.fit(X, Y, learning_rate=0.0075, epochs=5)  # warm-up: kernel compilation, memory pool
    net.backend.synchronize()
    start = time.perf_counter()
    hist = net.fit(X, Y, learning_rate=0.0075, epochs=2500)
    net.backend.synchronize()
    print(f"{backend}: 2500 epochs in {time.perf_counter() - start:.2f} s, final cost {hist.costs[-1]:.6f}")
PY

# 3. The benchmark table with the GEMM-bound net at its full size.
python3 -m xpnet bench --rounds 15 --gemm-m 8192 --json "$OUT/bench.json" > "$OUT/bench.txt" 2>&1

echo "== GPU";        cat "$OUT/gpu.txt"
echo "== suite";      tail -n 1 "$OUT/pytest.txt"
echo "== cupy only";  tail -n 1 "$OUT/pytest-cupy.txt"
echo "== course net"; cat "$OUT/course-2500.txt"
echo "== bench";      sed -n '/^ratio/,$p' "$OUT/bench.txt"
