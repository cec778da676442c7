"""Strong and weak scaling of a distributed stencil over MPI ranks, with the halo exchange's share.

    python benchmarks/mpi_scaling.py [--ranks 1,2,4] [--size 2048] [--steps 40] [--backend c]

launches itself under ``mpiexec -n P python -m mpi4py`` for each P (OMP_NUM_THREADS=1: one core
per rank) and prints one table. The stencil is the seed's Kuramoto right-hand side
(ω + K ∇·sin(∇θ), Neumann walls), stepped by the fused Euler step of `dec.distribute(k)`;
blocks are rows (dims=(P, 1)). Strong scaling keeps the global grid at size², weak scaling gives
every rank a size x size block (a global grid of P·size x size). Per step it reports the wall
time (the slowest rank; median of --repeats runs of --steps steps after a warm-up), the time in
the halo exchange (copying the block into its padded inputs and the MPI messages, slowest rank),
that as a fraction of the step, and the messages alone: an upper bound on what overlapping the messages with the
interior could save. With more ranks than cores the ranks share cores: the times then measure
the oversubscription, not the exchange.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def worker(mode, size, steps, repeats, backend):
    """One job: every rank steps its block; rank 0 prints a JSON line."""
    import numpy as np
    import sympy as sp
    from mpi4py import MPI

    import stencilc as sc
    from stencilc.distributed import Decomposition

    P = MPI.COMM_WORLD.Get_size()
    shape = (size, size) if mode == "strong" else (P * size, size)
    dec = Decomposition(shape, dims=(P, 1))
    th, om = sc.fields("theta omega")
    k = sc.compile_stencil(om + sp.Symbol("K") * sc.div(sp.sin(sc.grad(th))), state=th, backend=backend)
    kd = dec.distribute(k)
    theta = dec.local(lambda i, j: np.sin(0.01 * i) * np.cos(0.013 * j) * 3.0)
    omega = dec.local(lambda i, j: 0.001 * ((7 * i + 3 * j) % 11))
    spare = np.empty_like(theta)

    spent = {"halo": 0.0, "messages": 0.0}

    def timed(name, fn):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
        return run

    # the halo work of a step: the block copied into its padded inputs, then the messages
    kd._exchange = timed("messages", kd._exchange)
    kd._prepare = timed("halo", kd._prepare)
    for _ in range(3):
        kd.euler_step(theta, dt=0.01, out=spare, omega=omega, K=1.0)
    step_times, halo_times, message_times = [], [], []
    for _ in range(repeats):
        spent.update(halo=0.0, messages=0.0)
        dec.comm.Barrier()
        start = time.perf_counter()
        for _ in range(steps):
            kd.euler_step(theta, dt=0.01, out=spare, omega=omega, K=1.0)
            theta, spare = spare, theta
        dec.comm.Barrier()
        step_times.append((time.perf_counter() - start) / steps)
        halo_times.append(dec.comm.allreduce(spent["halo"] / steps, op=MPI.MAX))
        message_times.append(dec.comm.allreduce(spent["messages"] / steps, op=MPI.MAX))
    if dec.rank == 0:
        print(json.dumps({"mode": mode, "P": P, "shape": shape, "step": float(np.median(step_times)),
                          "halo": float(np.median(halo_times)), "messages": float(np.median(message_times))}),
              flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default="1,2,4")
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--backend", default="c")
    p.add_argument("--worker", nargs=1, metavar="MODE", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker[0], a.size, a.steps, a.repeats, a.backend)

    mpiexec = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else "mpiexec"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    rows = []
    for mode in ("strong", "weak"):
        for P in map(int, a.ranks.split(",")):
            done = subprocess.run([mpiexec, "-n", str(P), sys.executable, "-m", "mpi4py", __file__,
                                   "--worker", mode, "--size", str(a.size), "--steps", str(a.steps),
                                   "--repeats", str(a.repeats), "--backend", a.backend],
                                  env=env, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                sys.exit(f"{mode} on {P} ranks failed:\n{done.stderr[-2000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    cores = os.cpu_count()
    print(f"Kuramoto, fused Euler step, backend {a.backend}, float64, blocks of rows, OMP_NUM_THREADS=1, "
          f"{cores} cores (load average {os.getloadavg()[0]:.1f} at the end); median of {a.repeats} x "
          f"{a.steps} steps")
    print(f"{'scaling':<8}{'ranks':>6}{'global grid':>14}{'ms/step':>10}{'speed-up':>10}{'efficiency':>12}"
          f"{'halo ms':>10}{'halo %':>8}{'msgs ms':>10}")
    for mode in ("strong", "weak"):
        base = next(r for r in rows if r["mode"] == mode and r["P"] == 1) if any(
            r["mode"] == mode and r["P"] == 1 for r in rows) else None
        for r in (r for r in rows if r["mode"] == mode):
            grid = "x".join(map(str, r["shape"]))
            if base is None:
                ratio = eff = float("nan")
            elif mode == "strong":
                ratio = base["step"] / r["step"]
                eff = ratio / r["P"]
            else:
                ratio = base["step"] / r["step"] * r["P"]   # cells per second, relative
                eff = base["step"] / r["step"]
            print(f"{mode:<8}{r['P']:>6}{grid:>14}{r['step'] * 1e3:>10.2f}{ratio:>9.2f}x{eff:>11.0%}"
                  f"{r['halo'] * 1e3:>10.2f}{100 * r['halo'] / r['step']:>7.1f}%{r['messages'] * 1e3:>10.2f}")


if __name__ == "__main__":
    sys.exit(main())
