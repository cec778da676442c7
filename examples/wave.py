"""Wave equation in a square drum with clamped (Dirichlet) walls, as a first-order system:

    ∂u/∂t = v
    ∂v/∂t = c² ∇²u          u = v = 0 on the walls, unit square, h = 1/N

starting from a Gaussian bump at rest. The semi-discrete system conserves the energy

    E = ½ Σ (v² − c² u ∇²u) h²      (= ½ ∫ v² + c² |∇u|², summed by parts with the walls' ghosts)

exactly, so any drift is the time integrator's (RK4 loses a little at the grid's highest
frequencies). The check prints the largest relative drift over the recorded frames.
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, cell_centres, figure, parser, show_field
from stencilc import fields, laplace

u, v = fields("u v")
c = sp.Symbol("c")
RHS = {u: v, v: c**2 * laplace(u)}


def main(argv=None):
    p = parser(__doc__, size=128, t_end=0.6, method="rk4")
    p.add_argument("--c", type=float, default=1.0, help="wave speed (default 1)")
    p.add_argument("--width", type=float, default=0.05, help="width of the initial bump (default 0.05)")
    a = p.parse_args(argv)
    h = 1.0 / a.size
    dt = a.dt or 0.4 * h / a.c  # RK4's stability interval on the imaginary axis is 2.83 > dt·c·√8/h
    run = Run("wave", a)

    x = cell_centres(a.size)
    X, Y = np.meshgrid(x, x, indexing="xy")
    u0 = np.exp(-((X - 0.35)**2 + (Y - 0.4)**2) / (2 * a.width**2))
    initial = {"u": u0.astype(a.dtype), "v": np.zeros_like(u0, dtype=a.dtype)}

    k = run.compile(RHS, ndim=2, bc="dirichlet", spacing=h)
    lap = run.compile(laplace(u), state=u, ndim=2, bc="dirichlet", spacing=h)
    sol = run.integrate(k, initial, inputs={"c": a.c}, dt=dt, record_every=a.t_end / 20)

    def energy(uf, vf):
        return 0.5 * h**2 * float(np.sum(vf.astype(float)**2 - a.c**2 * uf * lap(uf)))

    E = np.array([energy(uf, vf) for uf, vf in zip(sol.frames["u"], sol.frames["v"])])
    run.check(energy_drift=np.max(np.abs(E - E[0])) / E[0], energy=E[0])

    fig, ax = figure()
    lim = np.percentile(np.abs(sol.final["u"]), 98)  # let the wave fronts, not the bump, set the scale
    show_field(ax, sol.final["u"], f"u at t = {a.t_end:g}  (c = {a.c:g})", label="u (displacement)",
               length=1.0, cmap="RdBu_r", vmin=-lim, vmax=lim)
    run.save(fig, "wave.png")
    run.thumbnail(sol.final["u"], cmap="RdBu_r", vmin=-lim, vmax=lim)


if __name__ == "__main__":
    sys.exit(main())
