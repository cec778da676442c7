"""The default thread count: free cores only, and an explicit OMP_NUM_THREADS always wins."""
import os
import subprocess
import sys

import pytest

from stencilc import threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import ctypes, numpy as np
from stencilc import compile_stencil
k = compile_stencil("laplace(u)", state="u", backend="c")
k(np.zeros((4, 4)))
print(ctypes.CDLL("libgomp.so.1").omp_get_max_threads())
"""


def _team(env_extra: dict) -> int:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(env_extra, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def test_explicit_omp_num_threads_wins():
    assert threads.omp_threads() is None or "OMP_NUM_THREADS" not in os.environ
    assert _team({"OMP_NUM_THREADS": "3"}) == 3


def test_default_never_exceeds_the_cores_and_is_at_least_one():
    team = _team({})
    assert 1 <= team <= threads._cores()


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs /proc/stat (Linux)")
def test_a_busy_core_is_counted():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert threads._busy_elsewhere(window=0.3) >= 1
    finally:
        busy.kill()
        busy.wait()


NUMBA_CHILD = r"""
import numpy as np, numba
from stencilc import compile_stencil, threads
threads.default_threads = lambda: 1      # as if every other core were busy
k = compile_stencil("laplace(u)", state="u", backend="numba")
k(np.zeros((4, 4)))
print(numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
"""


def _numba_team(env_extra: dict) -> tuple[int, int]:
    pytest.importorskip("numba")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env.update(env_extra, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", NUMBA_CHILD], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    team, pool = out.stdout.split()[-2:]
    return int(team), int(pool)


def test_numba_kernels_use_the_free_core_count():
    """Loading a numba kernel sets Numba's thread count to the free cores (here: 1), not its
    default of one thread per core."""
    assert _numba_team({})[0] == 1


def test_explicit_numba_num_threads_wins():
    assert _numba_team({"NUMBA_NUM_THREADS": "2"}) == (2, 2)
