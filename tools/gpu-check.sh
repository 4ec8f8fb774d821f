#!/usr/bin/env bash
# The GPU check, as ONE command for a lent CUDA machine (the parts and their time limits are
# in tools/gpu_check.py). Exits non-zero when CuPy cannot run, when any part fails or is
# killed by its time limit, or when every GPU row skipped. JSON goes to bench/results/.
#   tools/gpu-check.sh              the real check (under 8 minutes on one H200)
#   tools/gpu-check.sh --dry-run    its CPU parts on tiny sizes, on any machine
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then  # wheels the GPU machine lacks (tools/fetch-gpu-wheels.sh)
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# The whole run's limit: the parts' own limits add up to less.
exec timeout --kill-after=10 470 python3 tools/gpu_check.py "$@"
