"""Boundary conditions: the numpy and c backends against the ghost-cell oracle of reference.py for
every kind of condition, on every side, axis and field, 1-D to 3-D, grids down to one cell, stencil
radius 1 and 2; Robin's special cases; singular and malformed conditions.

Each kernel is a system with one state field per combination of conditions, so that one compile
covers many of them; every field gets its own random data and its own oracle."""
import itertools
import os
import shutil

import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import Dirichlet, Neumann, Periodic, Robin, StencilError, div, grad, laplace
from stencilc.ir import _axis_map, index, size
from stencilc.symbolic import check_problem, parse_bc

import reference as ref

HAS_CC = any(c and shutil.which(c) for c in (os.environ.get("CC"), "cc", "gcc"))
BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.skipif(not HAS_CC, reason="no C compiler"))]

NEU, PER = ref.NEUMANN, ref.PERIODIC
# the non-periodic conditions the tests combine; the Robin ones are nonsingular for h in 0.5, 1, 1.5
# and radius 2, with ghost scales below, between and above 1 in size
MIRRORS = [NEU, ref.neumann(0.5), ref.neumann(-2.0), ref.dirichlet(1.5), ref.robin(1.0, 2.0, 0.5),
           ref.robin(2.0, 0.5, -1.0), ref.robin(1.0, -3.0, 0.25)]

# The IR does not give the ghost rules the axis spacing yet (its `_mapped` calls `_axis_map`
# without `h`), so rules that depend on h (Neumann with a flux, Robin with b != 0) are right for
# h = 1 only until it does. Strict: once it does, these cases pass and the mark must go.
SPACINGS = [1.0, 0.5]


def to_api(side):
    """The stencilc object for an oracle side."""
    kind, *values = side
    return {"neumann": Neumann, "periodic": Periodic, "dirichlet": Dirichlet, "robin": Robin}[kind](*values)


def api_bc(per_axis):
    return tuple((to_api(lo), to_api(hi)) for lo, hi in per_axis)


def check_system(backend, per_field, ndim, shapes, h, radius, seed=0):
    """A system `{f_i: laplace(f_i)}` (radius 1) or `laplace(laplace(f_i))` (radius 2), field `f_i`
    under the per-axis (low, high) oracle conditions `per_field[i]`, against the oracle on `shapes`."""
    names = [f"f{i}" for i in range(len(per_field))]
    fs = [sc.Field(n) for n in names]
    op = laplace if radius == 1 else (lambda e: laplace(laplace(e)))
    k = sc.compile_stencil({f: op(f) for f in fs}, ndim=ndim, spacing=h, backend=backend,
                           bc={n: api_bc(b) for n, b in zip(names, per_field)})
    assert k.radius == radius
    oracle = ref.laplace if radius == 1 else ref.bilaplace
    rng = np.random.default_rng(seed)
    for shape in shapes:
        arrays = [rng.normal(size=shape) for _ in names]
        got = k(*arrays)
        got = (got,) if len(names) == 1 else got
        for name, a, g, b in zip(names, arrays, got, per_field):
            np.testing.assert_allclose(g, oracle(a, b, h), rtol=1e-11, atol=1e-11,
                                       err_msg=f"{backend} {name} bc={b} shape={shape} h={h}")


# --------------------------------------------------------------------------------------------------
# every kind on every side, against the oracle

@pytest.mark.parametrize("h", SPACINGS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_1d_every_kind_on_each_side(backend, h):
    """Radius 2 on grids of 1..6 cells: the rules are applied again and again on the small ones."""
    m = len(MIRRORS)
    per_field = [[(MIRRORS[i], MIRRORS[(i + 3) % m])] for i in range(m)]
    check_system(backend, per_field, 1, [(n,) for n in range(1, 7)], h, radius=2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_1d_periodic(backend):
    check_system(backend, [[(PER, PER)]], 1, [(n,) for n in range(1, 6)], 1.0, radius=2)


@pytest.mark.parametrize("h", [1.0, (0.5, 1.5)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_2d_per_axis_and_side(backend, h):
    """Radius 2 reads the corners, which are filled axis by axis, axis 0 first."""
    r1, r2, r3 = ref.robin(1.0, 2.0, 0.5), ref.robin(2.0, 0.5, -1.0), ref.robin(1.0, -3.0, 0.25)
    per_field = [
        [(r1, NEU), (ref.neumann(0.5), ref.dirichlet(1.5))],
        [(ref.dirichlet(-1.0), r3), (r2, ref.neumann(-2.0))],
    ]
    check_system(backend, per_field, 2, [(1, 1), (1, 4), (3, 1), (2, 3), (5, 4)], h, radius=2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_2d_periodic_beside_the_others(backend):
    """Periodic on one axis (for every state field) and mirroring conditions on the other."""
    r1, r3 = ref.robin(1.0, 2.0, 0.5), ref.robin(1.0, -3.0, 0.25)
    per_field = [[(PER, PER), (r1, ref.neumann(0.5))], [(PER, PER), (ref.dirichlet(1.5), r3)]]
    check_system(backend, per_field, 2, [(1, 1), (2, 3), (4, 2)], 1.0, radius=2)
    per_field = [[(r3, ref.neumann(-2.0)), (PER, PER)]]
    check_system(backend, per_field, 2, [(1, 2), (3, 5)], 1.0, radius=1)


@pytest.mark.parametrize("h", [1.0, (0.5, 1.0, 2.0)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_3d(backend, h):
    r1, r2 = ref.robin(1.0, 2.0, 0.5), ref.robin(2.0, 0.5, -1.0)
    per_field = [[(r1, NEU), (PER, PER), (ref.neumann(0.5), ref.dirichlet(1.5))],
                 [(ref.dirichlet(-1.0), r2), (PER, PER), (r1, ref.neumann(-2.0))]]
    check_system(backend, per_field, 3, [(1, 1, 1), (2, 3, 1), (3, 2, 4)], h, radius=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_input_field_has_its_own_conditions(backend):
    u, c = sc.Field("u"), sc.Field("c")
    bu = [(ref.robin(1.0, 2.0, 0.5),) * 2, (ref.neumann(0.5), ref.dirichlet(1.0))]
    bc_ = [(ref.neumann(0.5), ref.robin(1.0, -3.0, 0.25)), (ref.dirichlet(2.0), NEU)]
    k = sc.compile_stencil(div(c * grad(u)), state=u, ndim=2, backend=backend,
                           bc={"u": api_bc(bu), "c": api_bc(bc_)})
    rng = np.random.default_rng(1)
    for shape in [(1, 2), (4, 3)]:
        uu, cc = rng.normal(size=shape), rng.uniform(1, 2, size=shape)
        np.testing.assert_allclose(k(uu, c=cc), ref.div_c_grad(uu, cc, bu, bc_, 1.0), rtol=1e-11,
                                   atol=1e-11, err_msg=f"{backend} shape={shape}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32(backend):
    check_system_32 = sc.compile_stencil(laplace(laplace(sc.Field("u"))), ndim=1, dtype="float32",
                                         backend=backend, bc=(Robin(1, 2, 0.5), Neumann(0.5)))
    a = np.random.default_rng(2).normal(size=5).astype(np.float32)
    got = check_system_32(a)
    assert got.dtype == np.float32
    expected = ref.bilaplace(a, [(ref.robin(1, 2, 0.5), ref.neumann(0.5))], 1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------------------------
# Robin's special cases are the other conditions, result for result

@pytest.mark.parametrize("backend", BACKENDS)
def test_robin_1_0_is_dirichlet_and_robin_0_1_is_neumann(backend):
    a, b, c, d = fs = sc.fields("a b c d")
    k = sc.compile_stencil({f: laplace(laplace(f)) for f in fs}, ndim=1, backend=backend,
                           bc={a: Robin(1, 0, 1.5), b: Dirichlet(1.5), c: Robin(0, 1, 0.5), d: Neumann(0.5)})
    for n in range(1, 6):
        x = np.random.default_rng(3).normal(size=n)
        ra, rb, rc, rd = k(x, x, x, x)
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(rc, rd)
        np.testing.assert_allclose(rb, ref.bilaplace(x, [(ref.dirichlet(1.5),) * 2]), rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(rd, ref.bilaplace(x, [(ref.neumann(0.5),) * 2]), rtol=1e-11, atol=1e-11)


# --------------------------------------------------------------------------------------------------
# halo sides: past a side given as None, an index is left as it is (the padding is read)

def _evaluate(axis_map, i, n):
    values = {index(0): i, size(0): n}
    for a in axis_map.assigns:
        values[a.target] = a.value.subs(values)
    j, s, c = (sp.sympify(x).subs(values) for x in (axis_map.index, axis_map.sign, axis_map.shift))
    return int(j), float(s), float(c)


@pytest.mark.parametrize("lo, hi", [(None, ref.robin(1.0, 2.0, 0.5)), (ref.dirichlet(1.5), None),
                                    (None, None), (ref.neumann(0.5), ref.robin(1.0, -3.0, 0.25))])
def test_index_maps_past_a_halo_side_read_the_padding(lo, hi):
    radius = 2
    api = [None if s is None else to_api(s) for s in (lo, hi)]
    for offset in range(-radius, radius + 1):
        m = _axis_map(0, offset, *api, radius, "t")
        for n in range(1, 6):
            for i in range(n):
                j, s, c = ref.ghost_source(i + offset, n, lo, hi)
                assert _evaluate(m, i, n) == pytest.approx((j, s, c), abs=1e-14), (offset, n, i)


# --------------------------------------------------------------------------------------------------
# mistakes

def test_a_singular_robin_is_an_error_naming_it():
    u = sc.Field("u")
    # a/2 + b/((2k-1) h) = 0 for k = 1
    with pytest.raises(StencilError, match=r"Robin\(1\.0, -0\.5, 0\.0\) is singular"):
        sc.compile_stencil(laplace(u), bc=Robin(1, -0.5, 0), backend="numpy")
    # ... for k = 2 only: a radius-1 stencil never fills layer 2
    bc = {"u": ((Robin(1, -1.5, 0), Neumann()), (Neumann(), Neumann()))}
    sc.compile_stencil(laplace(u), bc=bc, backend="numpy")
    with pytest.raises(StencilError, match=r"Robin\(1\.0, -1\.5, 0\.0\).*k=2"):
        sc.compile_stencil(laplace(laplace(u)), bc=bc, backend="numpy")


def test_a_robin_is_singular_for_a_spacing():
    with pytest.raises(StencilError, match="singular"):
        sc.compile_stencil(laplace(sc.Field("u")), bc=Robin(1, -0.25, 0), spacing=0.5, backend="numpy")


@pytest.mark.parametrize("make, match", [
    (lambda: Neumann([1]), r"Neumann\(\[1\]\): the flux must be a finite real number or an expression"),
    (lambda: Neumann(float("inf")), r"Neumann\(inf\)"),
    (lambda: Dirichlet(float("nan")), r"Dirichlet\(nan\): the value must be a finite real number"),
    (lambda: Dirichlet(None), r"Dirichlet\(None\)"),
    (lambda: Robin(1, [2], 0), r"Robin\(1, \[2\], 0\): b must be a finite real number"),
    (lambda: Robin(0, 0, 1), r"Robin\(0, 0, 1\): a and b are both zero"),
    (lambda: Neumann(True), r"Neumann\(True\)"),
])
def test_bad_values_are_one_line_errors(make, match):
    with pytest.raises(StencilError, match=match) as e:
        make()
    assert "\n" not in str(e.value)


def test_objects_are_values():
    assert Neumann(1.0).flux == 1.0 and Neumann(1) == Neumann(1.0) and Neumann() == Neumann(0)
    assert {Neumann(), Neumann(0.0), Dirichlet(), Dirichlet(0.0), Periodic(), Periodic()} == \
        {Neumann(), Dirichlet(0.0), Periodic()}
    assert Neumann() != Dirichlet(0.0) and Robin(1, 0, 2) != Dirichlet(2)
    assert [repr(b) for b in (Neumann(), Neumann(0.5), Dirichlet(), Robin(1, 2, 0.5), Periodic())] == \
        ["Neumann()", "Neumann(0.5)", "Dirichlet(0.0)", "Robin(1.0, 2.0, 0.5)", "Periodic()"]
    with pytest.raises(AttributeError):
        Neumann().flux = 1.0


@pytest.mark.parametrize("word, bc", [
    ("neumann", Neumann()), ("neumann:0.5", Neumann(0.5)), ("periodic", Periodic()),
    ("dirichlet", Dirichlet(0.0)), ("dirichlet:-1.5", Dirichlet(-1.5)),
    ("robin:1:2:0.5", Robin(1, 2, 0.5)), ("robin:1.0:2.0:0.5", Robin(1, 2, 0.5)), ("Neumann:1e-3", Neumann(0.001)),
])
def test_words_both_ways(word, bc):
    p = check_problem(laplace(sc.Field("u")), ndim=1, bc=word)
    assert p.bc_of["u"] == ((bc, bc),)
    assert parse_bc(bc.word()) == bc


@pytest.mark.parametrize("word, match", [
    ("robin", "robin:A:B:VALUE"), ("robin:1:2", "robin:A:B:VALUE"), ("neumann:1:2", "neumann:FLUX"),
    ("dirichlet:sin(x", "could not parse"), ("dirichlet:u(1)", "unknown function 'u'"), ("dirichlet:inf", "finite"), ("reflect", "robin:A:B:VALUE"),
])
def test_bad_words(word, match):
    with pytest.raises(StencilError, match=match):
        check_problem(laplace(sc.Field("u")), ndim=1, bc=word)


def test_every_combination_of_sides_resolves():
    """Any two non-periodic kinds combine on one axis; periodic pairs only with periodic."""
    kinds = [Neumann(), Neumann(0.5), Dirichlet(1.0), Robin(1, 2, 0.5)]
    for lo, hi in itertools.product(kinds, repeat=2):
        p = check_problem(laplace(sc.Field("u")), ndim=1, bc=(lo, hi))
        assert p.bc_of["u"] == ((lo, hi),)
    for other in kinds:
        with pytest.raises(StencilError, match="periodic on one side only"):
            check_problem(laplace(sc.Field("u")), ndim=1, bc=(Periodic(), other))
