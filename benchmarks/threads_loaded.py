#!/usr/bin/env python
"""The default thread count on a loaded machine: does it ever lose more than 2x to one thread?

For each grid size, the Allen-Cahn right-hand side ``laplace(u) + u - u**3`` (C backend, float64)
is timed with the default number of OpenMP threads (``OMP_NUM_THREADS`` unset: one per core) and
with one thread, first with no load added, then while a busy loop (a second Python process
spinning) occupies one core. Each configuration runs in a fresh process, so the OpenMP runtime
starts with its own thread count; the table gives the median ms per call, the team size the
default chose (see ``stencilc/threads.py``) and the ratio default / one thread (above 1: the
default loses). "idle" only means that the script adds no load: say whether the machine was quiet.

    python benchmarks/threads_loaded.py [--sizes 64 256 1024 2048] [--calls 200]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
import numpy as np
from stencilc import compile_stencil
n, calls = int(sys.argv[1]), int(sys.argv[2])
k = compile_stencil("laplace(u) + u - u**3", state="u", backend="c")
u = np.random.default_rng(0).random((n, n))
out = np.empty_like(u)
for _ in range(max(5, calls // 10)):
    k(u, out=out)
ts = []
for _ in range(calls):
    t0 = time.perf_counter(); k(u, out=out); ts.append(time.perf_counter() - t0)
ts.sort()
import ctypes
print(json.dumps([ts[len(ts) // 2], ctypes.CDLL("libgomp.so.1").omp_get_max_threads()]))
"""


def _median_ms(n: int, calls: int, threads: str | None) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(calls)], env=env, check=True,
                         capture_output=True, text=True).stdout
    seconds, team = json.loads(out.splitlines()[-1])
    return 1e3 * seconds, team


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024, 2048])
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}; Allen-Cahn rhs, C, float64; median ms per call")
    print(f"{'load':>10} {'n':>6} {'default':>10} {'threads':>8} {'1 thread':>10} {'ratio':>7}")
    for load in ("no load", "1 busy"):
        busy = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "no load" else None)
        try:
            time.sleep(0.3)
            for n in args.sizes:
                calls = max(20, args.calls * 256 * 256 // (n * n))
                (d, team), (one, _) = _median_ms(n, calls, None), _median_ms(n, calls, "1")
                print(f"{load:>10} {n:>6} {d:>10.3f} {team:>8} {one:>10.3f} {d / one:>7.2f}", flush=True)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()


if __name__ == "__main__":
    main()
