"""Common-subexpression elimination over each region's stores (`sympy.cse`).

Takes a `Kernel`; gives the same kernel with each region's repeated subexpressions hoisted into
temporaries `_t0, _t1, ...` of the kernel dtype, computed once per point. Index arithmetic and the
arguments of accesses are left alone: they are atoms to `cse`.
"""
from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..ir import Assign, Kernel, Region, Store


def _cse_region(region: Region) -> Region:
    values = [s.value for s in region.stores]
    temps, reduced = sp.cse(values, symbols=sp.numbered_symbols("_t"), order="none")
    body = region.body + tuple(Assign(t, v) for t, v in temps)
    stores = tuple(Store(s.output, v) for s, v in zip(region.stores, reduced))
    return replace(region, body=body, stores=stores)


def eliminate_common_subexpressions(kernel: Kernel) -> Kernel:
    return kernel.replace_regions(_cse_region(r) for r in kernel.regions)
