"""The design rule that makes xpnet portable: model code never imports NumPy or CuPy."""

from __future__ import annotations

import ast
from pathlib import Path

import xpnet

SRC = Path(xpnet.__file__).parent
# DESIGN.md: only these may touch a concrete array library (benchmarks.py times NumPy, CuPy and
# PyTorch side by side; data/lazy.py opens files as dask arrays).
ALLOWED = ("backends/", "initializers.py", "reference.py", "benchmarks.py", "data.py", "io.py", "cli.py", "sklearn.py",
           "data/", "io/", "cli/", "sklearn/")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_model_code_imports_no_array_library():
    offenders = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(ALLOWED) or rel in ALLOWED:
            continue
        bad = _imports(path) & {"numpy", "cupy", "torch", "dask"}
        if bad:
            offenders[rel] = sorted(bad)
    assert not offenders, f"model code must use the array namespace, not: {offenders}"


def test_the_scan_would_catch_an_import(tmp_path):
    bad = tmp_path / "layers.py"
    bad.write_text("import numpy as np\nfrom cupy import ndarray\n")
    assert _imports(bad) == {"numpy", "cupy"}
