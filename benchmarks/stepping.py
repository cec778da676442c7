"""Time stepping costs (issue 7): a fused Euler step against one right-hand side, and the per-step
cost of `integrate` on a small grid against the bare compiled right-hand side.

Prints two tables (medians of repeats, ratios from the same run):
1. ms per call at N = 1024, 4096: `k(u, out=...)` (right-hand side) and `k.euler_step(u, dt=...)`
   (u + dt*f(u) in one sweep) — the fused step should cost about one right-hand side.
2. µs per step at N = 64 over 10 000 Euler steps: the bare compiled right-hand side (the backend's
   runner called directly, no argument checking), `integrate(..., method="euler")` (which hands
   stretches of steps to the compiled multi-step loop), and a Python loop of `euler_step` calls.
"""
from __future__ import annotations

import argparse

import numpy as np
import sympy as sp

import stencilc as sc
from _timing import median_ms, set_threads




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="c", choices=["c", "numba", "numpy"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--steps", type=int, default=10_000)
    args = ap.parse_args()
    set_threads(args.threads)

    theta, omega = sc.fields("theta omega")
    K = sp.Symbol("K")
    k = sc.compile_stencil(omega + K * sc.div(sp.sin(sc.grad(theta))), backend=args.backend)
    rng = np.random.default_rng(0)
    print(f"# backend={args.backend} threads={args.threads} float64, median of {args.repeats}")

    print("\n| N | rhs ms | fused Euler step ms | step / rhs |\n|---:|---:|---:|---:|")
    for n in (1024, 4096):
        u, w = rng.uniform(0, 2 * np.pi, (n, n)), rng.uniform(0, 1, (n, n))
        out = np.empty_like(u)
        k.euler_step(u, dt=0.1, omega=w, K=2.0, out=out)        # compile the variant first
        reps = args.repeats if n <= 1024 else max(3, args.repeats // 2)
        rhs = euler = float("inf")
        for _ in range(2):                                       # interleave to share the noise
            rhs = min(rhs, median_ms(lambda: k(u, omega=w, K=2.0, out=out), reps))
            euler = min(euler, median_ms(lambda: k.euler_step(u, dt=0.1, omega=w, K=2.0, out=out), reps))
        print(f"| {n} | {rhs:.2f} | {euler:.2f} | {euler / rhs:.2f} |")

    n, steps, dt = 64, args.steps, 0.01
    u, w = rng.uniform(0, 2 * np.pi, (n, n)), rng.uniform(0, 1, (n, n))
    out = np.empty_like(u)
    arrays, params, shape = k._bind((u,), {"omega": w, "K": 2.0})
    bare_run = k._run

    def bare():
        for _ in range(steps):
            bare_run(arrays, params, [out], shape)

    def integrated():
        sc.integrate(k, u, t_end=steps * dt, dt=dt, method="euler", inputs={"omega": w, "K": 2.0})

    def python_loop():
        a, b = u.copy(), np.empty_like(u)
        for _ in range(steps):
            k.euler_step(a, dt=dt, omega=w, K=2.0, out=b)
            a, b = b, a

    integrated()
    reps = max(3, args.repeats // 3)
    per_step = {name: median_ms(fn, reps) * 1e3 / steps
                for name, fn in (("bare", bare), ("integrate", integrated), ("loop", python_loop))}
    print(f"\nN={n}, {steps} Euler steps: µs per step\n")
    print("| bare compiled rhs | integrate(euler) | Python loop of euler_step | integrate / bare |")
    print("|---:|---:|---:|---:|")
    print(f"| {per_step['bare']:.2f} | {per_step['integrate']:.2f} | {per_step['loop']:.2f} | "
          f"{per_step['integrate'] / per_step['bare']:.2f} |")


if __name__ == "__main__":
    main()
