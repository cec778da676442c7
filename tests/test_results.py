"""Tests for what a run gives back besides its arrays: `Solution.to_xarray`, `save`/`load`,
`stencilc.movie`, the reprs of `Stencil` and `Solution`, compile seconds kept out of a run's clock,
and the notice a slow compile prints.

The expectations are written independently of the code under test: cell centres from
``origin + (i + 1/2) h`` computed here, frames compared with the arrays `integrate` returned, movie
pixels against a grey ramp whose direction is known, compile time against a build slowed by a known
sleep.
"""

import importlib
import sys
import time

import numpy as np
import pytest
import sympy as sp

import stencilc
from stencilc import Field, Solution, StencilError, api, compile_stencil, integrate, laplace

u, v = Field("u"), Field("v")
a = sp.Symbol("a")


@pytest.fixture(scope="module")
def heat():
    """A 2-D heat run on an anisotropic grid with five recorded frames."""
    k = compile_stencil(a * laplace(u), state=u, backend="numpy", spacing=(0.5, 0.25))
    u0 = np.random.default_rng(1).random((6, 4))
    return integrate(k, u0, t_end=1.0, dt=0.05, record_every=0.25, inputs={"a": 0.1})


@pytest.fixture(scope="module")
def system():
    k = compile_stencil({u: laplace(u) - v, v: u}, backend="numpy", ndim=3, bc="periodic", spacing=2.0)
    rng = np.random.default_rng(2)
    return integrate(k, {"u": rng.random((3, 4, 5)), "v": rng.random((3, 4, 5))}, t_end=0.2, dt=0.05,
                     record_every=0.1)


def centres(n, h, origin=0.0):
    return origin + (np.arange(n) + 0.5) * h


# --- the grid a Solution knows ----------------------------------------------------------------


def test_integrate_attaches_the_grid(heat, system):
    assert heat.state == ("u",) and heat.spacing == (0.5, 0.25) and heat.origin == (0.0, 0.0)
    assert system.state == ("u", "v") and system.spacing == (2.0, 2.0, 2.0)
    # the fields that were there keep their meaning
    assert heat.frames.shape == (5, 6, 4) and heat.final is not None
    np.testing.assert_array_equal(heat.frames[-1], heat.final)
    np.testing.assert_array_equal(heat.t, [0, 0.25, 0.5, 0.75, 1.0])


def test_a_solution_made_by_hand_still_works():
    sol = Solution(np.array([0.0, 1.0]), np.zeros((2, 3, 3)), np.zeros((3, 3)), {"steps": 1})
    assert sol.state is None and sol.spacing is None and sol.origin is None
    assert "2 frames of 3x3 float64" in repr(sol)


# --- xarray -----------------------------------------------------------------------------------


def test_to_xarray_has_cell_centre_coordinates(heat):
    xr = pytest.importorskip("xarray")
    da = heat.to_xarray()
    assert isinstance(da, xr.DataArray) and da.name == "u" and da.dims == ("t", "x", "y")
    np.testing.assert_array_equal(da.coords["t"], heat.t)
    np.testing.assert_allclose(da.coords["x"], centres(6, 0.5), rtol=0, atol=1e-15)
    np.testing.assert_allclose(da.coords["y"], centres(4, 0.25), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(da.values, heat.frames)
    assert da.attrs["steps"] == heat.stats["steps"]
    np.testing.assert_array_equal(da.sel(t=0.5).values, heat.frames[2])


def test_to_xarray_takes_the_origin_from_the_solution(heat):
    pytest.importorskip("xarray")
    shifted = Solution(heat.t, heat.frames, heat.final, heat.stats, state=("u",), spacing=(0.5, 0.25),
                       origin=(-1.0, 2.0))
    da = shifted.to_xarray()
    np.testing.assert_allclose(da.coords["x"], centres(6, 0.5, -1.0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(da.coords["y"], centres(4, 0.25, 2.0), rtol=0, atol=1e-15)


def test_a_system_is_a_dataset_with_x_y_z(system):
    xr = pytest.importorskip("xarray")
    ds = system.to_xarray()
    assert isinstance(ds, xr.Dataset) and list(ds.data_vars) == ["u", "v"]
    assert ds["u"].dims == ("t", "x", "y", "z")
    np.testing.assert_allclose(ds.coords["z"], centres(5, 2.0), rtol=0, atol=1e-15)
    for name in ("u", "v"):
        np.testing.assert_array_equal(ds[name].values, system.frames[name])


def test_to_netcdf_round_trip(heat, tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("scipy")
    path = tmp_path / "heat.nc"
    heat.to_xarray().to_netcdf(path, engine="scipy")
    with xr.open_dataarray(path, engine="scipy") as back:
        np.testing.assert_array_equal(back.values, heat.frames)
        np.testing.assert_allclose(back.coords["x"], centres(6, 0.5), rtol=0, atol=1e-15)


def test_missing_xarray_is_one_line_naming_the_extra(heat, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(StencilError) as caught:
        heat.to_xarray()
    message = str(caught.value)
    assert 'pip install "stencilc[xarray]"' in message and "\n" not in message


# --- save / load ------------------------------------------------------------------------------


def test_save_and_load_round_trip_exactly(heat, tmp_path):
    path = heat.save(tmp_path / "run")
    assert path == tmp_path / "run.npz" and path.is_file()
    back = Solution.load(path)
    np.testing.assert_array_equal(back.t, heat.t)
    np.testing.assert_array_equal(back.frames, heat.frames)
    assert back.frames.dtype == heat.frames.dtype
    np.testing.assert_array_equal(back.final, heat.final)
    assert back.stats == heat.stats and back.state == ("u",)
    assert back.spacing == (0.5, 0.25) and back.origin == (0.0, 0.0)
    assert Solution.load(tmp_path / "run").stats == heat.stats  # the suffix may be left out


def test_save_and_load_a_system(system, tmp_path):
    back = Solution.load(system.save(tmp_path / "sys.npz"))
    assert isinstance(back.frames, dict) and list(back.frames) == ["u", "v"]
    for name in ("u", "v"):
        np.testing.assert_array_equal(back.frames[name], system.frames[name])
        np.testing.assert_array_equal(back.final[name], system.final[name])
    assert back.stats == system.stats and back.spacing == system.spacing


def test_save_needs_no_xarray(heat, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    back = Solution.load(heat.save(tmp_path / "plain.npz"))
    np.testing.assert_array_equal(back.frames, heat.frames)


def test_load_refuses_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(StencilError, match="not a Solution written by Solution.save"):
        Solution.load(tmp_path / "other.npz")


# --- movies -----------------------------------------------------------------------------------


def ramp(axis, n=(8, 6), frames=3):
    """A solution whose value grows along `axis`, in its last frame from 0 at the first cell to 1
    at the last (earlier frames are fainter copies: identical frames would be merged in a GIF)."""
    i = np.arange(n[axis]) / (n[axis] - 1)
    field = np.broadcast_to(i.reshape([-1 if ax == axis else 1 for ax in range(2)]), n)
    stack = np.stack([field * (k + 1) / frames for k in range(frames)])
    return Solution(np.linspace(0, 1, frames), stack, stack[-1], {"steps": frames - 1}, state=("u",))


def test_gif_has_x_to_the_right_and_y_upwards(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    pytest.importorskip("matplotlib")
    path = stencilc.movie(ramp(0), tmp_path / "x.gif", cmap="gray", scale=4)
    images = iio.imread(path)
    assert images.shape[:3] == (3, 24, 32)          # 3 frames; 6 cells (y) tall, 8 (x) wide
    grey = images[-1, ..., 0].astype(int)
    assert grey[:, 0].max() < 20 and grey[:, -1].min() > 235        # dark at x = 0, light at the far end
    grey = iio.imread(stencilc.movie(ramp(1), tmp_path / "y.gif", cmap="gray", scale=4))[-1, ..., 0].astype(int)
    assert grey[-1, :].max() < 20 and grey[0, :].min() > 235        # dark at the bottom (y = 0)


def test_mp4_of_a_system_field(system, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("matplotlib")
    path = stencilc.movie(system, tmp_path / "v.mp4", field="v", fps=5)
    assert path.stat().st_size > 0
    with imageio.get_reader(path, format="FFMPEG") as reader:
        frames = [f for f in reader]
    assert len(frames) == len(system.t)
    assert frames[0].shape[0] % 2 == 0 and frames[0].shape[1] % 2 == 0


def test_movie_errors(heat, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    with pytest.raises(StencilError, match=r"must end in \.mp4 or \.gif"):
        stencilc.movie(heat, tmp_path / "out.avi")
    with pytest.raises(StencilError, match="'w' is not a state field"):
        stencilc.movie(heat, tmp_path / "out.gif", field="w")
    line = Solution(np.array([0.0, 1.0]), np.zeros((2, 5)), np.zeros(5), {})
    with pytest.raises(StencilError, match="2-D or 3-D"):
        stencilc.movie(line, tmp_path / "out.gif")
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(StencilError) as caught:
        stencilc.movie(heat, tmp_path / "out.mp4")
    assert 'imageio_ffmpeg: pip install "stencilc[movie]"' in str(caught.value)
    assert "\n" not in str(caught.value)


# --- reprs ------------------------------------------------------------------------------------


def test_solution_repr_is_short():
    k = compile_stencil(a * laplace(u), state=u, backend="numpy")
    sol = integrate(k, np.full((100, 100), 0.123456789), t_end=1.0, dt=0.1, record_every=0.1,
                    inputs={"a": 0.1})
    text = repr(sol)
    assert len(text) < 300 and "\n" not in text and "0.1234" not in text
    assert text.startswith("<Solution u: 11 frames of 100x100 float64 at t = 0, 0.1, …, 1;")
    assert f"steps={sol.stats['steps']}" in text and "rhs_evals=" in text
    html = sol._repr_html_()
    assert html.startswith("<table") and "100x100" in html and "0.1234" not in html


def test_stencil_repr_shows_equations_bc_backend_dtype_radius():
    k = compile_stencil({u: a * laplace(u) - u * v, v: u}, backend="numpy", dtype="float32",
                        bc={"u": ("periodic", ("dirichlet:1.5", "neumann")), "v": ("periodic", "neumann")})
    text = repr(k)
    assert text.startswith("<Stencil numpy float32 2-D radius=1")
    assert f"du/dt = {a * laplace(u) - u * v}" in text and "dv/dt = u" in text
    assert "u: x periodic, y dirichlet:1.5/neumann; v: x periodic, y neumann" in text
    assert "params a" in text
    simple = compile_stencil(laplace(u), backend="numpy")
    assert repr(simple).endswith("bc: neumann>")
    assert "du/dt = laplace(u)" in simple._repr_html_()
    latex = simple._repr_latex_()
    assert latex.startswith("$") and latex.endswith("$") and r"\nabla^{2}" in latex
    assert r"\partial t" in latex and r"\begin{aligned}" in k._repr_latex_()


# --- honest timings ---------------------------------------------------------------------------

SLOW = 0.3


def slowed(k, monkeypatch):
    """Make `k` build its lazy variants SLOW seconds slower; returns the names it builds."""
    built, build = [], k._stepping._build_variant

    def slow(name):
        time.sleep(SLOW)
        built.append(name)
        return build(name)
    monkeypatch.setattr(k._stepping, "_build_variant", slow)
    return built


def test_the_fused_euler_compile_is_kept_out_of_the_clock(monkeypatch):
    k = compile_stencil(a * laplace(u), state=u, backend="numpy", cache=False)
    built = slowed(k, monkeypatch)
    u0 = np.ones((8, 8))
    sol = integrate(k, u0, t_end=0.1, dt=0.05, method="euler", inputs={"a": 1.0})
    assert built == ["euler"]
    assert sol.stats["compile_seconds"] >= SLOW
    assert sol.stats["wall_seconds"] < SLOW
    again = integrate(k, u0, t_end=0.1, dt=0.05, method="euler", inputs={"a": 1.0})
    assert built == ["euler"] and again.stats["compile_seconds"] < 0.05


def test_the_in_place_sweep_is_compiled_before_the_clock(monkeypatch):
    # every grid steps in place (the module, not the function stencilc.integrate)
    monkeypatch.setattr(importlib.import_module("stencilc.integrate"), "_IN_PLACE_MIN_BYTES", 0)
    k = compile_stencil(a * laplace(u), state=u, backend="numpy", cache=False)
    built = slowed(k, monkeypatch)
    sol = integrate(k, np.ones((8, 8)), t_end=0.1, dt=0.05, method="euler", inputs={"a": 1.0},
                    record_initial=False)
    assert built == ["euler_window"]
    assert sol.stats["compile_seconds"] >= SLOW and sol.stats["wall_seconds"] < SLOW


def test_rk4_builds_nothing_and_reports_zero(monkeypatch):
    k = compile_stencil(a * laplace(u), state=u, backend="numpy")
    built = slowed(k, monkeypatch)
    sol = integrate(k, np.ones((4, 4)), t_end=0.1, dt=0.05, inputs={"a": 1.0})
    assert built == [] and sol.stats["compile_seconds"] == 0


# --- the compile notice -----------------------------------------------------------------------


def slow_builds(monkeypatch):
    """Builds that take SLOW seconds more, and a notice after a tenth of that."""
    build = api._cache.build_uncached

    def slow(populate):
        time.sleep(SLOW)
        return build(populate)
    monkeypatch.setattr(api._cache, "build_uncached", slow)
    monkeypatch.setattr(api, "NOTICE_SECONDS", SLOW / 10)


def test_a_slow_compile_says_so_on_stderr(monkeypatch, capsys):
    monkeypatch.delenv("STENCILC_QUIET", raising=False)
    slow_builds(monkeypatch)
    compile_stencil(laplace(u), backend="numpy", cache=False)
    err = capsys.readouterr().err
    assert err == "stencilc: compiling numpy kernel for u (cache=False: every time) ...\n"


def test_stencilc_quiet_silences_the_notice(monkeypatch, capsys):
    monkeypatch.setenv("STENCILC_QUIET", "1")
    slow_builds(monkeypatch)
    compile_stencil(laplace(u), backend="numpy", cache=False)
    assert capsys.readouterr().err == ""


def test_a_cached_kernel_prints_no_notice(monkeypatch, capsys):
    monkeypatch.delenv("STENCILC_QUIET", raising=False)
    compile_stencil(laplace(v) + 1, backend="numpy")     # now in the cache
    capsys.readouterr()
    monkeypatch.setattr(api, "NOTICE_SECONDS", 0.0)
    k = compile_stencil(laplace(v) + 1, backend="numpy")
    time.sleep(0.05)
    assert k.from_cache and capsys.readouterr().err == ""
