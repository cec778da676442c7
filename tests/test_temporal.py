"""Temporal blocking (the C multi-step driver's tiled form, stepping.tile_plan): bit for bit the
plain steps.

The oracle is a Python loop of single fused steps (`euler_step`, a map's plain call), which never
goes through either multi-step driver, and, where the problem allows it, the NumPy backend's own
per-step result within round-off (it evaluates the same expressions in another order). Every case
forces the blocked driver (the automatic choice leaves small grids plain) with several plans
(depth, rows per call, bands), including depths that do not divide the steps, grids smaller than a
band's halo, and more bands than rows; a spy on `tile_plan` checks that the blocked driver ran.
"""
import os
import shutil

import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import Dirichlet, Neumann, Periodic, Robin, StencilError, stepping, t, x, y
from stencilc.ir import tileable
from stencilc.symbolic import check_problem

pytestmark = pytest.mark.skipif(not any(c and shutil.which(c) for c in (os.environ.get("CC"), "cc", "gcc")),
                                reason="no C compiler")

# (depth, rows per call, bands, columns per tile): 0 bands is one per thread, 0 columns full rows
# (the only choice where a problem's tiles may not be cut along the last axis)
PLANS = [(2, 1, 1, 0), (3, 1, 2, 5), (4, 2, 3, 4), (5, 3, 1, 7), (8, 1, 4, 3), (3, 7, 0, 0), (6, 2, 2, 1)]

u, v, w = sc.fields("u v w")
g, a = sp.symbols("g a")


@pytest.fixture
def forced(monkeypatch):
    """Make the stepping use each plan in turn: `forced.plan = (...)`; `forced.calls` counts the
    plans handed out (the blocked driver's runs)."""
    class Forced:
        plan = None
        calls = 0
        cut = None

    def plan(shape, itemsize, nstate, radius, steps, cut=False):
        Forced.calls += 1
        Forced.cut = cut
        if Forced.plan is None or steps < 2:
            return None
        return Forced.plan[:3] + (Forced.plan[3] if cut else 0,)
    monkeypatch.setattr(stepping, "tile_plan", plan)
    return Forced


def _loop(k, state, dt, steps, t0=None, **inputs):
    """`steps` single fused steps from Python: the oracle."""
    cur = [np.array(s) for s in state]
    real = np.float32 if cur[0].dtype in (np.float32, np.complex64) else np.float64
    for n in range(steps):
        extra = {} if t0 is None else {"t": real(t0) + real(n) * real(dt)}
        nxt = k.euler_step(*cur, dt=dt, **extra, **inputs)
        cur = list(nxt) if isinstance(nxt, tuple) else [nxt]
    return cur


def _check(k, state, dt, steps, forced, t0=None, cut=None, **inputs):
    """The blocked steps under every plan against the oracle; `cut`: whether the problem's tiles
    must (True) or must not (False) be cut along the last axis."""
    want = _loop(k, state, dt, steps, t0, **inputs)
    extra = {} if t0 is None else {"t": t0}
    for plan in PLANS:
        forced.plan, before = plan, forced.calls
        got = k.euler_steps(*state, dt=dt, steps=steps, **extra, **inputs)
        got = list(got) if isinstance(got, tuple) else [got]
        assert forced.calls > before
        assert cut is None or forced.cut == cut
        for s, gw, ww in zip(k.state, got, want):
            assert gw.dtype == ww.dtype
            bad = np.argwhere(gw != ww)
            assert bad.size == 0, f"{s}, plan {plan}: {len(bad)} points differ, first at {bad[0]}"
    # and the plain multi-step driver agrees as well
    forced.plan = None
    plain = k.euler_steps(*state, dt=dt, steps=steps, **extra, **inputs)
    plain = list(plain) if isinstance(plain, tuple) else [plain]
    for pw, ww in zip(plain, want):
        np.testing.assert_array_equal(pw, ww)
    return want


def _rng_state(shape, count=1, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 1, shape).astype(dtype) for _ in range(count)]


@pytest.mark.parametrize("shape", [(37, 23), (2, 9), (1, 5), (13, 64), (60, 3)])
def test_heat_neumann_2d(shape, forced):
    k = sc.compile_stencil(sc.laplace(u), bc="neumann")
    want = _check(k, _rng_state(shape), 0.2, 11, forced, cut=True)
    # the NumPy backend's steps, within round-off
    kn = sc.compile_stencil(sc.laplace(u), bc="neumann", backend="numpy")
    ref = _rng_state(shape)[0]
    for _ in range(11):
        ref = kn.euler_step(ref, dt=0.2)
    np.testing.assert_allclose(want[0], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bc", ["neumann", "periodic", "dirichlet:0.25", (Dirichlet(g), Robin(a, 2.0, 0.5)),
                                (Periodic(), (Dirichlet(1.0), Neumann(0.5))),
                                ((Robin(1.0, 2.0, 0.3), Neumann(g)), Periodic())])
def test_each_condition(bc, forced):
    k = sc.compile_stencil(sc.laplace(u), bc=bc)
    inputs = {p: val for p, val in (("g", 0.7), ("a", 1.5)) if p in k.params}
    _check(k, _rng_state((29, 17)), 0.15, 9, forced, **inputs)


def test_expression_values_and_time(forced):
    """Boundary values of coordinates, parameters and t, and a time-dependent right-hand side."""
    bc = ((Dirichlet(sp.sin(t) + g * y), Neumann(x * y - t)), (Robin(1.0, 2.0, sp.cos(x) + t), Dirichlet(x + 2 * t)))
    k = sc.compile_stencil(sc.laplace(u) + sp.sin(3 * t) * u, bc=bc, origin=(-1.0, 0.5), spacing=(0.1, 0.2))
    assert k.time_dependent
    _check(k, _rng_state((31, 19)), 0.001, 10, forced, t0=0.3, g=0.7)


def test_periodic_with_input_field_and_coordinates(forced):
    """Across a periodic axis 0 the input field is read wrapped and the coordinates are those of
    the rows that a band's rows past the walls repeat."""
    k = sc.compile_stencil(sc.laplace(u) + w * sp.cos(x) + y, state=u, bc=(Periodic(), Dirichlet(x)),
                           origin=(0.5, -1.0), spacing=(0.3, 0.1))
    uu, ww = _rng_state((19, 12), 2, seed=5)
    _check(k, [uu], 0.1, 9, forced, w=ww)


@pytest.mark.parametrize("bc", ["periodic", "neumann"])
def test_gray_scott_two_fields(bc, forced):
    F, kk = sp.symbols("F kappa")
    rhs = {u: 2e-5 * sc.laplace(u) - u * v ** 2 + F * (1 - u), v: 1e-5 * sc.laplace(v) + u * v ** 2 - (F + kk) * v}
    k = sc.compile_stencil(rhs, bc=bc, spacing=0.01)
    _check(k, _rng_state((41, 27), 2), 0.5, 13, forced, cut=bc == "neumann", F=0.04, kappa=0.06)


def test_kuramoto_with_input_field(forced):
    """div(sin(grad theta)): glibc's vector sine in the interior, its scalar one near the walls."""
    theta, omega = sc.fields("theta omega")
    K = sp.Symbol("K")
    k = sc.compile_stencil(omega + K * sc.div(sp.sin(sc.grad(theta))), state=theta, bc="neumann")
    th, om = _rng_state((45, 71), 2, seed=3)
    _check(k, [6.3 * th], 0.05, 10, forced, cut=False, omega=om, K=2.0)


def test_radius_two_and_three_d(forced):
    k = sc.compile_stencil(sc.laplace(u), order=4, bc="dirichlet:0.5")
    assert k.radius == 2
    _check(k, _rng_state((23, 14)), 0.05, 9, forced)
    k3 = sc.compile_stencil(sc.laplace(u) - u ** 3, ndim=3, bc=(Neumann(), Periodic(), Dirichlet(0.1)))
    _check(k3, _rng_state((9, 6, 7)), 0.1, 7, forced)
    k3p = sc.compile_stencil(sc.div(sc.grad(u)), ndim=3, bc="periodic")
    _check(k3p, _rng_state((5, 8, 3)), 0.1, 6, forced)


@pytest.mark.parametrize("bc", ["neumann", "periodic", "dirichlet:1"])
def test_one_d(bc, forced):
    k = sc.compile_stencil(sc.laplace(u) + u * (1 - u), ndim=1, bc=bc)
    for n in (1, 2, 3, 50, 257):
        _check(k, _rng_state((n,)), 0.2, 10, forced)


def test_float32(forced):
    k = sc.compile_stencil(sc.laplace(u) + 0.5 * u * v, state=u, ndim=2, bc="neumann", dtype="float32")
    uu, vv = _rng_state((33, 18), 2, dtype="float32")
    _check(k, [uu], np.float32(0.1), 12, forced, v=vv)


def test_maps_through_iterate(forced):
    """A coupled map lattice through `iterate`: its stretches run the blocked map driver."""
    r, eps = sp.symbols("r eps")
    k = sc.compile_stencil(r * u * (1 - u) + eps * sc.laplace(u), state=u, bc="neumann")
    u0 = 0.4 + 0.2 * _rng_state((35, 22))[0]     # stays inside (0, 1)
    want = u0.copy()
    for _ in range(17):
        want = k(want, r=2.9, eps=0.05)
    for plan in PLANS:
        forced.plan, before = plan, forced.calls
        sol = sc.iterate(k, u0, steps=17, record_every=8, inputs={"r": 2.9, "eps": 0.05})
        assert forced.calls > before
        assert np.isfinite(want).all()
        np.testing.assert_array_equal(sol.final, want)


def test_integrate_euler_uses_it(forced):
    k = sc.compile_stencil(sc.laplace(u), bc="periodic")
    u0 = _rng_state((26, 21))[0]
    want = _loop(k, [u0], 0.1, 20)[0]
    forced.plan, before = (6, 1, 2), forced.calls
    sol = sc.integrate(k, u0, t_end=2.0, dt=0.1, method="euler")
    assert forced.calls > before
    np.testing.assert_array_equal(sol.final, want)


def test_what_falls_back():
    """Problems whose blocked steps could differ from plain ones in the last bit run plainly."""
    def problem(rhs, **kw):
        return check_problem(rhs, state=kw.pop("state", None), fields=None, ndim=kw.pop("ndim", 2),
                             bc=kw.pop("bc", "neumann"), dtype="float64", spacing=1.0, fastmath=False,
                             order=2, origin=0.0)
    assert tileable(problem(sc.laplace(u))) is None
    assert tileable(problem(sc.laplace(u), bc="periodic")) is None
    assert tileable(problem(sc.laplace(u) + v + x * y, state=u, bc="periodic")) is None
    assert "1-D" in tileable(problem(sp.sin(u) + sc.laplace(u), ndim=1))
    fast = check_problem(sc.laplace(u), state=None, fields=None, ndim=2, bc="neumann", dtype="float64",
                         spacing=1.0, fastmath=True, order=2, origin=0.0)
    assert "fastmath" in tileable(fast)
    k = sc.compile_stencil(sp.sin(u) + sc.laplace(u), ndim=1)
    assert not k._stepping._tiled
    with pytest.raises(ValueError, match="no tile kernel: a 1-D right-hand side calling maths functions"):
        k._stepping.variant("euler_tiled")
    # a map of radius 0 (the Mandelbrot iteration) keeps the pointwise driver, one pass over memory
    # for every step, on a grid far past the blocking threshold too
    km = sc.compile_stencil(u * u * 0.5 + 0.25, state=u, ndim=2)
    assert km.radius == 0 and not km._stepping._tiled
    big = np.full((1100, 1100), 0.3)
    km.map_steps(big, steps=3)
    assert "map_tiled" not in km._stepping._variants


def test_automatic_plan():
    """Large grids get a plan whose rings fit the cache budget (cut along the last axis where the
    problem allows it); small ones, one step, or rows too long for two levels' rings run plainly."""
    depth, slab, bands, cols = stepping.tile_plan((4096, 4096), 8, 1, 1, 16)
    assert 2 <= depth <= stepping.TILE_MAX_DEPTH and bands == 0 and cols == 0
    assert (depth - 1) * (slab + 4) * 4096 * 8 <= stepping.TILE_WIDE_CACHE_BYTES
    assert stepping.tile_plan((4096, 4096), 8, 1, 1, 16, cut=True)[3] == 0     # deep enough in full rows
    depth, slab, bands, cols = stepping.tile_plan((1024, 16384), 8, 1, 1, 16, cut=True)
    width = cols + 2 * stepping.TILE_MAX_DEPTH
    assert cols == stepping.TILE_COLUMNS and depth > stepping.tile_plan((1024, 16384), 8, 1, 1, 16)[0]
    assert (depth + 1) * (slab + 4) * width * 8 <= stepping.TILE_CACHE_BYTES
    assert stepping.tile_plan((4096, 4096), 8, 1, 1, 1) is None
    assert stepping.tile_plan((3, 4096, 4096), 8, 1, 1, 16) is None
    assert stepping.tile_plan((64, 64), 8, 1, 1, 16) is None
    assert stepping.tile_plan((4096, 4096), 8, 1, 1, 3)[0] <= 3
    assert stepping.tile_plan((4096, 4096), 8, 1, 1, 17)[0] == 9      # 17 steps: sweeps of 9 and 8


def test_complex_schroedinger(forced):
    """A complex128 field (i·laplace(psi) - i·V·psi, with a real input potential read as a field)
    and a complex64 one without inputs, whose tiles may be cut."""
    psi, V = sc.fields("psi V")
    k = sc.compile_stencil(sp.I * sc.laplace(psi) - sp.I * V * psi, state=psi, bc="dirichlet:0",
                           dtype="complex128")
    rng = np.random.default_rng(7)
    p0 = rng.uniform(-1, 1, (27, 19)) + 1j * rng.uniform(-1, 1, (27, 19))
    _check(k, [p0], 0.05, 9, forced, cut=False, V=rng.uniform(0, 1, (27, 19)).astype(complex))
    k64 = sc.compile_stencil(sp.I * sc.laplace(psi) + 0.5 * psi * psi, state=psi, bc="neumann", dtype="complex64")
    _check(k64, [p0.astype(np.complex64)], np.float32(0.05), 9, forced, cut=True)


def test_unequal_reach(forced):
    """Reach 3 along the last axis and 1 along axis 0 (and the other way round): cut tiles keep
    halos of the last axis's reach, the rings of axis 0's."""
    far = (sc.shift(u, (0, 3)) + sc.shift(u, (0, -3)) - 2 * u) / 9
    k = sc.compile_stencil(far + sc.shift(u, (1, 0)) - u, bc="neumann")
    _check(k, _rng_state((21, 26)), 0.2, 8, forced, cut=True)
    k2 = sc.compile_stencil(sc.shift(u, (-3, 0)) - u + 0.5 * (sc.shift(u, (0, 1)) - u), bc=("dirichlet:0.2", "neumann"))
    _check(k2, _rng_state((26, 21)), 0.2, 8, forced, cut=True)


def test_integrate_and_iterate_batch_large_blocked_grids(monkeypatch):
    """On grids above the small-grid batch size, integrate's Euler and iterate still hand their
    stretches to the compiled driver when it is temporally blocked, and build it before the clock."""
    import importlib
    integ = importlib.import_module("stencilc.integrate")   # the module (the package exports the function)
    monkeypatch.setattr(integ, "_BATCH_MAX_POINTS", 16)
    k = sc.compile_stencil(sc.laplace(u), bc="neumann")
    u0 = _rng_state((24, 20))[0]
    want = _loop(k, [u0], 0.1, 12)[0]
    monkeypatch.setattr(stepping, "TILE_MIN_BYTES", 1 << 40)      # not blocked: one step at a time
    calls = []
    real = k._stepping.steps
    monkeypatch.setattr(k._stepping, "steps", lambda *a, **kw: (calls.append(a[4]), real(*a, **kw)))
    sol = sc.integrate(k, u0, t_end=1.2, dt=0.1, method="euler")
    assert calls == [] and "euler_tiled" not in k._stepping._variants
    np.testing.assert_array_equal(sol.final, want)
    monkeypatch.setattr(stepping, "TILE_MIN_BYTES", 0)
    sol = sc.integrate(k, u0, t_end=1.2, dt=0.1, method="euler")
    assert calls and sum(calls) > 1 and "euler_tiled" in k._stepping._variants
    np.testing.assert_array_equal(sol.final, want)
    km = sc.compile_stencil(0.5 * u + 0.1 * sc.laplace(u), bc="periodic")
    sol = sc.iterate(km, u0, steps=9)
    assert "map_tiled" in km._stepping._variants
    ref = u0.copy()
    for _ in range(9):
        ref = km(ref)
    np.testing.assert_array_equal(sol.final, ref)
