"""Fused Euler step `u + dt*f(u)` against the NumPy reference right-hand side."""
import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import Dirichlet, Field, compile_stencil, div, grad, laplace

theta, omega, u, v = sc.fields("theta omega u v")
K = sp.Symbol("K")


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (31, 17)])
@pytest.mark.parametrize("bc", ["neumann", ((Dirichlet(1.0), "neumann"), "periodic")])
def test_euler_step_matches_reference(backend, shape, bc):
    rhs = omega + K * div(sp.sin(grad(theta)))
    ref = sc.compile_stencil(rhs, backend="numpy", bc=bc)
    k = sc.compile_stencil(rhs, backend=backend, bc=bc)
    rng = np.random.default_rng(1)
    t0, w = rng.uniform(0, 6, shape), rng.normal(size=shape)
    keep = t0.copy()
    got = k.euler_step(t0, dt=0.05, omega=w, K=2.0)
    np.testing.assert_allclose(got, t0 + 0.05 * ref(t0, omega=w, K=2.0), rtol=0, atol=1e-13)
    np.testing.assert_array_equal(t0, keep)


def test_euler_step_system_float32():
    rhs = {u: laplace(u) - u * v**2, v: 0.5 * laplace(v) + u * v**2}
    ref = sc.compile_stencil(rhs, backend="numpy", bc="periodic", dtype="float32")
    k = sc.compile_stencil(rhs, backend="c", bc="periodic", dtype="float32")
    rng = np.random.default_rng(2)
    a, b = (rng.random((12, 9), dtype=np.float32) for _ in range(2))
    outs = (np.empty_like(a), np.empty_like(b))
    got = k.euler_step(a, b, dt=0.1, out=outs)
    assert got[0] is outs[0] and got[0].dtype == np.float32
    fa, fb = ref(a, b)
    np.testing.assert_allclose(got[0], a + np.float32(0.1) * fa, rtol=0, atol=2e-6)
    np.testing.assert_allclose(got[1], b + np.float32(0.1) * fb, rtol=0, atol=2e-6)


def test_euler_step_checks_dt():
    k = sc.compile_stencil(laplace(u), backend="numpy")
    with pytest.raises(ValueError, match="parameter 'dt'"):
        k.euler_step(np.zeros((3, 3)), dt="big")
    with pytest.raises(TypeError):
        k.euler_step(np.zeros((3, 3)))


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("steps", [0, 1, 2, 7])
def test_euler_steps_match_repeated_reference_steps(backend, steps):
    rhs = {u: laplace(u) - u * v, v: 0.5 * laplace(v) + u * v - K * v}
    ref = sc.compile_stencil(rhs, backend="numpy", bc="periodic")
    k = sc.compile_stencil(rhs, backend=backend, bc="periodic")
    rng = np.random.default_rng(4)
    a, b = rng.random((13, 11)), rng.random((13, 11))
    keep = a.copy(), b.copy()
    ea, eb = a.copy(), b.copy()
    for _ in range(steps):
        fa, fb = ref(ea, eb, K=0.3)
        ea, eb = ea + 0.01 * fa, eb + 0.01 * fb
    got = k.euler_steps(a, b, dt=0.01, steps=steps, K=0.3)
    np.testing.assert_allclose(got[0], ea, rtol=0, atol=1e-13)
    np.testing.assert_allclose(got[1], eb, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(a, keep[0])
    np.testing.assert_array_equal(b, keep[1])


def test_euler_steps_runs_in_compiled_code_and_checks_steps():
    k = sc.compile_stencil(laplace(u), backend="c")
    k.euler_steps(np.zeros((4, 4)), dt=0.1, steps=1)
    assert hasattr(k._stepping.variant("euler"), "steps")  # the loop runs inside the compiled library
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        k.euler_steps(np.zeros((4, 4)), dt=0.1, steps=-1)
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        k.euler_steps(np.zeros((4, 4)), dt=0.1, steps=2.5)


def test_euler_steps_with_an_input_field_numpy():
    rhs = omega + K * div(sp.sin(grad(theta)))
    k = sc.compile_stencil(rhs, backend="numpy")
    rng = np.random.default_rng(5)
    t0, w = rng.uniform(0, 6, (6, 5)), rng.normal(size=(6, 5))
    e = t0.copy()
    for _ in range(3):
        e = e + 0.1 * k(e, omega=w, K=1.0)
    np.testing.assert_allclose(k.euler_steps(t0, dt=0.1, steps=3, omega=w, K=1.0), e, atol=1e-13, rtol=0)


# --- in-place Euler steps (a blocked sweep; blocks made tiny so that small grids have many) ---

@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("bc", ["neumann", "periodic", "dirichlet:0.5"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (40, 7), (257, 33)])
def test_euler_step_in_place_matches_out_of_place(backend, bc, shape, monkeypatch):
    import stencilc.stepping as st
    from stencilc import Dirichlet
    monkeypatch.setattr(st, "BLOCK_BYTES", 8 * shape[1] * 9)   # 9 rows per block
    monkeypatch.setattr(st, "DRIVER_BLOCK_BYTES", 8 * shape[1] * 9)
    b = Dirichlet(0.5) if bc.startswith("dirichlet") else bc
    th, om = Field("theta"), Field("omega")
    # radius 2 (the biharmonic term) so that blocks read two rows beyond each cut
    k = compile_stencil(om + 1.3 * div(sp.sin(grad(th))) - 0.01 * laplace(laplace(th)), state=th,
                        ndim=2, bc=b, backend=backend)
    rng = np.random.default_rng(7)
    t0, w = rng.standard_normal(shape), rng.standard_normal(shape)
    # oracle: the numpy reference backend, out of place
    ref = compile_stencil(k.expr, state=th, ndim=2, bc=b, backend="numpy")
    expected = t0 + 0.05 * ref(t0, omega=w)
    u = t0.copy()
    got = k.euler_step(u, dt=0.05, out=u, omega=w)
    assert got is u
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-12)


def test_euler_steps_in_place_system_3d(monkeypatch):
    import stencilc.stepping as st
    monkeypatch.setattr(st, "BLOCK_BYTES", 8 * 6 * 5 * 4)   # 4 rows per block
    monkeypatch.setattr(st, "DRIVER_BLOCK_BYTES", 8 * 6 * 5 * 4)
    a, b = Field("a"), Field("b")
    k = compile_stencil({a: laplace(a) - a * b, b: 0.5 * laplace(b) + a}, ndim=3, bc="periodic",
                        backend="c")
    rng = np.random.default_rng(3)
    a0, b0 = rng.standard_normal((23, 6, 5)), rng.standard_normal((23, 6, 5))
    # oracle: the numpy reference backend, three explicit out-of-place steps
    ref = compile_stencil(k.expr, ndim=3, bc="periodic", backend="numpy")
    ea, eb = a0, b0
    for _ in range(3):
        fa, fb = ref(ea, eb)
        ea, eb = ea + 0.02 * fa, eb + 0.02 * fb
    ua, ub = a0.copy(), b0.copy()
    k.euler_steps(ua, ub, dt=0.02, steps=3, out=(ua, ub))
    np.testing.assert_allclose(ua, ea, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ub, eb, rtol=0, atol=1e-13)


def test_in_place_needs_exactly_the_state_arrays():
    th = Field("theta")
    k = compile_stencil(laplace(th), state=th, backend="numpy")
    u = np.zeros((6, 6))
    with pytest.raises(ValueError, match="exactly the state array"):
        k.euler_step(u, dt=0.1, out=u[::1, ::1])


@pytest.mark.parametrize("bc", ["neumann", "periodic", "dirichlet:0.5"])
def test_in_place_shares_between_threads(bc, monkeypatch):
    """The compiled in-place sweep gives each OpenMP thread a share of the rows, swept in blocks:
    with 1, 2, 3 and 7 threads and 4-row blocks (shares of 43 to 301 rows, uneven, and blocks that
    read two rows beyond every cut, across the periodic wall too) every row is the reference
    step's, and the result does not depend on the thread count."""
    import ctypes
    import stencilc.stepping as st
    from stencilc import Dirichlet
    monkeypatch.setattr(st, "DRIVER_BLOCK_BYTES", 8 * 113 * 4)   # 4 rows per block
    b = Dirichlet(0.5) if bc.startswith("dirichlet") else bc
    th, om = Field("theta"), Field("omega")
    rhs = om + 1.3 * div(sp.sin(grad(th))) - 0.01 * laplace(laplace(th))
    k = compile_stencil(rhs, state=th, ndim=2, bc=b, backend="c")
    ref = compile_stencil(rhs, state=th, ndim=2, bc=b, backend="numpy")
    rng = np.random.default_rng(8)
    t0, w = rng.standard_normal((301, 113)), rng.standard_normal((301, 113))   # 34013 points: threaded
    expected = t0 + 0.05 * ref(t0, omega=w)
    k.euler_step(t0.copy(), dt=0.05, omega=w)       # loads the kernels (and OpenMP)
    gomp = ctypes.CDLL("libgomp.so.1")
    before = gomp.omp_get_max_threads()
    results = []
    try:
        for team in (1, 2, 3, 7):
            gomp.omp_set_num_threads(team)
            u = t0.copy()
            k.euler_step(u, dt=0.05, out=u, omega=w)
            np.testing.assert_allclose(u, expected, rtol=0, atol=1e-12, err_msg=f"{team} threads")
            results.append(u)
    finally:
        gomp.omp_set_num_threads(before)
    for team, u in zip((2, 3, 7), results[1:]):
        np.testing.assert_array_equal(u, results[0], err_msg=f"{team} threads against 1")
