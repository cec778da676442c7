"""A spiral wave in the FitzHugh–Nagumo excitable medium (Winfree's scaling), zero-flux walls:

    ∂u/∂t = ∇²u + (u − u³/3 − v) / ε
    ∂v/∂t = ε (u + β − γ v)             ε = 0.3, β = 0.7, γ = 0.5, h = 0.5

Set-up (the textbook cross-field recipe): a plane wave is launched from the left wall, and at
--t-break, once it is a few wavelengths wide, its upper half is erased (reset to rest). The free
end of the broken wave curls into a spiral that keeps rotating until --t-end. The check counts the
spiral tips: phase singularities of the angle of (u, v) about the centre of the excitation loop,
summed around every grid plaquette. On a small grid (--size 32) the wave runs out of room and
dies; the medium is then at rest everywhere and the count is 0.
"""

import sys

import numpy as np
import sympy as sp

import stencilc
from _common import Run, figure, parser, show_field
from stencilc import fields, laplace

u, v = fields("u v")
eps, beta, gamma = sp.symbols("epsilon beta gamma")
RHS = {u: laplace(u) + (u - u**3 / 3 - v) / eps,
       v: eps * (u + beta - gamma * v)}
PARAMS = {"epsilon": 0.3, "beta": 0.7, "gamma": 0.5}


def rest_state(epsilon, beta, gamma):
    """The medium's one fixed point: u − u³/3 = (u + β)/γ."""
    roots = np.roots([-1 / 3, 0, 1 - 1 / gamma, -beta / gamma])
    u_rest = roots[np.isreal(roots)].real[0]
    return u_rest, (u_rest + beta) / gamma


def spiral_tips(uf, vf):
    """Number of phase singularities: plaquettes around which the phase winds by ±2π.

    The phase is the angle of (u, v) about (0, 0), the centre of the cubic u-nullcline
    v = u − u³/3 (its knees are at (±1, ±2/3)), which the excitation loop encircles. The rest state
    lies outside the loop at one fixed angle, so a medium at rest has no singularity.
    """
    phase = np.arctan2(vf, uf)
    wrap = lambda d: (d + np.pi) % (2 * np.pi) - np.pi  # noqa: E731
    a, b, c, d = phase[:-1, :-1], phase[:-1, 1:], phase[1:, 1:], phase[1:, :-1]
    winding = wrap(b - a) + wrap(c - b) + wrap(d - c) + wrap(a - d)
    return int(np.sum(np.abs(winding) > np.pi))


def main(argv=None):
    p = parser(__doc__, size=256, t_end=125.0, dt=0.03, method="euler")
    p.add_argument("--h", type=float, default=0.5, help="grid spacing (default 0.5)")
    p.add_argument("--t-break", type=float, default=25.0,
                   help="time at which the upper half of the plane wave is erased (default 25)")
    a = p.parse_args(argv)
    run = Run("fitzhugh_nagumo", a)
    n = a.size

    k = run.compile(RHS, ndim=2, bc="neumann", spacing=a.h)
    u_rest, v_rest = rest_state(**PARAMS)
    u0, v0 = np.full((n, n), u_rest, dtype=a.dtype), np.full((n, n), v_rest, dtype=a.dtype)
    u0[:, :int(3 / a.h)] = 2.0  # a stimulus along the left wall (axis 1 is x)
    if not 0 < a.t_break < a.t_end:
        p.error(f"--t-break {a.t_break:g} must lie between 0 and --t-end {a.t_end:g}")
    first = stencilc.integrate(k, {"u": u0, "v": v0}, t_end=a.t_break, dt=a.dt, method=a.method,
                               inputs=PARAMS)
    run.compile_seconds += first.stats["compile_seconds"]
    broken = first.final
    broken["u"][n // 2:], broken["v"][n // 2:] = u_rest, v_rest

    sol = run.integrate(k, broken, inputs=PARAMS, dt=a.dt, t0=a.t_break)
    uT, vT = sol.final["u"], sol.final["v"]
    run.check(spiral_tips=spiral_tips(uT, vT), excited_fraction=np.mean(uT > 0))

    fig, ax = figure()
    show_field(ax, uT, f"u at t = {a.t_end:g}\n(wave broken at t = {a.t_break:g})", label="u (excitation)",
               length=n * a.h, cmap="inferno")
    run.save(fig, "fitzhugh_nagumo.png")
    run.thumbnail(uT, cmap="inferno")


if __name__ == "__main__":
    sys.exit(main())
