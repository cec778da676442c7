#!/usr/bin/env python
"""An Euler step in place against a double-buffered one: the Kuramoto model, float64, C backend.

    in-place         k.euler_step(theta, dt=dt, out=theta, ...)      (a blocked sweep, no spare grid)
    double-buffered  k.euler_step(a, dt=dt, out=b, ...); a, b = b, a (the usual way)

Both rows run in one process, round-robin (one step of each per round), so a load change on a
shared machine hits both alike; the table gives the median and min ms per step and the ratio of
the medians. The two runs are checked to give the same state (to the last bit) before timing.

    python benchmarks/in_place.py [--n 6000] [--threads 1 2] [--rounds 15] [--block-kb 256 1024]

``--block-kb`` sets the in-place sweep's block size (stencilc.stepping.DRIVER_BLOCK_BYTES, per
thread and state field) for a row each.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import sympy as sp

import stencilc
import stencilc.stepping
from _timing import set_threads




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--block-kb", type=int, nargs="+", default=None,
                    help="in-place block sizes to try, KiB (default: stencilc's)")
    args = ap.parse_args()
    blocks = args.block_kb or [stencilc.stepping.DRIVER_BLOCK_BYTES // 1024]
    theta, omega = stencilc.fields("theta omega")
    K = sp.Symbol("K")
    k = stencilc.compile_stencil(omega + K * stencilc.div(sp.sin(stencilc.grad(theta))), state=theta,
                                 ndim=2, bc="neumann", backend="c")
    rng = np.random.default_rng(0)
    n, dt = args.n, 0.01
    theta0 = rng.uniform(0.0, 2 * np.pi, (n, n))
    w = rng.normal(0.0, 1.0, (n, n))

    # same answers first: one step each way
    u = theta0.copy()
    k.euler_step(u, dt=dt, out=u, omega=w, K=1.0)
    v = k.euler_step(theta0, dt=dt, out=np.empty_like(theta0), omega=w, K=1.0)
    assert np.array_equal(u, v), "in-place and double-buffered steps differ"

    print(f"# Kuramoto {n} x {n} float64, C backend, Euler steps; load average at start: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'threads':>7s} {'row':20s} {'ms (median)':>12s} {'ms (min)':>9s} {'vs double-buffered':>19s}")
    for threads in args.threads:
        set_threads(threads)
        a, b = theta0.copy(), np.empty_like(theta0)
        c = theta0.copy()
        rows = ["double-buffered"] + [f"in-place {kb} KiB" for kb in blocks]
        times = {row: [] for row in rows}
        for _ in range(args.rounds):
            t = time.perf_counter()
            k.euler_step(a, dt=dt, out=b, omega=w, K=1.0)
            times["double-buffered"].append(time.perf_counter() - t)
            a, b = b, a
            for kb in blocks:
                stencilc.stepping.DRIVER_BLOCK_BYTES = kb * 1024
                t = time.perf_counter()
                k.euler_step(c, dt=dt, out=c, omega=w, K=1.0)
                times[f"in-place {kb} KiB"].append(time.perf_counter() - t)
        ref = statistics.median(times["double-buffered"])
        for row in rows:
            med = statistics.median(times[row])
            print(f"{threads:7d} {row:20s} {med * 1e3:12.1f} {min(times[row]) * 1e3:9.1f} "
                  f"{med / ref:18.3f}x")
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
