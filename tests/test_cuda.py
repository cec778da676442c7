"""The CUDA backend without a GPU: the generated source compiles with nvcc, and its device kernels,
compiled as plain C++ with the CUDA thread indices emulated on the CPU, match the NumPy reference with
the runtime's own launch configuration and with a grid far smaller than the region (grid strides).
On a machine with CuPy and a GPU, `compile_stencil(backend="cuda")` joins the same comparison."""

import ctypes
import re
import shutil
import subprocess

import numpy as np
import pytest

import stencilc
from stencilc import StencilError
from stencilc.backends import cuda

CXX = next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)
NVCC = shutil.which("nvcc")

CASES = [
    # (rhs, options, inputs beyond the state, shapes)
    ("omega + K*div(sin(grad(theta)))", dict(state="theta", fields=["omega"], ndim=2, bc="neumann"),
     {"K": 1.3}, [(13, 9), (1, 4), (2, 1), (40, 35)]),
    ("laplace(laplace(u)) + c*D(u, 2) + Max(u, 0) + pi*u", dict(state="u", fields=["c"], ndim=3,
     bc=("periodic", "dirichlet:1.5", "neumann")), {}, [(5, 6, 7), (1, 2, 3), (3, 1, 4)]),
    ({"u": "laplace(u) - u*v + atan2(u, 1)", "v": "D(v, 0) + u*v"}, dict(ndim=1, bc="dirichlet",
     dtype="float32"), {}, [(17,), (1,), (2,), (3,)]),
    # complex: cuda::std::complex, complex parameters as their parts, real-valued conditions
    ("I*K*laplace(psi)/2 - I*V*psi + Piecewise((exp(psi), Abs(psi) < 1), (conjugate(psi)*arg(psi), True))"
     " + div(sin(grad(psi))) + sqrt(psi)*re(psi) + 2*psi**3 - 1/psi", dict(state="psi", fields=["V"], ndim=2,
     bc="dirichlet:0.5", dtype="complex128"), {"K": 0.5 - 1j}, [(9, 8), (1, 3), (2, 2)]),
    ("I*laplace(w) + c*w*w - log(w) + cosh(w)/tanh(w) + Max(im(w), 0)", dict(state="w", ndim=1, bc="periodic",
     dtype="complex64"), {"c": 2 + 0.5j}, [(13,), (1,), (2,)]),
    # order 4: radius 3, face interpolations, the compact Laplacian
    ("div(c*grad(u)) + laplace(u) + K*div(sin(grad(u)))", dict(state="u", fields=["c"], ndim=2, bc="neumann",
     order=4), {"K": 0.7}, [(11, 9), (2, 3), (1, 1)]),
    # coordinates and time: a source and a coefficient of x, y and t, walls whose values vary
    # along the wall and in time, on a grid with its own origin and spacing
    ("laplace(u) + exp(-(x**2 + y**2))*cos(t) + K*x*u", dict(state="u", ndim=2, spacing=(0.25, 0.5),
     origin=(-1.0, 0.5), bc=("dirichlet:sin(t)*y", "robin:1:0.5:x*t")), {"K": 0.7, "t": 0.3},
     [(9, 7), (1, 2), (3, 1)]),
]
IDS = ["kuramoto", "3d-mixed-bc", "1d-system-f32", "complex128", "1d-complex64", "order4", "coordinates-time"]


def _arrays(rng, shape, dtype, count):
    if np.dtype(dtype).kind == "c":
        return [(rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype) for _ in range(count)]
    return [rng.normal(size=shape).astype(dtype) for _ in range(count)]

PRELUDE = """\
#include <math.h>
struct stencilc_dim { unsigned int x, y, z; };
static stencilc_dim threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __restrict__ __restrict
#define __CUDACC_RTC__   /* device code only, as NVRTC sees it */
"""


# libcu++'s <cuda/std/complex> on the host: the standard library's std::complex, which has the
# same operators and functions
COMPLEX_SHIM = """\
#include <complex>
namespace cuda { namespace std { using namespace ::std; } }
"""


def emulator(source: str, directory) -> ctypes.CDLL:
    """The kernels as a CPU library: `launch_<kernel>(grid, block, args...)` runs every thread."""
    (directory / "cuda" / "std").mkdir(parents=True, exist_ok=True)
    (directory / "cuda" / "std" / "complex").write_text(COMPLEX_SHIM)
    drivers = []
    for name, params in re.findall(r'extern "C" __global__ void (\w+)\(([^)]*)\)', source):
        names = [p.split()[-1] for p in params.split(", ")]
        drivers.append(f"""
extern "C" void launch_{name}(const unsigned int *g, const unsigned int *b, {params})
{{
    gridDim = {{g[0], g[1], g[2]}};
    blockDim = {{b[0], b[1], b[2]}};
    for (unsigned int bz = 0; bz < g[2]; ++bz) for (unsigned int by = 0; by < g[1]; ++by)
    for (unsigned int bx = 0; bx < g[0]; ++bx) for (unsigned int tz = 0; tz < b[2]; ++tz)
    for (unsigned int ty = 0; ty < b[1]; ++ty) for (unsigned int tx = 0; tx < b[0]; ++tx) {{
        blockIdx = {{bx, by, bz}};
        threadIdx = {{tx, ty, tz}};
        {name}({', '.join(names)});
    }}
}}""")
    src = directory / "emulated.cpp"
    src.write_text(PRELUDE + source + "\n".join(drivers) + "\n")
    lib = directory / "emulated.so"
    res = subprocess.run([CXX, "-O1", "-shared", "-fPIC", "-Wall", "-Werror", "-I", str(directory), str(src),
                          "-o", str(lib), "-lm"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return ctypes.CDLL(str(lib))


def run_emulated(lib, source, kernel_name, radius, arrays, params, nout, dtype, launch):
    shape = arrays[0].shape
    real = ctypes.c_float if dtype in ("float32", "complex64") else ctypes.c_double
    ptr = ctypes.POINTER(real)
    # complex scalars travel as their two parts; complex arrays as pointers like any other
    params = [x for p in params for x in ((p.real, p.imag) if isinstance(p, complex) else (p,))]
    outs = [np.full(shape, np.nan, dtype=dtype) for _ in range(nout)]
    dims = ctypes.c_uint * 3
    for name in cuda.region_kernels(source):
        grid, block = launch(name[len(kernel_name) + 1:], shape, radius)
        fn = getattr(lib, "launch_" + name)
        fn.restype = None
        fn.argtypes = ([ctypes.POINTER(ctypes.c_uint)] * 2 + [ptr] * len(arrays) + [real] * len(params)
                       + [ptr] * nout + [ctypes.c_longlong] * len(shape))
        fn(dims(*grid), dims(*block), *[a.ctypes.data_as(ptr) for a in arrays], *params,
           *[o.ctypes.data_as(ptr) for o in outs], *shape)
    return outs


def tiny_grid(region, shape, radius):
    """Two blocks of a few threads per dimension: every thread strides over many points."""
    return (2, 2, 2), (3, 2, 2)


@pytest.mark.skipif(CXX is None, reason="no C++ compiler")
@pytest.mark.parametrize("rhs, options, scalars, shapes", CASES, ids=IDS)
def test_device_kernels_emulated_on_cpu(rhs, options, scalars, shapes, tmp_path):
    source = stencilc.generate(rhs, target="cuda", **options)
    ref = stencilc.compile_stencil(rhs, backend="numpy", **options)
    lib = emulator(source, tmp_path)
    rng = np.random.default_rng(3)
    tol = 1e-4 if ref.dtype in ("float32", "complex64") else 1e-11
    for shape in shapes:
        arrays = _arrays(rng, shape, ref.dtype, len(ref.state + ref.fields))
        params = [scalars[p] for p in ref.params]
        at = {"t": scalars["t"]} if ref.time_dependent else {}
        expected = ref(*arrays[:len(ref.state)], **dict(zip(ref.fields, arrays[len(ref.state):])),
                       **dict(zip(ref.params, params)), **at)
        params += list(at.values())       # the time follows the parameters
        expected = expected if isinstance(expected, tuple) else (expected,)
        for launch in (cuda.launch_shape, tiny_grid):
            got = run_emulated(lib, source, "stencil_rhs", ref.radius, arrays, params, len(ref.state),
                               ref.dtype, launch)
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g, e, rtol=tol, atol=tol, err_msg=f"{shape} {launch.__name__}")


def test_launch_shape_gives_a_thread_per_point():
    grid, block = cuda.launch_shape("interior", (1000, 300), radius=1)
    assert block == (32, 8, 1) and grid == (10, 125, 1)
    grid, block = cuda.launch_shape("low0", (1000, 300), radius=2)
    assert grid == (10, 1, 1)
    grid, block = cuda.launch_shape("high2", (7, 50, 3000), radius=2)
    assert block == (32, 4, 2) and grid == (1, 13, 4)
    assert cuda.launch_shape("interior", (10**7, 1), radius=1)[0][1] == 65535


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
@pytest.mark.parametrize("rhs, options, scalars, shapes", CASES, ids=IDS)
def test_nvcc_compiles_generated_source(rhs, options, scalars, shapes, tmp_path):
    (tmp_path / "k.cu").write_text(stencilc.generate(rhs, target="cuda", **options))
    res = subprocess.run([NVCC, "-c", "-arch=sm_80", "k.cu", "-o", "k.o"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _gpu_available() -> bool:
    try:
        cuda.cupy()
        return True
    except StencilError:
        return False


@pytest.mark.skipif(_gpu_available(), reason="CuPy and a GPU are present")
def test_cuda_backend_without_gpu_names_the_alternatives():
    with pytest.raises(StencilError, match="numpy.*numba|numba.*numpy") as info:
        stencilc.compile_stencil("laplace(u)", state="u", backend="cuda")
    assert "cuda" in str(info.value)


@pytest.mark.skipif(not _gpu_available(), reason="needs CuPy and a CUDA GPU")
@pytest.mark.parametrize("rhs, options, scalars, shapes", CASES, ids=IDS)
def test_cuda_backend_matches_numpy(rhs, options, scalars, shapes):
    k = stencilc.compile_stencil(rhs, backend="cuda", **options)
    ref = stencilc.compile_stencil(rhs, backend="numpy", **options)
    rng = np.random.default_rng(4)
    tol = 1e-4 if ref.dtype in ("float32", "complex64") else 1e-11
    for shape in shapes:
        arrays = _arrays(rng, shape, ref.dtype, len(ref.state + ref.fields))
        kwargs = {**dict(zip(ref.fields, arrays[len(ref.state):])), **scalars}
        got, expected = k(*arrays[:len(ref.state)], **kwargs), ref(*arrays[:len(ref.state)], **kwargs)
        for g, e in zip(got if isinstance(got, tuple) else (got,),
                        expected if isinstance(expected, tuple) else (expected,)):
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


@pytest.mark.skipif(NVCC is None or shutil.which("cc") is None, reason="needs nvcc and a C compiler")
def test_complex_launcher_header_serves_c_and_cuda(tmp_path):
    """A complex launcher's header declares stencilc_complex for C (C99 _Complex) and C++
    (cuda::std::complex), and agrees with the .cu file's definition."""
    options = dict(state="psi", dtype="complex64", bc="periodic")
    (tmp_path / "k.cu").write_text(stencilc.generate("I*K*laplace(psi)", target="cuda", **options))
    from stencilc.api import generate_header
    (tmp_path / "k.h").write_text(generate_header("I*K*laplace(psi)", target="cuda", **options))
    (tmp_path / "main.c").write_text('#include "k.h"\nint main(void) { return 0; }\n')
    res = subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", "main.c"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([NVCC, "-c", "-arch=sm_80", "-include", "k.h", "k.cu", "-o", "k.o"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
