"""Tests for stencilc.iterate: discrete maps u <- F(u) against hand-written NumPy maps.

The oracles never go through stencilc: a coupled map lattice stepped with the ghost-cell Laplacian
of tests/reference.py, a two-field map on a periodic ring and Conway's Game of Life written with
np.roll. The Mandelbrot map, against the seed's NumPy version, is in test_mandelbrot.py.
"""

import numpy as np
import pytest
import sympy as sp

import reference as ref
from stencilc import Field, StencilError, compile_stencil, iterate, laplace, shift

BACKENDS = ["numpy", "c", "numba"]
u, v = Field("u"), Field("v")
r, eps = sp.Symbol("r"), sp.Symbol("eps")
_compiled = {}


def stencil(name, backend):
    """The test maps, compiled once per backend (numba skipped when it is not installed)."""
    if backend == "numba":
        pytest.importorskip("numba")
    if (name, backend) not in _compiled:
        if name == "lattice":      # a coupled map lattice with zero-flux walls
            k = compile_stencil(r * u * (1 - u) + eps * laplace(u), state=u, bc="neumann",
                                backend=backend)
        elif name == "ring":       # two fields on a periodic ring
            k = compile_stencil({u: r * u * (1 - u) + eps * laplace(u) + (v - u) / 10,
                                 v: (u + v) / 2},
                                ndim=1, bc="periodic", backend=backend)
        elif name == "life":       # Conway's Game of Life on a torus, neighbours by shift
            k = compile_stencil(LIFE, state=u, bc="periodic", backend=backend)
        _compiled[name, backend] = k
    return _compiled[name, backend]


# B3/S23: born with 3 live neighbours, survives with 2 or 3 (cells are 0.0 or 1.0, the counts exact)
NEIGHBOURS = sum(shift(u, (i, j)) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0))
LIFE = sp.Piecewise((1, (NEIGHBOURS > 2.5) & (NEIGHBOURS < 3.5)),
                    (1, (u > 0.5) & (NEIGHBOURS > 1.5) & (NEIGHBOURS < 2.5)), (0, True))


def life_oracle(cells, steps):
    """Game of Life on a torus with np.roll (bools), every state."""
    out = [cells.astype(bool)]
    for _ in range(steps):
        c = out[-1]
        n = sum(np.roll(c, (i, j), axis=(0, 1)).astype(int)
                for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0))
        out.append((n == 3) | (c & (n == 2)))
    return out


def lattice_oracle(u0, steps, r, eps):
    """Every state of the lattice map, from the ghost-cell Laplacian of tests/reference.py."""
    bcs = [(ref.NEUMANN, ref.NEUMANN)] * u0.ndim
    out = [u0]
    for _ in range(steps):
        x = out[-1]
        out.append(r * x * (1 - x) + eps * ref.laplace(x, bcs))
    return out


def ring_oracle(a, b, steps, r, eps):
    out = [(a, b)]
    for _ in range(steps):
        x, y = out[-1]
        lap = np.roll(x, 1) + np.roll(x, -1) - 2 * x
        out.append((r * x * (1 - x) + eps * lap + (y - x) / 10, (x + y) / 2))
    return out


U0 = np.random.default_rng(7).uniform(0.2, 0.8, (9, 7))


@pytest.mark.parametrize("backend", BACKENDS)
def test_coupled_map_lattice_matches_numpy_every_recorded_step(backend):
    u0 = U0.copy()
    sol = iterate(stencil("lattice", backend), u0, steps=25, record_every=10,
                  inputs={"r": 2.9, "eps": 0.05})
    np.testing.assert_array_equal(u0, U0)                   # initial never modified
    np.testing.assert_array_equal(sol.t, [0, 10, 20, 25])
    assert sol.t.dtype == np.int64
    expected = lattice_oracle(U0, 25, 2.9, 0.05)
    for frame, n in zip(sol.frames, sol.t):
        np.testing.assert_allclose(frame, expected[n], rtol=0, atol=1e-12)
    assert sol.final is not u0 and np.shares_memory(sol.final, sol.frames[-1])
    assert sol.stats["steps"] == sol.stats["rhs_evals"] == 25


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_system_of_two_fields(backend):
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.3, 0.7, 16), rng.uniform(0.3, 0.7, 16)
    keep = a.copy(), b.copy()
    sol = iterate(stencil("ring", backend), {"v": b, "u": a}, steps=12, record_every=4,
                  inputs={"r": 2.8, "eps": 0.2})
    np.testing.assert_array_equal(a, keep[0])
    np.testing.assert_array_equal(b, keep[1])
    expected = ring_oracle(a, b, 12, 2.8, 0.2)
    assert set(sol.frames) == {"u", "v"} and sol.frames["u"].shape == (4, 16)
    for i, n in enumerate(sol.t):
        np.testing.assert_allclose(sol.frames["u"][i], expected[n][0], rtol=0, atol=1e-13)
        np.testing.assert_allclose(sol.frames["v"][i], expected[n][1], rtol=0, atol=1e-13)
    np.testing.assert_allclose(sol.final["v"], expected[12][1], rtol=0, atol=1e-13)


@pytest.mark.parametrize("steps, every, marks", [(7, None, [0, 7]), (7, 3, [0, 3, 6, 7]),
                                                 (9, 3, [0, 3, 6, 9]), (2, 5, [0, 2]),
                                                 (1, 1, [0, 1]), (0, None, [0]), (0, 4, [0])])
def test_recorded_steps(steps, every, marks):
    sol = iterate(stencil("lattice", "c"), U0, steps=steps, record_every=every,
                  inputs={"r": 2.9, "eps": 0.05})
    np.testing.assert_array_equal(sol.t, marks)
    assert sol.frames.shape == (len(marks),) + U0.shape
    expected = lattice_oracle(U0, steps, 2.9, 0.05)
    for frame, n in zip(sol.frames, marks):
        np.testing.assert_allclose(frame, expected[n], rtol=0, atol=1e-12)
    assert sol.stats["steps"] == steps


def test_zero_steps_is_a_copy_of_the_initial_state():
    u0 = U0.copy()
    sol = iterate(stencil("lattice", "numpy"), u0, steps=0, inputs={"r": 2.9, "eps": 0.05})
    np.testing.assert_array_equal(sol.final, U0)
    assert not np.shares_memory(sol.final, u0)
    assert sol.stats["calls"] == 0


@pytest.mark.parametrize("bad", [-1, 2.5, 3.0, True, "3", None])
def test_bad_steps_are_refused(bad):
    with pytest.raises(StencilError, match=r"steps must be a non-negative integer .*got"):
        iterate(stencil("lattice", "numpy"), U0, steps=bad, inputs={"r": 2.9, "eps": 0.05})


@pytest.mark.parametrize("bad", [0, -2, 1.5, False])
def test_bad_record_every_is_refused(bad):
    with pytest.raises(StencilError, match=r"record_every must be a positive integer .*got"):
        iterate(stencil("lattice", "numpy"), U0, steps=3, record_every=bad,
                inputs={"r": 2.9, "eps": 0.05})


def test_other_mistakes_name_what_was_wrong():
    k = stencil("lattice", "numpy")
    with pytest.raises(StencilError, match="callback must be callable"):
        iterate(k, U0, steps=3, callback=3, inputs={"r": 2.9, "eps": 0.05})
    with pytest.raises(StencilError, match="'t'.*step count"):
        iterate(k, U0, steps=3, inputs={"r": 2.9, "eps": 0.05, "t": 1})
    with pytest.raises(StencilError, match="'u' is a state field"):
        iterate(k, U0, steps=3, inputs={"r": 2.9, "eps": 0.05, "u": U0})
    with pytest.raises(StencilError, match="dtype float32"):
        iterate(k, U0.astype(np.float32), steps=3, inputs={"r": 2.9, "eps": 0.05})
    with pytest.raises(TypeError, match="missing argument.*'eps'"):
        iterate(k, U0, steps=3, inputs={"r": 3.2})


class _Counting:
    """Wraps a compiled map variant, counting its single-step calls and its driver's steps."""

    def __init__(self, run):
        self.run, self.single, self.chunks = run, 0, []
        if hasattr(run, "steps"):
            self.steps = self._steps

    def __call__(self, *args):
        self.single += 1
        return self.run(*args)

    def _steps(self, *args):
        self.chunks.append(args[-1])
        return self.run.steps(*args)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_steps_between_frames_run_in_one_driver_call(backend):
    k = compile_stencil(r * u * (1 - u) + eps * laplace(u), state=u, bc="neumann", backend=backend)
    counting = _Counting(k._stepping.variant("map"))
    k._stepping._variants["map"] = counting
    sol = iterate(k, U0, steps=50, record_every=20, inputs={"r": 2.9, "eps": 0.05})
    np.testing.assert_allclose(sol.final, lattice_oracle(U0, 50, 2.9, 0.05)[-1], rtol=0, atol=1e-12)
    assert sol.stats["calls"] == 3
    if backend == "c":        # the compiled driver: the steps of each stretch in one call
        assert counting.chunks == [20, 20, 10] and counting.single == 0
    else:                     # no driver: the map kernel once per step
        assert counting.single == 50


def test_callback_sees_every_step():
    seen = []
    expected = lattice_oracle(U0, 6, 2.9, 0.05)
    sol = iterate(stencil("lattice", "c"), U0, steps=6, inputs={"r": 2.9, "eps": 0.05},
                  callback=lambda n, state: seen.append((n, state.copy())))
    assert [n for n, _ in seen] == [1, 2, 3, 4, 5, 6] and sol.stats["calls"] == 6
    for n, state in seen:
        np.testing.assert_allclose(state, expected[n], rtol=0, atol=1e-12)


def test_progress_bar_counts_steps(capsys):
    iterate(stencil("lattice", "c"), U0, steps=300, inputs={"r": 2.9, "eps": 0.05}, progress=True)
    err = capsys.readouterr().err
    assert "step=300/300" in err and "steps/s" in err


class _Clock:
    """A time-dependent map written by hand (u <- u + t), standing in for a compiled stencil."""
    state, ndim, dtype, time_dependent = ("u",), 1, "float64", True

    def __init__(self):
        self.times = []

    def __call__(self, x, *, out, t):
        self.times.append(t)
        np.add(x, t, out=out)
        return out


def test_time_dependent_map_gets_the_step_count_as_t():
    clock = _Clock()
    sol = iterate(clock, np.zeros(3), steps=5, record_every=2)
    assert clock.times == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(sol.final, np.full(3, 0 + 1 + 2 + 3 + 4))
    np.testing.assert_array_equal(sol.frames[:, 0], [0, 1, 6, 10])


def test_step_counts_survive_save_and_load(tmp_path):
    sol = iterate(stencil("lattice", "numpy"), U0, steps=4, record_every=2,
                  inputs={"r": 2.9, "eps": 0.05})
    back = type(sol).load(sol.save(tmp_path / "run"))
    assert back.t.dtype == np.int64
    np.testing.assert_array_equal(back.t, [0, 2, 4])
    np.testing.assert_allclose(back.final, lattice_oracle(U0, 4, 2.9, 0.05)[-1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_game_of_life_matches_numpy_over_many_steps(backend):
    soup = (np.random.default_rng(11).random((24, 19)) < 0.35).astype(np.float64)
    sol = iterate(stencil("life", backend), soup, steps=60, record_every=6)
    expected = life_oracle(soup, 60)
    for frame, n in zip(sol.frames, sol.t):
        np.testing.assert_array_equal(frame, expected[n].astype(np.float64), err_msg=f"step {n}")
    assert 0 < sol.final.sum() < soup.sum()      # the soup neither died out nor stayed put


def test_a_glider_returns_translated_by_one_cell_diagonally_every_four_steps():
    glider = np.zeros((10, 12))
    glider[[0, 1, 2, 2, 2], [1, 2, 0, 1, 2]] = 1
    sol = iterate(stencil("life", "c"), glider, steps=40, record_every=4)
    for i, n in enumerate(sol.t):
        np.testing.assert_array_equal(sol.frames[i], np.roll(glider, (n // 4, n // 4), axis=(0, 1)))
    assert not np.array_equal(iterate(stencil("life", "c"), glider, steps=2).final, glider)
