"""Printing helpers shared by the backends: what every target prints the same way.

Takes kernel IR nodes; gives the pieces of text a template needs (linear offsets of accesses in
row-major arrays, integer powers as products) so that each backend's printer only adds its syntax.
"""
from __future__ import annotations

import sympy as sp

# integer powers up to this are printed as products (exact enough, and vectorisable everywhere)
MAX_UNROLLED_POWER = 4


def stride(axis: int, ndim: int) -> sp.Expr:
    """Row-major stride of `axis` in elements, over the size symbols (`st{axis}` in generated code)."""
    return sp.Integer(1) if axis == ndim - 1 else sp.Symbol(f"st{axis}", integer=True)


def stride_definitions(ndim: int) -> list[tuple[str, sp.Expr]]:
    """(name, value) of the stride symbols, innermost last: st_a = n_{a+1} * ... * n_{ndim-1}."""
    out = []
    for a in range(ndim - 1):
        value = sp.Mul(*[sp.Symbol(f"n{b}", integer=True) for b in range(a + 1, ndim)])
        out.append((f"st{a}", value))
    return out


def linear_offset(offset, ndim: int) -> sp.Expr:
    """Offset of a neighbour in elements: sum of offset_a * stride_a."""
    return sp.Add(*[int(o) * stride(a, ndim) for a, o in enumerate(offset)])


def linear_index(indices, ndim: int) -> sp.Expr:
    """Row-major element index of the point with per-axis `indices`."""
    return sp.Add(*[i * stride(a, ndim) for a, i in enumerate(indices)])


def small_integer_power(expr: sp.Pow):
    """(base, n) when `expr` is base**n with 1 < |n| <= MAX_UNROLLED_POWER, else None."""
    b, e = expr.args
    if e.is_Integer and 1 < abs(int(e)) <= MAX_UNROLLED_POWER:
        return b, int(e)
    return None


def nested_call(printer, function: str, args) -> str:
    """`f(f(a, b), c)` for an n-ary SymPy function printed through a binary one (Min -> minimum)."""
    text = printer._print(args[0])
    for a in args[1:]:
        text = f"{function}({text}, {printer._print(a)})"
    return text
