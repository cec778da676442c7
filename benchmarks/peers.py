#!/usr/bin/env python
"""Heat, Gray–Scott and Kuramoto right-hand sides in 2-D and 3-D: stencilc against pystencils and Devito.

    heat        du/dt = laplace(u)
    grayscott   du/dt = Du*laplace(u) - u*v**2 + F*(1 - u),  dv/dt = Dv*laplace(v) + u*v**2 - (F + k)*v
    kuramoto    dtheta/dt = omega + K*div(sin(grad(theta)))

every one with Neumann walls (the mirror ghost u[-1] = u[0]). Rows, all timed round-robin in one
run (one call of each row per round, medians), each checked first against a hand-written NumPy
version on an edge-padded copy:

  copy            np.copyto of the state (one read and one write of each state array): the
                  memory-bandwidth floor of one sweep
  stencilc-c      stencilc's C/OpenMP backend, out= given
  stencilc-numba  stencilc's Numba backend, out= given
  pystencils      pystencils 2.x, fixed-shape fields with a ghost layer, OpenMP
  devito          Devito, opt='advanced' + OpenMP, one halo cell

pystencils and Devito keep the state in their own ghost-layer arrays; the Neumann ghosts are
refreshed from the edges before every call and that is part of their time (as in kuramoto.py). A
peer that is not installed (benchmarks/requirements-peers.txt) is skipped with a one-line reason.

    python benchmarks/peers.py                                  # every problem, 2-D 4096^2 and 3-D 256^3
    python benchmarks/peers.py --problems heat --dims 3 --n3 128
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kuramoto import Skip, Threads, cpu_line, versions  # noqa: E402

os.environ.setdefault("DEVITO_LOGGING", "WARNING")
os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
os.environ.setdefault("DEVITO_ARCH", "gcc")

PARAMS = {"heat": {}, "grayscott": {"Du": 0.16, "Dv": 0.08, "F": 0.035, "k": 0.065}, "kuramoto": {"K": 2.0}}
STATE = {"heat": ["u"], "grayscott": ["u", "v"], "kuramoto": ["theta"]}
FIELDS = {"heat": [], "grayscott": [], "kuramoto": ["omega"]}
RHS = {"heat": "laplace(u)",
       "grayscott": {"u": "Du*laplace(u) - u*v**2 + F*(1 - u)", "v": "Dv*laplace(v) + u*v**2 - (F + k)*v"},
       "kuramoto": "omega + K*div(sin(grad(theta)))"}


# ----------------------------------------------------------------------------- the NumPy check

def shifted(P, axis, by):
    """The interior of edge-padded P moved `by` cells along `axis`."""
    index = [slice(1, -1)] * P.ndim
    index[axis] = slice(1 + by, P.shape[axis] - 1 + by)
    return P[tuple(index)]


def reference(problem, arrays):
    """The right-hand side from NumPy on edge-padded copies (edge padding = the Neumann ghost)."""
    a = {n: x.astype(np.float64) for n, x in arrays.items()}
    p = PARAMS[problem]
    pad = {n: np.pad(x, 1, mode="edge") for n, x in a.items()}

    def lap(n):
        return sum(shifted(pad[n], ax, 1) + shifted(pad[n], ax, -1) - 2 * a[n] for ax in range(a[n].ndim))
    if problem == "heat":
        return [lap("u")]
    if problem == "grayscott":
        u, v = a["u"], a["v"]
        return [p["Du"] * lap("u") - u * v**2 + p["F"] * (1 - u), p["Dv"] * lap("v") + u * v**2 - (p["F"] + p["k"]) * v]
    th = a["theta"]
    return [a["omega"] + p["K"] * sum(np.sin(shifted(pad["theta"], ax, s) - th)
                                      for ax in range(th.ndim) for s in (1, -1))]


# ----------------------------------------------------------------------------- rows

def row_copy(problem, arrays, dtype, ctx):
    pairs = [(np.empty_like(arrays[s]), arrays[s]) for s in STATE[problem]]

    def call():
        for dst, src in pairs:
            np.copyto(dst, src)
        return None
    return call


def stencilc_row(backend):
    def factory(problem, arrays, dtype, ctx):
        import stencilc
        ndim = arrays[STATE[problem][0]].ndim
        try:
            k = stencilc.compile_stencil(RHS[problem], state=STATE[problem] if len(STATE[problem]) > 1 else None,
                                         fields=FIELDS[problem] or None, ndim=ndim, backend=backend, dtype=dtype)
        except stencilc.StencilError as e:
            raise Skip(f"compile_stencil(backend={backend!r}) raised StencilError: {str(e).splitlines()[0]}")
        state = [arrays[s] for s in STATE[problem]]
        outs = tuple(np.empty_like(x) for x in state)
        inputs = {f: arrays[f] for f in FIELDS[problem]}
        out = outs if len(outs) > 1 else outs[0]

        def call():
            k(*state, out=out, **inputs, **PARAMS[problem])
            return list(outs)
        return call
    return factory


def fill_neumann_ghosts(P):
    """Mirror ghost layer (one cell deep) of a padded array: u[-1] = u[0], u[n] = u[n-1] per axis."""
    for ax in range(P.ndim):
        lo, hi = [slice(None)] * P.ndim, [slice(None)] * P.ndim
        lo[ax], hi[ax] = 0, -1
        first, last = list(lo), list(hi)
        first[ax], last[ax] = 1, -2
        P[tuple(lo)] = P[tuple(first)]
        P[tuple(hi)] = P[tuple(last)]


def _neighbours(f, ndim, centre):
    """(f at each of the 2*ndim neighbours, f at the point) for a pystencils/Devito accessor."""
    out = []
    for ax in range(ndim):
        for s in (1, -1):
            off = [0] * ndim
            off[ax] = s
            out.append(centre(f, off))
    return out, centre(f, [0] * ndim)


def _expressions(problem, get, ndim, sp_sin, symbols):
    """The right-hand side(s) over a peer's field accessors `get(name, offset)`."""
    def lap(n):
        nb, c = _neighbours(n, ndim, get)
        return sum(nb) - 2 * ndim * c
    if problem == "heat":
        return [lap("u")]
    if problem == "grayscott":
        u, v = get("u", [0] * ndim), get("v", [0] * ndim)
        s = symbols
        return [s["Du"] * lap("u") - u * v**2 + s["F"] * (1 - u), s["Dv"] * lap("v") + u * v**2 - (s["F"] + s["k"]) * v]
    nb, c = _neighbours("theta", ndim, get)
    return [get("omega", [0] * ndim) + symbols["K"] * sum(sp_sin(x - c) for x in nb)]


def row_pystencils(problem, arrays, dtype, ctx):
    try:
        import pystencils as ps
        import sympy as sp
    except ImportError:
        raise Skip("not installed (pip install -r benchmarks/requirements-peers.txt)")
    names = STATE[problem] + FIELDS[problem]
    ndim = arrays[names[0]].ndim
    padded = {n: np.pad(arrays[n], 1, mode="edge").astype(dtype) for n in names}
    results = {s: np.zeros_like(padded[s]) for s in STATE[problem]}
    fields = {n: ps.Field.create_from_numpy_array(n, a) for n, a in padded.items()}
    outs = {s: ps.Field.create_from_numpy_array(f"out_{s}", r) for s, r in results.items()}
    symbols = {p: sp.Symbol(p) for p in PARAMS[problem]}
    exprs = _expressions(problem, lambda n, off: fields[n].__getitem__(tuple(off)), ndim, sp.sin, symbols)
    update = [ps.Assignment(outs[s][tuple([0] * ndim)], e) for s, e in zip(STATE[problem], exprs)]
    cfg = ps.CreateKernelConfig(target=ps.Target.CurrentCPU, default_dtype=dtype, ghost_layers=1)
    cfg.cpu.openmp.enable = True
    kernel = ps.create_kernel(update, cfg).compile()
    kwargs = {**padded, **{f"out_{s}": r for s, r in results.items()}, **PARAMS[problem]}
    views = [results[s][(slice(1, -1),) * ndim] for s in STATE[problem]]

    def call():
        for s in STATE[problem]:
            fill_neumann_ghosts(padded[s])
        kernel(**kwargs)
        return views
    return call


def row_devito(problem, arrays, dtype, ctx):
    try:
        from devito import Constant, Eq, Function, Grid, Operator, sin
    except ImportError:
        raise Skip("not installed (pip install -r benchmarks/requirements-peers.txt)")
    shape = arrays[STATE[problem][0]].shape
    ndim = len(shape)
    grid = Grid(shape=shape, dtype=np.dtype(dtype).type)
    dims = grid.dimensions
    fns = {n: Function(name=n, grid=grid, space_order=1 if n in STATE[problem] else 0)
           for n in STATE[problem] + FIELDS[problem]}
    outs = {s: Function(name=f"out_{s}", grid=grid, space_order=0) for s in STATE[problem]}
    symbols = {p: Constant(name=p, dtype=np.dtype(dtype).type) for p in PARAMS[problem]}

    def get(n, off):
        return fns[n][tuple(d + o for d, o in zip(dims, off))]
    exprs = _expressions(problem, get, ndim, sin, symbols)
    op = Operator([Eq(outs[s], e) for s, e in zip(STATE[problem], exprs)], opt=("advanced", {"openmp": True}))
    for n, f in fns.items():
        f.data[:] = arrays[n]
    halos = [fns[s].data_with_halo for s in STATE[problem]]
    if halos[0].shape != tuple(n + 2 for n in shape):
        raise Skip(f"unexpected halo layout {halos[0].shape}")
    results = [outs[s].data for s in STATE[problem]]
    threads = ctx["threads"]

    def call():
        for h in halos:
            fill_neumann_ghosts(h)
        op.apply(nthreads=threads.current, **PARAMS[problem])
        return results
    return call


FACTORIES = {"copy": row_copy, "stencilc-c": stencilc_row("c"), "stencilc-numba": stencilc_row("numba"),
             "pystencils": row_pystencils, "devito": row_devito}


# ----------------------------------------------------------------------------- measuring

def inputs(problem, shape, dtype):
    rng = np.random.default_rng(0)
    if problem == "heat":
        return {"u": rng.random(shape).astype(dtype)}
    if problem == "grayscott":
        return {"u": (1 - 0.5 * rng.random(shape)).astype(dtype), "v": (0.25 * rng.random(shape)).astype(dtype)}
    return {"theta": rng.uniform(0, 2 * np.pi, shape).astype(dtype), "omega": rng.normal(size=shape).astype(dtype)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", nargs="+", default=["heat", "grayscott", "kuramoto"], choices=list(RHS))
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    ap.add_argument("--n2", type=int, default=4096, help="2-D grid size N (N x N)")
    ap.add_argument("--n3", type=int, default=256, help="3-D grid size N (N x N x N)")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rows", nargs="+", default=list(FACTORIES), choices=list(FACTORIES))
    args = ap.parse_args(argv)

    threads = Threads()
    print(f"# heat / Gray-Scott / Kuramoto right-hand sides, ms per evaluation — "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
    print(f"# CPU: {cpu_line()} ({os.cpu_count()} logical CPUs), {platform.machine()}")
    print(f"# {versions()}")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    table = []
    for ndim in args.dims:
        n = args.n2 if ndim == 2 else args.n3
        shape = (n,) * ndim
        for problem in args.problems:
            arrays = inputs(problem, shape, args.dtype)
            ref = reference(problem, arrays)
            tol = 1e-12 if args.dtype == "float64" else 1e-4
            for nt in args.threads:
                threads.set(nt)
                ctx = {"threads": threads}
                calls = {}
                for row in args.rows:
                    try:
                        call = FACTORIES[row](problem, arrays, args.dtype, ctx)
                        got = call()
                        if got is not None:
                            err = max(float(np.max(np.abs(g.astype(np.float64) - r)) / np.max(np.abs(r)))
                                      for g, r in zip(got, ref))
                            if not err <= tol:
                                print(f"#   {problem} {ndim}-D {row}: WRONG, max rel error {err:.1e}; not timed")
                                continue
                        calls[row] = call
                    except Skip as e:
                        print(f"#   {problem} {ndim}-D {row}: skipped: {e}")
                samples = {r: [] for r in calls}
                for _ in range(args.repeats):
                    for r, c in calls.items():
                        t0 = time.perf_counter()
                        c()
                        samples[r].append(time.perf_counter() - t0)
                med = {r: 1e3 * statistics.median(s) for r, s in samples.items()}
                for r in calls:
                    table.append((problem, f"{n}^{ndim}", nt, r, med[r], 1e3 * min(samples[r]),
                                  med.get("stencilc-c"), med.get("copy")))
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("| problem | grid | threads | row | ms (median) | ms (min) | stencilc-c / this | this / copy |")
    print("|---|---|---|---|---|---|---|---|")
    for problem, grid, nt, row, ms, mn, c, cp in table:
        vs_c = f"{c / ms:.2f}x" if c else "-"
        vs_copy = f"{ms / cp:.2f}" if cp else "-"
        print(f"| {problem} | {grid} | {nt} | {row} | {ms:.2f} | {mn:.2f} | {vs_c} | {vs_copy} |")
    print("\nstencilc-c / this > 1: this row is faster than stencilc-c; this / copy: the row's time in copies "
          "of the state (1 = the one-sweep bandwidth floor).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
