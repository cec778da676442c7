"""Loop-invariant hoisting (passes/hoist.py) on its own: what depends on one outer axis only (or on
parameters and t only) is computed in that axis's setup, once per index; the values are those of
the analytic formula, and those of the same kernel printed without the pass (bit for bit, but for
C's scalar libm call in place of the vector one)."""
import math
import re

import numpy as np
import pytest
import sympy as sp

import stencilc as sc
import stencilc.api
from stencilc import Field, laplace, t, x, y, z
from stencilc.ir import bind_positions, build_kernel
from stencilc.passes import eliminate_common_subexpressions, hoist_invariants
from stencilc.symbolic import check_problem

from params import C, HAS_CC, HAS_NUMBA, NUMBA  # noqa: E402,F401

u = Field("u")
K = sp.Symbol("K")
SPACING, ORIGIN = (0.25, 0.2, 0.5), (-1.0, 0.5, 2.0)


def interior(kernel):
    (region,) = [r for r in kernel.regions if r.interior]
    return region


def test_exp_of_x_moves_into_the_row_setup():
    p = check_problem(laplace(u) + sp.exp(-x**2) * sp.exp(-y**2) + K * sp.sin(t), ndim=2)
    plain = bind_positions(eliminate_common_subexpressions(build_kernel(p)))
    hoisted = hoist_invariants(plain)
    before, after = interior(plain), interior(hoisted)
    assert after.stores == before.stores and after.body == before.body   # the expressions stay
    values = {a.target: a.value for a in after.setup[0]}
    assert {str(values[h]) for h in after.hoisted} == {"exp(-_x0p0**2)", "K*sin(t)"}   # the largest ones
    assert not any(a.target in after.hoisted for a in after.setup[1])
    src = sc.generate(laplace(u) + sp.exp(-x**2) * sp.exp(-y**2), ndim=2, target="c")
    store = [ln for ln in src.splitlines() if "out_u[ix] =" in ln][0]
    assert store.count("exp(") == 1 and "_h0*exp(-((_x1p0)*(_x1p0)))" in store


@pytest.mark.parametrize("rhs", [laplace(u) + x, laplace(u) + sp.exp(-x - y), laplace(u) + sp.sin(x * y)])
def test_nothing_to_hoist_leaves_the_kernel_as_it_is(rhs):
    """Cheap arithmetic (the compiler hoists it), or a value of both axes."""
    k = bind_positions(eliminate_common_subexpressions(build_kernel(check_problem(rhs, ndim=2))))
    assert hoist_invariants(k) == k


def test_one_dimensional_and_complex_kernels_are_left_alone():
    k1 = bind_positions(build_kernel(check_problem(laplace(u) + sp.exp(x), ndim=1)))
    assert hoist_invariants(k1) == k1
    kc = bind_positions(build_kernel(check_problem(laplace(u) + sp.exp(x) * sp.cos(y), ndim=2,
                                                   dtype="complex128")))
    assert hoist_invariants(kc) == kc


CASES = [  # (ndim, rhs, the same with u = 0 as NumPy of the cell centres X, Y, Z and the time T)
    (2, laplace(u) + K * sp.sin(t) * sp.exp(-x**2) * sp.cos(y) + sp.sqrt(1 + x**2) / (2 + sp.sin(x)),
     lambda X, Y, Z, T: 1.5 * math.sin(T) * np.exp(-X**2) * np.cos(Y) + np.sqrt(1 + X**2) / (2 + np.sin(X))),
    (2, u * sp.exp(-x**2) * sp.exp(-y**2) + sp.tanh(x) ** 3,
     lambda X, Y, Z, T: np.tanh(X) ** 3),
    (3, laplace(u) + sp.exp(-x**2) * sp.sin(y) * sp.cos(z) + sp.log(2 + x * y) + sp.cos(t) * sp.exp(y),
     lambda X, Y, Z, T: np.exp(-X**2) * np.sin(Y) * np.cos(Z) + np.log(2 + X * Y) + math.cos(T) * np.exp(Y)),
]


@pytest.mark.parametrize("backend", ["numpy", C, NUMBA])
@pytest.mark.parametrize("ndim, rhs, exact", CASES)
def test_values_are_the_formula_and_those_without_hoisting(backend, ndim, rhs, exact, monkeypatch):
    shape = (7, 9, 5)[:ndim]
    options = dict(state=u, ndim=ndim, backend=backend, spacing=SPACING[:ndim], origin=ORIGIN[:ndim],
                   bc="neumann", cache=False)
    k = sc.compile_stencil(rhs, **options)
    inputs = {"K": 1.5} if "K" in k.params else {}
    if k.time_dependent:
        inputs["t"] = 0.7
    centres = [o + (np.arange(n) + 0.5) * h for n, h, o in zip(shape, SPACING, ORIGIN)]
    grids = list(np.meshgrid(*centres, indexing="ij")) + [None] * (3 - ndim)
    np.testing.assert_allclose(k(np.zeros(shape), **inputs), exact(*grids, 0.7), rtol=1e-13, atol=1e-14)
    assert re.search(r"\b_h0\b", k.source), "nothing was hoisted"
    monkeypatch.setattr(stencilc.api, "hoist_invariants", lambda kernel: kernel)
    plain = sc.compile_stencil(rhs, **options)
    assert not re.search(r"\b_h0\b", plain.source)
    a = np.random.default_rng(1).normal(size=shape)
    if backend == "c":
        # a hoisted call is libm's scalar function, the point loop's was libmvec's vector variant:
        # each within 4 ulp, and the values here are O(1) sums of a few such products
        np.testing.assert_allclose(k(a, **inputs), plain(a, **inputs), rtol=2e-15, atol=2e-15)
    else:   # the same functions on both sides (NumPy's, numba_math's): the same bits
        np.testing.assert_array_equal(k(a, **inputs), plain(a, **inputs))


@pytest.mark.parametrize("target", ["c", "numpy", "numba", "cuda"])
def test_every_hoisted_value_is_read(target):
    """Each hoisted value is read after it is set: the printers meet every hoisted expression as
    it is, also a negated term, a reciprocal's base (printed as a division) and a CSE temporary."""
    rhs = (laplace(u) - sp.exp(x) * sp.cos(y) - 3 * sp.exp(x) + u / sp.sin(x) + 1 / (2 + sp.cos(x))
           - sp.exp(-x) + 2 * u / (1 + sp.cos(2 * x))**2 + u * x / sp.sqrt(sp.sin(x) + 2))
    src = sc.generate(rhs, state=u, ndim=2, target=target)
    assigned = re.compile(r"^\s*(?:const \w+ )?(_h\d+) = ")
    pending, seen = set(), 0
    for line in src.splitlines():
        m = assigned.match(line)
        pending -= set(re.findall(r"\b_h\d+\b", line[m.end():] if m else line))
        if m:
            assert m.group(1) not in pending, f"{m.group(1)} set twice without a read:\n{src}"
            pending.add(m.group(1))
            seen += 1
    assert seen and not pending, src
