"""C backend: the kernel IR printed as one standalone C99 + OpenMP file, built and loaded with cffi.

Takes a `Kernel`; gives C source (through `printing.CLikePrinter`, a `C99CodePrinter` subclass, and
`templates/c/kernel.c.j2`), a shared library built by the system C compiler, and a callable loaded
with cffi in ABI mode. The interior loop is `#pragma omp simd` and branch-free; math functions are
declared `omp declare simd` so that glibc's libmvec vectorises them. The file is exactly what
`stencilc emit` writes.
"""
from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import sympy as sp

from .. import threads
from ..errors import StencilError
from ..ir import Kernel, index
from .backend import Backend, data_address, host_id
from .printing import (CTYPE, CLikePrinter, arguments, c_call_names, c_declarations, complex_parameters,
                       scalar_parts, stride)

BACKEND = Backend(name="c", source_file="kernel.c", passes=("reuse_fluxes:all", "cse"), split_strips=True,
                  steps_driver=True, tiled_driver=True)
# grids with fewer points than this run on one thread (measured: a team costs ~10 µs and far more
# when the cores are shared)
MIN_PARALLEL_POINTS = 32768
# points per tile of a pointwise multi-step driver: the tile's state stays in L1 through every
# step (256 complex128 values are 4 KiB a field), and a step's loop over it is long enough to
# vectorise well (a multiple of every vector width: only the last tile of a row has a remainder)
POINTWISE_TILE = 256
LIBM_SUFFIX = {"float64": "", "float32": "f", "complex128": "", "complex64": "f"}

# glibc libmvec functions: (name, arity, glibc version that added the vector variants)
_LIBMVEC = [("sin", 1, None), ("cos", 1, None), ("exp", 1, None), ("log", 1, None), ("pow", 2, None),
            ("tan", 1, (2, 35)), ("tanh", 1, (2, 35)), ("sinh", 1, (2, 35)), ("cosh", 1, (2, 35)),
            ("asin", 1, (2, 35)), ("acos", 1, (2, 35)), ("atan", 1, (2, 35)), ("atan2", 2, (2, 35)),
            ("hypot", 2, (2, 35))]


def _carried(view: dict, region, p: CLikePrinter, ndim: int):
    """Buffers for the region's carried values, and the loops that fill them (see passes/reuse.py).

    Along the contiguous axis a line buffer is filled by a vectorised loop before the innermost loop;
    along an outer axis k a buffer over axes > k holds the values one step back and is refilled at
    the start of each thread's chunk (k = 0) or before the loop over axis k (k > 0).
    """
    loops = view["loops"]
    for lp in loops:
        lp["before"], lp["head"] = [], []
    buffers, reads, writes = [], [], []
    last = ndim - 1
    ctype = None
    idx = [index(a) for a in range(ndim)]
    for k, c in enumerate(region.carried):
        buf = f"_buf{k}"
        ctype = p.real_type if p.is_real(c.value) else p.value_type   # a real flux stays real
        inner = [b for b in range(ndim) if b > c.axis]
        if c.axis == last:
            # the fill starts one point before the region (the value the first point reads one step
            # back), which is -1 when the region starts at the array's edge (a halo side): the
            # buffer holds n + 1 values, the one for point i at i + 1
            buffers.append({"name": buf, "size": f"n{last} + 1", "type": ctype})
            loops[last]["before"].append({
                "buffer": buf, "index": f"i{last} + 1", "value": p.doprint(c.value),
                "ix": p.point_indices()[0]["value"],
                "loops": [{"var": f"i{last}", "start": p.index(region.bounds[last][0] - 1),
                           "stop": p.index(region.bounds[last][1])}]})
            reads += [{"name": c.current.name, "value": f"{buf}[i{last} + 1]", "type": ctype},
                      {"name": c.previous.name, "value": f"{buf}[i{last}]", "type": ctype}]
            continue
        buffers.append({"name": buf, "size": p.doprint(stride(c.axis, ndim)), "type": ctype})
        j = p.doprint(sp.Add(*[idx[b] * stride(b, ndim) for b in inner]))
        back = list(idx)
        back[c.axis] = idx[0] - 1 if c.axis == 0 else region.bounds[c.axis][0] - 1
        fill = {"buffer": buf, "index": j, "value": p.doprint(c.value), "ix": p.point_indices(back)[0]["value"],
                "loops": [{"var": f"i{b}", "start": p.index(region.bounds[b][0]),
                           "stop": p.index(region.bounds[b][1])} for b in inner]}
        (loops[0]["head"] if c.axis == 0 else loops[c.axis]["before"]).append(fill)
        reads += [{"name": c.previous.name, "value": f"{buf}[{j}]", "type": ctype},
                  {"name": c.current.name, "value": p.doprint(c.value), "type": ctype}]
        writes.append({"buffer": buf, "index": j, "name": c.current.name})
    view.update(buffers=buffers, carried_reads=reads, carried_writes=writes,
                chunked=any(c.axis == 0 for c in region.carried))


def _steps_arguments(kernel: Kernel, restrict: str) -> list[str]:
    """The multi-step driver's parameters: the kernel's, with a spare array per state field after
    the outputs and the number of steps last."""
    ct = CTYPE[kernel.dtype]
    args = c_declarations(kernel, restrict)
    at = len(args) - len(kernel.index_arguments)
    spares = [f"{ct} *{restrict} _spare_{s}" for s in kernel.state]
    return args[:at] + spares + args[at:] + ["const int64_t steps"]


def _steps_driver(kernel: Kernel) -> dict:
    # each step reads the last step's result (_src_*) and writes the next one (_dst_*)
    rename = {s: f"_src_{s}" for s in kernel.state}
    rename.update({o: f"_dst_{s}" for s, o in zip(kernel.state, kernel.outputs)})
    if "t" in kernel.runtime:   # a time-dependent update: step k starts at t + k*dt
        rename["t"] = f"t + ({CTYPE[kernel.real_dtype]})step * _dt"
    return {"arguments": _steps_arguments(kernel, " restrict"),
            "call": c_call_names(kernel, rename),
            "state": [{"name": s, "out": o} for s, o in zip(kernel.state, kernel.outputs)]}


def pointwise(kernel: Kernel) -> bool:
    """Whether every step of the kernel reads each array at the point it writes only (radius 0,
    one interior region): then a multi-step driver can take each point through every step while
    its state is in cache, one pass over memory, instead of sweeping the grid once per step."""
    return kernel.radius == 0 and not kernel.window and len(kernel.regions) == 1 and \
        kernel.regions[0].interior and not kernel.regions[0].carried


def _pointwise_driver(kernel: Kernel) -> dict:
    """The pointwise driver's template data: its tile arrays (per state field, and per complex
    input field, whose values are copied once per tile), the statements filling them from the
    arrays, loading each point's values at a step, writing a step's result back and copying the
    tile's final state into the outputs, and the region with its stores as new values."""
    # every array's value at the point is loaded first, into _p_<name>, since GCC does not
    # vectorise a complex load made in one branch of a conditional only; each point computes every
    # new value (_next_<name>) before it writes any, as a sweep reads the old grid. Complex values
    # are tiled as separate real and imaginary parts: a vector then holds parts of one kind, and
    # complex arithmetic needs no shuffles (measured 5x faster on the Mandelbrot map)
    p = CLikePrinter(kernel.dtype, kernel.ndim, kernel.layouts)
    p.region = kernel.regions[0]
    # each array's element at the point, in its own layout, before the printer reads registers
    at = {a: p.element(a, [index(k) for k in range(kernel.ndim)]) for a in kernel.inputs + kernel.outputs}
    p.registers = {a: f"_p_{a}" for a in kernel.inputs}
    ct, rt, sfx = CTYPE[kernel.dtype], p.real_type, LIBM_SUFFIX[kernel.dtype]
    j = f"[{index(kernel.ndim - 1)} - _tile]"
    split = p.complex_values
    tiled = list(kernel.state) + (list(kernel.fields) if split else [])
    arrays, fill, loads = [], [], []
    for a in tiled:
        if split:
            arrays += [{"type": rt, "name": f"_s_{a}_re"}, {"type": rt, "name": f"_s_{a}_im"}]
            fill += [f"_s_{a}_re{j} = creal{sfx}({at[a]})", f"_s_{a}_im{j} = cimag{sfx}({at[a]})"]
            loads.append({"name": f"_p_{a}", "value": f"STENCILC_CMPLX(_s_{a}_re{j}, _s_{a}_im{j})"})
        else:
            arrays.append({"type": ct, "name": f"_s_{a}"})
            fill.append(f"_s_{a}{j} = {at[a]}")
            loads.append({"name": f"_p_{a}", "value": f"_s_{a}{j}"})
    loads += [{"name": f"_p_{a}", "value": at[a]} for a in kernel.inputs if a not in tiled]
    region = p.view(kernel.regions[0])
    region["point_indices"] = p.point_indices()
    state_of = dict(zip(kernel.outputs, kernel.state))
    region["stores"] = [{"name": f"_next_{state_of[st.output]}", "value": v["value"]}
                        for st, v in zip(kernel.regions[0].stores, region["stores"])]
    advance, drain = [], []
    for a, out in zip(kernel.state, kernel.outputs):
        if split:
            advance += [f"_s_{a}_re{j} = creal{sfx}(_next_{a})", f"_s_{a}_im{j} = cimag{sfx}(_next_{a})"]
            drain.append(f"{at[out]} = STENCILC_CMPLX(_s_{a}_re{j}, _s_{a}_im{j})")
        else:
            advance.append(f"_s_{a}{j} = _next_{a}")
            drain.append(f"{at[out]} = _s_{a}{j}")
    return {"arguments": _steps_arguments(kernel, " restrict"), "region": region, "loads": loads,
            "time": "t" in kernel.runtime, "tile": POINTWISE_TILE, "arrays": arrays, "fill": fill,
            "advance": advance, "drain": drain}


def _in_place_arguments(kernel: Kernel) -> list[str]:
    """The in-place driver's parameters: the state arrays (written), the input fields, the scalars,
    the grid sizes and the rows per block (its block buffers are its own, per thread)."""
    ct = CTYPE[kernel.dtype]
    args = [f"{ct} *{s}" for s in kernel.state] + [f"const {ct} *{f}" for f in kernel.fields]
    args += [d for d in c_declarations(kernel) if d.split()[-1] in
             {part for p in kernel.scalars for part in scalar_parts(kernel, p)}]
    return args + [f"const int64_t n{a}" for a in range(kernel.ndim)] + ["const int64_t rows"]


def _in_place_driver(kernel: Kernel) -> dict:
    return {"arguments": _in_place_arguments(kernel), "call": c_call_names(kernel),
            "state": [{"name": s, "out": o} for s, o in zip(kernel.state, kernel.outputs)],
            "row": " * ".join([f"n{a}" for a in range(1, kernel.ndim)]) or "1",
            "radius": kernel.radius}


def _tiled_arguments(kernel: Kernel) -> list[str]:
    """The temporally blocked driver's parameters: the tile kernel's arrays and scalars, a spare
    array per state field, the grid sizes, the steps, and the sweep's depth, the rows per call
    (slab), the bands and the columns per tile (stepping.tile_plan)."""
    ct = CTYPE[kernel.dtype]
    args = c_declarations(kernel, " restrict")
    at = len(args) - len(kernel.index_arguments)
    spares = [f"{ct} *restrict _spare_{s}" for s in kernel.state]
    sizes = [f"const int64_t n{a}" for a in range(kernel.ndim)]
    return args[:at] + spares + sizes + [f"const int64_t {n}" for n in ("steps", "depth", "slab", "bands", "cols")]


def _tiled_driver(kernel: Kernel) -> dict:
    rename = {s: f"_in_{s}" for s in kernel.state}
    rename.update({o: f"_out_{s}" for s, o in zip(kernel.state, kernel.outputs)})
    rename.update({"_row0": "_p - _shift", "_row1": "_q - _shift", "_in0": "_in_row", "_out0": "_out_row"})
    if kernel.ndim > 1:
        rename[f"n{kernel.ndim - 1}"] = "_wc"   # a cut tile is a grid of its own width
    if "t" in kernel.runtime:   # the same expression as the plain driver's, so the same value
        rename["t"] = f"t + ({CTYPE[kernel.real_dtype]})_step * _dt"
    return {"arguments": [a.replace(" restrict", "") if a.startswith("const int64_t") else a
                          for a in _tiled_arguments(kernel)],
            "call": c_call_names(kernel, rename),
            "state": [{"name": s, "out": o} for s, o in zip(kernel.state, kernel.outputs)],
            "last": f"n{kernel.ndim - 1}" if kernel.ndim > 1 else "1",
            "outer": " * ".join([f"n{a}" for a in range(1, kernel.ndim - 1)]) or "1",
            "radius": max([1] + list(kernel.extents[0])),
            "cut_radius": max([1] + list(kernel.extents[-1])),
            "wrap": kernel.wrapped}


def signature(kernel: Kernel) -> str:
    """The C prototype (without `restrict`), as cffi's `cdef` and headers want it."""
    return f"void {kernel.name}({', '.join(c_declarations(kernel))});"


def metadata(kernel: Kernel, steps_driver: bool) -> dict:
    """What `load` needs in the cache entry: the prototypes of the functions in the library."""
    meta = {"signature": signature(kernel)}
    if steps_driver and kernel.tile:
        meta["tiled_signature"] = (f"void {kernel.name}_tiled("
                                   f"{', '.join(a.replace(' restrict', '') for a in _tiled_arguments(kernel))});")
    elif steps_driver and kernel.window:
        meta["in_place_signature"] = f"int {kernel.name}_in_place({', '.join(_in_place_arguments(kernel))});"
    elif steps_driver:
        meta["steps_signature"] = f"void {kernel.name}_steps({', '.join(_steps_arguments(kernel, ''))});"
    return meta


def render(kernel: Kernel, header: list[str], *, fastmath: bool = False,
           steps_driver: bool = False) -> str:
    """The kernel as one standalone C99 + OpenMP translation unit.

    With `steps_driver`, for an update kernel (`out = u + dt*f(u)`, passes/fuse.py, or a discrete
    map's `out = f(u)`), the file also defines `<name>_steps`, which applies it `steps` times in
    one call: double-buffered, or for a pointwise kernel (`pointwise`) a tile of points at a time
    through every step, in cache; for a row window update kernel it defines `<name>_in_place`
    instead, one step with the state as output, and for a tile kernel (ir.py) `<name>_tiled`, the
    temporally blocked multi-step driver (the kernel itself then runs on the calling thread).
    """
    from ..templates_env import environment
    p = CLikePrinter(kernel.dtype, kernel.ndim, kernel.layouts)
    regions = []
    for region in kernel.regions:
        view = p.view(region)
        _carried(view, region, p, kernel.ndim)
        view["point_indices"] = p.point_indices()
        regions.append(view)
    sfx = LIBM_SUFFIX[kernel.dtype]
    return environment().get_template("c/kernel.c.j2").render(
        header=header, name=kernel.name, ctype=CTYPE[kernel.dtype], real_ctype=p.real_type,
        complex_parameters=complex_parameters(kernel), cmplx="CMPLX" + sfx.upper(),
        arguments=c_declarations(kernel, " restrict"), strides=p.strides(), regions=regions,
        steps_driver=(_steps_driver(kernel) if steps_driver and not kernel.window and not pointwise(kernel)
                      else None),
        pointwise=(_pointwise_driver(kernel) if steps_driver and not kernel.window and pointwise(kernel)
                   else None),
        in_place=_in_place_driver(kernel) if steps_driver and kernel.window and not kernel.tile else None,
        tiled=_tiled_driver(kernel) if steps_driver and kernel.tile else None,
        total_size="*".join(f"n{a}" for a in range(kernel.ndim)), min_parallel_points=MIN_PARALLEL_POINTS,
        vector_math=[{"name": n + sfx, "arity": k, "since": since} for n, k, since in _LIBMVEC],
    )


# --------------------------------------------------------------------------- building

def compiler() -> str:
    """The C compiler: $CC, else cc, gcc or clang on PATH."""
    for cand in [os.environ.get("CC"), "cc", "gcc", "clang"]:
        if cand and shutil.which(cand.split()[0]):
            return cand
    raise StencilError("no C compiler found (set $CC or install gcc) for backend='c'; "
                       "use backend='numpy' (always available) or backend='numba' instead")


def flags(fastmath: bool) -> list[str]:
    # -fcx-fortran-rules: complex products by the textbook formula, as NumPy and Numba compute them
    # (NaN and inf still propagate; C99 Annex G's recovery of infinities from NaN products is
    # left out), so that they vectorise instead of calling __muldc3; real kernels are unaffected
    # -fno-math-errno: nothing reads errno, and a libm call that may set it is not a pure function
    # to GCC, so a loop with a Piecewise and a call (a modulus, a sine) was not if-converted and
    # did not vectorise; a loop that now vectorises calls libmvec's versions (<= 4 ulp)
    base = ["-std=c99", "-O3", "-fopenmp", "-fPIC", "-shared", "-fcx-fortran-rules", "-fno-math-errno"]
    if platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64"):
        base.append("-march=native" if platform.machine() in ("x86_64", "AMD64") else "-mcpu=native")
    if fastmath:
        base.append("-ffast-math")
    return base


@functools.lru_cache(maxsize=None)
def toolchain_id(fastmath: bool) -> str:
    """Everything outside the source that changes the binary: compiler, its version, flags, CPU."""
    cc = compiler()
    try:
        version = subprocess.run(cc.split() + ["--version"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise StencilError(f"the C compiler {cc!r} does not run ({e}); use backend='numpy' or 'numba'")
    return f"{cc}|{version.strip()}|{' '.join(flags(fastmath))}|{host_id()}"


def build(source: str, directory: Path, fastmath: bool) -> Path:
    """Compile `source` into `directory/kernel.so`; errors name the compiler and say what to use instead."""
    cc = compiler()
    c_file = directory / BACKEND.source_file
    so_file = directory / "kernel.so"
    c_file.write_text(source)
    cmd = cc.split() + flags(fastmath) + [str(c_file), "-o", str(so_file), "-lm"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0 and "fcx-fortran-rules" in res.stderr:
        # a compiler without the option: complex products call the runtime library (still correct)
        cmd.remove("-fcx-fortran-rules")
        res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0 and "-lmvec" not in res.stderr and "_ZGV" in res.stderr:
        # no vector maths library: fall back to scalar calls (still correct)
        res = subprocess.run(cmd[:-1] + ["-DSTENCILC_NO_LIBMVEC", "-lm"], capture_output=True, text=True)
    if res.returncode != 0:
        err = res.stderr.strip()
        if re.search(r"openmp|omp\.h|gomp|libomp", err, re.I) and re.search(
                r"not found|unsupported|unrecognized|cannot find|no such file", err, re.I):
            raise StencilError(f"the C compiler {cc!r} has no OpenMP support ({err.splitlines()[-1]}); "
                               "use backend='numpy' or backend='numba' instead")
        raise StencilError(f"the C compiler {cc!r} failed on the generated kernel:\n{err}\n"
                           "use backend='numpy' or backend='numba' meanwhile, and please report this")
    return so_file


def _open(so_file: Path, signatures: list[str]):
    """The compiled functions with these prototypes, through cffi (ABI mode)."""
    import cffi
    ffi = cffi.FFI()
    ffi.cdef("\n".join(signatures))
    lib = ffi.dlopen(str(so_file))
    threads.apply_omp()
    fns = [getattr(lib, sig.split("(")[0].split()[-1]) for sig in signatures]
    return ffi, fns, lib


def load(directory: Path, meta: dict):
    """A runner for the entry's library; with a multi-step driver it also has `.steps`, with an
    in-place driver `.in_place`."""
    extra = [meta[k] for k in ("steps_signature", "in_place_signature", "tiled_signature") if k in meta]
    ffi, fns, lib = _open(directory / "kernel.so", [meta["signature"]] + extra)
    ptr = CTYPE[meta["dtype"]] + " *"
    cast = ffi.cast
    complex_scalars = np.dtype(meta["dtype"]).kind == "c"
    pointers: dict[int, object] = {}     # address -> cdata pointer (an address's pointer never changes)

    def pointer(array):
        address = data_address(array)
        p = pointers.get(address)
        if p is None:
            if len(pointers) >= 256:
                pointers.clear()
            p = pointers[address] = cast(ptr, address)
        return p

    def parts(params):
        """Complex scalars as their real and imaginary parts (`printing.scalar_parts`)."""
        if not complex_scalars:
            return params
        return [x for p in params for x in ((p.real, p.imag) if isinstance(p, complex) or
                                              getattr(p, "dtype", None) is not None and p.dtype.kind == "c"
                                              else (p,))]

    def run(arrays, params, outputs, shape, _lib=lib):
        fns[0](*[pointer(a) for a in arrays], *parts(params), *[pointer(o) for o in outputs], *shape)

    def steps(arrays, params, outputs, spares, shape, count, _lib=lib):
        fns[1](*[cast(ptr, a.ctypes.data) for a in arrays], *parts(params),
               *[cast(ptr, o.ctypes.data) for o in outputs],
               *[cast(ptr, o.ctypes.data) for o in spares], *shape, count)
    def in_place(arrays, params, shape, rows, _lib=lib):
        if fns[1](*[cast(ptr, a.ctypes.data) for a in arrays], *parts(params), *shape, rows):
            raise MemoryError("the in-place step could not allocate its block buffers "
                              f"({rows} rows per thread)")
    def tiled(arrays, params, outputs, spares, shape, count, depth, slab, bands, cols, _lib=lib):
        fns[1](*[cast(ptr, a.ctypes.data) for a in arrays], *parts(params),
               *[cast(ptr, o.ctypes.data) for o in outputs],
               *[cast(ptr, o.ctypes.data) for o in spares], *shape, count, depth, slab, bands, cols)
    if "steps_signature" in meta:
        run.steps = steps
    if "tiled_signature" in meta:
        run.tiled = tiled
    if "in_place_signature" in meta:
        run.in_place = in_place
    return run
