#!/usr/bin/env python
"""Temporal blocking: the heat equation's multi-step driver, blocked against plain, against a copy.

    blocked  k.euler_steps(u, dt=dt, steps=16, out=v)   (the automatic choice: temporally
             blocked, the grid read and written once per `depth` steps)
    plain    the plain multi-step driver (one sweep over the grid per step, double-buffered)
    copy     np.copyto(v, u), once: the cost of reading and writing the grid once

Heat (laplace, Neumann walls), float64, C backend. The rows run in one process, round-robin (one
call of each per round), so that a load change on a shared machine hits all alike; the table gives
the median ms per step (per copy for the copy row) and the ratios of the medians. The blocked and
plain runs are checked to give the same state, to the last bit, before timing.

    python benchmarks/temporal.py [--n 4096] [--steps 16] [--threads 1 2] [--rounds 9]
                                  [--depth D] [--slab POINTS] [--cache KIB]
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import statistics
import time

import numpy as np

import stencilc
from stencilc import stepping


def _set_threads(n: int) -> None:
    # the kernels' OpenMP runtime is libgomp, already loaded by the compiled stencil
    lib = ctypes.CDLL(ctypes.util.find_library("gomp") or "libgomp.so.1")
    lib.omp_set_num_threads(ctypes.c_int(n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--depth", type=int, default=None, help="override stepping.TILE_MAX_DEPTH")
    ap.add_argument("--slab", type=int, default=None, help="override stepping.TILE_CALL_POINTS (points)")
    ap.add_argument("--cache", type=int, default=None, help="override stepping.TILE_CACHE_BYTES (KiB)")
    args = ap.parse_args()
    if args.cache:
        stepping.TILE_CACHE_BYTES = args.cache << 10
    if args.depth:
        stepping.TILE_MAX_DEPTH = args.depth
    if args.slab:
        stepping.TILE_CALL_POINTS = args.slab
    u, = stencilc.fields("u")
    k = stencilc.compile_stencil(stencilc.laplace(u), bc="neumann")
    n, steps, dt = args.n, args.steps, 0.2
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, (n, n))
    out, spare = np.empty_like(a), [np.empty_like(a)]
    plan = stepping.tile_plan(a.shape, a.itemsize, 1, k.radius, steps, k._stepping._cut)
    plain_run = k._stepping.variant("euler")

    def blocked():
        k.euler_steps(a, dt=dt, steps=steps, out=out)

    def plain():
        plain_run.steps([a], [dt], [out], spare, a.shape, steps)

    def copy():
        np.copyto(out, a)

    blocked()
    b = out.copy()
    plain()
    if not np.array_equal(b, out):
        raise SystemExit("the blocked and plain drivers disagree")
    print(f"# heat, laplace, Neumann, {n}x{n} float64, {steps} steps per call; plan (depth, slab, "
          f"bands, cols) = {plan}; median of {args.rounds} rounds; a shared, noisy machine")
    print("\n| threads | blocked ms/step | plain ms/step | copy ms | blocked / copy | plain / copy "
          "| blocked / plain |\n|---:|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        _set_threads(threads)
        times = {"blocked": [], "plain": [], "copy": []}
        for fn in (blocked, plain, copy):
            fn()                                   # warm: pages, thread team
        for _ in range(args.rounds):
            for name, fn, per in (("blocked", blocked, steps), ("plain", plain, steps), ("copy", copy, 1)):
                t = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t) * 1e3 / per)
        m = {name: statistics.median(v) for name, v in times.items()}
        print(f"| {threads} | {m['blocked']:.2f} | {m['plain']:.2f} | {m['copy']:.2f} | "
              f"{m['blocked'] / m['copy']:.2f} | {m['plain'] / m['copy']:.2f} | {m['blocked'] / m['plain']:.2f} |")


if __name__ == "__main__":
    main()
