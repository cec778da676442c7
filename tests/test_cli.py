"""The `stencilc` command line: emitted C built and called from C and from ctypes (no
stencilc in the loading code) against the seed's NumPy code and np.roll oracles; the other targets;
one-line errors with exit status 2; the cache commands."""

import ctypes
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import stencilc
from stencilc import StencilError
from reference import seed_numpy_dudt  # the seed's NumpySolver.dudt (tests/reference.py)

CC = next((c for c in (os.environ.get("CC"), "cc", "gcc") if c and shutil.which(c)), None)
CXX = next((c for c in ("c++", "g++") if shutil.which(c)), None)
NVCC = shutil.which("nvcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler")

KURAMOTO = ["omega + K*div(sin(grad(theta)))", "--state", "theta", "--field", "omega"]
WARNINGS = ["-std=c99", "-O2", "-fopenmp", "-Wall", "-Wextra", "-Werror"]


def stencilc_cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "stencilc", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


def emit_ok(*args, cwd=None):
    res = stencilc_cli("emit", *args, cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    return res.stdout


def build_library(c_file, tmp_path, name="libk.so"):
    lib = tmp_path / name
    res = subprocess.run([CC, *WARNINGS, "-shared", "-fPIC", str(c_file), "-o", str(lib), "-lm"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return lib


def call_library(lib, name, arrays, params, nout, dtype=np.float64):
    """Call `name` from a shared library with plain ctypes (the signature the emitted file's top comment documents)."""
    fn = getattr(ctypes.CDLL(str(lib)), name)
    real = ctypes.c_double if dtype == np.float64 else ctypes.c_float
    shape = arrays[0].shape
    arrays = [np.ascontiguousarray(a, dtype=dtype) for a in arrays]
    outs = [np.full(shape, np.nan, dtype=dtype) for _ in range(nout)]
    ptr = ctypes.POINTER(real)
    fn.restype = None
    fn.argtypes = ([ptr] * len(arrays) + [real] * len(params) + [ptr] * nout
                   + [ctypes.c_int64] * len(shape))
    fn(*[a.ctypes.data_as(ptr) for a in arrays], *params, *[o.ctypes.data_as(ptr) for o in outs], *shape)
    return outs


def periodic_laplace(u, spacing):
    return sum((np.roll(u, 1, a) + np.roll(u, -1, a) - 2 * u) / h**2 for a, h in enumerate(spacing))


# --------------------------------------------------------------------------------------------------
# emit -> C -> compiled, called from C and from ctypes

C_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "k.h"

int main(void)
{
    const int64_t n0 = 5, n1 = 7;
    double *theta = malloc(sizeof(double) * n0 * n1), *omega = malloc(sizeof(double) * n0 * n1);
    double *out = malloc(sizeof(double) * n0 * n1);
    for (int64_t i = 0; i < n0 * n1; ++i) {
        theta[i] = 0.1 * (double)(i * i % 17);
        omega[i] = 0.01 * (double)i;
    }
    stencil_rhs(theta, omega, 2.0, out, n0, n1);
    for (int64_t i = 0; i < n0 * n1; ++i)
        printf("%.17g\n", out[i]);
    free(theta); free(omega); free(out);
    return 0;
}
"""


@needs_cc
def test_emit_kuramoto_c_and_header(tmp_path):
    res = stencilc_cli("emit", *KURAMOTO, "-o", "k.c", "--header", "k.h", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res.stderr
    source = (tmp_path / "k.c").read_text()
    assert source == stencilc.generate(KURAMOTO[0], state="theta", fields=["omega"])
    assert "stencilc emit 'omega + K*div(sin(grad(theta)))' --state theta --field omega" in source

    header = (tmp_path / "k.h").read_text()
    for text in ("#ifndef STENCILC_STENCIL_RHS_H", "#define STENCILC_STENCIL_RHS_H", "#include <stdint.h>",
                 '#ifdef __cplusplus\nextern "C" {', "void stencil_rhs(const double * theta, const double *"
                 " omega, const double K, double * out_theta, const int64_t n0, const int64_t n1);"):
        assert text in header

    lib = build_library(tmp_path / "k.c", tmp_path)

    # a C program that includes the header compiles, links and computes the seed's right-hand side
    (tmp_path / "main.c").write_text(C_MAIN)
    res = subprocess.run([CC, *WARNINGS, "main.c", "k.c", "-o", "prog", "-lm"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    run = subprocess.run([str(tmp_path / "prog")], capture_output=True, text=True, check=True)
    got = np.array(run.stdout.split(), dtype=float).reshape(5, 7)
    i = np.arange(35)
    theta = (0.1 * (i * i % 17)).reshape(5, 7)
    omega = (0.01 * i).reshape(5, 7)
    np.testing.assert_allclose(got, seed_numpy_dudt(theta, omega, 2.0), rtol=0, atol=1e-12)

    # plain ctypes (no stencilc) against the seed's NumPy code, over sizes down to 1
    rng = np.random.default_rng(5)
    for shape in [(40, 33), (1, 6), (2, 1), (3, 3)]:
        theta = rng.uniform(0, 2 * np.pi, shape)
        omega = rng.normal(0, 0.5, shape)
        (out,) = call_library(lib, "stencil_rhs", [theta, omega], [1.7], 1)
        np.testing.assert_allclose(out, seed_numpy_dudt(theta, omega, 1.7), rtol=0, atol=1e-12)


@needs_cc
@pytest.mark.skipif(CXX is None, reason="no C++ compiler")
def test_header_works_from_cplusplus(tmp_path):
    emit_ok(*KURAMOTO, "-o", "k.c", "--header", "k.h", cwd=tmp_path)
    (tmp_path / "main.cpp").write_text(C_MAIN.replace("malloc(", "(double *)malloc("))
    for cmd in ([CC, *WARNINGS, "-c", "k.c", "-o", "k.o"],
                [CXX, "-O2", "-fopenmp", "-Wall", "-Werror", "main.cpp", "k.o", "-o", "prog", "-lm"]):
        res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    assert subprocess.run([str(tmp_path / "prog")], capture_output=True).returncode == 0


@needs_cc
def test_emit_3d_periodic_laplace(tmp_path):
    emit_ok("laplace(u)", "--state", "u", "--ndim", "3", "--bc", "periodic", "--spacing", "0.5,1,2",
            "--name", "lap3", "-o", "lap.c", cwd=tmp_path)
    lib = build_library(tmp_path / "lap.c", tmp_path)
    rng = np.random.default_rng(1)
    for shape in [(9, 8, 7), (1, 4, 3), (2, 2, 2)]:
        u = rng.normal(size=shape)
        (out,) = call_library(lib, "lap3", [u], [], 1)
        np.testing.assert_allclose(out, periodic_laplace(u, (0.5, 1.0, 2.0)), rtol=0, atol=1e-12)


@needs_cc
def test_emit_two_field_system(tmp_path):
    text = emit_ok("laplace(u) - u*v; laplace(v) + a*u*v", "--state", "u", "--state", "v",
                   "--bc", "periodic", "--dtype", "float64", cwd=tmp_path)
    assert text == stencilc.generate({"u": "laplace(u) - u*v", "v": "laplace(v) + a*u*v"},
                                     state=["u", "v"], bc="periodic")
    (tmp_path / "sys.c").write_text(text)
    lib = build_library(tmp_path / "sys.c", tmp_path)
    rng = np.random.default_rng(2)
    for shape in [(16, 11), (1, 3)]:
        u, v = rng.normal(size=shape), rng.normal(size=shape)
        du, dv = call_library(lib, "stencil_rhs", [u, v], [0.3], 2)
        np.testing.assert_allclose(du, periodic_laplace(u, (1, 1)) - u * v, rtol=0, atol=1e-12)
        np.testing.assert_allclose(dv, periodic_laplace(v, (1, 1)) + 0.3 * u * v, rtol=0, atol=1e-12)


@needs_cc
def test_emit_float32_per_axis_bc(tmp_path):
    """--bc with one entry per axis and --dtype float32: the C is generate()'s and compiles cleanly."""
    args = ["D(u, 0) + laplace(u)", "--state", "u", "--bc", "periodic,dirichlet:1.5", "--dtype", "float32"]
    emit_ok(*args, "-o", "f.c", cwd=tmp_path)
    assert (tmp_path / "f.c").read_text() == stencilc.generate(
        args[0], state="u", bc=("periodic", "dirichlet:1.5"), dtype="float32")
    build_library(tmp_path / "f.c", tmp_path)


@needs_cc
@pytest.mark.parametrize("word, bc", [("neumann:0.5", stencilc.Neumann(0.5)),
                                      ("robin:1:2:0.5", stencilc.Robin(1, 2, 0.5))])
def test_emit_bc_with_values(word, bc, tmp_path):
    """--bc neumann:FLUX and robin:A:B:VALUE: the source is generate()'s for the same condition
    object, its header comment spells the condition back, and the C compiles cleanly."""
    text = emit_ok("laplace(u)", "--state", "u", "--bc", word, "--dtype", "float32", cwd=tmp_path)
    assert text == stencilc.generate("laplace(u)", state="u", bc=bc, dtype="float32")
    assert f"--bc {bc.word()} " in text
    (tmp_path / "k.c").write_text(text)
    build_library(tmp_path / "k.c", tmp_path)


def test_emit_bc_one_per_axis_with_values():
    text = emit_ok("laplace(u)", "--state", "u", "--bc", "robin:1:2:0.5,neumann:0.5")
    assert text == stencilc.generate("laplace(u)", state="u",
                                     bc=(stencilc.Robin(1, 2, 0.5), stencilc.Neumann(0.5)))
    assert "--bc robin:1.0:2.0:0.5,neumann:0.5 " in text


@needs_cc
def test_emit_coordinates_time_and_expression_bcs(tmp_path):
    """--bc with expressions of t and the coordinates (a comma inside Max stays in its value),
    --origin: the source is generate()'s, compiles with -Werror, and called through ctypes with t
    after the parameters it matches the ghost-cell oracle plus the analytic source."""
    import math
    import sympy as sp
    from stencilc import Dirichlet, Robin, t, x, y
    import reference as ref
    text = emit_ok("D*laplace(u) + sin(t)*x", "--state", "u", "--bc",
                   "robin:1:2:Max(x, y)*t,dirichlet:sin(t)", "--origin=-1,0.5", "--spacing", "0.5")
    bc = (Robin(1, 2, sp.Max(x, y) * t), Dirichlet(sp.sin(t)))
    assert text == stencilc.generate("D*laplace(u) + sin(t)*x", state="u", bc=bc, origin=(-1, 0.5),
                                     spacing=0.5)
    assert "--origin=-1.0,0.5 " in text and "const double D, const double t, double * out_u" in text
    (tmp_path / "k.c").write_text(text)
    lib = build_library(tmp_path / "k.c", tmp_path)
    u = np.random.default_rng(0).normal(size=(4, 3))
    (got,) = call_library(lib, "stencil_rhs", [u], [0.5, 0.8], 1)
    rules = [(("robin", 1.0, 2.0, lambda t, x, y, **_: np.maximum(x, y) * t),) * 2,
             (("dirichlet", math.sin(0.8)),) * 2]
    xs = -1 + (np.arange(4) + 0.5) * 0.5
    expected = 0.5 * ref.laplace(u, rules, 0.5, (-1.0, 0.5), 0.8) + math.sin(0.8) * xs[:, None]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_emit_reproduces_itself_from_its_header_comment(tmp_path):
    first = emit_ok("laplace(u) - u*v + x*t; laplace(v) + u*v", "--state", "u", "--state", "v", "--ndim", "3",
                    "--bc", "periodic", "--spacing", "0.5,1,2", "--origin=-1,0,2")
    line = next(ln for ln in first.splitlines() if ln.startswith(" *   stencilc emit "))
    res = subprocess.run(line[len(" *   "):], shell=True, capture_output=True, text=True,
                         env={**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable),
                                                                     os.environ.get("PATH", "")])})
    if res.returncode == 127:
        pytest.skip("the stencilc script is not installed (pip install -e .)")
    assert res.returncode == 0, res.stderr
    assert res.stdout == first


# --------------------------------------------------------------------------------------------------
# other targets

def test_emit_numpy_target():
    text = emit_ok(*KURAMOTO, "--target", "numpy")
    assert text == stencilc.generate(KURAMOTO[0], state="theta", fields=["omega"], target="numpy")
    compile(text, "kernel.py", "exec")


def test_emit_numba_target():
    try:
        expected = stencilc.generate(KURAMOTO[0], state="theta", fields=["omega"], target="numba")
    except StencilError as e:
        if "not known" in str(e):
            pytest.skip("no numba target yet")
        raise
    assert emit_ok(*KURAMOTO, "--target", "numba") == expected


def test_emit_cuda_target(tmp_path):
    text = emit_ok(*KURAMOTO, "--target", "cuda", "--header", "k.h", cwd=tmp_path)
    assert text == stencilc.generate(KURAMOTO[0], state="theta", fields=["omega"], target="cuda")
    assert 'extern "C" __global__ void stencil_rhs_interior(' in text
    assert "stencil_rhs(" in (tmp_path / "k.h").read_text()
    if NVCC is None:
        pytest.skip("nvcc is not on PATH")
    (tmp_path / "k.cu").write_text(text)
    res = subprocess.run([NVCC, "-c", "-arch=sm_80", "k.cu", "-o", "k.o"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_emit_to_stdout_is_generate():
    assert emit_ok(*KURAMOTO) == stencilc.generate(KURAMOTO[0], state="theta", fields=["omega"])


# --------------------------------------------------------------------------------------------------
# user mistakes: exit status 2, one line on stderr naming the offending token or option

BAD = [
    (["emit", "laplace(u", "--state", "u"], "laplace(u"),                          # bad expression
    (["emit", "laplace(u) +* 2", "--state", "u"], "laplace(u) +* 2"),
    (["emit", "frobnicate(u) + laplace(u)", "--state", "u"], "frobnicate"),        # unknown function
    (["emit", "curl(u)", "--state", "u"], "curl"),                                 # unknown operator
    (["emit", "grad(u)", "--state", "u"], "grad(u)"),                              # vector-valued
    (["emit", "laplace(u)", "--state", "u", "--bc", "robin"], "robin"),
    (["emit", "laplace(u)", "--state", "u", "--bc", "dirichlet:sin(x"], "dirichlet:sin(x"),
    (["emit", "laplace(u)", "--state", "u", "--bc", "neumann:u(1)"], "neumann:u(1)"),
    (["emit", "laplace(u)", "--state", "u", "--bc", "dirichlet:z"], "z, the coordinate along axis 2"),
    (["emit", "laplace(u)", "--state", "u", "--bc", "robin:x:1:0"], "coordinate x"),
    (["emit", "laplace(u)", "--state", "u", "--origin", "1,x"], "'x'"),
    (["emit", "laplace(u)", "--state", "u", "--origin", "1,2,3"], "--origin"),
    (["emit", "laplace(t)", "--state", "t"], "reserved for the time"),
    (["emit", "lambda*laplace(u)", "--state", "u"], "keyword"),
    (["emit", "laplace(u) + (x", "--state", "u"], "could not parse"),
    (["emit", "laplace(u)", "--state", "u", "--bc", "robin:1:2"], "robin:1:2"),
    (["emit", "laplace(u)", "--state", "u", "--bc", "robin:0:0:1"], "robin:0:0:1"),
    (["emit", "laplace(u)", "--state", "u", "--bc", "neumann,robin:1:-0.5:0"], "Robin(1.0, -0.5, 0.0)"),
    (["emit", "laplace(u)", "--state", "u", "--bc", "periodic,neumann,neumann"], "--bc"),
    (["emit", "laplace(u)", "--state", "u", "--dtype", "float16"], "float16"),
    (["emit", "laplace(u)", "--state", "u", "--dtype", "int"], "--dtype"),
    (["emit", "laplace(u)", "--state", "u", "--spacing", "-1"], "-1"),
    (["emit", "laplace(u)", "--state", "u", "--spacing", "1,x"], "'x'"),
    (["emit", "laplace(u)", "--state", "u", "--spacing", "1,1,1"], "--spacing"),
    (["emit", "laplace(u)", "--state", "u", "--ndim", "4"], "--ndim"),
    (["emit", "laplace(u)", "--state", "u", "--ndim", "two"], "two"),
    (["emit", "laplace(u)", "--state", "u", "--target", "fortran"], "fortran"),
    (["emit", "laplace(u)", "--state", "u", "--name", "my-kernel"], "my-kernel"),
    (["emit", "laplace(u)", "--state", "u", "--frobnicate"], "--frobnicate"),
    (["emit", "laplace(u)", "--state", "u", "--target", "numpy", "--header", "x.h"], "--header"),
    (["emit", "laplace(u) + laplace(v)"], "--state"),                               # ambiguous state
    (["emit", "laplace(u); laplace(v)", "--state", "u"], "--state"),
    (["emit", "laplace(u);", "--state", "u"], "';'"),
    (["emit", "laplace(u)", "--state", "u", "--field", "w"], "'w'"),
    (["emit", "-laplace(u)", "--state", "u"], "'--'"),
    (["emit"], "EXPR"),
    (["emit", "laplace(u)", "--state"], "--state"),
    (["cache", "wipe"], "wipe"),
    (["cache"], "info"),
    (["frobnicate"], "frobnicate"),
    ([], "emit"),
]


@pytest.mark.parametrize("argv, named", BAD, ids=[" ".join(a) or "(nothing)" for a, _ in BAD])
def test_mistakes_exit_2_with_one_line(argv, named, tmp_path):
    res = stencilc_cli(*argv, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and "usage:" not in res.stderr
    assert lines[0].startswith("stencilc")
    assert named in lines[0]
    assert not list(tmp_path.iterdir())


def test_unwritable_output_is_a_one_line_error(tmp_path):
    res = stencilc_cli("emit", "laplace(u)", "--state", "u", "-o", str(tmp_path / "missing" / "k.c"))
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1 and "-o" in res.stderr


def test_expression_starting_with_minus_after_double_dash():
    assert emit_ok("--state", "u", "--", "-laplace(u)") == stencilc.generate("-laplace(u)", state="u")


# --------------------------------------------------------------------------------------------------
# --version, --help, cache

def test_version_and_help():
    res = stencilc_cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"stencilc {stencilc.__version__}"
    res = stencilc_cli("--help")
    assert res.returncode == 0
    assert "Kuramoto" in res.stdout and "stencilc emit 'omega + K*div(sin(grad(theta)))'" in res.stdout
    res = stencilc_cli("emit", "--help")
    assert res.returncode == 0 and "--bc" in res.stdout and "--header" in res.stdout


def test_installed_script():
    script = shutil.which("stencilc", path=os.pathsep.join([os.path.dirname(sys.executable),
                                                            os.environ.get("PATH", "")]))
    if script is None:
        pytest.skip("the stencilc script is not installed (pip install -e .)")
    res = subprocess.run([script, "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and stencilc.__version__ in res.stdout


def test_cache_info_and_clear(tmp_path):
    env = {**os.environ, "STENCILC_CACHE_DIR": str(tmp_path / "cache")}
    res = stencilc_cli("cache", "info", env=env)
    assert res.returncode == 0, res.stderr
    assert str(tmp_path / "cache") in res.stdout and "entries:   0" in res.stdout

    build = "import stencilc; stencilc.compile_stencil('laplace(u)', state='u', backend='numpy')"
    subprocess.run([sys.executable, "-c", build], env=env, check=True)
    res = stencilc_cli("cache", "info", env=env)
    assert "entries:   1" in res.stdout and "size:      0 bytes" not in res.stdout

    res = stencilc_cli("cache", "clear", env=env)
    assert res.returncode == 0 and "removed 1 entries" in res.stdout
    assert "entries:   0" in stencilc_cli("cache", "info", env=env).stdout


def test_state_is_inferred_when_only_one_name_is_under_an_operator(tmp_path):
    with_state = stencilc_cli("emit", "a*laplace(u) + b", "--state", "u", cwd=tmp_path)
    inferred = stencilc_cli("emit", "a*laplace(u) + b", cwd=tmp_path)
    assert inferred.returncode == 0, inferred.stderr
    assert inferred.stdout == with_state.stdout
