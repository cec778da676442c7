"""Coordinates and time: x, y, z at cell centres and exact faces from the loop index, `origin=`,
time-dependent stencils (`t=`, integrate's stage times, the fused Euler drivers advancing t),
manufactured solutions converging at second order in space with non-homogeneous Neumann, Robin
and time-dependent Dirichlet data, and every user mistake around the reserved names; on the numpy,
c and numba backends against analytic values (never against another backend)."""
import math

import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import Dirichlet, Field, Neumann, Robin, StencilError, div, grad, laplace, t, x, y, z

from params import C, HAS_CC, HAS_NUMBA, NUMBA  # noqa: E402,F401
BACKENDS = ["numpy", C, NUMBA]

u = Field("u")


def centres(n, h, o):
    return o + (np.arange(n) + 0.5) * h


@pytest.mark.parametrize("backend", BACKENDS)
def test_coordinates_time_and_faces(backend):
    """A source of x, y and t, and a variable coefficient of x at the exact face positions: on
    u = x (outward du/dn = -1 and 1 on the walls) div((1 + x**2) grad u) is
    ((1 + x_{i+1/2}**2) - (1 + x_{i-1/2}**2)) / h."""
    h, o = (0.25, 0.5), (-1.0, 2.0)
    rhs = div((1 + x ** 2) * grad(u)) + sp.exp(-(x ** 2 + y ** 2)) * sp.sin(t)
    k = sc.compile_stencil(rhs, state=u, ndim=2, backend=backend, spacing=h, origin=o,
                           bc=((Neumann(-1.0), Neumann(1.0)), Neumann()))
    assert k.time_dependent and k.params == () and k.origin == o
    X, Y = np.meshgrid(centres(5, h[0], o[0]), centres(6, h[1], o[1]), indexing="ij")
    source = np.exp(-(X ** 2 + Y ** 2)) * math.sin(0.7)
    faces_hi, faces_lo = X + h[0] / 2, X - h[0] / 2
    expected = ((1 + faces_hi ** 2) - (1 + faces_lo ** 2)) / h[0] + source
    np.testing.assert_allclose(k(X.copy(), t=0.7), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", C])
def test_3d_and_1d_coordinates(backend):
    k = sc.compile_stencil(laplace(u) + x - 2 * y + 3 * z, state=u, ndim=3, backend=backend,
                           spacing=(1.0, 0.5, 0.25), origin=(0.0, 1.0, -1.0))
    X, Y, Z = np.meshgrid(centres(2, 1.0, 0.0), centres(3, 0.5, 1.0), centres(4, 0.25, -1.0),
                          indexing="ij")
    np.testing.assert_allclose(k(np.zeros((2, 3, 4))), X - 2 * Y + 3 * Z, rtol=1e-13, atol=1e-13)
    k1 = sc.compile_stencil("D(u, 0) + x**2", state="u", ndim=1, backend=backend, origin=3.0)
    assert not k1.time_dependent
    np.testing.assert_allclose(k1(np.zeros(7)), centres(7, 1.0, 3.0) ** 2, rtol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", C])
def test_fused_euler_drivers_advance_t(backend):
    """Euler on du/dt = cos(t) from t=0.2 takes u + dt*sum(cos(t_k)): the multi-step driver, the
    in-place sweep and the Python loop each use every step's own time."""
    k = sc.compile_stencil(laplace(u) + sp.cos(t), state=u, ndim=2, backend=backend)
    u0, dt, n = np.zeros((4, 5)), 0.1, 7
    exact = dt * sum(math.cos(0.2 + j * dt) for j in range(n))
    np.testing.assert_allclose(k.euler_steps(u0, dt=dt, steps=n, t=0.2, out=np.empty_like(u0)), exact,
                               rtol=1e-13)
    v = u0.copy()
    k.euler_steps(v, dt=dt, steps=n, t=0.2, out=v)
    np.testing.assert_allclose(v, exact, rtol=1e-13)
    np.testing.assert_allclose(k.euler_step(u0, dt=dt, t=0.2), dt * math.cos(0.2), rtol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", C])
def test_rk4_on_cos_t_is_fourth_order(backend):
    """du/dt = cos(t), u(0) = 0: u(t) = sin(t); rk4 (each stage at t + c_i dt) converges at 4."""
    k = sc.compile_stencil(laplace(u) + sp.cos(t), state=u, ndim=1, backend=backend)
    errors = []
    for dt in (0.4, 0.2, 0.1):
        sol = sc.integrate(k, np.zeros(3), t_end=math.pi / 2 + 1.0, t0=1.0, dt=dt, method="rk4")
        errors.append(abs(sol.final - (math.sin(math.pi / 2 + 1.0) - math.sin(1.0))).max())
    orders = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(3.8 < p < 4.3 for p in orders), (errors, orders)
    sol = sc.integrate(k, np.zeros(3), t_end=2.0, dt=0.05, method="rk45", rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.final, math.sin(2.0), rtol=1e-7)


def _heat_error(backend, n, bc, exact_fn, source, t_end=0.1):
    """Max error at t_end of du/dt = laplace(u) + source(x, t) on [0, 1] with n cells, rk4 with
    dt = 0.2 h^2, started from the exact solution."""
    h = 1.0 / n
    k = sc.compile_stencil(laplace(u) + source, state=u, ndim=1, backend=backend, spacing=h, bc=bc)
    xs = centres(n, h, 0.0)
    sol = sc.integrate(k, exact_fn(xs, 0.0), t_end=t_end, dt=0.2 * h * h, method="rk4")
    return abs(sol.final - exact_fn(xs, t_end)).max()


# a manufactured solution u = cos(t) * cos(x) + x**2 / 2 on [0, 1]: du/dt - laplace(u) =
# -sin(t) cos(x) + cos(t) cos(x) - 1
EXACT_T = sp.cos(t) * sp.cos(x) + x ** 2 / 2
SOURCE = sp.diff(EXACT_T, t) - sp.diff(EXACT_T, x, 2)
U = sp.lambdify((x, t), EXACT_T, "numpy")
DUDX = sp.diff(EXACT_T, x)


@pytest.mark.parametrize("kind", ["neumann", "robin", "dirichlet"])
@pytest.mark.parametrize("backend", ["numpy", C])
def test_second_order_in_space_with_boundary_data(backend, kind):
    """Non-homogeneous, time-dependent data at both walls: outward du/dn is -du/dx at x=0 and
    du/dx at x=1; Robin 2u + du/dn = g; Dirichlet the exact u on the faces."""
    if kind == "neumann":
        bc = (Neumann(-DUDX.subs(x, 0)), Neumann(DUDX))      # the high one as an expression of x
    elif kind == "robin":
        bc = (Robin(2, 1, (2 * EXACT_T - DUDX).subs(x, 0)), Robin(2, 1 + 0 * t, 2 * EXACT_T + DUDX))
    else:
        bc = (Dirichlet(EXACT_T), Dirichlet(EXACT_T))
    errors = [_heat_error(backend, n, bc, U, SOURCE) for n in (8, 16, 32)]
    orders = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(1.8 < p < 2.3 for p in orders), (errors, orders)


def test_steady_robin_plate_in_2d_matches_the_oracle_of_faces():
    """Robin data varying along the wall (y) on the low x face of a 2-D grid: the ghost reads the
    value at the face position x = origin and the cell's y."""
    k = sc.compile_stencil(laplace(u), state=u, ndim=2, backend="numpy", spacing=0.5, origin=(1.0, 0.0),
                           bc=((Robin(1, 1, y), Neumann()), Neumann()))
    U0 = np.zeros((3, 2))
    got = k(U0)
    # ghost G with (G + 0)/2 + (G - 0)/h = y -> G = y / (1/2 + 1/h); laplace at row 0 = G / h^2
    ys = centres(2, 0.5, 0.0)
    np.testing.assert_allclose(got[0], ys / (0.5 + 2.0) / 0.25, rtol=1e-13)
    np.testing.assert_allclose(got[1:], 0.0, atol=1e-14)


# ------------------------------------------------------------------------- user mistakes

def test_time_keyword_is_required_exactly_when_used():
    k = sc.compile_stencil(laplace(u) + t, state=u, ndim=1, backend="numpy")
    with pytest.raises(TypeError, match="missing argument 't'"):
        k(np.zeros(3))
    k2 = sc.compile_stencil(laplace(u) + x, state=u, ndim=1, backend="numpy")
    with pytest.raises(TypeError, match="does not depend on the time t"):
        k2(np.zeros(3), t=1.0)
    kb = sc.compile_stencil(laplace(u), state=u, ndim=1, backend="numpy", bc=Dirichlet(sp.sin(t)))
    assert kb.time_dependent and "t" not in kb.params
    with pytest.raises(StencilError, match="leave 't' out of inputs"):
        sc.integrate(k, np.zeros(3), t_end=1.0, dt=0.1, inputs={"t": 0.0})


@pytest.mark.parametrize("make, match", [
    (lambda: sc.compile_stencil(laplace(Field("x")), backend="numpy"), "reserved for the coordinate along axis 0"),
    (lambda: sc.compile_stencil("laplace(t)", state="t", backend="numpy"), "reserved for the time"),
    (lambda: sc.compile_stencil("laplace(u) + y", state="u", fields=["y"], backend="numpy"), "'y' is reserved"),
    (lambda: sc.compile_stencil(laplace(u) + z, state=u, ndim=2, backend="numpy"),
     "uses z, the coordinate along axis 2, but ndim=2; the coordinates of this grid are x, y"),
    (lambda: sc.compile_stencil(laplace(u) + y, state=u, ndim=1, backend="numpy"), "uses y"),
    (lambda: sc.compile_stencil(laplace(u), state=u, origin=(0, 1, 2), backend="numpy"), "origin has 3 entries"),
    (lambda: sc.compile_stencil(laplace(u), state=u, origin="left", backend="numpy"), "origin 'left' on axis 0"),
    (lambda: sc.compile_stencil("lambda*laplace(u)", state="u", backend="numpy"), "'lambda' .* Python keyword"),
    (lambda: sc.compile_stencil("D*laplace(u) + D(u, 0)", state="u", backend="numpy"),
     "'D' .* is both called, .* used as a value"),
    (lambda: sc.compile_stencil("laplace(u", state="u", backend="numpy"), "could not parse"),
])
def test_mistakes_are_one_line_errors(make, match):
    with pytest.raises(StencilError, match=match) as e:
        make()
    assert "\n" not in str(e.value) and "(" != str(e.value)[0]


def test_diffusivity_called_D_in_a_string():
    """`D*laplace(u)` in a string: D is not called, so it is a parameter (the diffusivity)."""
    k = sc.compile_stencil("D*laplace(u) + sin(t)*exp(-x**2)", state="u", ndim=1, backend="numpy")
    assert k.params == ("D",) and k.time_dependent
    a = np.arange(5.0) ** 2          # laplace = 2 inside; Neumann walls mirror
    got = k(a, D=0.5, t=1.0)
    np.testing.assert_allclose(got[1:-1], 0.5 * 2 + math.sin(1.0) * np.exp(-centres(5, 1, 0)[1:-1] ** 2))
    k2 = sc.compile_stencil("D(u, 0)", state="u", ndim=1, backend="numpy")   # the operator
    np.testing.assert_allclose(k2(a)[1:-1], (a[2:] - a[:-2]) / 2)


def test_tokenizer_error_reads_as_a_message():
    with pytest.raises(StencilError) as e:
        sc.compile_stencil("laplace(u) + (x", state="u", backend="numpy")
    assert "parentheses" in str(e.value) or "never closed" in str(e.value)
    assert "(1," not in str(e.value) and "(2, 0)" not in str(e.value)


def test_plain_sympy_symbols_are_the_coordinates():
    """sympy.Symbol('t') (any assumptions) is the time; the same names in strings."""
    T, X = sp.Symbol("t", real=True), sp.Symbol("x")
    k = sc.compile_stencil(laplace(u) + sp.cos(T) * X, state=u, ndim=1, backend="numpy")
    assert k.time_dependent and k.params == ()
    np.testing.assert_allclose(k(np.zeros(3), t=0.0), centres(3, 1.0, 0.0))
    assert sc.generate(laplace(u) + x, ndim=1, origin=1.0, target="c") != sc.generate(laplace(u) + x, ndim=1,
                                                                                          target="c")
