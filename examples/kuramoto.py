"""Lattice Kuramoto oscillators, the seed's study:

    dθ/dt = ω + K ∇·sin(∇θ)      zero-flux (Neumann) walls, lattice spacing 1

on an N×N lattice with N=100, K=2, integrated to T=10 by explicit Euler with dt=0.1 (the seed
notebook's settings). θ₀ is uniform in [0, 2π). The notebook does not show how the intrinsic
frequencies are drawn; its source package (kuramoto/base.py, imported there as `km`) draws
ω ~ Uniform(0, 1) right after θ₀ from np.random.seed(0), and so does this script (--seed picks the
seed, --omega-max the upper end of the uniform range; --omega-max 0 gives identical oscillators).

Writes the final phase θ mod 2π with a cyclic colour map; --animate also writes a GIF of the
recorded frames (the seed's play_video); --compare times the seed's NumPy right-hand side against
stencilc's backends on the same problem. The check line compares the whole run with the seed's own
Euler loop over its NumpySolver.dudt.
"""

import os
import sys
import time

import numpy as np
import sympy as sp

import stencilc
from _common import Run, figure, parser, show_field
from stencilc import StencilError, div, fields, grad

theta, omega = fields("theta omega")
K = sp.Symbol("K")
RHS = omega + K * div(sp.sin(grad(theta)))


def seed_dudt(u, omega, K):
    """The seed's NumpySolver.dudt (its notebook, cell In [6]), with self.omega/self.K as arguments."""
    dudt = omega.copy()

    # Horizontal gradient in the direction of +infinity
    dudx_right = u[:, 1:] - u[:, :-1]

    # Vertical gradient in the direction of -infinity
    dudy_down = u[1:, :] - u[:-1, :]

    # Apply contribution from horizontal neighbors
    dudt[:, :-1] += K * np.sin(dudx_right)
    dudt[:, 1:] += K * np.sin(-dudx_right)

    # Apply contribution from vertical neighbors
    dudt[:-1, :] += K * np.sin(dudy_down)
    dudt[1:, :] += K * np.sin(-dudy_down)

    return dudt


def seed_run(theta0, omega0, K, dt, steps):
    """The seed's KuramotoSolver.step loop: explicit Euler over seed_dudt."""
    state = theta0.copy()
    for _ in range(steps):
        state += seed_dudt(state, omega0, K) * dt
    return state


def median_seconds(fn, repeats=7, budget=0.05):
    """Median over `repeats` of the mean time of one call of fn(), each repeat about `budget` seconds long."""
    start = time.perf_counter()
    fn()
    number = int(np.clip(budget / max(time.perf_counter() - start, 1e-7), 1, 100_000))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return float(np.median(times))


def compare(run, theta0, omega0, steps, backends):
    """Table: the seed's NumPy right-hand side vs each stencilc backend, per call and per whole run."""
    a = run.args
    reference = seed_dudt(theta0, omega0, a.K)
    rows = [("seed NumpySolver.dudt", median_seconds(lambda: seed_dudt(theta0, omega0, a.K)),
             median_seconds(lambda: seed_run(theta0, omega0, a.K, a.dt, steps), 3), 0.0)]
    for backend in backends:
        try:
            k = stencilc.compile_stencil(RHS, state=theta, ndim=2, bc="neumann", backend=backend,
                                         dtype=a.dtype)
        except StencilError as e:  # e.g. numba not installed: one line, and on with the others
            print(f"  (skipped {backend}: {e})")
            continue
        out = np.empty_like(theta0)
        k(theta0, omega=omega0, K=a.K, out=out)  # first call: JIT warm-up where there is one
        per_call = median_seconds(lambda: k(theta0, omega=omega0, K=a.K, out=out))
        whole = median_seconds(lambda: stencilc.integrate(k, theta0, t_end=a.t_end, dt=a.dt, method="euler",
                                                          inputs={"omega": omega0, "K": a.K}), 3)
        rows.append((f"stencilc {backend}", per_call, whole, float(np.max(np.abs(out - reference)))))

    base_call, base_run = rows[0][1], rows[0][2]
    print(f"\nRight-hand side of dθ/dt = ω + K ∇·sin(∇θ), {a.size}x{a.size} {a.dtype}, Neumann walls; "
          "per call: median of 7 repeats;\n"
          f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} on {os.cpu_count()} cores; "
          f"whole run: {steps} Euler steps to t = {a.t_end:g} (the seed's loop vs stencilc.integrate), median of 3")
    print(f"{'implementation':<24}{'per call':>12}{'speed-up':>10}{'whole run':>12}{'speed-up':>10}"
          f"{'max |diff|':>12}")
    for name, per_call, whole, diff in rows:
        print(f"{name:<24}{per_call * 1e6:>10.1f}us{base_call / per_call:>9.1f}x"
              f"{whole * 1e3:>10.1f}ms{base_run / whole:>9.1f}x{diff:>12.1e}")
    print()


def write_gif(path, frames, dt_frame):
    """The seed's play_video as a file: θ mod 2π through the cyclic colour map, upscaled to about 200 px."""
    try:
        import imageio.v3 as iio
        import matplotlib
    except ModuleNotFoundError as e:
        sys.exit(f"kuramoto: --animate needs {e.name}: pip install \"stencilc[examples]\"")

    cmap = matplotlib.colormaps["twilight"]
    scale = max(1, 200 // frames.shape[1])
    images = [(cmap(np.mod(f, 2 * np.pi) / (2 * np.pi))[..., :3] * 255).astype(np.uint8)[::-1]
              .repeat(scale, 0).repeat(scale, 1) for f in frames]
    iio.imwrite(path, images, duration=max(20, int(1000 * dt_frame)), loop=0)
    print(f"wrote: {path}")


def main(argv=None):
    p = parser(__doc__, size=100, t_end=10.0, dt=0.1, method="euler")
    p.add_argument("--K", type=float, default=2.0, help="coupling constant (default 2.0)")
    p.add_argument("--omega-max", type=float, default=1.0, help="ω ~ Uniform(0, omega_max) (default 1.0)")
    p.add_argument("--animate", action="store_true", help="also write a GIF of the recorded frames")
    p.add_argument("--record-every", type=float, default=0.1, help="frame interval for --animate (default 0.1)")
    p.add_argument("--compare", action="store_true",
                   help="time the seed's NumPy right-hand side against stencilc's backends")
    p.add_argument("--compare-backends", default="numpy,numba,c", metavar="LIST",
                   help="the backends --compare times (default numpy,numba,c)")
    a = p.parse_args(argv)
    run = Run("kuramoto", a)

    rng = np.random.RandomState(a.seed)  # the seed's np.random.seed(0); θ₀ first, then ω
    theta0 = rng.uniform(0, 2 * np.pi, size=(a.size, a.size)).astype(a.dtype)
    omega0 = (a.omega_max * rng.uniform(0, 1, size=(a.size, a.size))).astype(a.dtype)

    k = run.compile(RHS, state=theta, ndim=2, bc="neumann")
    sol = run.integrate(k, theta0, inputs={"omega": omega0, "K": a.K}, dt=a.dt,
                        record_every=a.record_every if a.animate else None)

    steps = sol.stats["steps"]
    checks = {"order_parameter": abs(np.mean(np.exp(1j * sol.final)))}
    if a.method == "euler" and np.isclose(steps * a.dt, a.t_end):  # the seed's own loop, step for step
        seed_final = seed_run(theta0, omega0, np.dtype(a.dtype).type(a.K), np.dtype(a.dtype).type(a.dt), steps)
        checks["max_diff_vs_seed"] = float(np.max(np.abs(sol.final - seed_final)))
    run.check(**checks)

    fig, ax = figure()
    show_field(ax, np.mod(sol.final, 2 * np.pi), f"θ mod 2π at t = {a.t_end:g}  (K = {a.K:g})",
               label="θ mod 2π (rad)", units="lattice sites", cmap="twilight", vmin=0, vmax=2 * np.pi,
               interpolation="nearest")
    run.save(fig, "kuramoto.png")
    run.thumbnail(np.mod(sol.final, 2 * np.pi), cmap="twilight", vmin=0, vmax=2 * np.pi,
                  interpolation="nearest")  # interpolating a phase across its 2π jump would invent colours
    if a.animate:
        write_gif(run.path("kuramoto.gif"), np.asarray(sol.frames), a.record_every)
    if a.compare:
        compare(run, theta0, omega0, steps, a.compare_backends.split(","))


if __name__ == "__main__":
    sys.exit(main())
