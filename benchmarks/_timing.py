"""What the benchmark scripts share: medians of repeated calls, and the kernels' thread count.

Imported by the scripts beside it (``python benchmarks/NAME.py`` puts this folder on the path).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import time

import numpy as np


def median_ms(fn, repeats: int) -> float:
    """The median wall time of `repeats` calls of `fn()`, in milliseconds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3


def set_threads(n: int) -> None:
    """The OpenMP team size of the C kernels (their runtime is libgomp); a no-op without it."""
    try:
        ctypes.CDLL(ctypes.util.find_library("gomp") or "libgomp.so.1").omp_set_num_threads(ctypes.c_int(n))
    except OSError:
        pass
