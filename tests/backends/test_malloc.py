"""The NumPy backend keeps freed host memory mapped (glibc), so a step's temporaries stop
costing a page fault per 4 KiB at every step; ``XPNET_MALLOC=system`` opts out."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or "musl" in (ctypes.util.find_library("c") or ""),
    reason="the malloc tuning applies to Linux with glibc only",
)

# Page faults taken by the last of several forward + backward steps of a Transformer block.
_PROBE = """
import resource
import numpy as np
import xpnet as xn
block = xn.TransformerEncoderBlock(128, heads=8, d_ff=512)
xn.Sequential([block], input_size=(128, 50), backend="numpy", dtype="float32", seed=0)
X = np.random.default_rng(0).normal(size=(128, 32, 50)).astype(np.float32)
def step():
    out, cache = block.forward(X, training=True)
    block.backward(out, cache)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(**env):
    # Only the policy under test: none inherited from the environment running the tests.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "XPNET_MALLOC"}
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True,
                         env={**inherited, **env})
    return int(out.stdout.strip().splitlines()[-1])


def test_a_numpy_backend_keeps_freed_memory_for_the_next_step():
    """With glibc's defaults a step maps fresh pages for its temporaries; tuned, it reuses them."""
    system, tuned = _faults(XPNET_MALLOC="system"), _faults()
    assert system > 1000
    assert tuned < system / 20


def test_a_malloc_policy_set_in_the_environment_is_left_alone():
    """A dask nanny starts its workers with MALLOC_TRIM_THRESHOLD_ (memory back at once, as its
    memory limits need); xpnet must not undo that."""
    assert _faults(MALLOC_TRIM_THRESHOLD_="65536") > 1000
