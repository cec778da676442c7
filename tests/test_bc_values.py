"""Boundary values that are parameters and expressions of parameters, t and the coordinates: the
numpy, c and numba backends against the ghost-cell oracle of reference.py (which evaluates the values
itself, on the face, axis by axis), 1-D to 3-D, grids down to one cell, radius 1 and 2, with an
origin and unequal spacings; Robin's special cases; what a boundary value may not be.

Each kernel is a system with one state field per combination of conditions, so that one compile
covers many of them; every field gets its own random data and its own oracle."""
import math

import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import Dirichlet, Neumann, Robin, StencilError, laplace, t, x, y, z

import reference as ref

from params import C, HAS_CC, HAS_NUMBA, NUMBA, NUMBA_SAMPLED  # noqa: E402,F401

g, a_ = sp.symbols("g a")
PARAMS = {"g": 0.7, "a": 1.5}
T = 0.9

# (stencilc condition, oracle rule): numbers, a parameter, and expressions of parameters, t and
# the coordinates; Robin's weights also parameters and expressions of t
SIDES_1D = [
    (Dirichlet(g), ("dirichlet", PARAMS["g"])),
    (Neumann(sp.sin(t) + x), ("neumann", lambda t, x, **_: math.sin(t) + x)),
    (Robin(1.0, 2.0, sp.cos(x) * t), ("robin", 1.0, 2.0, lambda t, x, **_: np.cos(x) * t)),
    (Robin(a_, 0.5, g - x ** 2), ("robin", PARAMS["a"], 0.5, lambda x, **_: PARAMS["g"] - x ** 2)),
    (Dirichlet(x + 2 * t), ("dirichlet", lambda t, x, **_: x + 2 * t)),
    (Robin(2.0, 1 + t, 0.5), ("robin", 2.0, 1 + T, 0.5)),
]
SIDES_2D = [
    (Dirichlet(g * y), ("dirichlet", lambda y, **_: PARAMS["g"] * y)),
    (Neumann(sp.sin(t) + x * y), ("neumann", lambda t, x, y, **_: math.sin(t) + x * y)),
    (Robin(1.0, 2.0, sp.cos(y) + t * x), ("robin", 1.0, 2.0, lambda t, x, y, **_: np.cos(y) + t * x)),
    (Robin(a_, 0.5, y ** 2 - x), ("robin", PARAMS["a"], 0.5, lambda x, y, **_: y ** 2 - x)),
    (Dirichlet(x + 2 * y + t), ("dirichlet", lambda t, x, y, **_: x + 2 * y + t)),
    (Neumann(g), ("neumann", PARAMS["g"])),
]
SIDES_3D = [
    (Dirichlet(x * y - z + t), ("dirichlet", lambda t, x, y, z, **_: x * y - z + t)),
    (Neumann(z * g), ("neumann", lambda z, **_: z * PARAMS["g"])),
    (Robin(1.0, 2.0, y + z * x), ("robin", 1.0, 2.0, lambda x, y, z, **_: y + z * x)),
    (Robin(a_, 0.5, sp.sin(z)), ("robin", PARAMS["a"], 0.5, lambda z, **_: np.sin(z))),
]


def check_system(backend, per_field, ndim, shapes, h, origin, radius, seed=0):
    """`{f_i: laplace(f_i)}` (radius 1) or `laplace(laplace(f_i))` (radius 2), field `f_i` under the
    per-axis (low, high) pairs `per_field[i]` of (condition, oracle rule), against the oracle."""
    names = [f"f{i}" for i in range(len(per_field))]
    fs = [sc.Field(n) for n in names]
    op = laplace if radius == 1 else (lambda e: laplace(laplace(e)))
    bc = {n: tuple((lo[0], hi[0]) for lo, hi in axes) for n, axes in zip(names, per_field)}
    k = sc.compile_stencil({f: op(f) for f in fs}, ndim=ndim, spacing=h, origin=origin,
                           backend=backend, bc=bc)
    assert k.radius == radius and k.time_dependent
    oracle = ref.laplace if radius == 1 else ref.bilaplace
    params = {p: PARAMS[p] for p in k.params}
    rng = np.random.default_rng(seed)
    for shape in shapes:
        arrays = [rng.normal(size=shape) for _ in names]
        got = k(*arrays, t=T, **params)
        got = (got,) if len(names) == 1 else got
        for name, u, r, axes in zip(names, arrays, got, per_field):
            rules = [(lo[1], hi[1]) for lo, hi in axes]
            np.testing.assert_allclose(r, oracle(u, rules, h, origin, T), rtol=1e-10, atol=1e-10,
                                       err_msg=f"{backend} {name} bc={bc[name]} shape={shape}")


@pytest.mark.parametrize("backend", ["numpy", C, NUMBA])
def test_1d_values_on_each_side(backend):
    """Radius 2 on grids of 1..6 cells: the rules (and their values) are applied again and again."""
    m = len(SIDES_1D)
    per_field = [[(SIDES_1D[i], SIDES_1D[(i + 2) % m])] for i in range(m)]
    check_system(backend, per_field, 1, [(n,) for n in range(1, 7)], 0.5, -1.0, radius=2)


@pytest.mark.parametrize("backend", ["numpy", C, NUMBA_SAMPLED])
def test_2d_values_per_axis_and_side(backend):
    """Radius 2 reads the corners: values that vary along a wall are evaluated at the ghost cell
    being filled, beyond the grid along axis 0 when axis 1 is filled."""
    s = SIDES_2D
    per_field = [[(s[0], s[1]), (s[2], s[3])], [(s[4], s[5]), (s[1], s[0])],
                 [(s[3], s[2]), (s[5], s[4])]]
    check_system(backend, per_field, 2, [(1, 1), (1, 4), (3, 1), (2, 3), (5, 4)], (0.5, 0.25),
                 (0.3, -1.0), radius=2)


@pytest.mark.parametrize("backend", ["numpy", C])
def test_2d_radius_1_and_periodic_beside(backend):
    s = SIDES_2D
    per_field = [[(s[1], s[2]), (s[4], s[3])],
                 [((sc.Periodic(), ref.PERIODIC), (sc.Periodic(), ref.PERIODIC)), (s[0], s[1])]]
    with pytest.raises(StencilError, match="periodic"):   # the state fields must agree on it
        check_system(backend, per_field, 2, [(2, 3)], 0.5, 0.0, radius=1)
    per_field = [[((sc.Periodic(), ref.PERIODIC), (sc.Periodic(), ref.PERIODIC)), (s[0], s[1])],
                 [((sc.Periodic(), ref.PERIODIC), (sc.Periodic(), ref.PERIODIC)), (s[2], s[4])]]
    check_system(backend, per_field, 2, [(1, 1), (2, 3), (4, 2)], (0.5, 2.0), (1.0, 2.0), radius=1)


@pytest.mark.parametrize("backend", ["numpy", C])
def test_3d_values(backend):
    s = SIDES_3D
    per_field = [[(s[0], s[1]), (s[2], s[3]), (s[1], s[2])],
                 [(s[3], s[0]), (s[1], s[2]), (s[0], s[3])]]
    check_system(backend, per_field, 3, [(1, 1, 1), (2, 3, 1), (3, 2, 4)], (0.5, 1.0, 0.25),
                 (0.0, -0.5, 1.0), radius=1)


@pytest.mark.parametrize("backend", ["numpy", C])
def test_robin_special_cases_are_dirichlet_and_neumann(backend):
    """Robin(1, 0, g) gives what Dirichlet(g) gives, and Robin(0, 1, g) what Neumann(g) gives, for
    an expression g, both against the oracle's Dirichlet and Neumann rules."""
    u = sc.Field("u")
    value = sp.sin(t) + x * y
    rule = lambda t, x, y, **_: math.sin(t) + x * y  # noqa: E731
    for bc, kind in [(Robin(1, 0, value), "dirichlet"), (Robin(0, 1, value), "neumann")]:
        k = sc.compile_stencil(laplace(laplace(u)), ndim=2, backend=backend, bc=bc, spacing=0.5)
        rng = np.random.default_rng(3)
        for shape in [(1, 2), (4, 3)]:
            a = rng.normal(size=shape)
            rules = [((kind, rule), (kind, rule))] * 2
            np.testing.assert_allclose(k(a, t=T), ref.bilaplace(a, rules, 0.5, 0.0, T),
                                       rtol=1e-10, atol=1e-10, err_msg=f"{bc} {shape}")


def test_parameters_in_values_are_call_arguments():
    u = sc.Field("u")
    k = sc.compile_stencil(laplace(u), ndim=1, backend="numpy", bc=(Dirichlet(g), Neumann(a_ * x)))
    assert k.params == ("a", "g") and not k.time_dependent
    a = np.arange(4.0)
    rules = [(("dirichlet", 2.0), ("neumann", lambda x, **_: 3.0 * x))]
    np.testing.assert_allclose(k(a, a=3.0, g=2.0), ref.laplace(a, rules), rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="'g'"):
        k(a, a=3.0)


def test_singular_and_malformed_values():
    with pytest.raises(StencilError, match="singular"):
        sc.compile_stencil(laplace(sc.Field("u")), ndim=1, bc=Robin(1.0, -0.5, x), backend="numpy")
    with pytest.raises(StencilError, match="both zero"):
        Robin(0, 0, t)
    with pytest.raises(StencilError, match="coordinate x"):
        Robin(x, 1, 0)
    with pytest.raises(StencilError, match="field u"):
        Dirichlet(sc.Field("u"))
    with pytest.raises(StencilError, match="z, the coordinate along axis 2, but ndim=2"):
        sc.compile_stencil(laplace(sc.Field("u")), ndim=2, bc=Dirichlet(z), backend="numpy")
    with pytest.raises(StencilError, match="could not parse"):
        Neumann("sin(t")
    assert Neumann("sin(t) + 2*x") == Neumann(sp.sin(t) + 2 * x)
    assert sc.symbolic.parse_bc(Robin(1, 2, g * x).word()) == Robin(1, 2, g * x)
    assert sc.symbolic.parse_bc("robin:1:a:cos(t)") == Robin(1, a_, sp.cos(t))
