"""Sphinx configuration: pydata-sphinx-theme, numpydoc API reference, sphinx-gallery over examples/.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (``pip install -e '.[docs]'``).
``-D plot_gallery=0`` builds the gallery pages without running the examples (seconds
instead of a minute); the figures then are placeholders.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))  # xpnet_png_scraper

import xpnet  # noqa: E402

project = "xpnet"
author = "xpnet developers"
copyright = "xpnet developers, MIT licence"
release = version = xpnet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "_api_list.rst", "**/_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.pickle", "auto_examples/*.codeobj.json"]
templates_path = ["_templates"]
html_static_path = []
html_theme = "pydata_sphinx_theme"
html_title = f"xpnet {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "navigation_with_keys": False,
}
html_show_sourcelink = False

# API reference: one page per public object, from its numpydoc docstring.
autosummary_generate = ["api.rst", "_api_list.rst"]  # the second is included by the first
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": True}
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

intersphinx_mapping = {}  # no network at build time: links to NumPy's docs are plain text

# Pages other work adds under docs/guide/ are picked up by a glob; one that is empty or
# has no title must not fail the -W build.
suppress_warnings = ["toc.no_title"]

# Docstrings write |z| for an absolute value (the course's notation), which reStructuredText
# would read as a substitution.
rst_prolog = """
.. |z| replace:: \\|z\\|
"""


# -- sphinx-gallery: the course's lessons in examples/ ----------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",  # run every example
    "image_scrapers": ("xpnet_png_scraper.png_scraper",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "show_signature": False,
}


# -- the API list is generated from xpnet.__all__, so new public names appear on their own --------
def _write_api_list():
    import inspect

    groups = {"Models and layers": [], "Optimisers and callbacks": [], "Backends and arrays": [],
              "Saving and loading": [], "Errors": [], "Functions": [], "Modules": []}
    for name in xpnet.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(xpnet, name)
        if inspect.ismodule(obj):
            continue  # the module sections below document them
        if inspect.isclass(obj) and issubclass(obj, Exception):
            groups["Errors"].append(name)
        elif inspect.isclass(obj) and (issubclass(obj, (xpnet.Layer,)) or name in ("Sequential", "History")):
            groups["Models and layers"].append(name)
        elif inspect.isclass(obj) and (issubclass(obj, (xpnet.optim.Optimizer, xpnet.Callback))):
            groups["Optimisers and callbacks"].append(name)
        elif name in ("save", "load", "read_header"):
            groups["Saving and loading"].append(name)
        elif name in ("Backend",) or "backend" in name or name == "to_numpy":
            groups["Backends and arrays"].append(name)
        else:
            groups["Functions"].append(name)
    lines = [".. currentmodule:: xpnet", ""]
    for title, names in groups.items():
        if not names:
            continue
        lines += [title, "-" * len(title), "", ".. autosummary::", "   :toctree: generated", ""]
        lines += [f"   {n}" for n in names] + [""]
    text = "\n".join(lines)
    path = HERE / "_api_list.rst"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


_write_api_list()
