"""Loop-invariant hoisting: a costly value that depends on one outer axis only is computed once per
index of that axis instead of at every point.

Takes a `Kernel` whose coordinates are bound (`ir.bind_positions`: `_x<a>...` assigned in axis
`a`'s setup); gives the same kernel with, in each region, every costly subexpression (one that
calls a math function or takes a non-integer power) whose only varying inputs are the setup values
and the index of one axis `a` before the contiguous one assigned once in that axis's setup
(`_h0, _h1, ...`), and values of parameters and `t` alone in axis 0's. `exp(-x**2)*cos(y)` in 2-D
calls `exp` once per row. C compilers do not do this themselves: a libm call may set `errno`, so it
is not loop-invariant to them.

The expressions themselves are not rewritten: each hoisted value is listed in `Region.hoisted`,
and a printer meeting the same subexpression in the body or the stores prints the value's name
(`printing.KernelPrinter`). So every sum and product keeps its operands and their order, and each
value is computed in the same precision as before: the results are those without the pass, except
that in C a hoisted math function is glibc's scalar one where the vectorised point loop called
libmvec's variant (both within libm's 4 ulp; the boundary strips call the scalar one anyway). A
temporary of the body that is invariant as a whole moves into the setup. Complex kernels and 1-D
kernels are left as they are.
"""
from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..ir import Access, Assign, IntMax, IntMin, Kernel, MappedAccess, Region, index
from ..lower import Position

_NOT_CALLS = (Access, MappedAccess, Position, IntMin, IntMax)


def _costly(e: sp.Expr) -> bool:
    if any(not isinstance(f, _NOT_CALLS) for f in e.atoms(sp.Function)):
        return True
    return any(not p.exp.is_Integer for p in e.atoms(sp.Pow))


class _Hoister:
    """Hoists from one region: `axis_of` maps each symbol to the axis whose setup gives it (None for
    parameters and runtime scalars); any other symbol, and any array read, varies at every point."""

    def __init__(self, region: Region, kernel: Kernel):
        self.last = kernel.ndim - 1
        self.axis_of = {sp.Symbol(s): None for s in kernel.scalars}
        for a in range(kernel.ndim):
            self.axis_of[index(a)] = a
            for s in region.setup[a]:
                self.axis_of[s.target] = a
        self.setup = [list(st) for st in region.setup]
        self.made: dict[sp.Expr, sp.Symbol] = {}

    def axis(self, e: sp.Expr):
        """The one outer axis that `e` varies along (None: it is constant), or False: it varies at
        every point (it reads an array, or varies along the contiguous axis or along two axes)."""
        if e.has(Access, MappedAccess):
            return False
        axes = set()
        for s in e.free_symbols:
            if s not in self.axis_of:
                return False
            if self.axis_of[s] is not None:
                axes.add(self.axis_of[s])
        if len(axes) > 1 or self.last in axes:
            return False
        return axes.pop() if axes else None

    def assign(self, target: sp.Symbol, value: sp.Expr, axis) -> None:
        self.setup[axis or 0].append(Assign(target, value))
        self.axis_of[target] = axis

    def collect(self, e: sp.Expr) -> None:
        """Hoist the largest costly invariant subexpressions of `e`. A reciprocal is printed as a
        division by its base, so its base is what can be hoisted."""
        if e.is_Atom or not isinstance(e, sp.Expr) or isinstance(e, _NOT_CALLS):
            return
        reciprocal = e.is_Pow and e.exp.is_negative
        if not reciprocal and _costly(e):
            axis = self.axis(e)
            if axis is not False:
                if e not in self.made:
                    self.made[e] = sp.Symbol(f"_h{len(self.made)}")
                    self.assign(self.made[e], e, axis)
                return
        for a in e.args:
            self.collect(a)


def _hoist_region(region: Region, kernel: Kernel) -> Region:
    h = _Hoister(region, kernel)
    body = []
    for b in region.body:
        if not b.is_index and h.axis(b.value) is not False:   # invariant as a whole: into the setup
            h.assign(b.target, b.value, h.axis(b.value))
            continue
        body.append(b)
        if not b.is_index:
            h.collect(b.value)
    for s in region.stores:
        h.collect(s.value)
    if not h.made and len(body) == len(region.body):
        return region
    return replace(region, setup=tuple(tuple(st) for st in h.setup), body=tuple(body),
                   hoisted=region.hoisted + tuple(h.made.values()))


def hoist_invariants(kernel: Kernel) -> Kernel:
    if kernel.ndim < 2 or kernel.dtype.startswith("complex"):
        return kernel
    return kernel.replace_regions(_hoist_region(r, kernel) for r in kernel.regions)
