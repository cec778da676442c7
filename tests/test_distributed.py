"""stencilc.distributed on 1 to 4 MPI ranks, against the single-process run and independent oracles.

Each test launches one of the MPI programs in tests/mpi/ as a job of its own,
``OMP_NUM_THREADS=1 timeout 120 mpiexec -n P python -m mpi4py tests/mpi/PROGRAM ...`` (MPICH's
launcher runs 4 ranks on 2 cores without extra flags), and checks what it wrote or printed: the
gathered results against the same cases run here on one process (cases.py; bit for bit on one
rank, to 1e-12 on several, the same steps for RK45), ghost contents against f(global index),
the failure modes (every rank says why, the exit status is non-zero, nothing hangs), and global
.npy files against numpy.load. The compiled kernels are shared with this process through the
test session's cache directory.
"""
import functools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason='stencilc.distributed needs mpi4py: pip install "stencilc[mpi]"')

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "mpi"
sys.path.insert(0, str(PROGRAMS))

import cases  # noqa: E402
import npy_io  # noqa: E402

_beside = Path(sys.executable).parent / "mpiexec"
MPIEXEC = str(_beside) if _beside.exists() else shutil.which("mpiexec")
if MPIEXEC is None:
    pytest.skip('no mpiexec (pip install "stencilc[mpi]" brings MPICH\'s)', allow_module_level=True)

LIMIT = 120   # seconds, the `timeout` each job runs under


def launch(P, program, *args, plain=False):
    """(exit status, stdout + stderr, seconds) of `program` on P ranks; ``plain`` runs it with
    plain ``python`` instead of ``python -m mpi4py``."""
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT)] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    command = ["timeout", str(LIMIT), MPIEXEC, "-n", str(P), sys.executable,
               *([] if plain else ["-m", "mpi4py"]), str(PROGRAMS / program), *map(str, args)]
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=LIMIT + 30)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


@functools.lru_cache(maxsize=None)
def single(name, backend):
    return cases.single(name, backend)


def _arrays(final):
    return final if isinstance(final, dict) else {"final": final}


def check_against_one_process(where, P, names):
    for name in names:
        got = np.load(where / f"{name}.npz")
        backend = str(got["backend"])
        final, sol = single(name, backend)
        if P > 1:
            assert max(got["dims"]) > 1, name
        assert int(got["steps"]) == sol.stats["steps"] and int(got["rejected"]) == sol.stats["rejected"], name
        np.testing.assert_array_equal(got["t"], sol.t, err_msg=name)
        for field, want in _arrays(final).items():
            if P == 1:       # the same kernel on the same grid: the same bits
                np.testing.assert_array_equal(got[field], want, err_msg=f"{name} {field}")
            else:
                scale = max(1.0, float(np.abs(want).max()))
                np.testing.assert_allclose(got[field], want, rtol=0, atol=1e-12 * scale,
                                           err_msg=f"{name} {field} on {P} ranks ({backend})")


@pytest.mark.parametrize("P", [1, 2, 3, 4])
def test_gathered_runs_are_the_single_process_runs(P, tmp_path):
    """Kuramoto 37x23 (Euler, Heun, RK4, RK45), periodic, Dirichlet/Robin/Neumann-flux walls with
    a variable coefficient, radius 2, cross derivatives, a system, 3-D: every case of cases.ON[P]
    gathered from P ranks is the one-process result; also dec.local and scatter/gather."""
    status, output, _ = launch(P, "compare.py", tmp_path)
    assert status == 0, output[-4000:]
    check_against_one_process(tmp_path, P, cases.ON[P])
    blocks = np.load(tmp_path / "blocks.npz")
    np.testing.assert_array_equal(blocks["index"], np.fromfunction(lambda i, j: 1000.0 * i + j, (37, 23)))
    for name in "ab":
        assert blocks[name].dtype == blocks[name + "0"].dtype
        np.testing.assert_array_equal(blocks[name], blocks[name + "0"])


def test_c_kernels_split_along_the_contiguous_axis(tmp_path):
    names = ["kuramoto_heun_rows", "periodic_axis1_euler"]
    status, output, _ = launch(2, "compare.py", tmp_path, "--backend", "c", *names)
    assert status == 0, output[-4000:]
    check_against_one_process(tmp_path, 2, names)


@pytest.mark.parametrize("P, oks", [(2, 6), (4, 24)])
def test_ghosts_hold_their_global_cells_corners_included(P, oks):
    """Every ghost of a padded block holds f(its global index), wrapped over periodic axes (over
    two ranks too, where both neighbours are the same rank), corners included; ghosts beyond a
    non-periodic wall are untouched; a distributed stencil's own padded inputs likewise."""
    status, output, _ = launch(P, "ghosts.py")
    assert status == 0, output[-4000:]
    assert len(re.findall(r"ok (exchange|stencil) ", output)) == oks, output


def test_a_block_narrower_than_the_radius_is_an_error_on_every_rank():
    status, output, took = launch(4, "failures.py", "narrow")
    assert status not in (0, 124, 137) and took < LIMIT, (status, output[-3000:])
    for r in range(4):
        for what in ("exchange", "distribute"):
            line = re.search(rf"rank {r} {what}: StencilError: ([^\n]*?wide[^\n]*?grid)", output)
            assert line, (r, what, output)
            assert "ghost layers 4 deep" in line.group(1) and "blocks of 3" in line.group(1)


@pytest.mark.parametrize("plain", [True, False], ids=["python", "python -m mpi4py"])
def test_an_exception_on_one_rank_ends_every_rank(plain):
    status, output, took = launch(3, "failures.py", "raise", plain=plain)
    assert status not in (0, 124, 137) and took < 60, (status, took, output[-3000:])
    assert "RuntimeError: deliberate failure on rank 2" in output
    assert "passed the gather" not in output


def test_a_blow_up_in_one_block_stops_every_rank_at_the_same_step():
    inputs = cases.CASES["blowup_euler"](3)["inputs"]
    assert not inputs["c"][:16].any(), "the blow-up must start in the last rank's block only"
    with pytest.raises(Exception) as one_process:
        single("blowup_euler", "c")
    message = str(one_process.value)
    assert "non-finite" in message and "step 33" in message
    status, output, took = launch(3, "failures.py", "blowup")
    assert status not in (0, 124, 137), (status, output[-3000:])
    stops = re.findall(r"rank (\d) stopped: ([^\n]*?try a smaller dt)", output)
    assert sorted(r for r, _ in stops) == ["0", "1", "2"], output
    assert {m for _, m in stops} == {message}
    assert "did not stop" not in output


def test_save_on_three_ranks_load_on_two_and_numpy_agree(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((100, 100)))          # longer than what save writes
    written = np.arange(180, dtype=">f4").reshape(4, 9, 5)         # by numpy, big-endian
    np.save(tmp_path / "numpy.npy", written)
    status, output, _ = launch(3, "npy_io.py", "save", tmp_path)
    assert status == 0, output[-4000:]
    status, output, _ = launch(2, "npy_io.py", "load", tmp_path)
    assert status == 0, output[-4000:]
    for name, want in npy_io.arrays().items():
        saved, loaded = np.load(tmp_path / f"{name}.npy"), np.load(tmp_path / f"{name}_loaded.npy")
        assert saved.dtype == loaded.dtype == want.dtype
        np.testing.assert_array_equal(saved, want)
        np.testing.assert_array_equal(loaded, want)
    assert np.load(tmp_path / "big.npy").shape == (13,)
    loaded = np.load(tmp_path / "numpy_loaded.npy")
    assert loaded.dtype == np.float32 and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, written)
    assert len(re.findall(r"rank \d: StencilError: load: [^\n]*? holds an array of shape \(37, 23\), but the "
                          r"decomposition's global shape is \(36, 23\)", output)) == 2, output


def test_the_mpi_example_writes_the_single_process_picture(tmp_path):
    """examples/kuramoto_mpi.py on 4 ranks: the gathered run is the one-process run bit for bit,
    matches the seed's loop, and its picture is kuramoto.py's, pixel for pixel."""
    import matplotlib.image

    examples = ROOT / "examples"
    args = ["--size", 24, "--t-end", 2, "--out", tmp_path, "--save"]
    status, output, _ = launch(4, examples / "kuramoto_mpi.py", *args)
    assert status == 0, output[-4000:]
    assert re.search(r"^ran: kuramoto_mpi size=24x24 ranks=4 dims=4x1 ", output, re.M), output
    checks = dict(kv.split("=", 1) for kv in re.search(r"^check: (.*)$", output, re.M).group(1).split())
    assert float(checks["max_diff_vs_one_process"]) == 0.0
    assert float(checks["max_diff_vs_seed"]) < 1e-10
    single_process = subprocess.run([sys.executable, str(examples / "kuramoto.py"), *map(str, args[:-1])],
                                    env=dict(os.environ, MPLBACKEND="Agg"), capture_output=True, text=True,
                                    timeout=LIMIT)
    assert single_process.returncode == 0, single_process.stderr
    mine, theirs = (matplotlib.image.imread(tmp_path / name) for name in ("kuramoto_mpi.png", "kuramoto.png"))
    assert mine.shape == theirs.shape and np.ptp(mine[..., :3]) > 0
    np.testing.assert_array_equal(mine, theirs)
    assert np.load(tmp_path / "kuramoto_mpi.npy").shape == (24, 24)
