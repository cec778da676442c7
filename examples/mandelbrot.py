"""Mandelbrot set: the seed's NumPy iteration as a stencilc map, escape counts and speed compared:

    z_0 = 0,  z_{k+1} = z_k² + c  while |z_k| < horizon;  N = the last k with |z_k| < horizon

on the seed document's grid (1000 x 833 points of [-2.25, 0.75] x [-1.25, 1.25], maxiter = 200,
horizon = 2^40). The map is a pointwise stencil of two complex64 fields run by `iterate`: w (the
seed's z; z is stencilc's third coordinate) and n, whose real part counts the iterations spent
inside, from -1, so that it ends as the seed's N. Outside the horizon a point keeps w and n, as the
seed's mask leaves Z and N alone there. The test is |w|² < horizon², the seed's |z| < horizon
without the square root (they differ only by a rounding at the horizon itself, which decides no
count here); `--modulus abs` writes it as Abs(w) < horizon, which costs a vectorised hypot a step.

The seed's function (N. Rougier, "From Python to NumPy", Chap. 4.3, quoted in the seed document) is
copied below verbatim, and the check line compares the escape counts point by point: the numpy
backend's agree everywhere, bit for bit in z too; the compiled backends' agree except at a few
points near the set's boundary that escape late, where the orbit is chaotic and a one-ulp
difference grows (NumPy's complex square fuses its multiply-add on CPUs with FMA, C99 without
contraction does not). Both versions are timed side by side (medians of --repeat runs, compile
excluded), with their ratio. The picture is the seed's shaded rendering of the counts.
"""

import argparse
import math
import sys
import time

import numpy as np
import sympy as sp

from _common import Run, figure, plt
from stencilc import Field, iterate

# the seed document's run
BOX = (-2.25, 0.75, -1.25, 1.25)
NX, NY, MAXITER, HORIZON = 3000 // 3, 2500 // 3, 200, 2.0 ** 40


# From the seed document, verbatim: N. Rougier, "From Python to NumPy", Chap. 4.3 (temporal
# vectorization), https://www.labri.fr/perso/nrougier/from-python-to-numpy/#temporal-vectorization
def mandelbrot_numpy(xmin, xmax, ymin, ymax, nx, ny, maxiter, horizon=2.0):   
    X = np.linspace(xmin, xmax, nx, dtype=np.float32)
    Y = np.linspace(ymin, ymax, ny, dtype=np.float32)
    C = X + Y[:, None]*1j
    N = np.zeros(C.shape, dtype=int)
    Z = np.zeros(C.shape, dtype=np.complex64)
    for n in range(maxiter):
        I = np.abs(Z) < horizon
        N[I] = n
        Z[I] = Z[I]**2 + C[I]
    N[N == maxiter-1] = 0
    return Z, N


w, n, c = Field("w"), Field("n"), Field("c")


def mandelbrot_map(horizon, modulus):
    """The map's right-hand side: {w: w² + c, n: n + 1} inside the horizon, {w: w, n: n} outside."""
    inside = (sp.Abs(w) < horizon) if modulus == "abs" else (sp.re(w)**2 + sp.im(w)**2 < horizon**2)
    return {w: sp.Piecewise((w**2 + c, inside), (w, True)), n: sp.Piecewise((n + 1, inside), (n, True))}


def mandelbrot_stencilc(k, xmin, xmax, ymin, ymax, nx, ny, maxiter):
    """The seed's (Z, N) from the compiled map `k`: the same grid of c, then `maxiter` steps."""
    X = np.linspace(xmin, xmax, nx, dtype=np.float32)
    Y = np.linspace(ymin, ymax, ny, dtype=np.float32)
    C = X + Y[:, None] * 1j
    start = {"w": np.zeros(C.shape, np.complex64), "n": np.full(C.shape, -1, np.complex64)}
    # the numpy backend evaluates both branches of the Piecewise everywhere: the squares it
    # discards at escaped points overflow
    with np.errstate(over="ignore", invalid="ignore"):
        sol = iterate(k, start, steps=maxiter, inputs={"c": C})
    N = sol.final["n"].real.astype(int)
    N[N == maxiter - 1] = 0
    return sol.final["w"], N


def side_by_side(repeat, *runs):
    """Each run's result and the median of `repeat` timings, the runs taking turns."""
    times, results = [[] for _ in runs], [None] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            results[i] = run()
            times[i].append(time.perf_counter() - start)
    return results, [float(np.median(t)) for t in times]


def shaded(Z, N, horizon):
    """The seed's picture: the counts smoothed by log2(log|z|) and hill-shaded (its `visualize`)."""
    from matplotlib import colors
    log_horizon = math.log(horizon, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        M = np.nan_to_num(N + 1 - np.log2(np.log(abs(Z))) + log_horizon)
    light = colors.LightSource(azdeg=315, altdeg=10)
    return light.shade(M, cmap=plt.cm.hot, vert_exag=1.5, norm=colors.PowerNorm(0.3), blend_mode="hsv")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nx", type=int, default=NX, help=f"points along x (default {NX}, the seed's)")
    p.add_argument("--ny", type=int, default=NY, help=f"points along y (default {NY}, the seed's)")
    p.add_argument("--maxiter", type=int, default=MAXITER, help=f"iterations (default {MAXITER})")
    p.add_argument("--modulus", default="squared", choices=["squared", "abs"],
                   help="the escape test: |w|^2 < horizon^2 (default) or Abs(w) < horizon")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each version (default 3)")
    p.add_argument("--backend", default="c", choices=["numpy", "numba", "c"], help="default c")
    p.add_argument("--out", default="out", help="directory for the picture (default out/)")
    p.add_argument("--thumbnail", metavar="PNG", help="also write a small picture for the gallery here")
    a = p.parse_args(argv)
    a.dtype = "complex64"
    run = Run("mandelbrot", a)
    box = BOX + (a.nx, a.ny, a.maxiter)

    k = run.compile(mandelbrot_map(HORIZON, a.modulus), fields=[c])
    mandelbrot_stencilc(k, *BOX, 2, 2, 2)          # builds the map's driver before the clock runs
    (seed, ours), (t_seed, t_ours) = side_by_side(
        max(a.repeat, 1), lambda: mandelbrot_numpy(*box, HORIZON), lambda: mandelbrot_stencilc(k, *box))
    print(f"ran: mandelbrot size={a.nx}x{a.ny} backend={a.backend} dtype={a.dtype} maxiter={a.maxiter} "
          f"horizon=2^{math.log2(HORIZON):g} modulus={a.modulus} steps={a.maxiter}")
    print(f"wall: compile={run.compile_seconds:.2f}s solve={t_ours:.3f}s seed={t_seed:.3f}s "
          f"cached={run.cached}")
    (Z, N), (Zs, Ns) = seed, ours
    run.check(counts_differ=int(np.count_nonzero(Ns != N)), points=N.size,
              z_bits_equal=bool(np.array_equal(Zs.view(np.uint64), Z.view(np.uint64))),
              seed_seconds=t_seed, stencilc_seconds=t_ours, speedup=t_seed / t_ours)

    if plt is None:
        run.save(None, "mandelbrot.png")          # says that matplotlib is missing
        return 0
    xmin, xmax, ymin, ymax = BOX
    fig, ax = figure(width=6.0, height=6.0 * a.ny / a.nx + 0.6)
    ax.imshow(shaded(Zs, Ns, HORIZON), extent=[xmin, xmax, ymin, ymax], interpolation="bicubic",
              origin="lower")
    ax.set_title(f"escape counts, {a.nx} x {a.ny}, maxiter {a.maxiter} (stencilc {a.backend})", fontsize=10)
    ax.set_xlabel("Re c")
    ax.set_ylabel("Im c")
    run.save(fig, "mandelbrot.png")
    # a square about Re c = -0.75, the whole height: the set and a margin
    centre, half = a.nx // 2, min(a.ny, a.nx) // 2
    run.thumbnail(shaded(Zs, Ns, HORIZON)[:, centre - half:centre + half])
    return 0


if __name__ == "__main__":
    sys.exit(main())
