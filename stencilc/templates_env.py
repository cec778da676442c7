"""The jinja2 environment over `templates/` (in a source checkout) or the installed copy."""
from __future__ import annotations

import functools
from pathlib import Path

import jinja2


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent
    source_tree = here.parent / "templates"
    if (source_tree / "c").is_dir():
        return source_tree
    from importlib.resources import files
    return Path(str(files("stencilc.templates")))


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)
