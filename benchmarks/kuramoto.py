#!/usr/bin/env python
"""The benchmark of record: one evaluation of the Kuramoto right-hand side, every implementation, one run.

    dtheta/dt = omega + K * div(sin(grad(theta)))      (Neumann walls; = the seed's sum over neighbours)

Rows (each checked against the seed's NumPy code before it is timed):

  seed-numpy        the seed's `NumpySolver.dudt` (the seed's source, copied below)
  seed-c            the seed's C++/OpenMP kernel `km_laplace_parallel<T>` ported to C (two functions,
                    float and double), compiled -O3 -fopenmp by the system cc, loaded with cffi;
                    called as the seed did: `dudt = omega.copy()` and the kernel adds into it (the
                    copy is part of its time)
  seed-numba        the seed's naive loop as a hand-written `@numba.njit(parallel=True)` kernel
  stencilc-numpy    stencilc's NumPy backend (sizes <= 1024 only)
  stencilc-c        stencilc's C/OpenMP backend
  stencilc-numba    stencilc's Numba backend (skipped when that backend is not available)
  pystencils        pystencils 2.x, fixed-shape fields, OpenMP (skipped when not installed)
  devito            Devito, opt='advanced' + OpenMP (skipped when not installed)

pystencils and Devito are installed from benchmarks/requirements-peers.txt. Both keep the state in
their own ghost-layer arrays; the Neumann ghost cells (mirror: u[-1] = u[0]) are refreshed from the
edges before every call and that is part of their time.

Times are medians of repeats; the rows of one (size, dtype, threads) cell are timed round-robin
(one call of each row per round), so a load change on a shared machine hits all rows alike and the
ratios, which come from the same run, stay meaningful. Thread counts are set inside the process:
`omp_set_num_threads` on the process's libgomp (stencilc's, the seed's and pystencils' kernels, and
Numba's 'omp' threading layer all use it), `numba.set_num_threads`, and Devito's `nthreads=`.

The header's thread check times the seed's kernel with 1 and 2 threads and prints the OpenMP team
size a parallel region really gets and the process's CPU time per wall second. On a shared machine
the thread rows are the first to suffer: when another process holds a core, every multi-threaded
call waits for a scheduler time slice at its closing barrier (a floor of several ms per call, the
same for every OpenMP or Numba row, visible as a median far above the min). Judge such a cell by
its "ms (min)" column and re-run it on a quiet machine.

Correctness check: max|row - ref| / max|ref| with ref = the seed's NumPy code in float64 on the same
inputs; <= 1e-12 for float64, <= 1e-4 for float32. A row that fails is reported and not timed.

    python benchmarks/kuramoto.py                                   # 256 1024 4096, f64 f32, 1 2 threads
    python benchmarks/kuramoto.py --quick                           # smoke run
    python benchmarks/kuramoto.py --markdown --plot kuramoto.png    # README table and plot
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("DEVITO_LOGGING", "WARNING")
os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
os.environ.setdefault("DEVITO_ARCH", "gcc")

TOL = {"float64": 1e-12, "float32": 1e-4}
K_VALUE = 2.0
SINGLE_THREADED = {"seed-numpy", "stencilc-numpy"}   # timed once per (size, dtype), shown in every threads row
ALL_ROWS = ["seed-numpy", "seed-c", "seed-numba", "stencilc-numpy", "stencilc-c", "stencilc-numba",
            "pystencils", "devito"]
NUMPY_MAX_N = 1024          # stencilc-numpy only up to this size (it is the reference backend)


# ----------------------------------------------------------------------------- the seed's code

def seed_numpy_dudt(u, omega, K):
    """NumpySolver.dudt from the seed (self.omega, self.K turned into arguments)."""
    dudt = omega.copy()

    # Horizontal gradient in the direction of +infinity
    dudx_right = u[:, 1:] - u[:, :-1]

    # Vertical gradient in the direction of -infinity
    dudy_down = u[1:, :] - u[:-1, :]

    # Apply contribution from horizontal neighbors
    dudt[:, :-1] += K * np.sin(dudx_right)
    dudt[:, 1:] += K * np.sin(-dudx_right)

    # Apply contribution from vertical neighbors
    dudt[:-1, :] += K * np.sin(dudy_down)
    dudt[1:, :] += K * np.sin(-dudy_down)

    return dudt


# The seed's `km_laplace_parallel<T>` (C++, pybind11, OpenMP) ported to C: the template becomes one
# function per type. `X_data(i, j)` is pybind11's unchecked access (ssize_t index arithmetic); K stays
# `float` as in the seed. For T=float the C++ `sin` of a float is taken as `sinf` (std::sin(float)),
# which is the faster of the two readings, so the comparison is not flattering to stencilc.
SEED_C = r"""
#include <math.h>
#include <stddef.h>
#include <omp.h>

/* not from the seed: the team size a parallel region gets, to check the thread setting */
int km_team_size(void)
{
    int n = 0;
    #pragma omp parallel
    {
        #pragma omp single
        n = omp_get_num_threads();
    }
    return n;
}

#define X_data(i, j) X[(ptrdiff_t)(i) * n + (j)]
#define Y_data(i, j) Y[(ptrdiff_t)(i) * n + (j)]

void km_laplace_parallel_double(const double *X, double *Y, float K, int m, int n)
// Parallel Kuramoto Laplacian
{
    #pragma omp parallel for collapse(2) shared(X, Y, m, n)
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double x = X_data(i, j);

            if (i > 0) Y_data(i, j) += K * sin(X_data(i-1, j) - x);
            if (j > 0) Y_data(i, j) += K * sin(X_data(i, j-1) - x);
            if (i < m-1) Y_data(i, j) += K * sin(X_data(i+1, j) - x);
            if (j < n-1) Y_data(i, j) += K * sin(X_data(i, j+1) - x);
        }
    }
}

void km_laplace_parallel_float(const float *X, float *Y, float K, int m, int n)
// Parallel Kuramoto Laplacian
{
    #pragma omp parallel for collapse(2) shared(X, Y, m, n)
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            float x = X_data(i, j);

            if (i > 0) Y_data(i, j) += K * sinf(X_data(i-1, j) - x);
            if (j > 0) Y_data(i, j) += K * sinf(X_data(i, j-1) - x);
            if (i < m-1) Y_data(i, j) += K * sinf(X_data(i+1, j) - x);
            if (j < n-1) Y_data(i, j) += K * sinf(X_data(i, j+1) - x);
        }
    }
}
"""
SEED_C_CDEF = """
int km_team_size(void);
void km_laplace_parallel_double(const double *X, double *Y, float K, int m, int n);
void km_laplace_parallel_float(const float *X, float *Y, float K, int m, int n);
"""
SEED_C_FLAGS = ["-O3", "-fopenmp", "-fPIC", "-shared"]


class Skip(Exception):
    """A row that cannot run here (not installed, backend not available); the reason is printed."""


# ----------------------------------------------------------------------------- threads

class Threads:
    """Sets the thread count of every runtime in this process."""

    def __init__(self):
        self.gomp = None
        try:
            self.gomp = ctypes.CDLL("libgomp.so.1")
            self.gomp.omp_set_num_threads.argtypes = [ctypes.c_int]
            self.gomp.omp_get_max_threads.restype = ctypes.c_int
        except OSError:
            warnings.warn("libgomp.so.1 not found: OpenMP thread counts cannot be set in-process")
        self.numba = None
        try:
            import numba
            self.numba = numba
        except ImportError:
            pass
        self.current = None

    def set(self, n: int) -> str:
        self.current = n
        said = []
        # Numba first: its first set_num_threads starts its 'omp' threading layer, whose start-up
        # sets libgomp's thread count to NUMBA_NUM_THREADS and would undo an earlier setting.
        if self.numba is not None:
            m = min(n, self.numba.config.NUMBA_NUM_THREADS)
            if m != n:
                warnings.warn(f"numba is limited to NUMBA_NUM_THREADS={m} threads")
            self.numba.set_num_threads(m)
            said.append(f"numba.get_num_threads()={self.numba.get_num_threads()}")
        if self.gomp is not None:
            self.gomp.omp_set_num_threads(n)
            said.insert(0, f"omp_get_max_threads()={self.gomp.omp_get_max_threads()}")
        return ", ".join(said)


# ----------------------------------------------------------------------------- rows
# Each factory takes (theta, omega, dtype, ctx) and returns a zero-argument callable that performs one
# evaluation and returns the N x N result (a view is fine), or raises Skip.

def row_seed_numpy(theta, omega, dtype, ctx):
    K = np.dtype(dtype).type(K_VALUE)
    return lambda: seed_numpy_dudt(theta, omega, K)


def build_seed_c(workdir: Path):
    import cffi
    cc = os.environ.get("CC", "cc")
    src = workdir / "seed_km_laplace.c"
    lib = workdir / "seed_km_laplace.so"
    src.write_text(SEED_C)
    res = subprocess.run([cc, *SEED_C_FLAGS, str(src), "-o", str(lib), "-lm"], capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise Skip(f"{cc} failed on the seed kernel: {res.stderr.strip()[:300]}")
    ffi = cffi.FFI()
    ffi.cdef(SEED_C_CDEF)
    return ffi, ffi.dlopen(str(lib))


def row_seed_c(theta, omega, dtype, ctx):
    if "seed_c" not in ctx:
        ctx["seed_c"] = build_seed_c(ctx["workdir"])
    ffi, lib = ctx["seed_c"]
    ctype = "double" if dtype == "float64" else "float"
    fn = lib.km_laplace_parallel_double if dtype == "float64" else lib.km_laplace_parallel_float
    X = ffi.from_buffer(f"{ctype}[]", theta)
    m, n = theta.shape

    def call():
        dudt = omega.copy()                       # the seed: dudt = self.omega.copy()
        fn(X, ffi.from_buffer(f"{ctype}[]", dudt), K_VALUE, m, n)
        return dudt
    return call


_SEED_NUMBA = None


def seed_numba_kernel():
    global _SEED_NUMBA
    if _SEED_NUMBA is None:
        try:
            import numba
        except ImportError:
            raise Skip("numba is not installed")

        @numba.njit(parallel=True, fastmath=False)
        def km_naive(u, omega, K, out):
            m, n = u.shape
            for row in numba.prange(m):
                for col in range(n):
                    x = u[row, col]
                    acc = omega[row, col]
                    # Horizontal neighbors
                    if row > 0:
                        acc += K * np.sin(u[row - 1, col] - x)
                    if row < m - 1:
                        acc += K * np.sin(u[row + 1, col] - x)
                    # Vertical neighbors
                    if col > 0:
                        acc += K * np.sin(u[row, col - 1] - x)
                    if col < n - 1:
                        acc += K * np.sin(u[row, col + 1] - x)
                    out[row, col] = acc
        _SEED_NUMBA = km_naive
    return _SEED_NUMBA


def row_seed_numba(theta, omega, dtype, ctx):
    kern = seed_numba_kernel()
    K = np.dtype(dtype).type(K_VALUE)
    out = np.empty_like(theta)

    def call():
        kern(theta, omega, K, out)
        return out
    return call


def kuramoto_rhs():
    import sympy as sp
    import stencilc
    theta, omega = stencilc.fields("theta omega")
    K = sp.Symbol("K")
    return omega + K * stencilc.div(sp.sin(stencilc.grad(theta))), theta


def stencilc_row(backend):
    def factory(theta, omega, dtype, ctx):
        import stencilc
        key = ("stencilc", backend, dtype)
        if key not in ctx:
            rhs, state = kuramoto_rhs()
            try:
                ctx[key] = stencilc.compile_stencil(rhs, state=state, ndim=2, bc="neumann",
                                                    backend=backend, dtype=dtype)
            except stencilc.StencilError as e:
                ctx[key] = Skip(f"compile_stencil(backend={backend!r}) raised StencilError: "
                                f"{str(e).splitlines()[0]}")
        k = ctx[key]
        if isinstance(k, Skip):
            raise k
        out = np.empty_like(theta)

        def call():
            k(theta, omega=omega, K=K_VALUE, out=out)
            return out
        return call
    return factory


def row_stencilc_numpy(theta, omega, dtype, ctx):
    if theta.shape[0] > NUMPY_MAX_N:
        raise Skip(f"only run at N <= {NUMPY_MAX_N}")
    return stencilc_row("numpy")(theta, omega, dtype, ctx)


def fill_neumann_ghosts(P):
    """Mirror ghost layer (one cell deep) of a padded 2-D array: u[-1] = u[0], u[n] = u[n-1]."""
    P[0, 1:-1] = P[1, 1:-1]
    P[-1, 1:-1] = P[-2, 1:-1]
    P[1:-1, 0] = P[1:-1, 1]
    P[1:-1, -1] = P[1:-1, -2]


def row_pystencils(theta, omega, dtype, ctx):
    try:
        import pystencils as ps
        import sympy as sp
    except ImportError:
        raise Skip("not installed (pip install -r benchmarks/requirements-peers.txt)")
    n0, n1 = theta.shape
    T = np.zeros((n0 + 2, n1 + 2), dtype=dtype)
    O = np.zeros_like(T)
    R = np.zeros_like(T)
    T[1:-1, 1:-1] = theta
    O[1:-1, 1:-1] = omega
    # Fixed-shape fields (shape and strides are compile-time constants, so the compiler can
    # vectorise the inner loop, sin included, with -Ofast -march=native: pystencils' default flags).
    # Intrinsic vectorisation (cpu.vectorize) refuses sin without SVML, so it is not used.
    th = ps.Field.create_from_numpy_array("theta", T)
    om = ps.Field.create_from_numpy_array("omega", O)
    out = ps.Field.create_from_numpy_array("out", R)
    K = sp.Symbol("K")
    c = th[0, 0]
    update = ps.Assignment(out[0, 0], om[0, 0] + K * (sp.sin(th[1, 0] - c) + sp.sin(th[-1, 0] - c)
                                                      + sp.sin(th[0, 1] - c) + sp.sin(th[0, -1] - c)))
    cfg = ps.CreateKernelConfig(target=ps.Target.CurrentCPU, default_dtype=dtype, ghost_layers=1)
    cfg.cpu.openmp.enable = True
    kernel = ps.create_kernel(update, cfg).compile()
    view = R[1:-1, 1:-1]

    def call():
        fill_neumann_ghosts(T)
        kernel(theta=T, omega=O, out=R, K=K_VALUE)
        return view
    return call


def row_devito(theta, omega, dtype, ctx):
    try:
        from devito import Constant, Eq, Function, Grid, Operator, sin
    except ImportError:
        raise Skip("not installed (pip install -r benchmarks/requirements-peers.txt)")
    grid = Grid(shape=theta.shape, dtype=np.dtype(dtype).type)
    x, y = grid.dimensions
    th = Function(name="th", grid=grid, space_order=1)     # one halo cell: the Neumann ghosts
    om = Function(name="om", grid=grid, space_order=0)
    out = Function(name="out", grid=grid, space_order=0)
    K = Constant(name="K", dtype=np.dtype(dtype).type)
    c = th[x, y]
    eq = Eq(out, om + K * (sin(th[x + 1, y] - c) + sin(th[x - 1, y] - c)
                           + sin(th[x, y + 1] - c) + sin(th[x, y - 1] - c)))
    op = Operator([eq], opt=("advanced", {"openmp": True}))
    th.data[:] = theta
    om.data[:] = omega
    halo = th.data_with_halo
    if halo.shape != (theta.shape[0] + 2, theta.shape[1] + 2):
        raise Skip(f"unexpected halo layout {halo.shape}")
    result = out.data
    threads = ctx["threads"]

    def call():
        fill_neumann_ghosts(halo)
        op.apply(K=K_VALUE, nthreads=threads.current)
        return result
    return call


FACTORIES = {
    "seed-numpy": row_seed_numpy,
    "seed-c": row_seed_c,
    "seed-numba": row_seed_numba,
    "stencilc-numpy": row_stencilc_numpy,
    "stencilc-c": stencilc_row("c"),
    "stencilc-numba": stencilc_row("numba"),
    "pystencils": row_pystencils,
    "devito": row_devito,
}


# ----------------------------------------------------------------------------- measuring

def rel_error(a, ref) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.max(np.abs(a - ref)) / np.max(np.abs(ref)))


def time_round_robin(calls: dict, repeats: int, budget: float) -> dict:
    """Median ms per call for each row; rows are called in turn, one call per round.

    A row stops after `repeats` samples or once its samples exceed `budget` seconds (at least 3)."""
    samples = {name: [] for name in calls}
    for f in calls.values():      # one more warm-up call each (the check call was the first)
        f()
    active = list(calls)
    while active:
        for name in list(active):
            t0 = time.perf_counter()
            calls[name]()
            samples[name].append(time.perf_counter() - t0)
            s = samples[name]
            if len(s) >= repeats or (len(s) >= 3 and sum(s) > budget):
                active.remove(name)
    return {name: (1e3 * statistics.median(s), len(s), 1e3 * min(s)) for name, s in samples.items()}


def cpu_line() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    try:
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags"))
    except (OSError, StopIteration):
        return ""
    have = set(flags.split(":", 1)[1].split())
    return " ".join(f for f in ("avx2", "fma", "avx512f") if f in have)


def versions() -> str:
    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    for mod in ("stencilc", "numba", "pystencils", "devito"):
        try:
            m = __import__(mod)
            parts.append(f"{mod} {getattr(m, '__version__', '?')}")
        except Exception:
            parts.append(f"{mod} -")
    try:
        cc = subprocess.run([os.environ.get("CC", "cc"), "--version"], capture_output=True,
                            text=True).stdout.splitlines()[0]
        parts.append(f"cc: {cc}")
    except (OSError, IndexError):
        pass
    return ", ".join(parts)


def thread_check(threads: Threads, ctx) -> str:
    """Time the seed's C kernel at 1024^2 with 1 and 2 threads: the in-process setting must bite.

    Reports wall time and process CPU time per call: with 2 threads the CPU time per wall second
    rises above 1 even where a loaded machine eats the wall-clock gain."""
    rng = np.random.default_rng(1)
    th = rng.uniform(0, 2 * np.pi, (1024, 1024))
    om = rng.normal(size=(1024, 1024))
    call = row_seed_c(th, om, "float64", ctx)
    res = {}
    for n in (1, 2):
        threads.set(n)
        call()
        walls, cpus = [], []
        for _ in range(5):
            c0, w0 = time.process_time(), time.perf_counter()
            call()
            cpus.append(time.process_time() - c0)
            walls.append(time.perf_counter() - w0)
        res[n] = (min(walls), sum(cpus) / sum(walls), ctx["seed_c"][1].km_team_size())
    return (f"thread check (seed-c, 1024^2 float64; OpenMP team size {res[1][2]}, then {res[2][2]}): "
            f"1 thread {1e3 * res[1][0]:.1f} ms "
            f"(CPU/wall {res[1][1]:.2f}), 2 threads {1e3 * res[2][0]:.1f} ms (CPU/wall {res[2][1]:.2f}); "
            f"speed-up {res[1][0] / res[2][0]:.2f}x")


def _t(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- output

def fmt_ms(ms: float) -> str:
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def fmt_ratio(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return "-"
    return f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


def print_table(results, markdown: bool):
    head = ["N", "dtype", "threads", "implementation", "ms (median)", "vs seed-c", "vs stencilc-c", "ms (min)",
            "repeats"]
    rows = []
    for (n, dtype, nt), rowres in results.items():
        seed = rowres.get("seed-c", (None,))[0]
        sc = rowres.get("stencilc-c", (None,))[0]
        for name in ALL_ROWS:
            if name not in rowres:
                continue
            ms, reps, best = rowres[name]
            note = "*" if name in SINGLE_THREADED else ""
            rows.append([f"{n}", dtype, f"{nt}", name + note, fmt_ms(ms),
                         fmt_ratio(seed / ms if seed else None), fmt_ratio(sc / ms if sc else None),
                         fmt_ms(best), f"{reps}"])
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---:" if i in (0, 2, 4, 5, 6, 7, 8) else "---" for i in range(len(head))) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
        print("  ".join(h.rjust(w[i]) for i, h in enumerate(head)))
        prev = None
        for r in rows:
            if prev is not None and r[:3] != prev:
                print()
            prev = r[:3]
            print("  ".join(c.rjust(w[i]) if i != 3 else c.ljust(w[i]) for i, c in enumerate(r)))
    print("\nms: median milliseconds per right-hand-side evaluation. vs X: X's time / this row's time "
          "(> 1: faster than X), both from this run;\n"
          "ratios are of medians. ms (min): the fastest sample, for judging noise on a shared machine.")
    print("*: single-threaded code, timed once per (N, dtype) and shown under every thread count.")


def plot(results, path: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter
    dtypes = sorted({d for (_, d, _) in results}, reverse=True)          # float64 first
    nts = sorted({t for (_, _, t) in results})
    sizes = sorted({n for (n, _, _) in results})
    fig, axes = plt.subplots(len(dtypes), len(nts), figsize=(5.5 * len(nts), 4.2 * len(dtypes)),
                             squeeze=False, sharex=True, sharey=True)
    for i, dt in enumerate(dtypes):
        for j, nt in enumerate(nts):
            ax = axes[i][j]
            for name in ALL_ROWS:
                pts = sorted((n, r[name][0]) for (n, d, t), r in results.items()
                             if d == dt and t == nt and name in r)
                if pts:
                    ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=name)
            ax.set_title(f"{dt}, {nt} thread{'s' if nt > 1 else ''}")
            ax.set_xticks(sizes)
            ax.set_xticklabels([str(n) for n in sizes])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
            if i == len(dtypes) - 1:
                ax.set_xlabel("N (grid N x N)")
            if j == 0:
                ax.set_ylabel("ms per evaluation (median)")
    axes[0][-1].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Kuramoto right-hand side — {cpu_line()} — {datetime.date.today()}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


# ----------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="grid sizes N (default 256 1024 4096)")
    ap.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=11, help="samples per row (fewer past --budget)")
    ap.add_argument("--budget", type=float, default=4.0,
                    help="seconds of samples per row and cell after which it stops (min. 3 samples)")
    ap.add_argument("--rows", nargs="+", default=ALL_ROWS, choices=ALL_ROWS)
    ap.add_argument("--quick", action="store_true", help="3 repeats, sizes 64 256 unless --sizes: a smoke run")
    ap.add_argument("--plot", metavar="FILE", help="write a log-log PNG of ms vs N per row")
    ap.add_argument("--markdown", action="store_true", help="print the table as a markdown table")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.budget = args.sizes or [64, 256], 3, 0.5
    args.sizes = args.sizes or [256, 1024, 4096]

    print(f"# Kuramoto right-hand side, ms per evaluation — {datetime.datetime.now():%Y-%m-%d %H:%M}")
    print(f"# CPU: {cpu_line()} ({os.cpu_count()} logical CPUs; {cpu_flags()})")
    print(f"# {versions()}")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    threads = Threads()
    ctx = {"threads": threads}
    failures = []
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="kuramoto-bench-") as tmp:
        ctx["workdir"] = Path(tmp)
        try:
            print(f"# {thread_check(threads, ctx)}")
        except Skip as e:
            print(f"# thread check skipped: {e}")
        skipped_once = set()
        for n in args.sizes:
            for dtype in args.dtypes:
                rng = np.random.default_rng(n)
                theta = rng.uniform(0, 2 * np.pi, (n, n)).astype(dtype)
                omega = rng.normal(0.0, 1.0, (n, n)).astype(dtype)
                ref = seed_numpy_dudt(theta.astype(np.float64), omega.astype(np.float64), K_VALUE)
                single: dict = {}
                for nt in args.threads:
                    print(f"# N={n} {dtype} threads={nt}: {threads.set(nt)}", flush=True)
                    calls = {}
                    for name in args.rows:
                        if name in SINGLE_THREADED and name in single:
                            continue
                        try:
                            call = FACTORIES[name](theta, omega, dtype, ctx)
                            err = rel_error(call(), ref)
                        except Skip as e:
                            if (name, str(e)) not in skipped_once:
                                print(f"#   {name}: skipped: {e}")
                                skipped_once.add((name, str(e)))
                            continue
                        except Exception as e:   # a peer or backend that breaks must not stop the run
                            print(f"#   {name}: FAILED to run: {type(e).__name__}: {str(e)[:300]}")
                            failures.append(f"{name} N={n} {dtype}: {type(e).__name__}")
                            continue
                        if not err <= TOL[dtype]:
                            print(f"#   {name}: FAILED check: max rel error {err:.2e} > {TOL[dtype]:.0e}")
                            failures.append(f"{name} N={n} {dtype}: rel error {err:.2e}")
                            continue
                        if nt == args.threads[0] or name not in SINGLE_THREADED:
                            print(f"#   {name}: checked, max rel error {err:.1e}", flush=True)
                        calls[name] = call
                    timed = time_round_robin(calls, args.repeats, args.budget)
                    for name in SINGLE_THREADED:
                        if name in timed:
                            single[name] = timed[name]
                    cell = {**timed, **{k: v for k, v in single.items() if k not in timed}}
                    results[(n, dtype, nt)] = cell
                    del calls
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print_table(results, args.markdown)
    if len(args.threads) > 1:
        lo, hi = min(args.threads), max(args.threads)
        print(f"\nthread scaling ({lo} -> {hi} threads, time ratio):")
        for n in args.sizes:
            for dtype in args.dtypes:
                a, b = results.get((n, dtype, lo), {}), results.get((n, dtype, hi), {})
                parts = [f"{name} {a[name][0] / b[name][0]:.2f}x" for name in ALL_ROWS
                         if name in a and name in b and name not in SINGLE_THREADED]
                print(f"  N={n} {dtype}: " + ", ".join(parts))
    if args.plot:
        plot(results, args.plot)
    if failures:
        print("\nFAILURES:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
