"""Dispersion of the wave equation at accuracy order 2, 4 and 6 (``order=``), on a periodic line:

    ∂u/∂t = v
    ∂v/∂t = c² ∂²u/∂x²       periodic on [0, 1), c = 1, h = 1/N

starting from a Gaussian bump at rest. The exact solution splits it into two halves that travel
in opposite directions at speed c (d'Alembert), so at t = 1 each has gone once around and the
exact u is the initial bump again. The discrete Laplacian makes short waves travel too slowly:
at order 2 the bump trails a train of ripples; order 4 and 6 keep it. The time step is small
(RK4, dt = h/10) so that what remains is the spatial discretisation's error. The check prints the
largest error against the exact solution at each order and the ratio of order 2's to order 4's.
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, cell_centres, figure, parser
from stencilc import fields, laplace

u, v = fields("u v")
c = sp.Symbol("c")
ORDERS = (2, 4, 6)


def main(argv=None):
    p = parser(__doc__, size=128, t_end=1.0, method="rk4")
    p.add_argument("--width", type=float, default=0.015, help="width of the initial bump (default 0.015)")
    a = p.parse_args(argv)
    h = 1.0 / a.size
    dt = a.dt or 0.1 * h
    run = Run("wave_order", a)

    x = cell_centres(a.size)

    def bump(s):   # centred at 0.5, periodic (its tails at distance 1/2 are below 1e-50)
        return np.exp(-(s % 1.0 - 0.5) ** 2 / (2 * a.width**2))

    def exact(t):
        return 0.5 * (bump(x - t) + bump(x + t))

    initial = {"u": exact(0.0).astype(a.dtype), "v": np.zeros(a.size, dtype=a.dtype)}
    finals, errors, histories = {}, {}, {}
    for order in ORDERS:
        k = run.compile({u: v, v: c**2 * laplace(u)}, ndim=1, bc="periodic", spacing=h, order=order)
        sol = run.integrate(k, initial, inputs={"c": 1.0}, dt=dt, record_every=a.t_end / 40)
        finals[order] = sol.final["u"]
        histories[order] = sol.frames["u"]
        errors[order] = float(np.abs(sol.final["u"] - exact(a.t_end)).max())
    run.check(**{f"error_order{p_}": e for p_, e in errors.items()}, ratio_2_to_4=errors[2] / errors[4])

    fig, ax = figure(width=6.4, height=3.6)
    ax.plot(x, exact(a.t_end), color="black", lw=2.5, alpha=0.35, label="exact")
    for order, style in zip(ORDERS, ("-", "--", ":")):
        ax.plot(x, finals[order], style, lw=1.2, label=f"order={order}: max error {errors[order]:.1e}")
    ax.set_xlabel("x")
    ax.set_ylabel("u")
    ax.set_title(f"u at t = {a.t_end:g} (N = {a.size}, c = 1)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    run.save(fig, "wave_order.png")
    run.thumbnail(histories[2], cmap="RdBu_r", aspect="auto")


if __name__ == "__main__":
    sys.exit(main())
