"""Schrödinger equation: a Gaussian wave packet in a harmonic potential, as one complex field:

    i ∂ψ/∂t = −½ ∇²ψ + V ψ,   V = ½ ω² |x − c|²      (ħ = m = 1; ψ = 0 on the walls of [0, 2L]²)

written as ``I*(laplace(psi)/2 - V*psi)`` with ``dtype="complex128"``: no splitting into real and
imaginary parts by hand. The packet starts at c + (x0, 0) with momentum (0, k0) and width 1/√ω (a
coherent state: it keeps its shape), so its centre circles the potential's centre exactly as a
classical particle does (Ehrenfest: ⟨x⟩ = c + x0 cos ωt, ⟨y⟩ = c + (k0/ω) sin ωt). The semi-discrete
equation conserves the norm Σ|ψ|² h² exactly (the discrete Laplacian with Dirichlet walls is
symmetric); RK4 loses a little of it at the grid's highest frequencies. The check prints the
largest relative norm drift over the recorded frames and the distance of the packet's centre
from the classical orbit at the end.
"""

import sys

import numpy as np
import sympy as sp

from _common import Run, cell_centres, figure, parser, show_field
from stencilc import Field, laplace

psi, V = Field("psi"), Field("V")
RHS = sp.I * (laplace(psi) / 2 - V * psi)


def main(argv=None):
    p = parser(__doc__, size=128, t_end=np.pi, method="rk4", dtypes=("complex128", "complex64"))
    p.add_argument("--half-width", type=float, default=8.0, help="L: the box is [0, 2L]^2 (default 8)")
    p.add_argument("--omega", type=float, default=1.0, help="the potential's frequency (default 1)")
    p.add_argument("--x0", type=float, default=2.5, help="initial displacement along x (default 2.5)")
    p.add_argument("--k0", type=float, default=2.5, help="initial momentum along y (default 2.5)")
    a = p.parse_args(argv)
    L, w = a.half_width, a.omega
    h = 2 * L / a.size
    v_max = w**2 * L**2                       # at the corners
    # RK4 is stable on the imaginary axis up to |z| = 2.83; the largest |eigenvalue| is 4/h² + V_max
    dt = a.dt or 2.0 / (4 / h**2 + v_max)
    run = Run("schrodinger", a)

    x = cell_centres(a.size, 2 * L) - L        # coordinates about the potential's centre
    X, Y = np.meshgrid(x, x, indexing="ij")    # axis 0 is x, axis 1 is y
    potential = 0.5 * w**2 * (X**2 + Y**2)
    packet = np.exp(-w * ((X - a.x0)**2 + Y**2) / 2 + 1j * a.k0 * Y)
    packet /= np.sqrt(np.sum(np.abs(packet)**2) * h**2)

    k = run.compile(RHS, state=psi, fields=[V], ndim=2, bc="dirichlet", spacing=h)
    sol = run.integrate(k, packet.astype(a.dtype), inputs={"V": potential.astype(a.dtype)}, dt=dt,
                        record_every=a.t_end / 20)

    density = [np.abs(f.astype(np.complex128))**2 for f in sol.frames]
    norm = np.array([np.sum(d) * h**2 for d in density])
    centre = np.array([np.sum(density[-1] * X), np.sum(density[-1] * Y)]) * h**2 / norm[-1]
    t = sol.t[-1]
    orbit = np.array([a.x0 * np.cos(w * t), a.k0 / w * np.sin(w * t)])
    run.check(norm_drift=np.max(np.abs(norm - norm[0])) / norm[0],
              centre_error=float(np.hypot(*(centre - orbit))))

    fig, ax = figure()
    show_field(ax, density[-1].T, f"|ψ|² at t = {t:.3g}  (ω = {w:g})", label="|ψ|² (probability density)",
               length=2 * L, cmap="magma")
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(L + a.x0 * np.cos(w * angle), L + a.k0 / w * np.sin(w * angle), "w--", lw=0.8,
            label="classical orbit")
    ax.legend(loc="upper right", fontsize=8)
    run.save(fig, "schrodinger.png")
    run.thumbnail(density[-1].T, cmap="magma")


if __name__ == "__main__":
    sys.exit(main())
