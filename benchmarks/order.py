"""Accuracy order (issue 13): what order=4 and order=6 cost against order=2, and how `laplace` at
order 4 is discretised.

Prints two tables (medians of repeats, ratios from the same run, the orders interleaved so that
they share the machine's noise):
1. ms per call and ns per grid point at N x N (default 2048², float64) for the heat equation's
   `laplace(u)` and the seed's Kuramoto right-hand side `omega + K*div(sin(grad(theta)))`, at
   orders 2, 4 and 6, with the ratio to order 2.
2. The two ways to build a fourth-order Laplacian: `laplace(u)` (the compact centred second
   difference, 5 points per axis, what stencilc uses) and `div(grad(u))` (the staggered difference
   of staggered differences, 7 points per axis): ms per call at N x N and the relative error on a
   smooth periodic solution at 32² and 64².
"""
from __future__ import annotations

import argparse

import numpy as np
import sympy as sp

import stencilc as sc
from _timing import median_ms, set_threads




def relative_error(kernel, n):
    """max |discrete - exact| / max |exact| for u = sin(x + 0.3) cos(y) on a 2*pi-periodic grid
    of n x n cells (the kernel is compiled with spacing 1 and scaled by 1/h^2)."""
    h = 2 * np.pi / n
    x = (np.arange(n) + 0.5) * h
    X, Y = np.meshgrid(x, x, indexing="ij")
    u = np.sin(X + 0.3) * np.cos(Y)
    exact = -2 * u
    return float(np.abs(kernel(u) / h**2 - exact).max() / np.abs(exact).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="c", choices=["c", "numba", "numpy"])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    set_threads(args.threads)

    u, theta, omega = sc.fields("u theta omega")
    K = sp.Symbol("K")
    n, reps = args.n, args.repeats
    rng = np.random.default_rng(0)
    a, w = rng.uniform(0, 2 * np.pi, (n, n)), rng.uniform(0, 1, (n, n))
    out = np.empty_like(a)
    print(f"# backend={args.backend} threads={args.threads} float64 {n}x{n}, median of {reps}")

    laplace_rhs = sc.laplace(u)
    cases = {"heat laplace(u)": (laplace_rhs, u, {}),
             "Kuramoto": (omega + K * sc.div(sp.sin(sc.grad(theta))), theta, {"omega": w, "K": 2.0})}
    print("\n| equation | order | radius | ms per call | ns per point | / order 2 |\n|---|---:|---:|---:|---:|---:|")
    for label, (rhs, state, inputs) in cases.items():
        kernels = {p: sc.compile_stencil(rhs, state=state, ndim=2, bc="neumann", backend=args.backend,
                                         order=p) for p in (2, 4, 6)}
        best = {p: float("inf") for p in kernels}
        for _ in range(3):
            for p, k in kernels.items():
                best[p] = min(best[p], median_ms(lambda: k(a, out=out, **inputs), reps))
        for p, k in kernels.items():
            print(f"| {label} | {p} | {k.radius} | {best[p]:.2f} | {best[p] * 1e6 / n**2:.2f} | "
                  f"{best[p] / best[2]:.2f} |")

    forms = {"laplace(u)": (laplace_rhs, 5), "div(grad(u))": (sc.div(sc.grad(u)), 7)}
    kernels = {label: sc.compile_stencil(rhs, state=u, ndim=2, bc="periodic", backend=args.backend, order=4)
               for label, (rhs, _) in forms.items()}
    times = {label: float("inf") for label in forms}
    for _ in range(3):
        for label, k in kernels.items():
            times[label] = min(times[label], median_ms(lambda: k(a, out=out), reps))
    print("\n| order 4 | points per axis | radius | ms per call | / laplace(u) | rel. error 32² | rel. error 64² |"
          "\n|---|---:|---:|---:|---:|---:|---:|")
    for label, k in kernels.items():
        e32, e64 = relative_error(k, 32), relative_error(k, 64)
        print(f"| {label} | {forms[label][1]} | {k.radius} | {times[label]:.2f} | "
              f"{times[label] / times['laplace(u)']:.2f} | {e32:.2e} | {e64:.2e} |")


if __name__ == "__main__":
    main()
