"""A plate cooled by convection (Robin walls), checked against the decay rate of its first mode:

    ∂u/∂t = D ∇²u                         on the unit square
    −∂u/∂n = Bi (u − T∞) on every wall     Newton's cooling: Robin(Bi, 1, Bi·T∞)

Bi and T∞ are parameters of the compiled stencil, passed at run time. Separating variables, the
slowest mode is

    u − T∞ = cos(λ(x − ½)) cos(λ(y − ½)) · exp(−2Dλ² t),    λ tan(λ/2) = Bi,  0 < λ < π

(the wall condition for cos(λ(x − ½)) at x = 1 is λ sin(λ/2) = Bi cos(λ/2)); the script finds λ by
bisection. Started from that mode, the plate keeps its shape and cools at the rate 2Dλ². The check
measures the rate from the run, −ln(⟨u(T) − T∞, φ⟩ / ⟨u(0) − T∞, φ⟩) / T with φ the mode, at
`--size` N and N/2, and prints both relative errors against 2Dλ² and the observed order (2: the
ghost-cell Robin rule and the Laplacian are both second order).
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, cell_centres, figure, parser, show_field
from stencilc import Field, Robin, laplace

u = Field("u")
D, Bi, T_inf = sp.symbols("D Bi T_inf")
COOLING = Robin(Bi, 1, Bi * T_inf)   # Bi·u + ∂u/∂n = Bi·T∞ on every wall


def first_mode(biot):
    """λ in (0, π) with λ tan(λ/2) = Bi, by bisection (the left side rises from 0 to +∞)."""
    lo, hi = 0.0, np.pi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid * np.tan(mid / 2) < biot:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return 0.5 * (lo + hi)


def solve(run, n, a, lam):
    """The run on an n × n grid: its solution, the mode on that grid, and the measured decay rate."""
    h = 1.0 / n
    dt = a.dt or 0.2 * h**2 / a.D
    k = run.compile(D * laplace(u), state=u, ndim=2, bc=COOLING, spacing=h)
    c = cell_centres(n)
    mode = np.outer(np.cos(lam * (c - 0.5)), np.cos(lam * (c - 0.5)))
    sol = run.integrate(k, (a.T_inf + mode).astype(a.dtype), dt=dt, record_every=a.t_end / 20,
                        inputs={"D": a.D, "Bi": a.Bi, "T_inf": a.T_inf})
    amplitude = [float(np.sum((frame - a.T_inf) * mode) / np.sum(mode * mode)) for frame in sol.frames]
    rate = -np.log(amplitude[-1] / amplitude[0]) / (sol.t[-1] - sol.t[0])
    return sol, amplitude, rate


def main(argv=None):
    p = parser(__doc__, size=64, t_end=0.2, method="rk4")
    p.add_argument("--D", type=float, default=1.0, help="diffusivity (default 1)")
    p.add_argument("--Bi", type=float, default=2.0, help="Biot number: heat transfer coefficient × size / "
                                                         "conductivity (default 2)")
    p.add_argument("--T-inf", dest="T_inf", type=float, default=0.5, help="ambient temperature (default 0.5)")
    a = p.parse_args(argv)
    if a.size % 2 or a.size < 8:
        p.error(f"--size {a.size}: the check also runs at half the size, so give an even size >= 8")
    if a.Bi <= 0:
        p.error(f"--Bi {a.Bi:g}: the plate cools only for a positive Biot number")
    run = Run("robin_plate", a)

    lam = first_mode(a.Bi)
    exact_rate = 2 * a.D * lam**2
    sol, amplitude, rate = solve(run, a.size, a, lam)
    _, _, rate_half = solve(run, a.size // 2, a, lam)
    error, error_half = abs(rate / exact_rate - 1), abs(rate_half / exact_rate - 1)
    run.check(decay_rate=rate, exact_rate=exact_rate, rate_error=error, rate_error_half_size=error_half,
              observed_order=np.log2(error_half / error))

    fig, (left, right) = figure(2)
    show_field(left, sol.final.T, f"u at t = {a.t_end:g} ({a.size}×{a.size}), T∞ = {a.T_inf:g}",
               label="u (temperature)", length=1.0, cmap="inferno")
    times = np.asarray(sol.t)
    right.semilogy(times, np.exp(-exact_rate * times), color="black", lw=2.5, alpha=0.35,
                   label=f"exact: exp(−2Dλ²t), 2Dλ² = {exact_rate:.4f}")
    right.semilogy(times, np.asarray(amplitude) / amplitude[0], "o", ms=3,
                   label=f"stencilc, {a.size}²: rate {rate:.4f}")
    right.set_xlabel("t")
    right.set_ylabel("amplitude of the mode")
    right.set_title(f"cooling at Bi = {a.Bi:g}: λ = {lam:.5f}", fontsize=10)
    right.legend(fontsize=8)
    run.save(fig, "robin_plate.png")
    run.thumbnail(sol.final.T, cmap="inferno")


if __name__ == "__main__":
    sys.exit(main())
