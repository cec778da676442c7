"""The Mandelbrot iteration as a stencilc map, against the seed's NumPy version, and the C backend's
multi-step driver for pointwise maps (radius 0) against hand-written NumPy.

The map: state ``w`` (z of the seed; ``z`` is stencilc's third coordinate) and ``n``, a complex
field whose real part counts the iterations a point spent inside the horizon, starting at -1, so
that it ends as the seed's ``N``: the last iteration ``n`` at which ``abs(Z) < horizon`` held (the
seed sets ``N[I] = n`` before it advances ``Z[I]``). Once outside, a point keeps its ``w`` and its
count, as the seed's mask leaves ``Z`` and ``N`` alone there.

The seed's function is copied verbatim below; it is the oracle. Its rounding is NumPy's: on a CPU
with fused multiply-add, NumPy's vector loop for a complex square fuses (``re*re - im*im`` rounds
once), which C99 without contraction (stencilc's C, and Numba) does not. The numpy backend computes
with the same NumPy operations and matches the seed bit for bit (counts and ``Z``); the compiled
backends match its counts on the small grids below, while on finer grids a few points near the
set's boundary that escape late (after 130 iterations or more), where the orbit is chaotic and a
one-ulp difference grows, record other counts (814 of the 833,000 points of the seed's 1000 x 833
grid, measured). Their arithmetic is checked exactly against a hand-written NumPy version with the
unfused product instead.
"""

import numpy as np
import pytest
import sympy as sp

from stencilc import Field, compile_stencil, iterate

BACKENDS = ["numpy", "c", "numba"]


# The seed's NumPy Mandelbrot, verbatim (N. Rougier, "From Python to NumPy", Chap 4.3, as quoted in
# the seed document): the oracle.
def mandelbrot_numpy(xmin, xmax, ymin, ymax, nx, ny, maxiter, horizon=2.0):   
    X = np.linspace(xmin, xmax, nx, dtype=np.float32)
    Y = np.linspace(ymin, ymax, ny, dtype=np.float32)
    C = X + Y[:, None]*1j
    N = np.zeros(C.shape, dtype=int)
    Z = np.zeros(C.shape, dtype=np.complex64)
    for n in range(maxiter):
        I = np.abs(Z) < horizon
        N[I] = n
        Z[I] = Z[I]**2 + C[I]
    N[N == maxiter-1] = 0
    return Z, N


# the seed document's box, maxiter and horizon
BOX = (-2.25, 0.75, -1.25, 1.25)
MAXITER = 200
HORIZON = 2.0 ** 40

w, n, c = Field("w"), Field("n"), Field("c")
_compiled = {}


def mandelbrot_stencil(backend, squared):
    """The map; `squared` tests |w|^2 < horizon^2 (no square root) instead of Abs(w) < horizon."""
    if backend == "numba":
        pytest.importorskip("numba")
    if (backend, squared) not in _compiled:
        inside = (sp.re(w)**2 + sp.im(w)**2 < HORIZON**2) if squared else (sp.Abs(w) < HORIZON)
        _compiled[backend, squared] = compile_stencil(
            {w: sp.Piecewise((w**2 + c, inside), (w, True)), n: sp.Piecewise((n + 1, inside), (n, True))},
            fields=[c], backend=backend, dtype="complex64")
    return _compiled[backend, squared]


def grid(nx, ny):
    """The seed's C for a grid of nx x ny points (its own lines, so C is bit for bit the seed's)."""
    xmin, xmax, ymin, ymax = BOX
    X = np.linspace(xmin, xmax, nx, dtype=np.float32)
    Y = np.linspace(ymin, ymax, ny, dtype=np.float32)
    return X + Y[:, None]*1j


def mandelbrot_stencilc(backend, nx, ny, maxiter=MAXITER, squared=False, **options):
    """(Z, N) as the seed returns them, from stencilc's map."""
    C = grid(nx, ny)
    start = {"w": np.zeros(C.shape, np.complex64), "n": np.full(C.shape, -1, np.complex64)}
    sol = iterate(mandelbrot_stencil(backend, squared), start, steps=maxiter, inputs={"c": C}, **options)
    N = sol.final["n"].real.astype(int)
    N[N == maxiter - 1] = 0
    return sol.final["w"], N, sol


def unfused_oracle(nx, ny, maxiter):
    """The seed's iteration written out in float32 parts, with C99's complex product
    (re*re - im*im, re*im + im*re: each operation rounded) and the squared-modulus test."""
    C = grid(nx, ny)
    cr, ci = C.real.copy(), C.imag.copy()
    zr, zi = np.zeros_like(cr), np.zeros_like(ci)
    N = np.zeros(C.shape, dtype=int)
    with np.errstate(over="ignore", invalid="ignore"):   # the squares np.where discards
        for k in range(maxiter):
            inside = zr * zr + zi * zi < np.float32(HORIZON**2)   # inf once far outside: False
            N[inside] = k
            zr, zi = (np.where(inside, zr * zr - zi * zi + cr, zr),
                      np.where(inside, zr * zi + zi * zr + ci, zi))
    N[N == maxiter - 1] = 0
    return zr, zi, N


def test_the_seed_oracle_is_what_the_seed_document_says():
    Z, N = mandelbrot_numpy(*BOX, 60, 50, MAXITER, HORIZON)
    assert Z.dtype == np.complex64 and N.shape == (50, 60)
    assert N[25, 45] == 0            # c = 0.04 + 0.03i, in the main cardioid: never escapes
    assert N[25, 0] > 0              # c = -2.25 + 0.03i escapes within a few iterations
    assert N.max() < MAXITER - 1     # the count of a point that never escaped is reset to 0


@pytest.mark.parametrize("squared", [False, True], ids=["abs", "squared"])
def test_numpy_backend_matches_the_seed_bit_for_bit(squared):
    Z, N = mandelbrot_numpy(*BOX, 60, 50, MAXITER, HORIZON)
    Zs, Ns, _ = mandelbrot_stencilc("numpy", 60, 50, squared=squared)
    np.testing.assert_array_equal(Ns, N)
    np.testing.assert_array_equal(Zs.view(np.uint64), Z.view(np.uint64))   # every bit of z too


@pytest.mark.parametrize("backend", ["c", "numba"])
@pytest.mark.parametrize("squared", [False, True], ids=["abs", "squared"])
@pytest.mark.parametrize("nx, ny", [(48, 40), (64, 48)])
def test_compiled_backends_count_escapes_as_the_seed_does(backend, squared, nx, ny):
    Z, N = mandelbrot_numpy(*BOX, nx, ny, MAXITER, HORIZON)
    _, Ns, _ = mandelbrot_stencilc(backend, nx, ny, squared=squared)
    np.testing.assert_array_equal(Ns, N)
    assert len(np.unique(N)) > 30             # many different escape times, not a flat picture


@pytest.mark.parametrize("backend", ["c", "numba"])
def test_compiled_backends_compute_the_unfused_iteration_exactly(backend):
    # 300 points along a row: a full tile of the C driver and a partial one
    zr, zi, N = unfused_oracle(300, 37, MAXITER)
    Zs, Ns, sol = mandelbrot_stencilc(backend, 300, 37, squared=True)
    np.testing.assert_array_equal(Ns, N)
    np.testing.assert_array_equal(Zs.real, zr)
    np.testing.assert_array_equal(Zs.imag, zi)
    assert sol.stats["calls"] == 1            # one driver call (C) or one stretch (Numba)


def test_the_driver_and_one_call_per_step_agree_bit_for_bit():
    # a callback makes iterate call the one-step function once per step
    Zs, Ns, sol = mandelbrot_stencilc("c", 300, 37, maxiter=120, record_every=50)
    Zc, Nc, solc = mandelbrot_stencilc("c", 300, 37, maxiter=120, callback=lambda k, state: None)
    assert sol.stats["calls"] == 3 and solc.stats["calls"] == 120
    np.testing.assert_array_equal(Ns, Nc)
    np.testing.assert_array_equal(Zs.view(np.uint64), Zc.view(np.uint64))


# ----------------------------------------------------------------- the pointwise driver, real maps

u, v = Field("u"), Field("v")
r = sp.Symbol("r")
# every product has two factors and no multiply feeds an add that C could fuse (it does not: no
# contraction without fastmath), so NumPy evaluates the same operations in the same order
# contraction without fastmath), so NumPy evaluates the same operations in the same order (a
# factor 1/2 or 1/4 is exact wherever it stands); u and v stay in [0, 1] for 0 <= r <= 4
POINTWISE = {u: sp.Piecewise((r * (u - u**2), u < 0.75), ((u + v) / 4, True)),
             v: u * v / 2 + sp.Rational(1, 4)}


def pointwise_oracle(a, b, steps, rate):
    for _ in range(steps):
        a, b = np.where(a < 0.75, rate * (a - a * a), (a + b) / 4), a * b / 2 + 0.25
    return a, b


@pytest.mark.parametrize("shape", [(1000,), (5, 300), (3, 4, 270), (2, 1)], ids=str)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pointwise_driver_matches_numpy_bit_for_bit(shape, dtype):
    k = compile_stencil(POINTWISE, ndim=len(shape), backend="c", dtype=dtype)
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.1, 0.9, shape).astype(dtype), rng.uniform(0.1, 0.9, shape).astype(dtype)
    rate = np.dtype(dtype).type(3.7)
    out = k.map_steps(a, b, steps=60, r=rate)
    ea, eb = pointwise_oracle(a, b, 60, rate)
    assert ea.dtype == dtype and np.all((0 <= ea) & (ea <= 1)) and len(np.unique(ea)) > ea.size // 2
    np.testing.assert_array_equal(out[0], ea)
    np.testing.assert_array_equal(out[1], eb)


def test_pointwise_euler_steps_with_time_match_numpy_bit_for_bit():
    # du/dt = t - u*u: Euler's u + dt*(t - u*u) with t = n*dt at step n, in the fused driver
    k = compile_stencil(sp.Symbol("t") - u * u, state=u, ndim=2, backend="c")
    u0 = np.random.default_rng(2).uniform(-1, 1, (7, 290))
    dt = 0.01
    got = k.euler_steps(u0, dt=dt, steps=75, t=0.0)
    want = u0.copy()
    for step in range(75):
        want = want + dt * (step * dt - want * want)
    np.testing.assert_array_equal(got, want)


def test_only_kernels_of_radius_zero_get_the_pointwise_driver():
    from stencilc.backends import c as c_backend
    from stencilc.api import _render
    from stencilc.symbolic import check_problem
    from stencilc import laplace

    def source(rhs):
        problem = check_problem(rhs, state=None, fields=None, ndim=2, bc="neumann", dtype="float64",
                                spacing=1.0, origin=0.0, order=2)
        return _render(problem, c_backend, "k", "map")[0]

    assert "_tile" in source(POINTWISE)
    assert "_tile" not in source({u: u + laplace(u)}) and "_spare_u" in source({u: u + laplace(u)})


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_pointwise_driver_with_coordinates_matches_one_call_per_step(ndim):
    # coordinates are computed per point from the loop indices, in the driver's step loop too.
    # Arithmetic only: a libm function (sin) may run as its vector version at a point in one loop
    # and as its scalar one in the other (both within 4 ulp; measured: 4 of 1350 points 1 ulp apart)
    from stencilc import x, y, z
    coords = (x, y, z)[:ndim]
    k = compile_stencil(u / 2 + sp.Mul(*coords) - coords[-1] / 3, state=u, ndim=ndim, backend="c",
                        spacing=0.25, origin=-1.0)
    shape = (3, 5, 270)[-ndim:] if ndim > 1 else (300,)
    u0 = np.random.default_rng(1).uniform(-1, 1, shape)
    driven = iterate(k, u0, steps=40)
    stepped = iterate(k, u0, steps=40, callback=lambda n, state: None)
    assert driven.stats["calls"] == 1 and stepped.stats["calls"] == 40
    np.testing.assert_array_equal(driven.final, stepped.final)
