"""Complex fields (dtype complex64 / complex128) on every backend.

Every backend against a NumPy reference written here (the ghost cells come from reference.pad, which
takes complex values: the ghost rules are linear); complex64 stays complex64 with float32-like
accuracy; a free plane wave under `I*laplace(psi)` integrated with RK4 against the exact discrete
solution (the discrete Laplacian's eigenvalue of the mode and RK4's amplification factor); the
emitted C compiles with -Wall -Wextra -Werror; and every user mistake with complex values."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import stencilc
from stencilc import Field, StencilError, div, grad, laplace
from stencilc.backends import TARGETS

import reference as ref

psi, V = Field("psi"), Field("V")
K = sp.Symbol("K")


def backends():
    """numpy, c and numba (numba's compile takes seconds: one in-sample case per test); cuda runs
    through its host emulation in test_cuda.py."""
    marks = {"numba": [pytest.mark.sampled_backend, pytest.mark.in_sample]}
    return [pytest.param(name, marks=marks.get(name, [])) for name in TARGETS if name != "cuda"]


def _random(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)).astype(dtype)


# the right-hand side, and its reference: every complex function, a real-valued condition, a
# complex parameter, a complex input field and a nonlinear flux
RHS = (sp.I * laplace(psi) / 2 - sp.I * V * psi + K * sp.conjugate(psi)
       + sp.Piecewise((sp.exp(psi) * sp.im(psi), sp.Abs(psi) <= 0.9), (sp.sqrt(psi) - sp.log(psi), True))
       + div(sp.sin(grad(psi))) + sp.re(psi) ** 2 * sp.arg(psi)
       + sp.cos(psi) * sp.sinh(V) + sp.cosh(psi) - sp.tanh(psi) * psi ** 3
       + sp.tan(psi) / 4 + sp.atan(psi) / 3 + sp.asin(psi / 3) * sp.acos(psi / 3))

BCS = {"periodic": [(ref.PERIODIC, ref.PERIODIC)] * 2,
       "neumann": [(ref.NEUMANN, ref.NEUMANN)] * 2,
       "dirichlet:0.5": [(ref.dirichlet(0.5), ref.dirichlet(0.5))] * 2}


def reference(p, v, k, bcs):
    """RHS by hand: ghost cells from reference.pad, differences written out."""
    P = ref.pad(p, bcs, 1)
    W = ref.pad(v, ref.input_bcs(bcs), 1)
    c = P[1:-1, 1:-1]
    lap = P[:-2, 1:-1] + P[2:, 1:-1] + P[1:-1, :-2] + P[1:-1, 2:] - 4 * c
    flux = (np.sin(P[2:, 1:-1] - c) - np.sin(c - P[:-2, 1:-1])
            + np.sin(P[1:-1, 2:] - c) - np.sin(c - P[1:-1, :-2]))
    branch = np.where(np.abs(c) <= 0.9, np.exp(c) * c.imag, np.sqrt(c) - np.log(c))
    w = W[1:-1, 1:-1]
    return (1j * lap / 2 - 1j * w * c + k * np.conj(c) + branch + flux + c.real ** 2 * np.angle(c)
            + np.cos(c) * np.sinh(w) + np.cosh(c) - np.tanh(c) * c ** 3
            + np.tan(c) / 4 + np.arctan(c) / 3 + np.arcsin(c / 3) * np.arccos(c / 3))


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("bc", sorted(BCS))
def test_against_reference(backend, bc):
    if backend == "numba" and bc != "neumann":
        pytest.skip("numba: one case (its compile takes seconds)")
    k = stencilc.compile_stencil(RHS, state=psi, fields=[V], bc=bc, dtype="complex128", backend=backend)
    for shape in [(9, 7), (1, 3), (2, 2)]:
        p, v = _random(shape, "complex128", 1), _random(shape, "complex128", 2)
        got = k(p, V=v, K=0.5 - 2j)
        assert got.dtype == np.complex128
        np.testing.assert_allclose(got, reference(p, v, 0.5 - 2j, BCS[bc]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", backends())
def test_complex64_stays_complex64(backend):
    k = stencilc.compile_stencil(RHS, state=psi, fields=[V], bc="neumann", dtype="complex64", backend=backend)
    p, v = _random((12, 10), "complex64", 3), _random((12, 10), "complex64", 4)
    got = k(p, V=v, K=np.complex64(0.25 + 1j))
    assert got.dtype == np.complex64
    want = reference(p.astype(np.complex128), v.astype(np.complex128), 0.25 + 1j, BCS["neumann"])
    err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    # float32 arithmetic: a few ulp of 6e-8 per operation, nowhere near float64's 1e-16
    assert err.max() < 2e-5
    assert err.max() > 1e-9
    # and a Euler step keeps the dtype too (the time step is real)
    step = k.euler_step(p, dt=0.01, V=v, K=1j)
    assert step.dtype == np.complex64


@pytest.mark.parametrize("backend", backends())
def test_free_plane_wave_rk4_is_the_exact_discrete_solution(backend):
    """i psi_t = -laplace(psi) on a periodic grid: the mode exp(i k.x) has the discrete
    eigenvalue lam = -sum_a (4/h_a^2) sin^2(k_a h_a/2), and one RK4 step multiplies it by
    R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24 with z = i lam dt."""
    n, h, m = (16, 12), (0.5, 0.25), (3, -2)
    k = stencilc.compile_stencil("I*laplace(psi)", state="psi", bc="periodic", dtype="complex128",
                                 spacing=h, backend=backend)
    x = [(np.arange(na) + 0.5) * ha for na, ha in zip(n, h)]
    wave = [2 * np.pi * ma / (na * ha) for ma, na, ha in zip(m, n, h)]
    psi0 = np.exp(1j * (wave[0] * x[0][:, None] + wave[1] * x[1][None, :]))
    lam = -sum(4 / ha ** 2 * np.sin(ka * ha / 2) ** 2 for ka, ha in zip(wave, h))
    dt, steps = 0.01, 40
    z = 1j * lam * dt
    R = 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24
    sol = stencilc.integrate(k, psi0, t_end=dt * steps, dt=dt, method="rk4")
    assert sol.stats["steps"] == steps
    np.testing.assert_allclose(sol.final, psi0 * R ** steps, rtol=0, atol=1e-12)
    # the exact solution differs from the discrete one by RK4's error: the test can tell them apart
    assert np.abs(sol.final - psi0 * np.exp(z * steps)).max() > 1e-9


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_fused_euler_steps_and_rk45(backend):
    """The fused Euler kernels (C: the multi-step and in-place drivers) and the adaptive rk45 on
    complex values, against one step of the mode's amplification by hand."""
    n = 24
    psi0 = np.exp(2j * np.pi * 5 * (np.arange(n) + 0.5) / n) * (1 + 0.5j)
    k = stencilc.compile_stencil("I*K*laplace(psi)", state="psi", ndim=1, bc="periodic", dtype="complex128",
                                 backend=backend)
    lam = -4 * np.sin(np.pi * 5 / n) ** 2
    gain = 1 + 0.01 * 1j * (0.5 + 0.25j) * lam
    out = np.empty_like(psi0)
    k.euler_steps(psi0, dt=0.01, steps=7, out=out, K=0.5 + 0.25j)
    np.testing.assert_allclose(out, psi0 * gain ** 7, rtol=1e-13)
    state = psi0.copy()
    k.euler_step(state, dt=0.01, out=state, K=0.5 + 0.25j)
    np.testing.assert_allclose(state, psi0 * gain, rtol=1e-13)
    sol = stencilc.integrate(k, psi0, t_end=1.0, dt=0.1, method="rk45", inputs={"K": 1.0}, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sol.final, psi0 * np.exp(1j * lam), rtol=1e-6)


def test_string_I_is_the_unit_in_a_complex_stencil_and_a_name_in_a_real_one():
    k = stencilc.compile_stencil("I*laplace(u) + 2*I*u", state="u", ndim=1, dtype="complex128", backend="numpy")
    assert k.params == ()
    u0 = _random((5,), "complex128", 5)
    np.testing.assert_allclose(k(u0), 1j * ref.laplace(u0, [(ref.NEUMANN, ref.NEUMANN)]) + 2j * u0)
    real = stencilc.compile_stencil("I*laplace(u)", state="u", ndim=1, backend="numpy")
    assert real.params == ("I",)


def test_real_valued_functions_are_real_in_a_complex_stencil():
    """re, im, Abs and arg give reals, computed in real arithmetic (so sqrt of a negative real is
    NaN, as in a real stencil) and usable in conditions and Min/Max."""
    rhs = (sp.sqrt(sp.re(psi)) + sp.Max(sp.im(psi), sp.Abs(psi) / 2)
           + sp.Piecewise((1, sp.re(psi) > sp.im(psi)), (0, True)) + sp.floor(sp.arg(psi)) + laplace(psi))
    p = np.array([[-1 + 2j, 0.5 - 0.25j, 3j]])
    with np.errstate(invalid="ignore"):
        want = (np.sqrt(p.real) + np.maximum(p.imag, np.abs(p) / 2) + (p.real > p.imag)
                + np.floor(np.angle(p))
                + ref.laplace(p, [(ref.NEUMANN, ref.NEUMANN)] * 2))
    for backend in ("numpy", "c"):
        k = stencilc.compile_stencil(rhs, state=psi, dtype="complex128", backend=backend)
        with np.errstate(invalid="ignore"):
            got = k(p)
        np.testing.assert_allclose(got, want, rtol=1e-14, equal_nan=True)
        assert np.isnan(got[0, 0]) and np.isfinite(got[0, 1:]).all()


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_emitted_complex_c_compiles_with_all_warnings_as_errors(tmp_path, dtype):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    c_file = tmp_path / "k.c"
    res = subprocess.run([sys.executable, "-m", "stencilc", "emit", "I*K*laplace(psi) - I*V*psi + "
                          "Piecewise((exp(psi), Abs(psi) < 1), (conjugate(psi), True)) + div(sin(grad(psi)))",
                          "--state", "psi", "--field", "V", "--bc", "dirichlet:1", "--dtype", dtype,
                          "-o", str(c_file)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    source = c_file.read_text()
    ctype = "double" if dtype == "complex128" else "float"
    # the signature in the top comment: complex arrays, the parameter as its two real parts
    assert f"const {ctype} _Complex * psi" in source and f"const {ctype} _re_K, const {ctype} _im_K" in source
    res = subprocess.run([cc, "-std=c99", "-O2", "-fopenmp", "-Wall", "-Wextra", "-Werror", "-c", str(c_file),
                          "-o", str(tmp_path / "k.o")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_errors():
    with pytest.raises(StencilError, match=r"imaginary unit I.*dtype='complex128'"):
        stencilc.compile_stencil(sp.I * laplace(psi), backend="numpy")
    with pytest.raises(StencilError, match=r"compares the complex value psi.*re\(psi\).*Abs\(psi\)"):
        stencilc.compile_stencil(sp.Piecewise((psi, psi > 0), (0, True)) + laplace(psi), dtype="complex128",
                                 backend="numpy")
    with pytest.raises(StencilError, match=r"Max takes the complex value psi"):
        stencilc.compile_stencil(sp.Max(psi, 0) + laplace(psi), dtype="complex64", backend="numpy")
    with pytest.raises(StencilError, match=r"sign takes the complex value"):
        stencilc.compile_stencil("sign(psi) + laplace(psi)", dtype="complex128", backend="numpy")
    with pytest.raises(StencilError, match=r"dtype 'complex32'.*'complex64' or 'complex128'"):
        stencilc.compile_stencil(laplace(psi), dtype="complex32", backend="numpy")
    real = stencilc.compile_stencil(K * laplace(psi), backend="numpy")
    with pytest.raises(ValueError, match=r"parameter 'K' must be a real number, got complex.*complex128"):
        real(np.zeros((3, 3)), K=1 + 1j)
    cplx = stencilc.compile_stencil(K * laplace(psi), dtype="complex128", backend="numpy")
    with pytest.raises(ValueError, match=r"argument 'psi' has dtype float64, expected complex128"):
        cplx(np.zeros((3, 3)), K=1j)
    with pytest.raises(ValueError, match=r"parameter 'K' must be a complex number, got str"):
        cplx(np.zeros((3, 3), complex), K="1j")
    with pytest.raises(ValueError, match=r"parameter 'dt' must be a real number, got complex"):
        cplx.euler_step(np.zeros((3, 3), complex), dt=0.1j, K=1j)


def test_solution_keeps_complex_values():
    xr = pytest.importorskip("xarray")
    k = stencilc.compile_stencil("I*laplace(psi)", state="psi", ndim=2, bc="periodic", dtype="complex64",
                                 backend="numpy")
    psi0 = _random((4, 3), "complex64", 6)
    sol = stencilc.integrate(k, psi0, t_end=0.2, dt=0.1, method="heun", record_every=0.1)
    assert sol.frames.dtype == np.complex64
    da = sol.to_xarray()
    assert isinstance(da, xr.DataArray) and da.dtype == np.complex64
    np.testing.assert_array_equal(da.values[0], psi0)
