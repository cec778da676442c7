"""Threads for the Numba backend's kernels, without Numba's parallel compiler.

A generated Numba module computes its interior in chunks of rows (`_interior_chunks(c0, c1, ...)`,
compiled with ``nogil``) and its boundary boxes in one function (`_boundaries(...)`). `run_shared`
gives each of `team` threads (the caller and a pool of Python threads kept per process) one
contiguous run of the chunks, the caller also the boundary boxes, and waits for all. The compiled
code releases the GIL, so the threads run in parallel. Numba's own `parallel=True` (`prange`)
would do the same from compiled code, but its parfor lowering is paid at every cold compile,
even for a loop of one call: measured on a loaded 2-core machine, a one-line `prange` loop took
1.9 s to compile against 0.19 s for the same loop serial, and the Kuramoto module's compile went
from 3.0-3.6 to 2.3 s of CPU with this module (and the full-range fallback compiled on first use).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def _workers(n: int) -> ThreadPoolExecutor:
    """The process's pool, with at least `n` threads."""
    global _pool, _pool_size
    if n > _pool_size:
        with _lock:
            if n > _pool_size:
                old, _pool, _pool_size = _pool, ThreadPoolExecutor(n, thread_name_prefix="stencilc"), n
                if old is not None:
                    old.shutdown(wait=False)
    return _pool


def run_shared(team: int, chunks: int, interior, exact, boundaries, args: tuple) -> None:
    """`interior(c0, c1, *args)` over chunks 0..`chunks` in `team` contiguous runs (the first on
    the calling thread, with `boundaries(*args)`), all finished on return; a run for which
    `interior` counts chunks out of the vector maths' range is passed to `exact(c0, c1, *args)`
    on the same thread."""
    shares = max(1, min(team, chunks))
    cuts = [chunks * k // shares for k in range(shares + 1)]

    def run(c0: int, c1: int) -> None:
        if interior(c0, c1, *args):
            exact(c0, c1, *args)

    pending = [_workers(shares - 1).submit(run, cuts[k], cuts[k + 1]) for k in range(1, shares)]
    try:
        boundaries(*args)
        run(cuts[0], cuts[1])
    finally:
        for f in pending:
            f.result()
