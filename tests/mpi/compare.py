"""Run cases of cases.py on every rank of the job; rank 0 writes each gathered result to
OUT/<case>.npz (final state, recorded times, step counts, the backend), which the tests compare
with the single-process run. Also writes OUT/blocks.npz: dec.local and a scatter/gather round
trip. BACKEND forces a backend for every case (default: cases.backend_for).

    mpiexec -n P python -m mpi4py tests/mpi/compare.py OUT [--backend BACKEND] [CASE ...]
"""
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

import cases

P, rank = MPI.COMM_WORLD.Get_size(), MPI.COMM_WORLD.Get_rank()
out, names, backend = Path(sys.argv[1]), sys.argv[2:], None
if names[:1] == ["--backend"]:
    backend, names = names[1], names[2:]
for name in names or cases.ON[P]:
    final, sol, dec, used = cases.distributed(name, P, backend)
    if rank == 0:
        arrays = final if isinstance(final, dict) else {"final": final}
        np.savez(out / f"{name}.npz", t=sol.t, steps=sol.stats["steps"], rejected=sol.stats["rejected"],
                 dims=np.array(dec.dims), backend=used, **arrays)

from stencilc.distributed import Decomposition  # noqa: E402

dec = Decomposition((37, 23))
index = dec.gather(dec.local(lambda i, j: 1000.0 * i + j))
rng = np.random.default_rng(9)
system = {"a": rng.standard_normal((37, 23)), "b": rng.integers(0, 9, (37, 23)).astype(np.int32)}
back = dec.gather(dec.scatter(system if rank == 0 else None))
if rank == 0:
    np.savez(out / "blocks.npz", index=index, a=back["a"], b=back["b"], a0=system["a"], b0=system["b"])

# callbacks and progress run on rank 0 unless every_rank=True
u = cases.u
k = cases.sc.compile_stencil(cases.sc.laplace(u), state=u, backend="numpy")
seen = {False: [], True: []}
for every in (False, True):
    kd = dec.distribute(k, every_rank=every)
    assert kd.reporting == (every or rank == 0)
    cases.sc.integrate(kd, dec.local(lambda i, j: np.sin(0.3 * i) + 0.1 * j), t_end=0.3, dt=0.1, method="rk4",
                       callback=lambda t, state, every=every: seen[every].append(t))
counts = MPI.COMM_WORLD.allgather((len(seen[False]), len(seen[True])))
assert counts == [(3 if r == 0 else 0, 3) for r in range(P)], counts

# mistakes are StencilErrors (TypeError/ValueError for call arguments, as for a Stencil) on every rank
from stencilc import StencilError  # noqa: E402


def refused(kind, text, attempt):
    try:
        attempt()
    except kind as exc:
        assert text in str(exc), (text, str(exc))
        return
    raise AssertionError(f"no {kind.__name__} ({text})")


refused(StencilError, "does not split", lambda: Decomposition((8, 8), dims=(P + 1, 1)))
refused(StencilError, "global_shape", lambda: Decomposition((8, 0)))
if P > 1:
    refused(StencilError, "at least one cell", lambda: Decomposition((1, 8), dims=(P, 1)))
refused(StencilError, "2-dimensional but", lambda: Decomposition((8, 8, 8)).distribute(k))
refused(StencilError, "compiled Stencil", lambda: dec.distribute(lambda x: x))
refused(StencilError, "root=", lambda: dec.gather(np.zeros(dec.local_shape), root=P))
refused(StencilError, "expected this rank's block", lambda: dec.gather(np.zeros((40, 23))))
refused(StencilError, "expected the global shape", lambda: dec.scatter(np.zeros((5, 5)) if rank == 0 else None))
refused(ValueError, "this rank's block", lambda: dec.distribute(k)(np.zeros((40, 23))))
refused(TypeError, "missing", lambda: dec.distribute(k)())
if P > 1:
    c, v = cases.c, cases.v
    mixed = cases.sc.compile_stencil(cases.sc.laplace(v) + c, state=v, fields=[c], backend="numpy",
                                     bc={"v": "neumann", "c": "periodic"})
    refused(StencilError, "periodic for ['c'] but not for ['v']",
            lambda: Decomposition((8, 8), dims=(P, 1)).distribute(mixed))
