"""Heat equation with a moving Gaussian source and a time-dependent Dirichlet wall, checked against
a manufactured solution:

    ∂u/∂t = D ∇²u + f(x, y, t)          on the unit square
    u = g(x, y, t) on the walls          (g oscillates on the wall x = 0)

The exact solution is chosen first: a warm spot that follows a torch circling the plate, plus the
oscillating wall's heat fading across the plate,

    u(x, y, t) = exp(−|(x, y) − c(t)|² / (2w²)) + sin(ωt)·(1 − x),   c(t) = (½, ½) + r (cos ωt, sin ωt)

and the source f = ∂u/∂t − D∇²u is what makes it exact: a Gaussian torch moving on the circle. f
is written with the coordinates `x`, `y` and the time `t` (no source array), and every wall is
`Dirichlet(u)`, an expression of `t` and the face's coordinates. The check runs the same problem
at `--size` N and N/2 and prints both max errors against the exact solution and the observed order,
log₂ of their ratio: 2 for this second-order discretisation (RK4 at dt ∝ h² adds far less).
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, cell_centres, figure, parser, show_field
from stencilc import Dirichlet, Field, laplace, t, x, y

u = Field("u")
D = sp.Symbol("D")
WIDTH, RADIUS, OMEGA = 0.1, 0.25, 2 * np.pi   # the torch's width, its circle, one turn per unit time
CENTRE = (sp.Rational(1, 2) + RADIUS * sp.cos(OMEGA * t), sp.Rational(1, 2) + RADIUS * sp.sin(OMEGA * t))
EXACT = sp.exp(-((x - CENTRE[0])**2 + (y - CENTRE[1])**2) / (2 * WIDTH**2)) + sp.sin(OMEGA * t) * (1 - x)
SOURCE = sp.diff(EXACT, t) - D * (sp.diff(EXACT, x, 2) + sp.diff(EXACT, y, 2))
RHS = D * laplace(u) + SOURCE
exact = sp.lambdify((x, y, t), EXACT, "numpy")
source = sp.lambdify((x, y, t, D), SOURCE, "numpy")


def solve(run, n, a):
    """The final state on an n × n grid, its cell centres along each axis, and its error."""
    h = 1.0 / n
    dt = a.dt or 0.25 * h**2 / a.D   # RK4 is stable for dt·8D/h² < 2.78
    k = run.compile(RHS, state=u, ndim=2, bc=Dirichlet(EXACT), spacing=h)
    c = cell_centres(n)
    X, Y = np.meshgrid(c, c, indexing="ij")   # stencilc's axis 0 is x, axis 1 is y
    sol = run.integrate(k, exact(X, Y, 0.0).astype(a.dtype), inputs={"D": a.D}, dt=dt)
    return sol.final, X, Y, np.abs(sol.final - exact(X, Y, a.t_end)).max()


def main(argv=None):
    p = parser(__doc__, size=64, t_end=0.25, method="rk4")
    p.add_argument("--D", type=float, default=0.1, help="diffusivity (default 0.1)")
    a = p.parse_args(argv)
    if a.size % 2 or a.size < 8:
        p.error(f"--size {a.size}: the check also runs at half the size, so give an even size >= 8")
    run = Run("heat_source", a)

    final, X, Y, error = solve(run, a.size, a)
    _, _, _, error_half = solve(run, a.size // 2, a)
    run.check(max_error=error, max_error_half_size=error_half, observed_order=np.log2(error_half / error))

    fig, (left, right) = figure(2)
    show_field(left, final.T, f"u at t = {a.t_end:g} ({a.size}×{a.size})", label="u (temperature)",
               length=1.0, cmap="inferno")
    f = source(X, Y, a.t_end, a.D)
    lim = np.abs(f).max()
    show_field(right, f.T, f"source f at t = {a.t_end:g}", label="f", length=1.0, cmap="RdBu_r",
               vmin=-lim, vmax=lim)
    run.save(fig, "heat_source.png")
    run.thumbnail(final.T, cmap="inferno")


if __name__ == "__main__":
    sys.exit(main())
