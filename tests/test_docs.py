"""The documentation builds with warnings as errors (Sphinx, numpydoc, sphinx-gallery).

The build runs on a copy of docs/ and examples/ in a temporary folder, so it leaves no
generated files in the checkout. The default build does not run the gallery's examples
(``-D plot_gallery=0``: tests/test_examples.py runs them); the slow test runs them too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS_NEEDS = ("sphinx", "numpydoc", "pydata_sphinx_theme", "sphinx_gallery")
pytestmark = pytest.mark.skipif(not (ROOT / "docs" / "conf.py").exists(), reason="docs/ not beside the tests")


def _needs_docs_extra():
    for module in DOCS_NEEDS:
        pytest.importorskip(module, reason=f"the docs build needs {module}: pip install -e '.[docs]'")


def _build(tmp_path, *options, extra_pages=None):
    _needs_docs_extra()
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns(
        "_build", "generated", "auto_examples", "_api_list.rst", "sg_execution_times.rst"))
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("*.png"))
    for name, text in (extra_pages or {}).items():
        (tmp_path / "docs" / "guide" / name).write_text(text)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", *options,
                           str(tmp_path / "docs"), str(tmp_path / "html")],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return tmp_path / "html"


def test_docs_build_without_warnings_and_pick_up_any_guide_page(tmp_path):
    # Other work drops pages into docs/guide/; an empty one, or one this project has never
    # heard of, must be listed by the glob and must not fail the build.
    html = _build(tmp_path, "-D", "plot_gallery=0", extra_pages={
        "zz_empty.rst": "",
        "zz_unknown_topic.rst": "An unknown topic\n================\n\nText.\n",
    })
    for page in ("index", "install", "quickstart", "user_guide", "api", "benchmarks", "auto_examples/index",
                 "guide/errors", "generated/xpnet.Sequential", "generated/xpnet.data", "guide/zz_unknown_topic"):
        assert (html / f"{page}.html").exists(), page
    guide = (html / "user_guide.html").read_text()
    assert "An unknown topic" in guide and "Errors and what they say" in guide
    # The API reference comes from the docstrings: numpydoc's sections are there.
    sequential = (html / "generated" / "xpnet.Sequential.html").read_text()
    assert "Parameters" in sequential and "summary" in sequential


@pytest.mark.slow
def test_docs_gallery_runs_the_examples_and_shows_their_figures(tmp_path):
    pytest.importorskip("matplotlib", reason="the gallery's figures need matplotlib: pip install -e '.[plot]'")
    html = _build(tmp_path)
    images = sorted(p.name for p in (html / "_images").glob("sphx_glr_*.png"))
    for example in ("learning_rate", "initialization", "depth_vs_width", "vanishing_gradients"):
        assert f"sphx_glr_{example}_001.png" in images, images
