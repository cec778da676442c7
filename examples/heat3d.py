"""Heat equation in the unit cube with insulated (Neumann) walls; pictures are the mid-plane z = ½:

    ∂u/∂t = D ∇²u,      u(x, y, z, 0) = Σₘ Aₘ cos(aₘ π x) cos(bₘ π y) cos(cₘ π z)
    exact:  u(x, y, z, t) = Σₘ Aₘ exp(−D π² (aₘ² + bₘ² + cₘ²) t) cos(aₘ π x) cos(bₘ π y) cos(cₘ π z)

The 3-D sibling of heat.py: the 7-point Laplacian, second order in space. The check prints the max
error against the exact solution over the whole cube.
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, cell_centres, figure, parser, show_field
from stencilc import Field, laplace

u = Field("u")
D = sp.Symbol("D")
RHS = D * laplace(u)

MODES = [(1.0, (1, 2, 2)), (0.6, (3, 1, 0)), (0.3, (0, 4, 2))]  # (amplitude, (a, b, c))


def solution(t, Dval, x):
    Z, Y, X = np.meshgrid(x, x, x, indexing="ij")  # axis 0 is z, axis 2 is x
    return sum(A * np.exp(-Dval * np.pi**2 * (a * a + b * b + c * c) * t)
               * np.cos(a * np.pi * X) * np.cos(b * np.pi * Y) * np.cos(c * np.pi * Z) for A, (a, b, c) in MODES)


def main(argv=None):
    p = parser(__doc__, size=64, t_end=0.005, method="rk4")
    p.add_argument("--D", type=float, default=1.0, help="diffusivity (default 1)")
    a = p.parse_args(argv)
    h = 1.0 / a.size
    dt = a.dt or 0.2 * h**2 / a.D  # RK4 is stable for dt·12D/h² < 2.78
    run = Run("heat3d", a)

    x = cell_centres(a.size)
    k = run.compile(RHS, state=u, ndim=3, bc="neumann", spacing=h)
    sol = run.integrate(k, solution(0.0, a.D, x).astype(a.dtype), inputs={"D": a.D}, dt=dt)
    error = sol.final - solution(a.t_end, a.D, x)
    run.check(max_error=np.max(np.abs(error)), h=h)

    mid = a.size // 2
    fig, (left, right) = figure(2)
    lim = np.abs(sol.final[mid]).max()
    show_field(left, sol.final[mid], f"u(x, y, z = ½) at t = {a.t_end:g}", label="u (temperature)", length=1.0,
               cmap="coolwarm", vmin=-lim, vmax=lim)
    show_field(right, error[mid], f"u − exact on z = ½  ({a.size}³)", label="u − exact", length=1.0,
               cmap="PuOr")
    run.save(fig, "heat3d.png")
    run.thumbnail(sol.final[mid], cmap="coolwarm", vmin=-lim, vmax=lim)


if __name__ == "__main__":
    sys.exit(main())
