"""Sphinx configuration of stencilc's documentation: the user guide, the API reference (autodoc +
numpydoc) and the example gallery (sphinx-gallery over examples/, glue in _ext/stencilc_docs.py).

Build with warnings as errors, from the repository root:

    python -m pip install -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html
"""
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))   # the stencilc under this tree, installed or not

import stencilc  # noqa: E402
import stencilc_docs  # noqa: E402

# The gallery runs small grids: more OpenMP threads than one only add start-up and contention.
os.environ.setdefault("OMP_NUM_THREADS", "1")

project = "stencilc"
author = "the stencilc developers"
copyright = "the stencilc developers"
version = release = stencilc.__version__

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "stencilc_docs",
]

exclude_patterns = ["_build", "_gallery_src", "gallery", "gallery_header.rst", "Thumbs.db", ".DS_Store"]
templates_path = []
default_role = "py:obj"          # `name` in a docstring links to it where Sphinx knows it
highlight_language = "python"

# --- API reference
autodoc_member_order = "bysource"
autodoc_typehints = "none"       # the numpydoc sections say what each argument is
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# --- gallery
stencilc_docs.mirror_examples()
stencilc_docs.write_cli_help()
sphinx_gallery_conf = {
    "examples_dirs": "_gallery_src",
    "gallery_dirs": stencilc_docs.GALLERY_OUT,
    "filename_pattern": r".*\.py$",          # run every example, not only plot_*.py
    "ignore_pattern": r"_common\.py$",       # the shared plumbing is no example
    "reset_argv": "stencilc_docs.gallery_argv",
    "image_scrapers": ("stencilc_docs.example_pictures",),
    "within_subsection_order": "stencilc_docs.order_key",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "line_numbers": False,
    "capture_repr": (),
    "abort_on_example_error": True,
    "write_computation_times": False,
}

# --- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"stencilc {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
