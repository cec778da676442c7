"""The seed's Mandelbrot (issue 13): its NumPy function against stencilc's map, side by side.

    z <- z^2 + c while |z| < horizon, counting iterations (examples/mandelbrot.py explains the map)

at the seed document's size (1000 x 833 points, maxiter = 200, horizon = 2^40) by default. Rows:
the seed's `mandelbrot_numpy` (copied from examples/mandelbrot.py, which has it verbatim); stencilc
through `iterate` (the seed's whole job: the grid of c, the run, N) with the escape test as
|w|^2 < horizon^2 and as Abs(w) < horizon; the driver call alone (`Stencil.map_steps`, no frames
kept); and one call of the one-step function per step (a sweep over the grid per step, what a map
of radius > 0 does), against which the C backend's pointwise driver is measured. Each row prints
the median of --repeats runs, the runs of all rows taking turns so that they share the machine's
noise, the ratio seed / row, and how many points' escape counts differ from the seed's (NumPy
fuses the multiply-add of its complex square on FMA CPUs, C99 does not; a few points that escape
late near the set's boundary differ).
"""
from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import mandelbrot as ex  # noqa: E402  (the seed's function and the map, as the gallery runs them)
from stencilc import compile_stencil  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="c", choices=["c", "numba", "numpy"])
    ap.add_argument("--nx", type=int, default=ex.NX)
    ap.add_argument("--ny", type=int, default=ex.NY)
    ap.add_argument("--maxiter", type=int, default=ex.MAXITER)
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads of the C kernels (default 1)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    box = ex.BOX + (args.nx, args.ny, args.maxiter)
    kernels = {m: compile_stencil(ex.mandelbrot_map(ex.HORIZON, m), fields=[ex.c], dtype="complex64",
                                  backend=args.backend) for m in ("squared", "abs")}
    for k in kernels.values():
        ex.mandelbrot_stencilc(k, *ex.BOX, 2, 2, 2)     # the map's driver built before timing
    if args.backend == "c":     # after loading the kernels, which set stencilc's default team size
        ctypes.CDLL("libgomp.so.1").omp_set_num_threads(args.threads)

    X = np.linspace(box[0], box[1], args.nx, dtype=np.float32)
    Y = np.linspace(box[2], box[3], args.ny, dtype=np.float32)
    C = X + Y[:, None] * 1j
    w0, n0 = np.zeros(C.shape, np.complex64), np.full(C.shape, -1, np.complex64)

    def driver_only():
        w, n = kernels["squared"].map_steps(w0, n0, steps=args.maxiter, c=C)
        N = n.real.astype(int)
        N[N == args.maxiter - 1] = 0
        return w, N

    def sweep_per_step():      # a callback makes iterate call the one-step function every step
        sol = ex.iterate(kernels["squared"], {"w": w0, "n": n0}, steps=args.maxiter, inputs={"c": C},
                         callback=lambda k, state: None)
        N = sol.final["n"].real.astype(int)
        N[N == args.maxiter - 1] = 0
        return sol.final["w"], N

    rows = {
        "seed mandelbrot_numpy": lambda: ex.mandelbrot_numpy(*box, ex.HORIZON),
        f"stencilc {args.backend} iterate, |w|^2 < h^2":
            lambda: ex.mandelbrot_stencilc(kernels["squared"], *box),
        f"stencilc {args.backend} iterate, Abs(w) < h":
            lambda: ex.mandelbrot_stencilc(kernels["abs"], *box),
        f"stencilc {args.backend} map_steps, |w|^2 < h^2": driver_only,
        f"stencilc {args.backend} a sweep per step, |w|^2 < h^2": sweep_per_step,
    }
    times = {name: [] for name in rows}
    results = {}
    for _ in range(args.repeats):
        for name, run in rows.items():
            t = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - t)

    seed_N = results["seed mandelbrot_numpy"][1]
    seed_t = float(np.median(times["seed mandelbrot_numpy"]))
    threads = f" threads={args.threads}" if args.backend == "c" else ""
    print(f"# grid {args.nx} x {args.ny}, maxiter={args.maxiter}, horizon=2^40, backend={args.backend}"
          f"{threads}, median of {args.repeats} (rows interleaved)")
    print(f"{'row':<44} {'time':>9} {'seed/row':>9} {'counts differ':>14}")
    for name in rows:
        t = float(np.median(times[name]))
        differ = int(np.count_nonzero(results[name][1] != seed_N))
        print(f"{name:<44} {t * 1e3:7.1f}ms {seed_t / t:8.2f}x {differ:>7} of {seed_N.size}")


if __name__ == "__main__":
    main()
