"""Backends: one module per target prints the kernel IR, builds it and loads it; this is their registry.

Every backend module declares at its top `BACKEND`, a `backend.Backend`: its name, the name of its
source in a cache entry, the IR passes it wants (by name), and its capabilities (split boundary
strips, a multi-step driver, the modules it needs to build and run). The pipeline (api.py), the
command line and the tests read these records; none of them branches on a target's name. A module
also defines `signature(kernel)` (its C prototype, or None for targets without one),
`metadata(kernel, steps_driver)` (what its `load` needs from the cache entry), `render(kernel, header,
*, fastmath, steps_driver)` (source text), `toolchain_id(fastmath)` (what outside the source changes
the artifact: part of the cache key), `build(source, directory, fastmath)` (files into a cache entry)
and `load(directory, meta)` (a runner `run(arrays, params, outputs, shape)`, where `arrays` are the
state then input-field arrays, C-contiguous in the kernel dtype, `params` the scalars in call order
and `outputs` the output arrays).

Adding a backend is three things: a printer (a module here whose SymPy printer takes the shared rules
of `printing.py` and adds the target's syntax, with the functions above), a template
(`templates/<name>/`), and one entry in `_REGISTRY` below; a backend that needs modules to build also
gets an extra of its name in pyproject.toml.
"""
from __future__ import annotations

from types import ModuleType

from ..errors import StencilError
from . import c, cuda, numba, numpy

_REGISTRY: dict[str, ModuleType] = {m.BACKEND.name: m for m in (numpy, c, numba, cuda)}

TARGETS = tuple(_REGISTRY)


def target(name: str, what: str = "backend") -> ModuleType:
    """The backend module called `name`; an unknown name is a StencilError listing the known ones
    (`what` is the option's name in the message)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise StencilError(f"{what} {name!r} is not known; accepted: {', '.join(TARGETS)}")
    return _REGISTRY[name]
