"""NumPy backend (the reference): the kernel IR printed as vectorised slice arithmetic.

Takes a `Kernel`; gives Python source (through `NumPyKernelPrinter`, a `NumPyPrinter` subclass, and
`templates/numpy/kernel.py.j2`) in which each region is one block of whole-array expressions: the
interior reads neighbours as shifted slices, the boundary strips read through the IR's index maps with
`numpy.ix_`. Slow but simple and always available; every other backend is tested against it.
"""
from __future__ import annotations

from pathlib import Path

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from ..ir import Access, IntMax, IntMin, Kernel, MappedAccess, Region
from ..templates_env import environment
from .printing import nested_call


class NumPyKernelPrinter(NumPyPrinter):
    """Prints IR expressions over whole regions: accesses as slices or `numpy.ix_` gathers."""

    def __init__(self):
        super().__init__(settings={"fully_qualified_modules": True, "inline": True})
        self.region: Region | None = None

    def _print_Access(self, expr: Access) -> str:
        parts = []
        for (start, stop), o in zip(self.region.bounds, expr.offset):
            parts.append(f"{self._print(start + o)}:{self._print(stop + o)}")
        return f"{expr.field}[{', '.join(parts)}]"

    def _print_MappedAccess(self, expr: MappedAccess) -> str:
        return f"{expr.field}[numpy.ix_({', '.join(self._print(m) for m in expr.args[1:])})]"

    def _print_IntMin(self, expr: IntMin) -> str:
        return f"min({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_IntMax(self, expr: IntMax) -> str:
        return f"max({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        *branches, (last, _) = expr.args
        text = self._print(last)
        for value, cond in reversed(branches):
            text = f"numpy.where({self._print(cond)}, {self._print(value)}, {text})"
        return text

    def _print_Min(self, expr) -> str:
        return nested_call(self, "numpy.minimum", expr.args)

    def _print_Max(self, expr) -> str:
        return nested_call(self, "numpy.maximum", expr.args)


def render(kernel: Kernel, header: list[str], *, fastmath: bool = False,
           steps_driver: bool = False) -> str:
    """The kernel as a Python module defining one function of the C signature's arguments."""
    p = NumPyKernelPrinter()
    regions = []
    for region in kernel.regions:
        p.region = region
        axes = []
        for a, (start, stop) in enumerate(region.bounds):
            axes.append({"axis": a, "var": f"i{a}", "start": p.doprint(start), "stop": p.doprint(stop),
                         "setup": [{"name": s.target.name, "value": p.doprint(s.value),
                                    "is_index": s.is_index} for s in region.setup[a]]})
        regions.append({
            "comment": region.name + (": shifted slices" if region.interior
                                      else ": reads mapped by the boundary conditions"),
            "nonempty": [f"{ax['stop']} > {ax['start']}" for ax in axes],
            "axes": [] if region.interior else axes,
            "box": ", ".join(f"{ax['start']}:{ax['stop']}" for ax in axes),
            "body": [{"name": b.target.name, "value": p.doprint(b.value)} for b in region.body],
            "stores": [{"array": s.output, "value": p.doprint(s.value)} for s in region.stores],
        })
    return environment().get_template("numpy/kernel.py.j2").render(
        header=header, name=kernel.name, dtype=kernel.dtype, ndim=kernel.ndim,
        arguments=list(kernel.inputs + kernel.scalars + kernel.outputs),
        sizes=[f"n{a}" for a in range(kernel.ndim)], outputs=kernel.outputs, regions=regions)


def load_source(source: str, name: str):
    """The kernel function defined by `source`."""
    namespace: dict = {}
    exec(compile(source, f"<stencilc numpy kernel {name}>", "exec"), namespace)
    return namespace[name]


# ------------------------------------------------------------------ the backend interface (backends/__init__.py)

SOURCE_FILE = "kernel.py"


def toolchain_id(fastmath: bool) -> str:
    import numpy
    return f"numpy {numpy.__version__}"


def build(source: str, directory: Path, fastmath: bool) -> None:
    (directory / SOURCE_FILE).write_text(source)


def load(directory: Path, meta: dict):
    fn = load_source((directory / SOURCE_FILE).read_text(), meta["name"])

    def run(arrays, params, outputs, shape):
        fn(*arrays, *params, *outputs)
    return run
