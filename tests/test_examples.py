"""The gallery (examples/*.py) runs: each script at a tiny size in a subprocess exits 0, writes a PNG
that is not one flat colour, and prints a physics check that holds.

The subprocesses share one kernel cache for the test session, so each distinct stencil is compiled
once however many runs use it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="session")
def example_env(tmp_path_factory):
    env = dict(os.environ)
    env["STENCILC_CACHE_DIR"] = str(tmp_path_factory.mktemp("examples-cache"))
    env["MPLBACKEND"] = "Agg"
    env["OMP_NUM_THREADS"] = "1"  # tiny grids: more threads only add start-up and contention
    return env


# Runs an example with `import numba` failing, as where numba is not installed.
WITHOUT_NUMBA = ("import runpy, sys; sys.modules['numba'] = sys.modules['llvmlite'] = None; "
                 "sys.path.insert(0, sys.argv[1]); sys.argv = sys.argv[2:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")


def run_example(name, env, out, *args, without_numba=False):
    """Run examples/<name>.py; returns (its check values as strings, stdout)."""
    script = [str(EXAMPLES / f"{name}.py"), "--out", str(out), *map(str, args)]
    hide = ["-c", WITHOUT_NUMBA, str(EXAMPLES)] if without_numba else []
    proc = subprocess.run([sys.executable, *hide, *script], env=env, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0 and re.search(r"'numba' is not known|backend='numba' needs numba", proc.stderr):
        pytest.skip("the numba backend is not available")
    assert proc.returncode == 0, f"{name} {args} failed:\n{proc.stdout}\n{proc.stderr}"
    assert re.search(r"^ran: ", proc.stdout, re.M) and re.search(r"^wall: ", proc.stdout, re.M), proc.stdout
    line = re.search(r"^check: (.*)$", proc.stdout, re.M)
    assert line, proc.stdout
    assert_picture(out / f"{name}.png")
    return dict(kv.split("=", 1) for kv in line.group(1).split()), proc.stdout


def assert_picture(path):
    assert path.is_file(), f"{path} was not written"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert np.ptp(image[..., :3].reshape(-1, 3), axis=0).max() > 0, f"{path} is one flat colour"


def test_kuramoto_matches_the_seed(example_env, tmp_path):
    checks, _ = run_example("kuramoto", example_env, tmp_path, "--size", 24, "--t-end", 2, "--animate",
                            "--thumbnail", tmp_path / "thumb.png")
    assert float(checks["max_diff_vs_seed"]) < 1e-10
    assert 0 <= float(checks["order_parameter"]) <= 1
    assert (tmp_path / "kuramoto.gif").stat().st_size > 0
    assert_picture(tmp_path / "thumb.png")
    assert (tmp_path / "thumb.png").stat().st_size <= 150_000


def test_kuramoto_compare_prints_the_table(example_env, tmp_path):
    _, stdout = run_example("kuramoto", example_env, tmp_path, "--size", 16, "--t-end", 0.5, "--compare",
                            "--compare-backends", "numpy,c")  # numba's compile time is test_heat's
    for row in ("seed NumpySolver.dudt", "stencilc numpy", "stencilc c"):
        assert re.search(rf"^{row}\s+[\d.]+us\s+[\d.]+x\s+[\d.]+ms\s+[\d.]+x", stdout, re.M), stdout


def test_kuramoto_compare_without_numba_skips_it_in_one_line(example_env, tmp_path):
    _, stdout = run_example("kuramoto", example_env, tmp_path, "--size", 16, "--t-end", 0.5, "--compare",
                            without_numba=True)   # the default --compare-backends names numba
    notes = [line for line in stdout.splitlines() if "numba" in line and "skipped" in line]
    assert len(notes) == 1 and 'pip install "stencilc[numba]"' in notes[0], stdout
    assert not re.search(r"^stencilc numba", stdout, re.M)
    for row in ("seed NumpySolver.dudt", "stencilc numpy", "stencilc c"):
        assert re.search(rf"^{row}\s+[\d.]+us", stdout, re.M), stdout


def test_heat_error_shrinks_with_resolution(example_env, tmp_path):
    errors = {}
    for n in (16, 32):
        checks, _ = run_example("heat", example_env, tmp_path / str(n), "--size", n)
        errors[n] = float(checks["max_error"])
        assert errors[n] < 1.5 / n**2  # second order: the error is about 1.0·h² here
    assert errors[16] / errors[32] > 3.5


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_heat_on_other_backends(example_env, tmp_path, backend):
    checks, _ = run_example("heat", example_env, tmp_path, "--size", 16, "--backend", backend)
    assert float(checks["max_error"]) < 1.5 / 16**2


def test_heat3d(example_env, tmp_path):
    checks, _ = run_example("heat3d", example_env, tmp_path, "--size", 12)
    assert float(checks["max_error"]) < 4.0 / 12**2


def test_wave_energy_is_conserved(example_env, tmp_path):
    checks, _ = run_example("wave", example_env, tmp_path, "--size", 32, "--t-end", 0.5)
    assert float(checks["energy_drift"]) < 1e-2


def test_wave_order_4_disperses_less_than_order_2(example_env, tmp_path):
    checks, _ = run_example("wave_order", example_env, tmp_path, "--size", 64, "--width", 0.03)
    errors = [float(checks[f"error_order{p}"]) for p in (2, 4, 6)]
    # against d'Alembert's exact solution: each order an order of magnitude closer at 64 cells
    assert errors[0] > 0.1 and errors[1] < errors[0] / 5 and errors[2] < errors[1] / 5


def test_heat_source_converges_at_second_order(example_env, tmp_path):
    # a manufactured solution with a moving Gaussian source and time-dependent Dirichlet walls, at
    # 32² and 16²: the scheme is second order in h (RK4 at dt = 2.5·h², D = 0.1, adds far less),
    # and the error constant is about 10 (9.8·h² at 32², 10.0·h² at 64²), so 12·h² bounds it
    checks, stdout = run_example("heat_source", example_env, tmp_path, "--size", 32)
    assert 1.8 < float(checks["observed_order"]) < 2.2
    assert float(checks["max_error"]) < 12 / 32**2
    assert float(checks["max_error_half_size"]) / float(checks["max_error"]) > 3.4
    assert re.search(r"^ran: heat_source size=16x16 ", stdout, re.M), stdout


@pytest.mark.parametrize("backend, n", [("c", 32), ("numpy", 16)])
def test_robin_plate_cools_at_the_first_modes_rate(example_env, tmp_path, backend, n):
    checks, _ = run_example("robin_plate", example_env, tmp_path, "--size", n, "--backend", backend)
    exact = float(checks["exact_rate"])
    lam = np.sqrt(exact / 2)        # D = 1: the rate is 2λ², λ the root of λ tan(λ/2) = Bi = 2
    # the script's bisection solved it: exact_rate is printed to 4 digits, which moves λ tan(λ/2) by
    # at most 3e-4
    assert 0 < lam < np.pi and abs(lam * np.tan(lam / 2) - 2) < 1e-3
    # the measured rate against 2λ²: second order, error ≈ 0.43·h² at 16² and 32², so 0.6·h²
    assert float(checks["rate_error"]) < 0.6 / n**2
    assert abs(float(checks["decay_rate"]) / exact - 1) < 0.6 / n**2 + 2e-4   # 2e-4: the 4 digits
    assert 1.8 < float(checks["observed_order"]) < 2.2


def test_schrodinger_conserves_the_norm_and_follows_the_classical_orbit(example_env, tmp_path):
    checks, _ = run_example("schrodinger", example_env, tmp_path, "--size", 64, "--t-end", 1.5)
    assert float(checks["norm_drift"]) < 1e-4
    # the packet's centre against Ehrenfest's exact orbit: the discretisation's error at h = 0.25
    assert float(checks["centre_error"]) < 0.3
    assert_picture(tmp_path / "schrodinger.png")


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_mandelbrot_counts_escapes_as_the_seed_does(example_env, tmp_path, backend):
    # 64 x 48 points: a grid on which the compiled backends' counts are the seed's everywhere
    # (tests/test_mandelbrot.py says why finer grids differ at a few late-escaping points)
    checks, stdout = run_example("mandelbrot", example_env, tmp_path, "--nx", 64, "--ny", 48, "--repeat", 1,
                                 "--backend", backend, "--thumbnail", tmp_path / "thumb.png")
    assert int(checks["points"]) == 64 * 48 and int(checks["counts_differ"]) == 0
    if backend == "numpy":          # the same NumPy operations as the seed's: every bit of z too
        assert checks["z_bits_equal"] == "True"
    assert float(checks["seed_seconds"]) > 0 and float(checks["stencilc_seconds"]) > 0
    assert re.search(r"^ran: mandelbrot size=64x48 backend=\w+ dtype=complex64 maxiter=200", stdout, re.M)
    assert_picture(tmp_path / "thumb.png")


@pytest.mark.parametrize("bc", ["periodic", "neumann"])
def test_cahn_hilliard_conserves_mass(example_env, tmp_path, bc):
    checks, _ = run_example("cahn_hilliard", example_env, tmp_path, "--size", 32, "--t-end", 20, "--bc", bc,
                            "--mean", 0.2)
    assert float(checks["mass_drift"]) <= 1e-9
    assert abs(float(checks["mean"]) - 0.2) < 0.01


def test_allen_cahn_free_energy_decreases(example_env, tmp_path):
    checks, _ = run_example("allen_cahn", example_env, tmp_path, "--size", 32, "--t-end", 20)
    assert checks["monotone"] == "True"
    assert float(checks["energy_ratio"]) < 0.5


def test_gray_scott_forms_a_bounded_pattern(example_env, tmp_path):
    checks, _ = run_example("gray_scott", example_env, tmp_path, "--size", 32, "--t-end", 1500,
                            "--pattern", "stripes")
    assert checks["bounded"] == "True" and checks["pattern"] == "True"


def test_fitzhugh_nagumo_makes_one_spiral(example_env, tmp_path):
    checks, stdout = run_example("fitzhugh_nagumo", example_env, tmp_path, "--size", 96, "--t-end", 40,
                                 "--t-break", 10)
    assert checks["spiral_tips"] == "1"
    assert re.search(r"^ran: .* t0=10 t_end=40 ", stdout, re.M), stdout


def test_fitzhugh_nagumo_counts_no_tip_when_the_wave_dies(example_env, tmp_path):
    checks, _ = run_example("fitzhugh_nagumo", example_env, tmp_path, "--size", 32)
    # 32 cells of h = 0.5 are too small a room for the spiral: the medium is at rest at the end
    assert float(checks["excited_fraction"]) == 0
    assert checks["spiral_tips"] == "0"


def test_every_example_has_a_gallery_thumbnail():
    gallery = EXAMPLES.parent / "docs" / "gallery"
    readme = (EXAMPLES / "README.md").read_text()
    scripts = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
    assert len(scripts) >= 8
    for name in scripts:
        thumb = gallery / f"{name}.png"
        assert thumb.is_file() and thumb.stat().st_size <= 150_000, thumb
        assert_picture(thumb)
        assert f"docs/gallery/{name}.png" in readme and f"examples/{name}.py" in readme, name
