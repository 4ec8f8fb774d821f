#!/usr/bin/env bash
# Download the wheels that the lent GPU machine lacks (it has CuPy, PyTorch, NumPy, pytest,
# pytest-benchmark, hypothesis, scikit-learn; no network) for tools/gpu-check.sh. Run it here,
# then carry .whl/ to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
    array-api-compat==1.16.0 array-api-strict==2.6.1
ls .whl
