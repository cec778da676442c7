"""NumPy backend (the reference): the kernel IR printed as vectorised slice arithmetic.

Takes a `Kernel`; gives Python source (through `NumPyKernelPrinter`, a `NumPyPrinter` subclass, and
`templates/numpy/kernel.py.j2`) in which each region is one block of whole-array expressions: the
interior reads neighbours as shifted slices, the boundary strips read through the IR's index maps with
`numpy.ix_`. Slow but simple and always available; every other backend is tested against it.
"""
from __future__ import annotations

from pathlib import Path

from sympy.printing.numpy import NumPyPrinter

from ..ir import Kernel
from ..templates_env import environment
from .backend import Backend, no_metadata, no_prototype
from .printing import KernelPrinter, Layouts, declarations, point_offset

BACKEND = Backend(name="numpy", source_file="kernel.py", passes=("cse",))


class NumPyKernelPrinter(KernelPrinter, NumPyPrinter):
    """Prints IR expressions over whole regions: an element at the loop point plus a constant is a
    slice of the region's box, any other (an index map's result) a `numpy.ix_` gather."""

    min_function = "numpy.minimum"
    max_function = "numpy.maximum"

    def __init__(self):
        super().__init__(settings={"fully_qualified_modules": True, "inline": True})

    def element(self, array: str, indices) -> str:
        offset = point_offset(indices)
        if offset is None:
            return f"{array}[numpy.ix_({', '.join(self._print(i) for i in self.positions(array, indices))})]"
        # the region's box, moved by the offset, where it lies in the array
        starts = self.positions(array, [start + o for (start, _), o in zip(self.region.bounds, offset)])
        stops = self.positions(array, [stop + o for (_, stop), o in zip(self.region.bounds, offset)])
        return f"{array}[{', '.join(f'{self._print(a)}:{self._print(b)}' for a, b in zip(starts, stops))}]"

    def conditional(self, cond: str, then: str, otherwise: str) -> str:
        return f"numpy.where({cond}, {then}, {otherwise})"

    # complex values: NumPy's functions take either kind, and the real-valued ones return reals
    def _print_re(self, expr) -> str:
        return f"numpy.real({self._print(expr.args[0])})"

    def _print_im(self, expr) -> str:
        return f"numpy.imag({self._print(expr.args[0])})"

    def _print_conjugate(self, expr) -> str:
        return f"numpy.conjugate({self._print(expr.args[0])})"

    def _print_arg(self, expr) -> str:
        return f"numpy.angle({self._print(expr.args[0])})"

    def _print_ImaginaryUnit(self, expr) -> str:
        return "1j"


signature, metadata = no_prototype, no_metadata   # a Python function: load needs only its name


def render(kernel: Kernel, header: list[str], *, fastmath: bool = False,
           steps_driver: bool = False) -> str:
    """The kernel as a Python module defining one function of the C signature's arguments."""
    p = NumPyKernelPrinter()
    p.layouts = Layouts(kernel.ndim, kernel.layouts)
    return environment().get_template("numpy/kernel.py.j2").render(
        header=header, name=kernel.name, real_dtype=kernel.real_dtype, ndim=kernel.ndim,
        arguments=declarations(kernel, {"input": "{}", "scalar": "{}", "output": "{}", "index": "{}"}),
        regions=[p.view(region) for region in kernel.regions])


def load_source(source: str, name: str):
    """The kernel function defined by `source`."""
    namespace: dict = {}
    exec(compile(source, f"<stencilc numpy kernel {name}>", "exec"), namespace)
    return namespace[name]


# ------------------------------------------------------------------ building and loading

def toolchain_id(fastmath: bool) -> str:
    import numpy
    return f"numpy {numpy.__version__}"


def build(source: str, directory: Path, fastmath: bool) -> None:
    (directory / BACKEND.source_file).write_text(source)


def load(directory: Path, meta: dict):
    fn = load_source((directory / BACKEND.source_file).read_text(), meta["name"])

    def run(arrays, params, outputs, shape):
        fn(*arrays, *params, *outputs, *shape)
    return run
