"""Fused time stepping: the explicit Euler update folded into the right-hand-side sweep.

Takes a `Kernel` computing `out = f(u)`; gives one computing `out = u + dt*f(u)` in the same sweep
(a new runtime scalar `_dt`, after the parameters), so an Euler step reads and writes the grid once instead of
twice. Apply it before CSE.
"""
from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..ir import Access, Kernel, MappedAccess, Region, Store, index

DT = "_dt"


def _here(field: str, region: Region, ndim: int) -> sp.Expr:
    if region.interior:
        return Access(sp.Symbol(field), *([0] * ndim))
    return MappedAccess(sp.Symbol(field), *[index(a) for a in range(ndim)])


def fuse_euler(kernel: Kernel) -> Kernel:
    dt = sp.Symbol(DT)
    regions = []
    for region in kernel.regions:
        stores = tuple(Store(s.output, _here(f, region, kernel.ndim) + dt * s.value)
                       for f, s in zip(kernel.state, region.stores))
        regions.append(replace(region, stores=stores))
    return replace(kernel, name=kernel.name + "_euler", regions=tuple(regions),
                   runtime=kernel.runtime + (DT,))
