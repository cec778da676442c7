"""Backends: one module per target prints the kernel IR; this registry builds and loads the result.

Each target turns a `Kernel` into source text (`render`; `fastmath` and `steps_driver` are honoured
where the target has them), the source into files in a cache entry
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

    def render(self, kernel: Kernel, header: list[str], fastmath=False, steps_driver=False) -> str:
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

    def render(self, kernel: Kernel, header: list[str], fastmath=False, steps_driver=False) -> str:
        from . import c as impl
        return impl.render(kernel, header, steps_driver)

    def build(self, source: str, directory: Path, fastmath: bool) -> None:
        from . import c as impl
        impl.build(source, directory, fastmath)

    def load(self, directory: Path, meta: dict):
        from . import c as impl
        extra = [meta["steps_signature"]] if "steps_signature" in meta else []
        ffi, fns, lib = impl.load(directory / "kernel.so", [meta["signature"]] + extra)
        ptr = "float *" if meta["dtype"] == "float32" else "double *"
        cast = ffi.cast

        def run(arrays, params, outputs, shape, _lib=lib):
            fns[0](*[cast(ptr, a.ctypes.data) for a in arrays], *params,
                   *[cast(ptr, o.ctypes.data) for o in outputs], *shape)

        def steps(arrays, params, outputs, spares, shape, count, _lib=lib):
            fns[1](*[cast(ptr, a.ctypes.data) for a in arrays], *params,
                   *[cast(ptr, o.ctypes.data) for o in outputs],
                   *[cast(ptr, o.ctypes.data) for o in spares], *shape, count)
        if extra:
            run.steps = steps
        return run


class CudaTarget:
    name = "cuda"
    source_file = "kernel.cu"

    def toolchain_id(self, fastmath: bool) -> str:
        from . import cuda as impl
        return impl.toolchain_id(fastmath)

    def render(self, kernel: Kernel, header: list[str], fastmath=False, steps_driver=False) -> str:
        from . import cuda as impl
        return impl.render(kernel, header)

    def build(self, source: str, directory: Path, fastmath: bool) -> None:
        from . import cuda as impl
        impl.build(source, directory, fastmath)

    def load(self, directory: Path, meta: dict):
        from . import cuda as impl
        return impl.load(directory, meta)


class NumbaTarget:
    name = "numba"
    source_file = "kernel.py"

    def toolchain_id(self, fastmath: bool) -> str:
        from . import numba as impl
        return impl.toolchain_id(fastmath)

    def render(self, kernel: Kernel, header: list[str], fastmath=False, steps_driver=False) -> str:
        from . import numba as impl
        return impl.render(kernel, header, fastmath)

    def build(self, source: str, directory: Path, fastmath: bool) -> None:
        from . import numba as impl
        impl.build(source, directory)

    def load(self, directory: Path, meta: dict):
        from . import numba as impl
        fn = impl.load(directory)

        def run(arrays, params, outputs, shape):
            # the kernel's signature takes read-only inputs, so any array of the right type matches
            fn(*arrays, *params, *outputs, *shape)
        return run


TARGETS = {"numpy": NumpyTarget(), "c": CTarget(), "numba": NumbaTarget(), "cuda": CudaTarget()}


def target(name: str):
    """The backend called `name`; an unknown name is a StencilError listing the known ones."""
    if name not in TARGETS:
        raise StencilError(f"backend {name!r} is not known; accepted: {', '.join(TARGETS)}")
    return TARGETS[name]
