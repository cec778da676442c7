"""Halo sides, layouts and row windows in the kernel IR: the regions of every variant tile exactly
the box they must compute, for every small grid."""
import itertools

import pytest
import sympy as sp

import stencilc as sc
from stencilc import laplace
from stencilc.ir import HALO, PHYSICAL, ROW_START, ROW_STOP, build_kernel, size
from stencilc.symbolic import check_problem

u = sc.Field("u")


def _evaluate(x, values):
    x = sp.sympify(x)
    if x.func.__name__ in ("IntMin", "IntMax"):
        return (min if x.func.__name__ == "IntMin" else max)(_evaluate(a, values) for a in x.args)
    return int(x.subs(values))


def _count(kernel, values):
    count = {}
    for r in kernel.regions:
        ranges = [range(_evaluate(a, values), _evaluate(b, values)) for a, b in r.bounds]
        for p in itertools.product(*ranges):
            count[p] = count.get(p, 0) + 1
    return count


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("sides", [((PHYSICAL, HALO), (HALO, PHYSICAL)), ((HALO, HALO), (PHYSICAL, PHYSICAL)),
                                   ((HALO, HALO), (HALO, HALO)), ((PHYSICAL, PHYSICAL), (HALO, PHYSICAL))])
def test_halo_sides_keep_the_tiling_and_drop_their_strips(sides, split):
    k = build_kernel(check_problem(laplace(laplace(u)), state=u, ndim=2), split_strips=split, sides=sides)
    names = {r.name.split("_")[0] for r in k.regions}
    for a, (lo, hi) in enumerate(sides):
        assert (f"low{a}" in names) == (lo == PHYSICAL)
        assert (f"high{a}" in names) == (hi == PHYSICAL)
    for a in range(1, 7):
        for b in range(1, 7):
            count = _count(k, {size(0): a, size(1): b})
            assert count == {(i, j): 1 for i in range(a) for j in range(b)}, (a, b)
    # inputs are padded by the radius beyond halo sides only; outputs are not padded
    assert k.layout("u").padding == tuple((2 if lo == HALO else 0, 2 if hi == HALO else 0) for lo, hi in sides)
    assert k.layout("out_u").padding == ((0, 0), (0, 0))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_a_row_window_computes_exactly_its_rows(ndim):
    k = build_kernel(check_problem(laplace(laplace(u)), state=u, ndim=ndim), split_strips=True, window=True)
    assert k.index_arguments[-2:] == (ROW_START, ROW_STOP)
    assert k.layout("out_u").origin[0] == ROW_START
    others = [3] * (ndim - 1)
    for n0 in range(1, 8):
        for r0 in range(n0):
            for r1 in range(r0 + 1, n0 + 1):
                values = {size(0): n0, ROW_START: r0, ROW_STOP: r1}
                values.update({size(a + 1): m for a, m in enumerate(others)})
                expected = {p: 1 for p in itertools.product(range(r0, r1), *[range(m) for m in others])}
                assert _count(k, values) == expected, (n0, r0, r1)


def test_window_and_halo_on_axis_0_are_refused():
    with pytest.raises(ValueError, match="row window"):
        build_kernel(check_problem(laplace(u), state=u, ndim=2), sides=((HALO, PHYSICAL), (PHYSICAL, PHYSICAL)),
                     window=True)
