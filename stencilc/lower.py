"""Lowering: the staggered, demand-driven discretisation, of accuracy order 2, 4 or 6.

Takes a checked `Problem`; gives, for each state field, a SymPy expression over `Access(field, *offset)`
(the field's value at the grid point plus an integer offset), parameters and numbers, and the stencil
extents. Each operator is evaluated where it is requested: a field at a half-integer offset is
interpolated along that axis from the cells either side, `D(q, a)` at p is the centred difference of
`q` at the half-integer offsets either side of p (at order 2: the mean of the two neighbours and
`(q@(p+½e_a) - q@(p-½e_a)) / h_a`; at order p the p-point centred formulas, `INTERPOLATION` and
`DIFFERENCE`), `div` sums `D` of the components, `laplace(e)` is `div(grad(e))` at order 2 and the
compact centred second difference (`SECOND_DIFFERENCE`, p + 1 points per axis) at orders 4 and 6,
pointwise functions act on the values at the requested offset; `shift(e, o)` at p is `e` at p + o.
The radius follows from the accesses (`extents`): at order p, `D(u)` and `div(sin(grad(u)))` reach
p - 1 cells, `laplace(u)` p / 2.
A coordinate requested at offset p along its axis a is `Position(a, i_a, 2p)`, the exact position
of that (half-)cell: no average, no memory, computed from the loop index later (ir.py).
"""
from __future__ import annotations

from functools import reduce

import sympy as sp

from .symbolic import COORDINATES, D, Field, Problem, div, dot, grad, laplace, shift

HALF = sp.Rational(1, 2)
R = sp.Rational

# p-point centred weights per order p, for the values at the offsets ±½, ±3/2, ... of the point:
# a field at a half-integer offset along an axis is sum_k w_k (q@(p - (k-½)) + q@(p + (k-½))),
# and D(q, a) at p is sum_k d_k (q@(p + (k-½)) - q@(p - (k-½))) / h_a; both are exact for
# polynomials of degree < p, so their errors are O(h^p).
INTERPOLATION = {2: (HALF,), 4: (R(9, 16), R(-1, 16)), 6: (R(75, 128), R(-25, 256), R(3, 256))}
DIFFERENCE = {2: (sp.Integer(1),), 4: (R(9, 8), R(-1, 24)), 6: (R(75, 64), R(-25, 384), R(3, 640))}
# the compact centred second difference used for `laplace` at orders 4 and 6 (p + 1 points per
# axis): sum_m a_m (e@(p + m) + e@(p - m)) + a_0 e@p, over h_a^2; at order 2 it is div(grad(e))
SECOND_DIFFERENCE = {4: (R(-5, 2), R(4, 3), R(-1, 12)),
                     6: (R(-49, 18), R(3, 2), R(-3, 20), R(1, 90))}
ORDERS = tuple(INTERPOLATION)


class Access(sp.Function):
    """`Access(f, o0, o1, ...)`: field `f` (a Symbol) at the grid point plus the integer offset."""

    @property
    def field(self) -> str:
        return self.args[0].name

    @property
    def offset(self) -> tuple[int, ...]:
        return tuple(int(o) for o in self.args[1:])


class Position(sp.Function):
    """`Position(a, j, q)`: the coordinate along axis `a` of the point `q/2` cells past grid index
    `j` (a loop index or an index-map symbol; `q` an integer): `origin[a] + (j + q/2 + 1/2) *
    spacing[a]`, so a cell centre for even `q` and a face for odd `q`. Its arguments are atoms, so
    that common-subexpression elimination leaves them alone; `ir.bind_positions` turns it into a
    value computed once per index."""
    nargs = 3

    @property
    def axis(self) -> int:
        return int(self.args[0])

    @property
    def base(self) -> sp.Symbol:
        return self.args[1]

    @property
    def halves(self) -> int:
        return int(self.args[2])


def loop_index(axis: int) -> sp.Symbol:
    """The loop index along `axis` (the same symbol as `ir.index`)."""
    return sp.Symbol(f"i{axis}", integer=True, nonnegative=True)


def component(e: sp.Basic, axis: int) -> sp.Basic:
    """Component `axis` of a vector expression: each outermost `grad(q)` becomes `D(q, axis)`."""
    if isinstance(e, grad):
        return D(e.args[0], axis)
    if isinstance(e, (div, dot, laplace, D)) or not e.args:
        return e
    return e.func(*[component(a, axis) for a in e.args])


def _moved(p: tuple, axis: int, by) -> tuple:
    return p[:axis] + (p[axis] + by,) + p[axis + 1:]


class _Lowering:
    def __init__(self, problem: Problem):
        self.ndim = problem.ndim
        self.order = problem.order
        self.inv_h = [sp.Integer(1) if h == 1.0 else sp.Float(1.0 / h, 17) for h in problem.spacing]
        self._values: dict = {}   # (e, p) -> value: nested operators request the same values often

    def at(self, e: sp.Basic, p: tuple[sp.Rational, ...]) -> sp.Expr:
        """The discrete value of `e` requested at offset `p` (integers and half-integers)."""
        key = (e, p)
        if key not in self._values:
            self._values[key] = self._at(e, p)
        return self._values[key]

    def _at(self, e: sp.Basic, p: tuple[sp.Rational, ...]) -> sp.Expr:
        if isinstance(e, Field):
            for a, pa in enumerate(p):
                if not pa.is_integer:
                    if self.order == 2:
                        return (self.at(e, _moved(p, a, -HALF)) + self.at(e, _moved(p, a, HALF))) / 2
                    return sp.Add(*[w * (self.at(e, _moved(p, a, -HALF - j)) + self.at(e, _moved(p, a, HALF + j)))
                                    for j, w in enumerate(INTERPOLATION[self.order])])
            return Access(sp.Symbol(e.name), *p)
        if isinstance(e, sp.Symbol) and e in COORDINATES:
            a = COORDINATES.index(e)
            return Position(a, loop_index(a), int(2 * p[a]))
        if isinstance(e, D):
            q, a = e.args[0], int(e.args[1])
            if self.order == 2:
                return (self.at(q, _moved(p, a, HALF)) - self.at(q, _moved(p, a, -HALF))) * self.inv_h[a]
            return sp.Add(*[d * (self.at(q, _moved(p, a, HALF + j)) - self.at(q, _moved(p, a, -HALF - j)))
                            for j, d in enumerate(DIFFERENCE[self.order])]) * self.inv_h[a]
        if isinstance(e, div):
            return sp.Add(*[self.at(D(component(e.args[0], a), a), p) for a in range(self.ndim)])
        if isinstance(e, laplace):
            if self.order == 2:
                return self.at(div(grad(e.args[0])), p)
            q, (a0, *am) = e.args[0], SECOND_DIFFERENCE[self.order]
            return sp.Add(*[(a0 * self.at(q, p)
                             + sp.Add(*[w * (self.at(q, _moved(p, a, m)) + self.at(q, _moved(p, a, -m)))
                                        for m, w in enumerate(am, 1)])) * self.inv_h[a] ** 2
                            for a in range(self.ndim)])
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
