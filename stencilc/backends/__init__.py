"""Backends: one module per target prints the kernel IR; this registry builds and loads the result.

Each target turns a `Kernel` into source text (`render`), the source into files in a cache entry
(`build`), and a cache entry into a runner `run(arrays, params, outputs, shape)` (`load`), where
`arrays` are the state then input-field arrays (C-contiguous, kernel dtype), `params` the scalar
parameters in call order and `outputs` the output arrays.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import StencilError
from ..ir import Kernel


class NumpyTarget:
    name = "numpy"
    source_file = "kernel.py"

    def toolchain_id(self, fastmath: bool) -> str:
        import numpy
        return f"numpy {numpy.__version__}"

    def render(self, kernel: Kernel, header: list[str]) -> str:
        from . import numpy as impl
        return impl.render(kernel, header)

    def build(self, source: str, directory: Path, fastmath: bool) -> None:
        (directory / self.source_file).write_text(source)

    def load(self, directory: Path, meta: dict):
        from . import numpy as impl
        fn = impl.load((directory / self.source_file).read_text(), meta["name"])

        def run(arrays, params, outputs, shape):
            fn(*arrays, *params, *outputs)
        return run


class CTarget:
    name = "c"
    source_file = "kernel.c"

    def toolchain_id(self, fastmath: bool) -> str:
        from . import c as impl
        return impl.toolchain_id(fastmath)

    def render(self, kernel: Kernel, header: list[str]) -> str:
        from . import c as impl
        return impl.render(kernel, header)

    def build(self, source: str, directory: Path, fastmath: bool) -> None:
        from . import c as impl
        impl.build(source, directory, fastmath)

    def load(self, directory: Path, meta: dict):
        from . import c as impl
        ffi, fn, lib = impl.load(directory / "kernel.so", meta["signature"])
        ptr = "float *" if meta["dtype"] == "float32" else "double *"
        cast = ffi.cast

        def run(arrays, params, outputs, shape, _lib=lib):
            fn(*[cast(ptr, a.ctypes.data) for a in arrays], *params,
               *[cast(ptr, o.ctypes.data) for o in outputs], *shape)
        return run


TARGETS = {"numpy": NumpyTarget(), "c": CTarget()}


def target(name: str):
    """The backend called `name`; an unknown name is a StencilError listing the known ones."""
    if name not in TARGETS:
        raise StencilError(f"backend {name!r} is not known; accepted: {', '.join(TARGETS)}")
    return TARGETS[name]
