"""Allen–Cahn phase ordering after a quench, with insulated (Neumann) walls, in lattice units (h = 1):

    ∂u/∂t = ε² ∇²u + u − u³,        u₀ = small noise around 0

The two phases u = ±1 form domains within t ≈ 10 that then coarsen (the domain size grows like √t),
driven downhill in the free energy

    F = Σ [ ¼ (1 − u²)² − ½ ε² u ∇²u ]      (= ∫ ¼ (1 − u²)² + ½ ε² |∇u|², summed by parts)

The check prints F(t_end)/F(0) and whether F decreased between every pair of recorded frames.
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, figure, parser, show_field
from stencilc import Field, laplace

u = Field("u")
eps = sp.Symbol("eps")
RHS = eps**2 * laplace(u) + u - u**3


def main(argv=None):
    p = parser(__doc__, size=256, t_end=100.0, dt=0.1, method="euler")
    p.add_argument("--eps", type=float, default=1.0, help="interface width ε in cells (default 1)")
    a = p.parse_args(argv)
    run = Run("allen_cahn", a)

    rng = np.random.default_rng(a.seed)
    u0 = 0.1 * rng.uniform(-1, 1, size=(a.size, a.size))

    k = run.compile(RHS, state=u, ndim=2, bc="neumann")
    lap = run.compile(laplace(u), state=u, ndim=2, bc="neumann")
    sol = run.integrate(k, u0.astype(a.dtype), inputs={"eps": a.eps}, dt=a.dt, record_every=a.t_end / 20)

    def free_energy(uf):
        uf = uf.astype(float)
        return float(np.sum(0.25 * (1 - uf**2)**2 - 0.5 * a.eps**2 * uf * lap(uf).astype(float)))

    F = np.array([free_energy(uf) for uf in sol.frames])
    run.check(energy_ratio=F[-1] / F[0], monotone=bool(np.all(np.diff(F) <= 1e-12 * abs(F[0]))),
              ordered_fraction=np.mean(np.abs(sol.final) > 0.9))

    fig, (left, right) = figure(2)
    show_field(left, sol.final, f"u at t = {a.t_end:g}", label="u (phase)", units="lattice units",
               cmap="PiYG", vmin=-1, vmax=1)
    right.semilogy(sol.t[1:], F[1:], "o-", ms=3)
    right.set(xlabel="t", ylabel="free energy F")
    right.set_title("F decreases as domains coarsen", fontsize=10)
    run.save(fig, "allen_cahn.png")
    run.thumbnail(sol.final, cmap="PiYG", vmin=-1, vmax=1)


if __name__ == "__main__":
    sys.exit(main())
