"""`order=4` and `order=6`: observed convergence against manufactured solutions (SymPy's own
derivatives of the continuous functions, on periodic grids), the C and Numba backends against NumPy,
exact conservation at zero-flux walls, the fused and multi-step drivers, the radius, and order 2
unchanged.

The convergence sweep uses spacing 1 on grids of N cells with solutions of wavelength N, so that one
compiled kernel serves every resolution: the relative error then falls as N^-p.
"""
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import D, StencilError, div, dot, grad, laplace

import reference as ref

X = sp.symbols("x0:3")
c = sc.Field("c")

# name -> (the operator of a field, its exact value for smooth functions u, c of X)
OPERATORS = {
    "laplace": (lambda f: laplace(f), lambda u, k, nd: sum(sp.diff(u, x, 2) for x in X[:nd])),
    "D": (lambda f: D(f, 0), lambda u, k, nd: sp.diff(u, X[0])),
    "div_c_grad": (lambda f: div(c * grad(f)), lambda u, k, nd: sum(sp.diff(k * sp.diff(u, x), x) for x in X[:nd])),
    "dot_grad": (lambda f: dot(grad(f), grad(f)), lambda u, k, nd: sum(sp.diff(u, x) ** 2 for x in X[:nd])),
    "div_sin_grad": (lambda f: div(sp.sin(grad(f))),
                     lambda u, k, nd: sum(sp.diff(sp.sin(sp.diff(u, x)), x) for x in X[:nd])),
}
NAMES = list(OPERATORS)
STATE = sc.fields(" ".join(f"u_{n}" for n in NAMES))


def system(ndim, order, backend="numpy", bc="periodic", names=NAMES):
    """The operators in one kernel: state field u_<name> gets <name>(u_<name>)."""
    rhs = {f: OPERATORS[n][0](f) for f, n in zip(STATE, NAMES) if n in names}
    return sc.compile_stencil(rhs, fields=[c] if "div_c_grad" in names else None, ndim=ndim, bc=bc,
                              backend=backend, order=order)


def manufactured(ndim, N):
    """u (gradients of order 1/2) and c on a periodic grid of N cells per axis with spacing 1."""
    w = 2 * sp.pi / N
    u = N / (4 * sp.pi) * sp.sin(w * X[0] + 0.3)
    for a in range(1, ndim):
        u = u * sp.cos(w * X[a] - 0.2 * a)
    k = 1.5 + sp.sin(w * sum(X[:ndim]))
    return u, k


def values(expr, ndim, N):
    centres = np.meshgrid(*[np.arange(N) + 0.5] * ndim, indexing="ij")
    return sp.lambdify(X[:ndim], expr, "numpy")(*centres) * np.ones((N,) * ndim)


def relative_errors(kernel, ndim, N):
    u, k = manufactured(ndim, N)
    got = kernel(*[values(u, ndim, N)] * len(NAMES), c=values(k, ndim, N))
    out = []
    for name, g in zip(NAMES, got):
        exact = values(OPERATORS[name][1](u, k, ndim), ndim, N)
        out.append(np.abs(g - exact).max() / np.abs(exact).max())
    return np.array(out)


@pytest.mark.parametrize("ndim, order, sizes", [(1, 4, (16, 32)), (1, 6, (32, 64)), (2, 4, (16, 32)),
                                                (2, 6, (16, 32)), (3, 4, (12, 24)), (3, 6, (16, 32))])
def test_observed_convergence_order(ndim, order, sizes):
    k = system(ndim, order)
    assert k.radius == order - 1 and k.order == order   # D's reach; laplace's is order / 2
    coarse, fine = (relative_errors(k, ndim, N) for N in sizes)
    observed = np.log(coarse / fine) / np.log(sizes[1] / sizes[0])
    assert np.all(observed >= order - 0.3), dict(zip(NAMES, observed.round(2)))
    assert np.all(fine < 1e-3)


def test_higher_order_is_more_accurate_than_order_2():
    errors = {p: relative_errors(system(2, p), 2, 24) for p in (2, 4, 6)}
    assert np.all(errors[4] < errors[2] / 5) and np.all(errors[6] < errors[4] / 5)


def _inputs(ndim, shape, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape) for _ in NAMES], rng.uniform(0.5, 2.0, shape)


NUMBA = [pytest.mark.sampled_backend]   # numba compiles large kernels slowly: its 1-D case runs by default


@pytest.mark.parametrize("backend, ndim, bc, names", [
    ("c", 2, "neumann", NAMES), ("c", 3, ("periodic", "dirichlet", "neumann"), ("laplace", "div_sin_grad")),
    pytest.param("numba", 1, "dirichlet", NAMES, marks=NUMBA + [pytest.mark.in_sample]),
    pytest.param("numba", 2, "neumann", NAMES, marks=NUMBA),
])
def test_backends_match_numpy_at_order_4(backend, ndim, bc, names):
    """Every operator, its boundary strips (grids down to one cell) and flux reuse at radius 3."""
    try:
        k = system(ndim, 4, backend, bc, names)
    except StencilError as e:
        pytest.skip(str(e))
    expected = system(ndim, 4, "numpy", bc, names)
    for shape in [(11, 9, 8)[:ndim], (2, 1, 3)[:ndim]]:
        us, cc = _inputs(ndim, shape, ndim)
        inputs = {"c": cc} if "div_c_grad" in names else {}
        for name, g, e in zip(names, k(*us[:len(names)], **inputs), expected(*us[:len(names)], **inputs)):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("order", [4, 6])
def test_zero_flux_walls_are_exactly_conservative(order):
    """The sum over the grid of div(c grad u), div(sin(grad u)) and laplace(u) with Neumann(0)
    walls is zero to round-off, also on grids narrower than the stencil (the C and Numba kernels
    match these to 1e-12 above)."""
    rhs = {f: op(f) for f, op in zip(sc.fields("a b e"), (lambda f: div(c * grad(f)),
                                                           lambda f: div(sp.sin(grad(f))), laplace))}
    k = sc.compile_stencil(rhs, fields=[c], ndim=2, bc="neumann", backend="numpy", order=order)
    rng = np.random.default_rng(order)
    for shape in [(13, 10), (3, 2)]:
        arrays = [rng.uniform(0, 3, shape) for _ in range(3)]
        for out in k(*arrays, c=rng.uniform(0.5, 2.0, shape)):
            assert abs(out.sum()) <= 1e-13 * np.abs(out).sum() * out.size
            assert np.abs(out).max() > 0.1


def test_fused_and_multi_step_drivers_at_order_4():
    """The C kernel's Euler step, in-place step, multi-step driver and rk4 against NumPy."""
    theta, omega = sc.fields("theta omega")
    rhs = omega + div(sp.sin(grad(theta)))
    k = sc.compile_stencil(rhs, state=theta, ndim=2, bc="neumann", backend="c", order=4)
    r = sc.compile_stencil(rhs, state=theta, ndim=2, bc="neumann", backend="numpy", order=4)
    assert k.radius == 3
    rng = np.random.default_rng(5)
    t0, w = rng.uniform(0, 1, (17, 14)), rng.normal(size=(17, 14))
    expected = t0.copy()
    for _ in range(5):
        expected = expected + 0.01 * r(expected, omega=w)
    np.testing.assert_allclose(k.euler_steps(t0, dt=0.01, steps=5, out=np.empty_like(t0), omega=w), expected,
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(k.euler_step(t0, dt=0.01, omega=w), t0 + 0.01 * r(t0, omega=w), rtol=0, atol=1e-13)
    inplace = t0.copy()
    k.euler_steps(inplace, dt=0.01, steps=5, out=inplace, omega=w)
    np.testing.assert_allclose(inplace, expected, rtol=0, atol=1e-12)
    got = sc.integrate(k, t0, t_end=0.05, dt=0.01, method="rk4", inputs={"omega": w}).final
    want = sc.integrate(r, t0, t_end=0.05, dt=0.01, method="rk4", inputs={"omega": w}).final
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_radius_follows_the_order():
    u = sc.Field("u")
    for order, radius in [(2, 1), (4, 3), (6, 5)]:
        assert sc.compile_stencil(D(u, 0), state=u, ndim=1, backend="numpy", order=order).radius == radius
    for order, radius in [(2, 1), (4, 2), (6, 3)]:
        assert sc.compile_stencil(laplace(u), state=u, ndim=2, backend="numpy", order=order).radius == radius
    assert sc.compile_stencil(laplace(laplace(u)), state=u, ndim=1, backend="numpy", order=4).radius == 4
    assert sc.compile_stencil(div(grad(u)), state=u, ndim=1, backend="numpy", order=4).radius == 3
    # a field read where it is (no difference, no face) is not widened
    assert sc.compile_stencil(u**2 + sc.shift(u, (1,)), state=u, ndim=1, backend="numpy", order=6).radius == 1


@pytest.mark.parametrize("spacing", [1.0, (0.5, 2.0)])
def test_laplace_at_order_4_and_6_is_the_compact_second_difference(spacing):
    """Against the textbook (p + 1)-point formulas written with np.roll on a periodic grid."""
    u = sc.Field("u")
    a = np.random.default_rng(7).normal(size=(9, 8))
    h = np.broadcast_to(spacing, (2,))
    weights = {4: [-30, 16, -1], 6: [-490, 270, -27, 2]}
    for order, (w0, *wm) in weights.items():
        scale = 12 if order == 4 else 180
        expected = sum((w0 * a + sum(w * (np.roll(a, m, ax) + np.roll(a, -m, ax)) for m, w in enumerate(wm, 1)))
                       / (scale * h[ax] ** 2) for ax in range(2))
        k = sc.compile_stencil(laplace(u), state=u, ndim=2, bc="periodic", backend="numpy", order=order,
                               spacing=spacing)
        np.testing.assert_allclose(k(a), expected, rtol=1e-12, atol=1e-12)


def test_order_2_is_the_default_discretisation_unchanged():
    theta, omega, u = sc.fields("theta omega u")
    cases = [(omega + div(sp.sin(grad(theta))), dict(state=theta, bc="neumann")),
             (div(c * grad(u)) + dot(grad(u), grad(u)) + laplace(laplace(u)), dict(state=u, bc="dirichlet"))]
    for rhs, kw in cases:
        for target in ("c", "numpy", "numba", "cuda"):
            assert sc.generate(rhs, target=target, order=2, **kw) == sc.generate(rhs, target=target, **kw)
    # against the ghost-cell oracle
    k = sc.compile_stencil(laplace(u), state=u, ndim=2, bc="dirichlet", backend="c", order=2, spacing=0.5)
    a = np.random.default_rng(6).normal(size=(7, 6))
    expected = ref.laplace(a, [(ref.dirichlet(0.0),) * 2] * 2, h=0.5)
    np.testing.assert_allclose(k(a), expected, rtol=1e-12, atol=1e-12)


def test_generated_source_names_the_order():
    u = sc.Field("u")
    source = sc.generate(laplace(u), state=u, order=6)
    assert "sixth-order" in source and "--order 6" in source
    assert "--order" not in sc.generate(laplace(u), state=u)


@pytest.mark.parametrize("order", [3, 8, 0, True, 4.0, "4", None])
def test_bad_order_is_a_one_line_error(order):
    with pytest.raises(StencilError, match=r"order=.* is not supported; use 2, 4 or 6") as info:
        sc.compile_stencil("laplace(u)", backend="numpy", order=order)
    assert "\n" not in str(info.value)


def test_cli_order():
    run = [sys.executable, "-m", "stencilc", "emit", "laplace(u)", "--state", "u"]
    done = subprocess.run(run + ["--order", "4"], capture_output=True, text=True, check=True)
    assert done.stdout == sc.generate("laplace(u)", state="u", order=4)
    bad = subprocess.run(run + ["--order", "5"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "accepted: 2, 4, 6" in bad.stderr
