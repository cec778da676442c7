"""stencilc-numba against stencilc-c and a hand-written Numba loop, Kuramoto right-hand side (issue 3).

Times one evaluation of omega + K*div(sin(grad(theta))) (float64, Neumann) for each row, medians of
repeats, all in one run, and prints ms per evaluation and the ratios to stencilc-c. Also reports the
cold compile (fresh cache directory, this process) and warm load (fresh process, entry on disk) of
both backends. Usage: python benchmarks/numba_vs_c.py [--sizes 1024 4096] [--threads 2] [--repeats 10]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

EXPR = "omega + K*div(sin(grad(theta)))"
K = 2.0


def naive_numba():
    """The seed's naive loop, written by hand for @njit(parallel=True)."""
    import numba

    @numba.njit(parallel=True, cache=False)
    def seed_rhs(theta, omega, K, out):
        n0, n1 = theta.shape
        for i in numba.prange(n0):
            for j in range(n1):
                t = theta[i, j]
                s = 0.0
                if i > 0:
                    s += math.sin(theta[i - 1, j] - t)
                if i < n0 - 1:
                    s += math.sin(theta[i + 1, j] - t)
                if j > 0:
                    s += math.sin(theta[i, j - 1] - t)
                if j < n1 - 1:
                    s += math.sin(theta[i, j + 1] - t)
                out[i, j] = omega[i, j] + K * s
    return seed_rhs


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


_COMPILE_CHILD = """
import sys, time, json
t = time.perf_counter()
import stencilc
t_import = time.perf_counter()
k = stencilc.compile_stencil(%r, state="theta", fields=["omega"], backend=sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t_import, "from_cache": k.from_cache}))
"""


def compile_times(backend):
    """(cold, warm) seconds of compile_stencil after imports, each in a fresh process."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, STENCILC_CACHE_DIR=cache)
        out = []
        for _ in range(2):
            res = subprocess.run([sys.executable, "-c", _COMPILE_CHILD % EXPR, backend], env=env,
                                 capture_output=True, text=True, check=True)
            out.append(json.loads(res.stdout.strip().splitlines()[-1]))
        assert not out[0]["from_cache"] and out[1]["from_cache"]
        return out[0]["seconds"], out[1]["seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--no-compile-times", action="store_true")
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)   # before the C kernel's OpenMP starts
    import numba
    import stencilc
    numba.set_num_threads(args.threads)

    kc = stencilc.compile_stencil(EXPR, state="theta", fields=["omega"], backend="c")
    kn = stencilc.compile_stencil(EXPR, state="theta", fields=["omega"], backend="numba")
    kr = stencilc.compile_stencil(EXPR, state="theta", fields=["omega"], backend="numpy")
    seed = naive_numba()
    print(f"Kuramoto RHS, float64, Neumann, {args.threads} threads, median of {args.repeats}; "
          f"numba {numba.__version__}")
    print(f"{'N':>6} {'row':<26} {'ms':>9} {'x stencilc-c':>13}")
    for n in args.sizes:
        rng = np.random.default_rng(n)
        theta = rng.uniform(0, 2 * np.pi, (n, n))
        omega = rng.normal(size=(n, n))
        outs = {name: np.empty_like(theta) for name in ("c", "numba", "seed")}
        rows = {
            "stencilc-c": lambda: kc(theta, omega=omega, K=K, out=outs["c"]),
            "stencilc-numba": lambda: kn(theta, omega=omega, K=K, out=outs["numba"]),
            "numba seed loop (njit)": lambda: seed(theta, omega, K, outs["seed"]),
        }
        for fn in rows.values():
            fn()
        ref = kr(theta, omega=omega, K=K) if n <= 1024 else outs["c"]
        for name, out in outs.items():
            assert np.allclose(out, ref, rtol=1e-12, atol=1e-11), name
        ms = {name: median_ms(fn, args.repeats) for name, fn in rows.items()}
        for name, t in ms.items():
            print(f"{n:>6} {name:<26} {t:9.2f} {t / ms['stencilc-c']:13.2f}")
        print(f"{n:>6} numba/c = {ms['stencilc-numba'] / ms['stencilc-c']:.2f} (<= 1.5 wanted); "
              f"seed loop/numba = {ms['numba seed loop (njit)'] / ms['stencilc-numba']:.2f} (> 1 wanted)")
    if not args.no_compile_times:
        for backend in ("c", "numba"):
            cold, warm = compile_times(backend)
            print(f"compile_stencil {backend:<6} cold {cold:6.2f} s   warm (fresh process) {warm:6.3f} s")


if __name__ == "__main__":
    main()
