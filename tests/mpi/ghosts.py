"""Ghost contents: every rank fills its block with f(global index), exchanges, and checks every
ghost cell against f at the global index it stands for (wrapped across periodic axes), corners
included, and that ghosts beyond a non-periodic global wall are left as they were. Checked for
`Decomposition.exchange` (padding on every side) and for a distributed stencil's own padded
inputs (padding on halo sides only). Prints one "ok" line per rank and configuration; an
AssertionError ends the job.

    mpiexec -n P python -m mpi4py tests/mpi/ghosts.py
"""
import itertools

import numpy as np
from mpi4py import MPI

import stencilc as sc
from stencilc.distributed import Decomposition

P, rank = MPI.COMM_WORLD.Get_size(), MPI.COMM_WORLD.Get_rank()
UNTOUCHED = -7.0


def f(*g):
    """A value that tells every global index apart."""
    return sum(x * 100.0 ** (len(g) - 1 - a) for a, x in enumerate(g)) + 0.25


def expected(dec, g, periodic):
    """f at global index g, wrapped along periodic axes; None beyond a non-periodic wall."""
    wrapped = []
    for a, (x, n) in enumerate(zip(g, dec.global_shape)):
        if not 0 <= x < n:
            if not periodic[a]:
                return None
            x %= n
        wrapped.append(x)
    return f(*wrapped)


def check_exchange(shape, dims, periodic, r):
    dec = Decomposition(shape, dims=dims)
    a = np.full(tuple(n + 2 * r for n in dec.local_shape), UNTOUCHED)
    a[tuple(slice(r, r + n) for n in dec.local_shape)] = dec.local(f)
    assert dec.exchange(a, r, periodic=periodic) is a
    starts = [s.start - r for s in dec.local_slices]
    ghosts = 0
    for p in itertools.product(*map(range, a.shape)):
        want = expected(dec, [s + i for s, i in zip(starts, p)], periodic)
        want = UNTOUCHED if want is None else want
        assert a[p] == want, (shape, dims, periodic, r, rank, p, a[p], want)
        ghosts += any(not r <= i < r + n for i, n in zip(p, dec.local_shape))
    print(f"ok exchange {shape} dims={dec.dims} periodic={periodic} r={r} rank={rank} ghosts={ghosts}",
          flush=True)


def check_stencil_inputs(shape, dims, bc, rhs, state):
    """After a call, a distributed stencil's padded inputs hold f of the cells they stand for."""
    dec = Decomposition(shape, dims=dims)
    k = sc.compile_stencil(rhs, state=state, ndim=len(shape), bc=bc, backend="numpy")
    kd = dec.distribute(k)
    periodic = [k.bc[k.state[0]][a][0].periodic for a in range(len(shape))]
    kd(dec.local(f))
    padded = kd._padded[0]
    starts = [s.start - (kd.radius if lo == "halo" else 0) for s, (lo, _) in zip(dec.local_slices, kd.sides)]
    for p in itertools.product(*map(range, padded.shape)):
        want = expected(dec, [s + i for s, i in zip(starts, p)], periodic)
        assert want is not None and padded[p] == want, (shape, dims, bc, rank, p, padded[p], want)
    print(f"ok stencil {shape} dims={dec.dims} sides={kd.sides} rank={rank}", flush=True)


u = sc.Field("u")
if P == 4:
    check_exchange((9, 7), (2, 2), (False, True), 2)
    check_exchange((9, 7), (2, 2), (True, True), 3)
    check_exchange((6, 5, 4), (2, 1, 2), (True, False, True), 1)
    check_exchange((11,), (4,), (True,), 2)
    check_stencil_inputs((9, 7), (2, 2), ("neumann", "periodic"), sc.laplace(sc.laplace(u)), u)
    check_stencil_inputs((6, 5, 4), (2, 1, 2), ("periodic", "dirichlet", "neumann"),
                         sc.D(sc.D(u, 0), 2) + sc.laplace(u), u)
if P == 2:
    # a periodic axis over two ranks: both neighbours are the same rank
    check_exchange((8, 5), (2, 1), (True, False), 2)
    check_exchange((5, 8), (1, 2), (True, True), 4)
    check_stencil_inputs((8, 5), (2, 1), "periodic", sc.laplace(sc.laplace(u)), u)
