"""Gray–Scott reaction–diffusion (Pearson 1993), two fields on a periodic square:

    ∂u/∂t = Du ∇²u − u v² + F (1 − u)
    ∂v/∂t = Dv ∇²v + u v² − (F + k) v

in lattice units (h = 1, Du = 0.16, Dv = 0.08). The state starts at u = 1, v = 0 with a few noisy
square seeds of u = 1/2, v = 1/4. --pattern picks (F, k): spots (0.035, 0.065), stripes
(0.04, 0.06), or give --F and --k yourself. The check: u and v stay in [0, 1] and a pattern formed
(the spatial standard deviation of v is well above the seeds' noise).
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, figure, parser, show_field
from stencilc import fields, laplace

PATTERNS = {"spots": (0.035, 0.065), "stripes": (0.04, 0.06)}

u, v = fields("u v")
Du, Dv, F, k = sp.symbols("Du Dv F k")
RHS = {u: Du * laplace(u) - u * v**2 + F * (1 - u),
       v: Dv * laplace(v) + u * v**2 - (F + k) * v}


def initial_state(n, rng, dtype):
    u0, v0 = np.ones((n, n)), np.zeros((n, n))
    w = min(n // 2, 16)  # a seed much smaller than the pattern's wavelength dies out
    for _ in range(max(1, n * n // 2500)):
        i, j = rng.integers(0, n - w + 1, size=2)
        u0[i:i + w, j:j + w], v0[i:i + w, j:j + w] = 0.5, 0.25
    u0 += 0.02 * rng.standard_normal((n, n))
    v0 += 0.02 * rng.standard_normal((n, n)) * (v0 > 0)
    return {"u": u0.astype(dtype), "v": np.clip(v0, 0, 1).astype(dtype)}


def main(argv=None):
    p = parser(__doc__, size=128, t_end=4000.0, dt=1.0, method="euler")
    p.add_argument("--pattern", choices=sorted(PATTERNS), default="spots", help="(F, k) preset (default spots)")
    p.add_argument("--F", type=float, help="feed rate (overrides --pattern)")
    p.add_argument("--k", type=float, help="kill rate (overrides --pattern)")
    a = p.parse_args(argv)
    feed, kill = PATTERNS[a.pattern]
    feed, kill = a.F if a.F is not None else feed, a.k if a.k is not None else kill
    run = Run("gray_scott", a)

    kernel = run.compile(RHS, ndim=2, bc="periodic")
    sol = run.integrate(kernel, initial_state(a.size, np.random.default_rng(a.seed), a.dtype),
                        inputs={"Du": 0.16, "Dv": 0.08, "F": feed, "k": kill}, dt=a.dt)
    uT, vT = sol.final["u"], sol.final["v"]
    run.check(min=min(uT.min(), vT.min()), max=max(uT.max(), vT.max()), v_std=vT.std(),
              bounded=bool(min(uT.min(), vT.min()) >= 0 and max(uT.max(), vT.max()) <= 1),
              pattern=bool(vT.std() > 0.05))

    fig, ax = figure()
    show_field(ax, vT, f"v at t = {a.t_end:g}  (F = {feed:g}, k = {kill:g})", label="v (concentration)",
               units="lattice units", cmap="magma")
    run.save(fig, "gray_scott.png")
    run.thumbnail(vT, cmap="magma")


if __name__ == "__main__":
    sys.exit(main())
