#!/usr/bin/env python
"""Peak memory of a large Euler run: the 10 000 x 10 000 float64 Kuramoto model, 10 steps.

Each row runs in a fresh Python process, which imports stencilc, compiles the Kuramoto C stencil
(loading it from the cache after the first row), makes theta0 and omega, runs 10 Euler steps, and
reports its peak resident memory (`resource.getrusage(RUSAGE_SELF).ru_maxrss`: everything the
process ever held at once, interpreter and libraries included) and its time per step. Rows:

* integrate, record_initial=False: the run keeps only the final frame;
* integrate (defaults): frames at t=0 and t_end, so one more grid than the row above;
* euler_step in place: `k.euler_step(theta, dt=dt, out=theta, ...)` in a loop;
* euler_step double-buffered: out-of-place steps alternating between two arrays (the usual way,
  and the speed the in-place sweep is compared with).

The target (issue 7): peak <= 3.3 grid arrays (theta, theta_next, omega) + 200 MB.

    python benchmarks/memory.py [--n 10000] [--steps 10] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
mode, n, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import numpy as np
import sympy as sp
import stencilc
theta, omega = stencilc.fields("theta omega")
K = sp.Symbol("K")
k = stencilc.compile_stencil(omega + K * stencilc.div(sp.sin(stencilc.grad(theta))), state=theta,
                             ndim=2, bc="neumann", backend="c")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
rng = np.random.default_rng(0)
theta0 = rng.uniform(0.0, 2 * np.pi, (n, n))
omega0 = rng.normal(0.0, 1.0, (n, n))
dt = 0.01
start = time.perf_counter()
if mode == "integrate-final-only":
    sol = stencilc.integrate(k, theta0, t_end=steps * dt, dt=dt, method="euler", record_initial=False,
                             inputs={"omega": omega0, "K": 1.0})
    assert sol.stats["steps"] == steps
    final = sol.final
elif mode == "integrate":
    sol = stencilc.integrate(k, theta0, t_end=steps * dt, dt=dt, method="euler",
                             inputs={"omega": omega0, "K": 1.0})
    assert sol.stats["steps"] == steps
    final = sol.final
elif mode == "euler-step-in-place":
    for _ in range(steps):
        k.euler_step(theta0, dt=dt, out=theta0, omega=omega0, K=1.0)
    final = theta0
else:
    a, b = theta0, np.empty_like(theta0)
    for _ in range(steps):
        k.euler_step(a, dt=dt, out=b, omega=omega0, K=1.0)
        a, b = b, a
    final = a
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak": peak, "base": base, "grid": theta0.nbytes, "ms_per_step": seconds / steps * 1e3,
                  "checksum": float(np.sum(final[::97, ::89]))}))
"""

MODES = ("integrate-final-only", "integrate", "euler-step-in-place", "euler-step-double-buffered")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    print(f"Kuramoto {args.n} x {args.n} float64, {args.steps} Euler steps, {args.threads} thread(s); "
          f"peak = ru_maxrss of a fresh process")
    print(f"{'run':30s} {'peak MB':>9s} {'grids':>7s} {'target MB':>10s} {'ok':>4s} {'ms/step':>9s}")
    sums = {}
    for mode in MODES:
        res = subprocess.run([sys.executable, "-c", CHILD, mode, str(args.n), str(args.steps)],
                             env=env, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{mode:30s} failed:\n{res.stderr}")
            continue
        r = json.loads(res.stdout)
        target = 3.3 * r["grid"] + 200e6
        sums[mode] = r["checksum"]
        print(f"{mode:30s} {r['peak'] / 1e6:9.0f} {r['peak'] / r['grid']:7.2f} {target / 1e6:10.0f} "
              f"{'yes' if r['peak'] <= target else 'no':>4s} {r['ms_per_step']:9.1f}")
    print(f"(before the arrays were made: {r['base'] / 1e6:.0f} MB; one grid array: {r['grid'] / 1e6:.0f} MB)")
    if len(set(sums.values())) > 1:
        print("checksums differ between runs:", sums)


if __name__ == "__main__":
    main()
