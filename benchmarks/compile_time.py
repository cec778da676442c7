#!/usr/bin/env python
"""Compile time of the Kuramoto stencil: cold (fresh cache, fresh process) and warm (fresh process, same cache).

Each measurement runs in a new Python process (subprocess); the child imports everything first and
times only the compile call (for stencilc: `compile_stencil(...)` up to a callable kernel, lowering,
code generation, C compiler / Numba JIT and library load included). Cold: a brand-new cache
directory (STENCILC_CACHE_DIR, and NUMBA_CACHE_DIR, XDG_CACHE_HOME and TMPDIR for the JIT caches of
Numba, pystencils and Devito). Warm: a second fresh process with the same cache directory. Medians of
--repeats (default 5) such pairs.

Rows: stencilc c / numpy / numba (numba skipped if compile_stencil raises StencilError), and, when
installed, pystencils and Devito building the same kernel as in benchmarks/kuramoto.py (N=1024) for
comparison.

    python benchmarks/compile_time.py [--repeats 5] [--dtype float64] [--markdown]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
backend, dtype = sys.argv[1], sys.argv[2]
import numpy as np
import sympy as sp
if backend.startswith("stencilc-"):
    import stencilc
    theta, omega = stencilc.fields("theta omega")
    K = sp.Symbol("K")
    rhs = omega + K * stencilc.div(sp.sin(stencilc.grad(theta)))
    if backend == "stencilc-numba":
        import numba  # noqa: F401  (an import, not part of the compile time)
    t0 = time.perf_counter()
    try:
        k = stencilc.compile_stencil(rhs, state=theta, ndim=2, bc="neumann",
                                     backend=backend.split("-", 1)[1], dtype=dtype)
    except stencilc.StencilError as e:
        print(json.dumps({"skip": str(e).splitlines()[0]}))
        sys.exit(0)
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "from_cache": k.from_cache}))
elif backend == "pystencils":
    try:
        import pystencils as ps
    except ImportError:
        print(json.dumps({"skip": "not installed"})); sys.exit(0)
    n = 1024
    T = np.zeros((n + 2, n + 2), dtype=dtype)
    t0 = time.perf_counter()
    th = ps.Field.create_from_numpy_array("theta", T)
    om = ps.Field.create_from_numpy_array("omega", T)
    out = ps.Field.create_from_numpy_array("out", T)
    Ks = sp.Symbol("K"); c = th[0, 0]
    upd = ps.Assignment(out[0, 0], om[0, 0] + Ks * (sp.sin(th[1, 0] - c) + sp.sin(th[-1, 0] - c)
                                                    + sp.sin(th[0, 1] - c) + sp.sin(th[0, -1] - c)))
    cfg = ps.CreateKernelConfig(target=ps.Target.CurrentCPU, default_dtype=dtype, ghost_layers=1)
    cfg.cpu.openmp.enable = True
    ps.create_kernel(upd, cfg).compile()
    print(json.dumps({"seconds": time.perf_counter() - t0, "from_cache": None}))
elif backend == "devito":
    import os
    os.environ.setdefault("DEVITO_LOGGING", "WARNING"); os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
    os.environ.setdefault("DEVITO_ARCH", "gcc")
    try:
        from devito import Constant, Eq, Function, Grid, Operator, sin
    except ImportError:
        print(json.dumps({"skip": "not installed"})); sys.exit(0)
    t0 = time.perf_counter()
    grid = Grid(shape=(1024, 1024), dtype=np.dtype(dtype).type)
    x, y = grid.dimensions
    th = Function(name="th", grid=grid, space_order=1)
    om = Function(name="om", grid=grid, space_order=0)
    out = Function(name="out", grid=grid, space_order=0)
    Kc = Constant(name="K", dtype=np.dtype(dtype).type); c = th[x, y]
    eq = Eq(out, om + Kc * (sin(th[x + 1, y] - c) + sin(th[x - 1, y] - c) + sin(th[x, y + 1] - c)
                            + sin(th[x, y - 1] - c)))
    op = Operator([eq], opt=("advanced", {"openmp": True}))
    op.cfunction   # JIT-compile and load (apply() would do this on its first call)
    print(json.dumps({"seconds": time.perf_counter() - t0, "from_cache": None}))
"""

ROWS = ["stencilc-c", "stencilc-numpy", "stencilc-numba", "pystencils", "devito"]


def child(row: str, dtype: str, cache: Path) -> dict:
    env = dict(os.environ)
    env.update(STENCILC_CACHE_DIR=str(cache / "stencilc"), NUMBA_CACHE_DIR=str(cache / "numba"),
               XDG_CACHE_HOME=str(cache / "xdg"), TMPDIR=str(cache / "tmp"))
    (cache / "tmp").mkdir(parents=True, exist_ok=True)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    res = subprocess.run([sys.executable, "-c", CHILD, row, dtype], env=env, capture_output=True,
                         text=True, timeout=600)
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--rows", nargs="+", default=ROWS, choices=ROWS)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)

    table = []
    bad = False
    for row in args.rows:
        cold, warm, note = [], [], ""
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="stencilc-compile-time-") as tmp:
                c = child(row, args.dtype, Path(tmp))
                if "skip" in c or "error" in c:
                    note = c.get("skip") or f"ERROR: {c['error']}"
                    bad |= "error" in c
                    break
                w = child(row, args.dtype, Path(tmp))
                if "error" in w:
                    note, bad = f"ERROR (warm): {w['error']}", True
                    break
                if c["from_cache"] is True or w["from_cache"] is False:
                    note = f"cache not behaving: cold from_cache={c['from_cache']}, warm {w['from_cache']}"
                    bad = True
                cold.append(c["seconds"])
                warm.append(w["seconds"])
        print(f"# {row}: cold {[round(x, 3) for x in cold]} warm {[round(x, 3) for x in warm]} {note}",
              flush=True)
        table.append((row, statistics.median(cold) if cold else None,
                      statistics.median(warm) if warm else None, len(cold), note))

    head = ["compile of", "cold s (median)", "warm s (median)", "repeats", "note"]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"   # noqa: E731
    rows = [[r, fmt(c), fmt(w), str(n), note] for r, c, w, n, note in table]
    print(f"\nKuramoto stencil, {args.dtype}; seconds in a fresh process, after imports.")
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|---|---:|---:|---:|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
        for r in rows:
            print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    print("cold: fresh cache directory; warm: a second process on the same cache. "
          "pystencils/devito build the same kernel (N=1024) for comparison.")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
