"""Lowering on its own: the point expressions against hand-written stencils."""
import sympy as sp

import stencilc as sc
from stencilc import D, div, dot, grad, laplace
from stencilc.ir import build_kernel
from stencilc.lower import Access, extents, lower
from stencilc.symbolic import check_problem

u, c, theta, omega = sc.fields("u c theta omega")
K = sp.Symbol("K")


def A(name, *offset):
    return Access(sp.Symbol(name), *offset)


def lowered(rhs, **kw):
    (e,) = lower(check_problem(rhs, **kw))
    return e


def test_kuramoto_is_the_seeds_sum_over_neighbours():
    e = lowered(omega + K * div(sp.sin(grad(theta))))
    neighbours = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    seed = A("omega", 0, 0) + K * sum(sp.sin(A("theta", *o) - A("theta", 0, 0)) for o in neighbours)
    assert sp.simplify(e - seed) == 0


def test_laplace_is_compact_with_spacing():
    e = lowered(laplace(u), state=u, ndim=2, spacing=(0.5, 2.0))
    expected = ((A("u", 1, 0) - 2 * A("u", 0, 0) + A("u", -1, 0)) / 0.25
                + (A("u", 0, 1) - 2 * A("u", 0, 0) + A("u", 0, -1)) / 4.0)
    assert sp.simplify(sp.expand(e - expected)) == 0


def test_centred_difference_and_face_averages():
    assert sp.expand(lowered(D(u, 0), state=u, ndim=1) - (A("u", 1) - A("u", -1)) / 2) == 0
    e = lowered(div(c * grad(u)), state=u, ndim=1)
    expected = ((A("c", 0) + A("c", 1)) / 2 * (A("u", 1) - A("u", 0))
                - (A("c", -1) + A("c", 0)) / 2 * (A("u", 0) - A("u", -1)))
    assert sp.expand(e - expected) == 0


def test_dot_of_gradients_is_sum_of_squared_centred_differences():
    e = lowered(dot(grad(u), grad(u)), state=u, ndim=2)
    expected = ((A("u", 1, 0) - A("u", -1, 0)) / 2) ** 2 + ((A("u", 0, 1) - A("u", 0, -1)) / 2) ** 2
    assert sp.expand(e - expected) == 0


def test_bilaplace_has_radius_two_and_the_13_point_stencil():
    e = lowered(laplace(laplace(u)), state=u, ndim=2)
    assert extents([e], 2) == ((2, 2), (2, 2))
    assert len(e.atoms(Access)) == 13
    assert sp.expand(e).coeff(A("u", 0, 0)) == 20


def test_regions_cover_every_point_exactly_once():
    """For grid sizes 1..6 per axis the interior and boundary boxes tile the grid."""
    k = build_kernel(check_problem(laplace(laplace(u)), state=u, ndim=2))
    n0, n1 = sp.Symbol("n0", integer=True, positive=True), sp.Symbol("n1", integer=True, positive=True)
    for a in range(1, 7):
        for b in range(1, 7):
            count = {}
            for r in k.regions:
                (s0, e0), (s1, e1) = [[int(sp.sympify(x).subs({n0: a, n1: b}).replace(
                    lambda f: f.func.__name__ in ("IntMin", "IntMax"),
                    lambda f: (min if f.func.__name__ == "IntMin" else max)(*f.args))) for x in bd]
                    for bd in r.bounds]
                for i in range(s0, e0):
                    for j in range(s1, e1):
                        count[(i, j)] = count.get((i, j), 0) + 1
            assert count == {(i, j): 1 for i in range(a) for j in range(b)}, (a, b)
