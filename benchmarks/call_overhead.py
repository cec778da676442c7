#!/usr/bin/env python
"""Per-call overhead of a compiled Stencil on small grids (the C backend, cffi ABI mode).

Rows, all timed round-robin in one run (median of batches of calls, in µs per call):

  empty cffi call     an empty C function with the kernel's own signature, compiled by the same cc
                      and called through cffi with pointers cast once: the floor of any call
  kernel alone        the compiled kernel called through cffi with pointers cast once: its work
  stencilc, out=      `k(theta, omega=omega, K=2.0, out=out)`: every check, the call, the result
  stencilc            `k(theta, omega=omega, K=2.0)`: the same with the output allocated

overhead = (stencilc row) - (kernel alone): what the Python side costs per call, checks included.

    python benchmarks/call_overhead.py                  # Kuramoto 2-D at 64^2 and 256^2, float64
    python benchmarks/call_overhead.py --sizes 32 64 --dtype float32
"""
from __future__ import annotations

import argparse
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def empty_call(signature: str, workdir: Path):
    """A cffi function with `signature` whose body is empty, built like stencilc's kernels."""
    import cffi
    name = signature.split("(")[0].split()[-1]
    src = workdir / "empty.c"
    src.write_text("#include <stdint.h>\n" + signature.rstrip(";") + " {}\n")
    so = workdir / "empty.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", str(src), "-o", str(so)], check=True)
    ffi = cffi.FFI()
    ffi.cdef(signature)
    lib = ffi.dlopen(str(so))
    return ffi, getattr(lib, name)


def per_call_us(fn, batch: int) -> float:
    t = time.perf_counter()
    for _ in range(batch):
        fn()
    return (time.perf_counter() - t) / batch * 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--rounds", type=int, default=31)
    args = ap.parse_args(argv)

    import sympy as sp
    import stencilc
    theta_f, omega_f = stencilc.fields("theta omega")
    K = sp.Symbol("K")
    k = stencilc.compile_stencil(omega_f + K * stencilc.div(sp.sin(stencilc.grad(theta_f))), state=theta_f,
                                 backend="c", dtype=args.dtype)
    from stencilc.backends.printing import CTYPE
    kernel, cffi_ptr = inspect.getclosurevars(k._run).nonlocals["fns"][0], CTYPE[args.dtype] + " *"
    signature = stencilc.generate(k.expr, state="theta", fields=["omega"], dtype=args.dtype)
    proto = next(line for line in signature.splitlines() if line.startswith("void stencil_rhs("))
    proto = proto.replace(" restrict", "").rstrip(" {") + ";"
    print(f"# Kuramoto 2-D, {args.dtype}, backend c; python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"stencilc {stencilc.__version__}; {os.cpu_count()} logical CPUs; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"# {args.rounds} rounds, each row timed in turn (a batch of calls per row per round); median µs per call")
    with tempfile.TemporaryDirectory() as tmp:
        ffi, empty = empty_call(proto, Path(tmp))
        print(f"{'N':>5}  {'row':<18} {'µs/call':>9} {'min':>9}")
        for n in args.sizes:
            dt = np.dtype(args.dtype)
            rng = np.random.default_rng(0)
            theta = rng.uniform(0, 2 * np.pi, (n, n)).astype(dt)
            omega = rng.normal(size=(n, n)).astype(dt)
            out = np.empty_like(theta)
            expected = k(theta, omega=omega, K=2.0)
            a, b, o = (ffi.cast(cffi_ptr, x.ctypes.data) for x in (theta, omega, out))
            kernel(a, b, 2.0, o, n, n)
            np.testing.assert_array_equal(out, expected)
            calls = {
                "empty cffi call": lambda: empty(a, b, 2.0, o, n, n),
                "kernel alone": lambda: kernel(a, b, 2.0, o, n, n),
                "stencilc, out=": lambda: k(theta, omega=omega, K=2.0, out=out),
                "stencilc": lambda: k(theta, omega=omega, K=2.0),
            }
            batch = max(10, int(2e4 / max(1, n * n / 4096)))
            times = {name: [] for name in calls}
            for _ in range(args.rounds):
                for name, fn in calls.items():
                    times[name].append(per_call_us(fn, batch))
            med = {name: statistics.median(v) for name, v in times.items()}
            for name, v in times.items():
                print(f"{n:>5}  {name:<18} {med[name]:>9.2f} {min(v):>9.2f}")
            print(f"{n:>5}  overhead with out=: {med['stencilc, out='] - med['kernel alone']:.2f} µs "
                  f"({(med['stencilc, out='] - med['kernel alone']) / med['empty cffi call']:.1f}x an empty cffi call); "
                  f"without out=: {med['stencilc'] - med['kernel alone']:.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
