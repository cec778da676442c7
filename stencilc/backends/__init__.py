"""Backends: one module per target prints the kernel IR, builds it and loads it.

Every backend module has the same interface, which the pipeline (api.py) uses without knowing the
target: `SOURCE_FILE` (the source's name in a cache entry), `toolchain_id(fastmath)` (what outside the
source changes the artifact: part of the cache key), `render(kernel, header, *, fastmath,
steps_driver)` (source text; options a target does not have are ignored), `build(source, directory,
fastmath)` (files into a cache entry), and `load(directory, meta)` (a runner
`run(arrays, params, outputs, shape)`, where `arrays` are the state then input-field arrays,
C-contiguous in the kernel dtype, `params` the scalar parameters in call order and `outputs` the
output arrays). Adding a backend is one module and one template directory.
"""
from __future__ import annotations

import importlib

from ..errors import StencilError

TARGETS = ("numpy", "c", "numba", "cuda")


def target(name: str):
    """The backend module called `name`; an unknown name is a StencilError listing the known ones."""
    if name not in TARGETS:
        raise StencilError(f"backend {name!r} is not known; accepted: {', '.join(TARGETS)}")
    return importlib.import_module(f".{name}", __name__)
