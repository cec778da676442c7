"""CUDA backend: the kernel IR printed as CUDA C++, one `__global__` kernel per region, run with CuPy.

Takes a `Kernel`; gives CUDA source (through `CudaPrinter`, printing.py's C-like printer specialised
for device code, and `templates/cuda/kernel.cu.j2`): one `extern "C" __global__` kernel per region, a
thread per grid point over the region's box (axis ndim-1 along x so that neighbouring threads read
neighbouring elements), with grid-stride loops so that any launch covers the box, and an `extern "C"`
host launcher with the C backend's signature (device pointers) for programs built with nvcc. At run
time CuPy compiles the kernels with NVRTC (which skips the host launcher) and launches them itself.
Generating the source needs neither a GPU nor CuPy. Complex kernels compute with
`cuda::std::complex` (libcu++, under nvcc and NVRTC), named `stencilc_complex` in the file; complex
scalars are passed as their real and imaginary parts, as in C.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import sympy as sp
from sympy.core.function import Application

from ..errors import StencilError
from ..ir import Access, IntMax, IntMin, Kernel, MappedAccess, inline_carried
from .backend import Backend, no_metadata
from ..symbolic import COMPLEX_DTYPES
from .printing import CLikePrinter, IndexMode, c_call_names, c_declarations, complex_parameters, float_literal

BACKEND = Backend(name="cuda", source_file="kernel.cu", passes=("cse",))
# threads per block along (x, y, z); x runs along the innermost (contiguous) axis
BLOCK = {1: (256, 1, 1), 2: (32, 8, 1), 3: (32, 4, 2)}
# CUDA's limits on the number of blocks along x, y, z
GRID_LIMIT = (2**31 - 1, 65535, 65535)
INDEX = "long long"   # 64-bit index arithmetic without <stdint.h>, which NVRTC may lack
ALTERNATIVES = "use backend='numpy' (always available), 'c' or 'numba' instead"
COMPLEX = "stencilc_complex"   # the file's name for cuda::std::complex of the kernel's precision
_STD_NAMES = {"Abs": "abs", "re": "real", "im": "imag", "conjugate": "conj"}


class CudaPrinter(IndexMode, CLikePrinter):
    """Device-code expressions: C99 with 64-bit indices and one CUDA rule.

    CUDA C++ resolves a math call by overloading, and a call with an integer argument such as
    `fmax(2, u)` or `atan2(u, 1)` picks a host-only `constexpr` template from the C++ library, which
    device code may not call; so numeric arguments of math functions are printed as literals of the
    kernel's dtype. (Constants such as `pi` or `sqrt(2)` are literals already, as in C.)
    """
    index_type = INDEX

    def __init__(self, dtype: str, ndim: int, layouts=()):
        super().__init__(dtype, ndim, layouts)
        if self.complex_values:
            self.value_type = COMPLEX

    def index(self, expr) -> str:
        with self.in_index():
            return super().index(expr)

    def element(self, array: str, indices) -> str:
        with self.in_index():
            return super().element(array, indices)

    def _print_Integer(self, expr) -> str:
        # cuda::std::complex<T> mixes with T only (2*z does not compile): values are floating
        if self.complex_values and not self._in_index:
            return self._print(sp.Float(int(expr), 17))
        return super()._print_Integer(expr)

    _print_Zero = _print_One = _print_NegativeOne = _print_Integer

    def complex_call(self, function: str, args: list[str]) -> str:
        return f"cuda::std::{_STD_NAMES.get(function, function)}({', '.join(args)})"

    def _print_ImaginaryUnit(self, expr) -> str:
        return f"{COMPLEX}({self._print(sp.Float(0))}, {self._print(sp.Float(1))})"

    def _print(self, expr, **kwargs) -> str:
        if (isinstance(expr, Application) and not isinstance(expr, (Access, MappedAccess, IntMin, IntMax))
                and any(a.is_number for a in expr.args)):
            expr = expr.func(*[float_literal(a) if a.is_number else a for a in expr.args])
        return super()._print(expr, **kwargs)

    def _print_Pow(self, expr: sp.Pow) -> str:
        if expr.base.is_number:
            return super()._print_Pow(sp.Pow(float_literal(expr.base), expr.exp, evaluate=False))
        return super()._print_Pow(expr)


def _dims(ndim: int) -> list[str]:
    """The thread dimension of each axis: the last axis along x, then y, then z."""
    return ["xyz"[ndim - 1 - a] for a in range(ndim)]


def signature(kernel: Kernel) -> str:
    """The host launcher's C prototype (device pointers; complex arrays of `stencilc_complex`,
    layout-compatible with C99's `_Complex` of the same precision)."""
    value_type = COMPLEX if kernel.dtype in COMPLEX_DTYPES else None
    return f"void {kernel.name}({', '.join(c_declarations(kernel, value_type=value_type))});"


metadata = no_metadata   # load finds the region kernels in the source


def render(kernel: Kernel, header: list[str], *, fastmath: bool = False,
           steps_driver: bool = False) -> str:
    """The kernel as one CUDA translation unit (device kernels + host launcher)."""
    from ..templates_env import environment
    kernel = inline_carried(kernel)   # a thread per point: nothing is carried from one point to the next
    p = CudaPrinter(kernel.dtype, kernel.ndim, kernel.layouts)
    value_type = COMPLEX if kernel.dtype in COMPLEX_DTYPES else None
    dims = _dims(kernel.ndim)
    block = BLOCK[kernel.ndim]
    regions = []
    for region in kernel.regions:
        view = p.view(region)
        for lp in view["loops"]:
            lp["dim"] = dims[lp["depth"]]
        view["grid"] = [{"axis": dims.index(d), "threads": block[k], "limit": GRID_LIMIT[k]} if d in dims else None
                        for k, d in enumerate("xyz")]
        view["point_indices"] = p.point_indices()
        regions.append(view)
    return environment().get_template("cuda/kernel.cu.j2").render(
        header=header, name=kernel.name, ndim=kernel.ndim,
        device_arguments=c_declarations(kernel, " __restrict__", INDEX, value_type),
        host_arguments=c_declarations(kernel, value_type=value_type), call_arguments=c_call_names(kernel),
        complex_type=(f"cuda::std::complex<{p.real_type}>" if value_type else None),
        complex_parameters=complex_parameters(kernel),
        strides=p.strides(), regions=regions, block=block, index_type=INDEX,
    )


# --------------------------------------------------------------------------- running with CuPy

def cupy():
    """The cupy module with a usable GPU, or a StencilError naming the backends that would work."""
    try:
        import cupy as cp
    except ImportError as e:
        raise StencilError(f"backend='cuda' runs through CuPy, which is not importable ({e}); "
                           f"{ALTERNATIVES}; stencilc.generate(..., target='cuda') writes the CUDA "
                           "source without a GPU") from None
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as e:  # CuPy raises its own CUDARuntimeError when the driver is missing
        count, why = 0, str(e)
    else:
        why = "no CUDA device is visible"
    if count == 0:
        raise StencilError(f"backend='cuda' needs a CUDA GPU ({why}); {ALTERNATIVES}")
    return cp


def nvrtc_options(fastmath: bool) -> tuple[str, ...]:
    # without fastmath: no contraction into fused multiply-adds, IEEE division and square roots
    return ("--use_fast_math",) if fastmath else ("--fmad=false",)


@functools.lru_cache(maxsize=None)
def toolchain_id(fastmath: bool) -> str:
    cp = cupy()
    device = cp.cuda.Device()
    return (f"cupy {cp.__version__}|cuda runtime {cp.cuda.runtime.runtimeGetVersion()}|"
            f"sm_{device.compute_capability}|{' '.join(nvrtc_options(fastmath))}")


def build(source: str, directory: Path, fastmath: bool) -> None:
    """Write the source and its NVRTC options; compile once so that errors surface here."""
    cp = cupy()
    (directory / BACKEND.source_file).write_text(source)
    (directory / "nvrtc_options.txt").write_text("\n".join(nvrtc_options(fastmath)) + "\n")
    try:
        module = cp.RawModule(code=source, options=nvrtc_options(fastmath))
        module.compile()
    except Exception as e:
        raise StencilError(f"NVRTC failed on the generated CUDA kernel:\n{e}\n"
                           f"{ALTERNATIVES} meanwhile, and please report this") from None


def region_kernels(source: str) -> list[str]:
    return re.findall(r'extern "C" __global__ void (\w+)\(', source)


def launch_shape(region: str, shape: tuple[int, ...], radius: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(grid, block) giving a thread to every point of `region`'s box on a grid of `shape`.

    The box is at most the grid, and a boundary strip (`low<a>`/`high<a>`) is at most `radius` wide
    along its axis; a larger box than needed only idles threads, as the kernels check their bounds.
    """
    ndim = len(shape)
    block = BLOCK[ndim]
    strip = re.fullmatch(r"(?:low|high)(\d)", region)
    grid = [1, 1, 1]
    for a, n in enumerate(shape):
        extent = min(radius, n) if strip and int(strip.group(1)) == a else n
        d = ndim - 1 - a
        grid[d] = max(1, min(-(-extent // block[d]), GRID_LIMIT[d]))
    return (grid[0], grid[1], grid[2]), block


def load(directory: Path, meta: dict):
    """A runner that launches every region kernel; host arrays are copied to and from the device."""
    import numpy as np
    cp = cupy()
    source = (directory / BACKEND.source_file).read_text()
    options = tuple((directory / "nvrtc_options.txt").read_text().split())
    module = cp.RawModule(code=source, options=options)
    names = region_kernels(source)
    functions = [module.get_function(n) for n in names]
    scalar = np.float32 if meta["dtype"] in ("float32", "complex64") else np.float64
    radius = int(meta["radius"])
    prefix = meta["name"] + "_"

    def run(arrays, params, outputs, shape):
        device = [cp.asarray(a) for a in arrays]
        device_out = [o if isinstance(o, cp.ndarray) else cp.empty(o.shape, o.dtype) for o in outputs]
        # complex scalars as their parts (printing.scalar_parts)
        parts = [x for p in params for x in ((p.real, p.imag) if np.iscomplexobj(p) else (p,))]
        args = (*device, *[scalar(x) for x in parts], *device_out, *[np.int64(n) for n in shape])
        grid_shape = shape[:outputs[0].ndim]   # a row window's rows follow the sizes
        for name, fn in zip(names, functions):
            grid, block = launch_shape(name[len(prefix):], grid_shape, radius)
            fn(grid, block, args)
        for o, d in zip(outputs, device_out):
            if o is not d:
                d.get(out=o)
    return run
