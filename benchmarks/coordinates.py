"""Coordinates in the right-hand side: what a source term computed from `x` and `y` costs against
the same source read from a precomputed input field.

    coordinates:  laplace(u) + exp(-(x**2 + y**2))     x, y from the loop index, an exp per point
    separable:    laplace(u) + exp(-x**2)*exp(-y**2)    the same source factored by hand: exp(-x**2)
                                                        depends on the row only and is computed once
                                                        per row (passes/hoist.py), an exp per point
    input field:  laplace(u) + s                        s = exp(-(x**2 + y**2)) computed once, read

on the unit square centred on 0 (origin -0.5, spacing 1/N), float64, zero-flux walls. Before timing,
both kernels are checked against a hand-written NumPy Laplacian (edge-padded copy) plus the source
computed by NumPy from the cell centres. Prints one table: ms per call (the median of rounds that
call each variant once in turn, so that they share the machine's noise), ns per grid point, and the
ratios to the input field (the median of each round's ratio). The input-field variant moves one more array through memory; the
coordinate variants pay an `exp` per point (libmvec's vector exp in C). The factored form rounds
differently from the other two (exp(a)·exp(b) is not exp(a + b) in floating point), which is why
stencilc does not factor an exp by itself.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import time

import numpy as np
import sympy as sp

import stencilc as sc
from stencilc import x, y


def round_robin_ms(calls: dict, repeats: int) -> dict:
    """Per variant, the ms of each of `repeats` rounds; a round calls every variant once, in turn,
    so that a burst of load on the shared machine hits all of them alike."""
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: np.asarray(ts) for name, ts in times.items()}


def numpy_reference(u, s, h):
    """laplace(u) + s with zero-flux walls: the 5-point Laplacian on an edge-padded copy."""
    p = np.pad(u, 1, mode="edge")
    return (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u) / h**2 + s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="c,numba", help="comma-separated (default c,numba)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=41, help="round-robin rounds (default 41)")
    args = ap.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    try:
        ctypes.CDLL("libgomp.so.1").omp_set_num_threads(args.threads)
    except OSError:
        pass

    u, s = sc.fields("u s")
    variants = {"coordinates": sc.laplace(u) + sp.exp(-(x**2 + y**2)),
                "separable": sc.laplace(u) + sp.exp(-x**2) * sp.exp(-y**2), "input field": sc.laplace(u) + s}
    print(f"# threads={args.threads} float64, ms per call: medians of {args.repeats} round-robin rounds; "
          f"ratios: medians of the rounds' own ratios")
    print("\n| backend | N | coordinates ms | separable ms | input field ms | input field ns/pt "
          "| coordinates / input field | separable / input field |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        for n in args.sizes:
            h = 1.0 / n
            try:
                kernels = {name: sc.compile_stencil(rhs, state=u, ndim=2, bc="neumann", backend=backend,
                                                    spacing=h, origin=-0.5)
                           for name, rhs in variants.items()}
            except sc.StencilError as e:
                print(f"| {backend} | {n} | skipped: {e} |")
                break
            centres = -0.5 + (np.arange(n) + 0.5) * h
            X, Y = np.meshgrid(centres, centres, indexing="ij")
            source = np.exp(-(X**2 + Y**2))
            field = np.random.default_rng(0).uniform(0, 1, (n, n))
            out = np.empty_like(field)
            calls = {"coordinates": lambda: kernels["coordinates"](field, out=out),
                     "separable": lambda: kernels["separable"](field, out=out),
                     "input field": lambda: kernels["input field"](field, s=source, out=out)}
            expected = numpy_reference(field, source, h)
            for name, call in calls.items():
                call()
                err = np.abs(out - expected).max() / np.abs(expected).max()
                assert err < 1e-12, f"{backend} {name} at {n}: relative error {err:.1e}"
            ms = round_robin_ms(calls, args.repeats)
            c, sep, f = (float(np.median(ms[name])) for name in calls)
            ratio = {name: float(np.median(ms[name] / ms["input field"])) for name in ("coordinates", "separable")}
            print(f"| {backend} | {n} | {c:.2f} | {sep:.2f} | {f:.2f} | {f * 1e6 / n**2:.2f} "
                  f"| {ratio['coordinates']:.2f} | {ratio['separable']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
