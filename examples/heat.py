"""Heat equation on the unit square with insulated (Neumann) walls, checked against the exact solution:

    ∂u/∂t = D ∇²u,      u(x, y, 0) = cos(a π x) cos(b π y)
    exact:  u(x, y, t) = exp(−D π² (a² + b²) t) cos(a π x) cos(b π y)

A cosine mode satisfies the zero-flux walls, so the only error is the discretisation's:
second order in space (the time step of RK4 at dt ∝ h² contributes far less). The check prints
the max error against the exact solution; halving h divides it by about four.
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, cell_centres, figure, parser, show_field
from stencilc import Field, laplace

u = Field("u")
D = sp.Symbol("D")
RHS = D * laplace(u)


def main(argv=None):
    p = parser(__doc__, size=128, t_end=0.02, method="rk4")
    p.add_argument("--D", type=float, default=1.0, help="diffusivity (default 1)")
    p.add_argument("--mode", type=int, nargs=2, default=(1, 2), metavar=("A", "B"),
                   help="cosine mode numbers along x and y (default 1 2)")
    a = p.parse_args(argv)
    h = 1.0 / a.size
    dt = a.dt or 0.25 * h**2 / a.D  # RK4 is stable for dt·8D/h² < 2.78
    run = Run("heat", a)

    x = cell_centres(a.size)
    X, Y = np.meshgrid(x, x, indexing="xy")
    mode = np.cos(a.mode[0] * np.pi * X) * np.cos(a.mode[1] * np.pi * Y)
    exact = np.exp(-a.D * np.pi**2 * (a.mode[0]**2 + a.mode[1]**2) * a.t_end) * mode

    k = run.compile(RHS, state=u, ndim=2, bc="neumann", spacing=h)
    sol = run.integrate(k, mode.astype(a.dtype), inputs={"D": a.D}, dt=dt)
    error = sol.final - exact
    run.check(max_error=np.max(np.abs(error)), h=h)

    fig, (left, right) = figure(2)
    lim = np.abs(exact).max()
    show_field(left, sol.final, f"u at t = {a.t_end:g}", label="u (temperature)", length=1.0, cmap="coolwarm",
               vmin=-lim, vmax=lim)
    show_field(right, error, f"u − exact  ({a.size}×{a.size})", label="u − exact", length=1.0, cmap="PuOr")
    run.save(fig, "heat.png")
    run.thumbnail(sol.final, cmap="coolwarm", vmin=-lim, vmax=lim)


if __name__ == "__main__":
    sys.exit(main())
