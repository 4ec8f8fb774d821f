"""Every Python example in the README and in the documentation pages written with it runs as
written (in a fresh interpreter, warnings as errors)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import xpnet as xn

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The pages whose examples are this suite's to keep running; pages other work adds under
# docs/guide/ carry their own tests.
DOC_PAGES = ["index", "quickstart", "benchmarks", "guide/choosing_a_backend", "guide/networks", "guide/training",
             "guide/data", "guide/save_and_load", "guide/scikit_learn", "guide/recurrent_and_attention"]


def _rst_blocks(text: str) -> list[str]:
    """The bodies of ``.. code-block:: python`` directives, dedented."""
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text, flags=re.M):
        lines = match.group(1).rstrip().splitlines()
        blocks.append("\n".join(line[3:] for line in lines) + "\n")
    return blocks


def _examples():
    found = [(f"README-block{i}", code)
             for i, code in enumerate(re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S))]
    for page in DOC_PAGES:
        path = ROOT / "docs" / f"{page}.rst"
        if path.exists():
            found += [(f"{page}-block{i}", code) for i, code in enumerate(_rst_blocks(path.read_text()))]
    return found


EXAMPLES = _examples()


def _needs(code: str) -> list[str]:
    """Optional libraries an example imports or asks for as a backend (``backend="torch"``)."""
    libs = [lib for lib in ("sklearn", "dask", "distributed", "matplotlib", "torch")
            if re.search(rf"^\s*(from|import) {lib}\b", code, re.M)]
    libs += [lib for lib in ("torch", "dask") if re.search(rf"""backend\s*=\s*(xn\.get_backend\()?["']{lib}\b""", code)]
    if re.search(r"^\s*(from|import) dask\.distributed\b", code, re.M):
        libs.append("distributed")
    return list(dict.fromkeys(libs))


_EXTRA = {"sklearn": "sklearn", "dask": "dask", "distributed": "dask", "matplotlib": "plot", "torch": "torch"}


def test_needs_sees_imports_and_backend_names():
    assert _needs('net = xn.Sequential([], backend="torch", seed=1)') == ["torch"]
    assert _needs("from dask.distributed import Client\nimport xpnet") == ["dask", "distributed"]
    assert _needs('xn.get_backend("dask", chunks=1000)') == []
    assert _needs('backend=xn.get_backend("dask", chunks=10)') == ["dask"]
    assert _needs("import numpy as np") == []


@pytest.mark.parametrize("code", [code for _, code in EXAMPLES], ids=[name for name, _ in EXAMPLES])
def test_readme_example_runs(code, tmp_path):
    for lib in _needs(code):
        # The README's install line ('.[test]') does not bring every extra: an example that
        # needs one skips with the reason instead of failing a newcomer's first run.
        pytest.importorskip(lib, reason=f"this example needs {lib}: pip install 'xpnet[{_EXTRA.get(lib, lib)}]'")
    env = dict(os.environ)
    src = str(Path(xn.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_there_are_examples():
    names = [name for name, _ in EXAMPLES]
    assert any(n.startswith("README-") for n in names)
    assert len(EXAMPLES) >= 15, names


def test_rst_blocks_are_found_and_dedented():
    text = "Intro\n\n.. code-block:: python\n\n   import xpnet\n\n   print(1)\n\nAfter.\n"
    assert _rst_blocks(text) == ["import xpnet\n\nprint(1)\n"]
