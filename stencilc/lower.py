"""Lowering: the staggered, demand-driven, second-order discretisation.

Takes a checked `Problem`; gives, for each state field, a SymPy expression over `Access(field, *offset)`
(the field's value at the grid point plus an integer offset), parameters and numbers, and the stencil
extents. Each operator is evaluated where it is requested: a field at a half-integer offset is the mean
of its two neighbours, `D(q, a)` at p is `(q@(p+½e_a) - q@(p-½e_a)) / h_a`, `div` sums `D` of the
components, pointwise functions act on the values at the requested offset; `shift(e, o)` at p is
`e` at p + o.
"""
from __future__ import annotations

from functools import reduce

import sympy as sp

from .symbolic import D, Field, Problem, div, dot, grad, laplace, shift

HALF = sp.Rational(1, 2)


class Access(sp.Function):
    """`Access(f, o0, o1, ...)`: field `f` (a Symbol) at the grid point plus the integer offset."""

    @property
    def field(self) -> str:
        return self.args[0].name

    @property
    def offset(self) -> tuple[int, ...]:
        return tuple(int(o) for o in self.args[1:])


def component(e: sp.Basic, axis: int) -> sp.Basic:
    """Component `axis` of a vector expression: each outermost `grad(q)` becomes `D(q, axis)`."""
    if isinstance(e, grad):
        return D(e.args[0], axis)
    if isinstance(e, (div, dot, laplace, D)) or not e.args:
        return e
    return e.func(*[component(a, axis) for a in e.args])


class _Lowering:
    def __init__(self, problem: Problem):
        self.ndim = problem.ndim
        self.inv_h = [sp.Integer(1) if h == 1.0 else sp.Float(1.0 / h, 17) for h in problem.spacing]

    def at(self, e: sp.Basic, p: tuple[sp.Rational, ...]) -> sp.Expr:
        """The discrete value of `e` requested at offset `p` (integers and half-integers)."""
        if isinstance(e, Field):
            for a, pa in enumerate(p):
                if not pa.is_integer:
                    lo = p[:a] + (pa - HALF,) + p[a + 1:]
                    hi = p[:a] + (pa + HALF,) + p[a + 1:]
                    return (self.at(e, lo) + self.at(e, hi)) / 2
            return Access(sp.Symbol(e.name), *p)
        if isinstance(e, D):
            q, a = e.args[0], int(e.args[1])
            hi = p[:a] + (p[a] + HALF,) + p[a + 1:]
            lo = p[:a] + (p[a] - HALF,) + p[a + 1:]
            return (self.at(q, hi) - self.at(q, lo)) * self.inv_h[a]
        if isinstance(e, div):
            return sp.Add(*[self.at(D(component(e.args[0], a), a), p) for a in range(self.ndim)])
        if isinstance(e, laplace):
            return self.at(div(grad(e.args[0])), p)
        if isinstance(e, shift):
            return self.at(e.args[0], tuple(pa + o for pa, o in zip(p, e.args[1])))
        if isinstance(e, dot):
            A, B = e.args
            return sp.Add(*[self.at(component(A, a), p) * self.at(component(B, a), p)
                            for a in range(self.ndim)])
        if not e.args:
            return e
        if isinstance(e, sp.Piecewise):
            return sp.Piecewise(*[(self.at(v, p), self.at(c, p)) for v, c in e.args])
        return e.func(*[self.at(a, p) for a in e.args])


def lower(problem: Problem) -> tuple[sp.Expr, ...]:
    """One point expression over `Access` nodes per state field, requested at offset 0."""
    low = _Lowering(problem)
    origin = (sp.Integer(0),) * problem.ndim
    return tuple(sp.sympify(low.at(e, origin)) for e in problem.rhs)


def extents(exprs, ndim: int) -> tuple[tuple[int, int], ...]:
    """Per axis (reach below, reach above) of all accesses: the stencil's shape."""
    accesses = reduce(set.union, (e.atoms(Access) for e in exprs), set())
    if not accesses:
        return ((0, 0),) * ndim
    return tuple((max(0, -min(a.offset[ax] for a in accesses)), max(0, max(a.offset[ax] for a in accesses)))
                 for ax in range(ndim))
