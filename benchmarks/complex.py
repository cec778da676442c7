"""Complex fields (issue 13): the Schrödinger right-hand side in complex128 against the same
equation split by hand into two real float64 fields.

    i psi_t = -laplace(psi)/2 + V psi          (complex128: one complex field psi, V an input field)
    u_t = -laplace(w)/2 + V w,  w_t = laplace(u)/2 - V u      (psi = u + i w: a system of two reals)

Prints ms per call (medians of repeats, the two interleaved in one run so that they share the
machine's noise) at N x N, and the ratio complex / split (the target is <= 1.1). The complex
version also reads a complex V (fields take the stencil's dtype), 16 bytes a point more than the
split one's real V; both are checked to compute the same values first.
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
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=11)
    args = ap.parse_args()
    set_threads(args.threads)

    psi, V, u, w = sc.fields("psi V u w")
    complex_k = sc.compile_stencil(sp.I * (sc.laplace(psi) / 2 - V * psi), state=psi, fields=[V],
                                   bc="periodic", dtype="complex128", backend=args.backend)
    split_k = sc.compile_stencil({u: -sc.laplace(w) / 2 + V * w, w: sc.laplace(u) / 2 - V * u},
                                 fields=[V], bc="periodic", backend=args.backend)

    n = args.n
    rng = np.random.default_rng(0)
    re, im, pot = rng.standard_normal((n, n)), rng.standard_normal((n, n)), rng.uniform(0, 1, (n, n))
    z, zv = re + 1j * im, pot.astype(np.complex128)
    out_z, out_u, out_w = np.empty_like(z), np.empty_like(re), np.empty_like(re)
    complex_k(z, V=zv, out=out_z)
    split_k(re, im, V=pot, out=(out_u, out_w))
    assert np.allclose(out_z.real, out_u, atol=1e-12) and np.allclose(out_z.imag, out_w, atol=1e-12)

    print(f"# backend={args.backend} threads={args.threads} N={n}, median of {args.repeats}, "
          "interleaved; the machine may be shared (noisy)")
    complex_ms = split_ms = float("inf")
    for _ in range(3):
        complex_ms = min(complex_ms, median_ms(lambda: complex_k(z, V=zv, out=out_z), args.repeats))
        split_ms = min(split_ms, median_ms(lambda: split_k(re, im, V=pot, out=(out_u, out_w)), args.repeats))
    print("\n| version | ms per call | ns per point |\n|---|---:|---:|")
    print(f"| complex128, one field | {complex_ms:.2f} | {complex_ms * 1e6 / n**2:.2f} |")
    print(f"| two float64 fields, split by hand | {split_ms:.2f} | {split_ms * 1e6 / n**2:.2f} |")
    print(f"\ncomplex / split: {complex_ms / split_ms:.2f}x (target <= 1.1x)")


if __name__ == "__main__":
    main()
