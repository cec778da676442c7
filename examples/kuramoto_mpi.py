"""The seed's lattice Kuramoto study (kuramoto.py) on several MPI ranks:

    mpiexec -n 4 python -m mpi4py examples/kuramoto_mpi.py

Same problem, same initial state, same picture as `python examples/kuramoto.py` (N=100, K=2,
T=10, explicit Euler with dt=0.1, zero-flux walls), but the lattice is split into blocks of rows,
one per rank (dims=(P, 1): each ghost layer is then one contiguous slab of rows). Rank 0 draws θ₀
and ω exactly as kuramoto.py does and scatters them; each rank integrates its own block, exchanging
one ghost layer with its neighbours at every evaluation; the final phase is gathered on rank 0,
which writes out/kuramoto_mpi.png and prints the check line: the order parameter, the largest
difference to the same run on one process (0 when the kernels agree bit for bit) and to the seed's
own Euler loop. --save also writes the final phase as one global .npy through MPI-IO.
"""

import os
import sys
import time

import numpy as np
from mpi4py import MPI

import stencilc
from _common import Run, figure, parser, show_field
from kuramoto import RHS, seed_run, theta
from stencilc.distributed import Decomposition


def main(argv=None):
    p = parser(__doc__, size=100, t_end=10.0, dt=0.1, method="euler")
    p.add_argument("--K", type=float, default=2.0, help="coupling constant (default 2.0)")
    p.add_argument("--omega-max", type=float, default=1.0, help="ω ~ Uniform(0, omega_max) (default 1.0)")
    p.add_argument("--save", action="store_true", help="also write out/kuramoto_mpi.npy (MPI-IO)")
    a = p.parse_args(argv)

    start = time.perf_counter()
    dec = Decomposition((a.size, a.size), dims=(MPI.COMM_WORLD.Get_size(), 1))
    root = dec.rank == 0
    theta0 = omega0 = None
    if root:
        rng = np.random.RandomState(a.seed)  # as kuramoto.py: θ₀ first, then ω
        theta0 = rng.uniform(0, 2 * np.pi, size=(a.size, a.size)).astype(a.dtype)
        omega0 = (a.omega_max * rng.uniform(0, 1, size=(a.size, a.size))).astype(a.dtype)

    k = stencilc.compile_stencil(RHS, state=theta, ndim=2, bc="neumann", backend=a.backend, dtype=a.dtype)
    kd = dec.distribute(k)
    compiled = time.perf_counter() - start
    inputs = {"omega": dec.scatter(omega0), "K": a.K}
    sol = stencilc.integrate(kd, dec.scatter(theta0), t_end=a.t_end, dt=a.dt, method=a.method, inputs=inputs)
    solve = dec.comm.allreduce(sol.stats["wall_seconds"], op=MPI.MAX)
    final = dec.gather(sol.final)
    if a.save:
        if root:
            os.makedirs(a.out, exist_ok=True)
        dec.comm.Barrier()
        dec.save(os.path.join(a.out, "kuramoto_mpi.npy"), sol.final)
    if not root:
        return 0

    steps = sol.stats["steps"]
    print(f"ran: kuramoto_mpi size={a.size}x{a.size} ranks={dec.size} dims={dec.dims[0]}x{dec.dims[1]} "
          f"backend={a.backend} dtype={a.dtype} method={a.method} dt={a.dt:.4g} t_end={a.t_end:g} "
          f"steps={steps} rhs_evals={sol.stats['rhs_evals']}")
    print(f"wall: compile={compiled:.2f}s solve={solve:.2f}s cached={kd.from_cache}")
    one = stencilc.integrate(k, theta0, t_end=a.t_end, dt=a.dt, method=a.method,
                             inputs={"omega": omega0, "K": a.K}).final
    checks = {"order_parameter": abs(np.mean(np.exp(1j * final))),
              "max_diff_vs_one_process": float(np.max(np.abs(final - one)))}
    if a.method == "euler" and np.isclose(steps * a.dt, a.t_end):
        seed_final = seed_run(theta0, omega0, np.dtype(a.dtype).type(a.K), np.dtype(a.dtype).type(a.dt), steps)
        checks["max_diff_vs_seed"] = float(np.max(np.abs(final - seed_final)))
    run = Run("kuramoto_mpi", a)
    run.check(**checks)

    fig, ax = figure()   # kuramoto.py's picture, from the gathered phase
    show_field(ax, np.mod(final, 2 * np.pi), f"θ mod 2π at t = {a.t_end:g}  (K = {a.K:g})",
               label="θ mod 2π (rad)", units="lattice sites", cmap="twilight", vmin=0, vmax=2 * np.pi,
               interpolation="nearest")
    run.save(fig, "kuramoto_mpi.png")
    run.thumbnail(np.mod(final, 2 * np.pi), cmap="twilight", vmin=0, vmax=2 * np.pi, interpolation="nearest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
