"""Every Python example in the README runs as written (in a fresh interpreter, warnings as errors)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import xpnet as xn

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _needs(code: str) -> list[str]:
    """Optional libraries an example imports."""
    return [lib for lib in ("sklearn", "dask", "matplotlib") if re.search(rf"^\s*(from|import) {lib}\b", code, re.M)]


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path):
    for lib in _needs(code):
        pytest.importorskip(lib)
    env = dict(os.environ)
    src = str(Path(xn.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_there_are_examples():
    assert len(BLOCKS) >= 10
