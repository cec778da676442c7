"""The default number of threads of the compiled kernels on a machine that others are using.

OpenMP (and Numba) start one thread per core by default. When another process keeps a core busy,
a kernel's team waits at every barrier for the thread that shares that core, which runs only when
the scheduler gives it a slice: measured on a 2-core machine with one busy loop
(``benchmarks/threads_loaded.py``), a 1024² Allen-Cahn right-hand side took 7.5–12 ms per call with
two threads against 0.64 ms with one, while on the idle machine two threads took 0.34 ms.

So, unless the user set ``OMP_NUM_THREADS`` (C) or ``NUMBA_NUM_THREADS`` (numba) — an explicit
count always wins — the first kernel a process loads counts the cores it may run on
(``os.sched_getaffinity``) less those already kept busy by other processes (the cores' busy share in ``/proc/stat`` over
30 ms when the process loads its first kernel), and uses that many threads, at least one. The count is
taken once per process: later changes of load are not followed.
"""
from __future__ import annotations

import functools
import os
import time


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):       # not Linux
        return os.cpu_count() or 1


def _busy_elsewhere(window: float = 0.03) -> int:
    """Cores kept busy by other processes: the non-idle share of all cores over `window` seconds
    of /proc/stat (this process sleeps meanwhile), rounded to whole cores; 0 where it is not
    available."""
    def read():
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return sum(ticks), ticks[3] + (ticks[4] if len(ticks) > 4 else 0)   # all, idle + iowait
    try:
        total0, idle0 = read()
        time.sleep(window)
        total1, idle1 = read()
    except (OSError, ValueError, IndexError):
        return 0
    total = total1 - total0
    if total <= 0:
        return 0
    return round(_cores() * (total - (idle1 - idle0)) / total)


@functools.lru_cache(maxsize=None)
def default_threads() -> int:
    """The thread count for kernels when the user has not set one: free cores, at least 1."""
    return max(1, _cores() - _busy_elsewhere())


def omp_threads() -> int | None:
    """The OpenMP team size to set, or None when ``OMP_NUM_THREADS`` is set (the user's choice)."""
    return None if os.environ.get("OMP_NUM_THREADS", "").strip() else default_threads()


def numba_threads() -> int | None:
    """Numba's thread count to set, or None when ``NUMBA_NUM_THREADS`` is set."""
    return None if os.environ.get("NUMBA_NUM_THREADS", "").strip() else default_threads()


_applied: set[str] = set()


def apply_omp() -> None:
    """Once per process: set the OpenMP team size of kernels (linked to libgomp) to
    `omp_threads()`, unless the user chose it."""
    if "omp" in _applied:
        return
    _applied.add("omp")
    n = omp_threads()
    if n is None:
        return
    import ctypes
    try:   # the kernel library is linked to libgomp, loaded by now: the same runtime
        ctypes.CDLL("libgomp.so.1").omp_set_num_threads(ctypes.c_int(n))
    except (OSError, AttributeError):
        pass   # another OpenMP runtime: its own default stands


def apply_numba() -> None:
    """Once per process: set Numba's thread count for parallel kernels to `numba_threads()`
    (at most the size of Numba's pool), unless the user chose it with ``NUMBA_NUM_THREADS``."""
    if "numba" in _applied:
        return
    _applied.add("numba")
    n = numba_threads()
    if n is None:
        return
    import numba
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
