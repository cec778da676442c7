"""Failure modes on several ranks; each must end the whole job with a non-zero exit status, never
a hang, and every rank that can must say why.

    mpiexec -n P python [-m mpi4py] tests/mpi/failures.py narrow|raise|blowup

narrow: a 6x6 grid on 4 ranks (blocks of 3) with ghost layers 4 deep, through `exchange` and
through a radius-4 stencil: a StencilError on every rank (each prints it), then uncaught.
raise:  the last rank raises while the others wait in a collective (gather).
blowup: cases.py's blowup_euler; every rank prints the StencilError it stopped with, then exits 3.
"""
import sys

import numpy as np
from mpi4py import MPI

import stencilc as sc
from stencilc.distributed import Decomposition

world = MPI.COMM_WORLD
rank, P = world.Get_rank(), world.Get_size()
mode = sys.argv[1]

if mode == "narrow":
    dec = Decomposition((6, 6))
    u = sc.Field("u")
    k = sc.compile_stencil(sc.laplace(sc.laplace(sc.laplace(sc.laplace(u)))), state=u, backend="numpy")
    for what, attempt in (("exchange", lambda: dec.exchange(np.zeros((11, 11)), 4)),
                          ("distribute", lambda: dec.distribute(k))):
        try:
            attempt()
        except sc.StencilError as exc:
            error = exc
            print(f"rank {rank} {what}: StencilError: {exc}", flush=True)
    world.Barrier()
    raise error
elif mode == "raise":
    dec = Decomposition((8, 8))
    if rank == P - 1:
        raise RuntimeError(f"deliberate failure on rank {rank}")
    dec.gather(np.zeros(dec.local_shape))
    print(f"rank {rank} passed the gather it should never have passed", flush=True)
elif mode == "blowup":
    import cases
    try:
        cases.distributed("blowup_euler", P)
    except sc.StencilError as exc:
        print(f"rank {rank} stopped: {exc}", flush=True)
        world.Barrier()
        sys.exit(3)
    print(f"rank {rank} did not stop", flush=True)
