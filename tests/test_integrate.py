"""Tests for stencilc.integrate.

Every accuracy test compares against an oracle that does not go through the integrator: closed-form
solutions of the semi-discrete problems (exp(-a t), the decay of a discrete cosine eigenmode of the
Neumann Laplacian, u0 / (1 + a u0 t), sin(t) for du/dt = cos(t)), Euler's closed-form product, or
hand-written NumPy loops (Gray–Scott RK4 with np.roll, the seed's Kuramoto `NumpySolver.dudt` with
Euler).
"""

import math
import re
import tracemalloc
import warnings

import numpy as np
import pytest
import sympy as sp

from stencilc import Field, Solution, StencilError, compile_stencil, div, grad, integrate, laplace
from reference import seed_numpy_dudt  # the seed's NumpySolver.dudt (tests/reference.py)

BACKENDS = ["numpy", "c"]
FIXED_ORDERS = {"euler": 1, "heun": 2, "rk4": 4}

u_, v_, theta_, omega_ = Field("u"), Field("v"), Field("theta"), Field("omega")
a_, K_ = sp.Symbol("a"), sp.Symbol("K")
Du_, Dv_, F_, kappa_ = sp.symbols("Du Dv F kappa")

RHS = {
    "decay": dict(rhs=-a_ * u_, state=u_),
    "square": dict(rhs=-a_ * u_**2, state=u_),
    "root": dict(rhs=-sp.sqrt(u_), state=u_),
    "heat": dict(rhs=laplace(u_), state=u_, bc="neumann"),
    "gray_scott": dict(rhs={u_: Du_ * laplace(u_) - u_ * v_**2 + F_ * (1 - u_),
                            v_: Dv_ * laplace(v_) + u_ * v_**2 - (F_ + kappa_) * v_},
                       bc="periodic"),
    "kuramoto": dict(rhs=omega_ + K_ * div(sp.sin(grad(theta_))), state=theta_, bc="neumann"),
}
_compiled = {}


def stencil(name, backend, dtype="float64"):
    """The named right-hand side compiled once per backend and dtype; a backend that cannot be
    built here (no compiler, no OpenMP) is skipped."""
    key = (name, backend, dtype)
    if key not in _compiled:
        try:
            _compiled[key] = compile_stencil(backend=backend, dtype=dtype, **RHS[name])
        except StencilError as error:
            unavailable = r"(?i)unavailable|not available|no c compiler|does not run|no openmp"
            if backend != "numpy" and re.search(unavailable, str(error)):
                pytest.skip(f"backend {backend!r} unavailable: {error}")
            raise
    return _compiled[key]


def observed_orders(errors):
    """Orders between successive halvings of dt."""
    return [math.log2(coarse / fine) for coarse, fine in zip(errors, errors[1:])]


def cosine_mode(shape, modes):
    """A product of cosines that is an eigenvector of the cell-centred Neumann Laplacian (h = 1),
    and its eigenvalue λ: laplace(mode) = -λ·mode, so u(t) = mode·exp(-λ t) exactly."""
    mode, lam = np.ones(shape), 0.0
    for axis, (n, k) in enumerate(zip(shape, modes)):
        i = np.arange(n).reshape([-1 if ax == axis else 1 for ax in range(len(shape))])
        mode = mode * np.cos(np.pi * k * (i + 0.5) / n)
        lam += 4 * np.sin(np.pi * k / (2 * n)) ** 2
    return mode, lam


DECAY_A = 1.5
DECAY_U0 = np.linspace(0.5, 2.0, 20).reshape(4, 5)
# λ ≈ 2.26: over t = 1 the time error dominates, far above round-off.
HEAT_U0, HEAT_LAMBDA = cosine_mode((32, 24), (12, 8))


def decay_error(backend, method, dt, **options):
    sol = integrate(stencil("decay", backend), DECAY_U0, t_end=1.0, dt=dt, method=method,
                    inputs={"a": DECAY_A}, **options)
    return np.abs(sol.final - DECAY_U0 * np.exp(-DECAY_A)).max(), sol


def heat_error(backend, method, dt, **options):
    sol = integrate(stencil("heat", backend), HEAT_U0, t_end=1.0, dt=dt, method=method, **options)
    return np.abs(sol.final - HEAT_U0 * np.exp(-HEAT_LAMBDA)).max(), sol


# --- accuracy -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_heat_oracle_is_an_eigenmode_of_the_compiled_laplacian(backend):
    # Guards the oracle (and tells a compiler fault from an integrator fault).
    rhs = stencil("heat", backend)(HEAT_U0)
    np.testing.assert_allclose(rhs, -HEAT_LAMBDA * HEAT_U0, rtol=0, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", FIXED_ORDERS)
@pytest.mark.parametrize("problem", [decay_error, heat_error], ids=["decay", "heat"])
def test_observed_order_of_fixed_step_methods(problem, method, backend):
    # Largest error at dt = 0.1 (rk4: ~1e-7 decay, ~1e-6 heat), far above round-off.
    errors = [problem(backend, method, dt)[0] for dt in (0.1, 0.05, 0.025)]
    tolerance = 0.5 if method == "rk4" else 0.3
    for order in observed_orders(errors):
        assert abs(order - FIXED_ORDERS[method]) < tolerance, (errors, observed_orders(errors))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("problem, scale", [(decay_error, DECAY_U0.max() * np.exp(-DECAY_A)),
                                            (heat_error, np.exp(-HEAT_LAMBDA))],
                         ids=["decay", "heat"])
def test_rk45_meets_its_tolerance(problem, scale, backend):
    rtol = 1e-6
    error, sol = problem(backend, "rk45", 0.5, rtol=rtol, atol=1e-9)
    assert error <= 10 * rtol * scale
    stats = sol.stats
    assert stats["rhs_evals"] == 1 + 6 * (stats["steps"] + stats["rejected"])
    # A first step of 0.5 is too long for the heat mode (λ ≈ 2.26): the controller must reject it.
    assert problem is decay_error or stats["rejected"] >= 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_rk45_needs_fewer_steps_than_rk4_at_equal_error_on_a_stiffish_problem(backend):
    # u_t = -a u² decays fast while u is large (stiffness -2 a u up to -40) and slowly later:
    # a fixed step must resolve the start for the whole run, an adaptive one need not.
    k = stencil("square", backend)
    u0 = np.linspace(1.0, 20.0, 64).reshape(8, 8)
    t_end, inputs = 10.0, {"a": 1.0}
    exact = u0 / (1 + u0 * t_end)
    adaptive = integrate(k, u0, t_end=t_end, dt=0.01, method="rk45", inputs=inputs)
    adaptive_error = np.abs(adaptive.final - exact).max()
    assert adaptive_error <= 10 * 1e-6 * exact.max()

    steps = 10  # smallest RK4 step count (to within 25 %) that is as accurate as RK45
    while True:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fixed = integrate(k, u0, t_end=t_end, dt=t_end / steps, method="rk4",
                                  inputs=inputs)
                error = np.abs(fixed.final - exact).max()
            except StencilError:  # unstable at this step: blew up
                error = math.inf
        if error <= adaptive_error:
            break
        steps = int(steps * 1.25) + 1
    assert fixed.stats["steps"] == steps
    assert adaptive.stats["steps"] < steps
    assert adaptive.stats["rhs_evals"] < fixed.stats["rhs_evals"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_gray_scott_system_matches_a_hand_written_numpy_rk4(backend):
    params = {"Du": 0.16, "Dv": 0.08, "F": 0.035, "kappa": 0.06}
    rng = np.random.default_rng(4)
    n = 32
    u0, v0 = np.ones((n, n)), np.zeros((n, n))
    u0[12:20, 12:20], v0[12:20, 12:20] = 0.5, 0.25
    u0 += 0.02 * rng.random((n, n))
    v0 += 0.02 * rng.random((n, n))
    dt, steps, every = 1.0, 60, 20

    def lap(x):
        return np.roll(x, 1, 0) + np.roll(x, -1, 0) + np.roll(x, 1, 1) + np.roll(x, -1, 1) - 4 * x

    def f(u, v):
        uvv = u * v * v
        return (params["Du"] * lap(u) - uvv + params["F"] * (1 - u),
                params["Dv"] * lap(v) + uvv - (params["F"] + params["kappa"]) * v)

    u, v = u0.copy(), v0.copy()
    expected = [(u.copy(), v.copy())]
    for step in range(1, steps + 1):
        k1 = f(u, v)
        k2 = f(u + dt / 2 * k1[0], v + dt / 2 * k1[1])
        k3 = f(u + dt / 2 * k2[0], v + dt / 2 * k2[1])
        k4 = f(u + dt * k3[0], v + dt * k3[1])
        u = u + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v = v + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        if step % every == 0:
            expected.append((u.copy(), v.copy()))

    seen = []
    sol = integrate(stencil("gray_scott", backend), {"u": u0, "v": v0}, t_end=steps * dt, dt=dt,
                    method="rk4", inputs=params, record_every=every * dt,
                    callback=lambda t, state: seen.append((t, sorted(state))))
    assert set(sol.final) == set(sol.frames) == {"u", "v"}
    assert sol.frames["u"].shape == sol.frames["v"].shape == (len(expected), n, n)
    np.testing.assert_array_equal(sol.t, [0.0, 20.0, 40.0, 60.0])
    for i, (u_i, v_i) in enumerate(expected):
        np.testing.assert_allclose(sol.frames["u"][i], u_i, rtol=0, atol=1e-12)
        np.testing.assert_allclose(sol.frames["v"][i], v_i, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sol.final["u"], u, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sol.final["v"], v, rtol=0, atol=1e-12)
    assert abs(u - u0).max() > 1e-2  # the pattern did evolve
    assert len(seen) == steps and all(names == ["u", "v"] for _, names in seen)


@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_kuramoto_run_reproduces_the_seed_numpy_solver_with_euler(backend):
    N, T, K, dt = 100, 10.0, 2.0, 0.1
    rng = np.random.default_rng(2026)
    theta0 = rng.uniform(0, 2 * np.pi, (N, N))
    omega = rng.uniform(-1, 1, (N, N))

    theta = theta0.copy()
    for _ in range(round(T / dt)):
        theta = theta + dt * seed_numpy_dudt(theta, omega, K)

    sol = integrate(stencil("kuramoto", backend), theta0, t_end=T, dt=dt, method="euler",
                    inputs={"omega": omega, "K": K})
    assert sol.stats["steps"] == 100 and sol.stats["rhs_evals"] == 100
    np.testing.assert_allclose(sol.final, theta, rtol=0, atol=1e-10)


# --- recording, callback, bookkeeping -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["euler", "heun", "rk4", "rk45"])
def test_times_frames_and_callback(method, backend):
    k = stencil("heat", backend)
    u0 = np.random.default_rng(0).random((6, 7))
    u0_before = u0.copy()
    seen = []

    def callback(t, state):
        assert state.shape == u0.shape
        seen.append(t)

    sol = integrate(k, u0, t_end=1.0, dt=0.1, method=method, record_every=0.25, callback=callback)
    assert isinstance(sol, Solution)
    np.testing.assert_array_equal(u0, u0_before)
    np.testing.assert_array_equal(sol.t, [0.0, 0.25, 0.5, 0.75, 1.0])
    assert sol.frames.shape == (5, 6, 7) and sol.frames.dtype == np.float64
    np.testing.assert_array_equal(sol.frames[0], u0)
    np.testing.assert_array_equal(sol.frames[-1], sol.final)
    assert set(sol.stats) == {"steps", "rejected", "rhs_evals", "wall_seconds", "compile_seconds"}
    assert sol.stats["wall_seconds"] > 0 and sol.stats["compile_seconds"] >= 0
    assert len(seen) == sol.stats["steps"]
    assert all(t0 < t1 for t0, t1 in zip(seen, seen[1:]))
    assert set(sol.t[1:]) <= set(seen)  # steps land exactly on every recording time
    assert seen[-1] == 1.0
    if method != "rk45":
        # dt = 0.1 does not divide 0.25: per frame interval 0.1, 0.1 and a shortened 0.05.
        assert sol.stats["steps"] == 12 and sol.stats["rejected"] == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_shortened_steps_follow_eulers_closed_form(backend):
    # Euler on u' = -a u multiplies by (1 - a h) per step of length h, so the frames tell which
    # steps were taken: record_every = 0.3 with dt = 0.125 takes 0.125, 0.125, 0.05 per frame and
    # ends with 0.1 = 1 - 0.9 (0.125 would overshoot t_end).
    u0 = np.full((3, 3), 2.0)
    sol = integrate(stencil("decay", backend), u0, t_end=1.0, dt=0.125, method="euler",
                    inputs={"a": DECAY_A}, record_every=0.3)
    np.testing.assert_allclose(sol.t, [0.0, 0.3, 0.6, 0.9, 1.0], rtol=0, atol=1e-15)
    assert sol.t[-1] == 1.0
    per_frame = (1 - DECAY_A * 0.125) ** 2 * (1 - DECAY_A * 0.05)
    expected = [2.0 * per_frame**i for i in range(4)] + [2.0 * per_frame**3 * (1 - DECAY_A * 0.1)]
    np.testing.assert_allclose(sol.frames[:, 1, 1], expected, rtol=1e-14)
    assert sol.stats["steps"] == 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_record_every_only_start_and_end_are_recorded(backend):
    u0 = DECAY_U0.copy()
    sol = integrate(stencil("decay", backend), u0, t_end=0.7, dt=0.1, method="rk4",
                    inputs={"a": DECAY_A})
    np.testing.assert_array_equal(sol.t, [0.0, 0.7])
    assert sol.frames.shape == (2,) + u0.shape
    assert sol.stats["steps"] == 7  # 0.7 / 0.1 is 6.999...: no extra sliver of a step
    np.testing.assert_array_equal(u0, DECAY_U0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_recorded_frame_equals_a_shorter_run(backend):
    k = stencil("heat", backend)
    u0 = np.random.default_rng(1).random((8, 8))
    long = integrate(k, u0, t_end=1.0, dt=0.125, method="rk4", record_every=0.25)
    short = integrate(k, u0, t_end=0.5, dt=0.125, method="rk4")
    np.testing.assert_array_equal(long.frames[2], short.final)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["rk4", "rk45"])
def test_float32_state_stays_float32(method, backend):
    k = stencil("heat", backend, dtype="float32")
    u0 = HEAT_U0.astype(np.float32)
    sol = integrate(k, u0, t_end=1.0, dt=0.05, method=method, rtol=1e-4, atol=1e-6,
                    record_every=0.5)
    assert sol.final.dtype == np.float32 and sol.frames.dtype == np.float32
    assert np.abs(sol.final - HEAT_U0 * np.exp(-HEAT_LAMBDA)).max() < 1e-4


def test_progress_bar_shows_time_and_steps_per_second(capsys):
    integrate(stencil("decay", "numpy"), DECAY_U0, t_end=1.0, dt=0.1, inputs={"a": 1.0},
              progress=True)
    err = capsys.readouterr().err
    assert "t=1/1" in err and "steps/s" in err


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_blow_up_stops_with_time_and_step(method, backend):
    u0 = np.random.default_rng(2).random((32, 32))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Stable only for dt < 0.25 (euler) or ≈ 0.35 (rk4) on the 2-D 5-point Laplacian.
        with pytest.raises(StencilError, match=r"non-finite.*t=\S+ \(step \d+.*smaller dt"):
            integrate(stencil("heat", backend), u0, t_end=1e4, dt=5.0, method=method)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["euler", "heun", "rk4", "rk45"])
def test_finite_time_blow_up_is_reported(method, backend):
    # u' = -a u² from u0 = -1 is -1 / (1 - t): it leaves every float before t = 1.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(StencilError, match=r"at t=\S+ \(step \d+") as info:
            integrate(stencil("square", backend), np.full((4, 4), -1.0), t_end=2.0, dt=0.01,
                      method=method, inputs={"a": 1.0})
    t = float(re.search(r"at t=(\S+) ", str(info.value)).group(1))
    # Fixed steps overshoot the singularity a little; the adaptive step homes in on it.
    assert 0.95 < t < 1.5 if method != "rk45" else abs(t - 1) < 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["euler", "rk45"])
def test_a_right_hand_side_that_is_nan_from_the_start_is_reported(method, backend):
    # sqrt(-1): rk45 sees a NaN error estimate, shrinks the step until it gives up.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Euler reports the state after its first step, RK45 the time it could not leave.
        where = r"t=0\.1 \(step 1," if method == "euler" else r"t=0 \(step 1\)"
        with pytest.raises(StencilError, match=where):
            integrate(stencil("root", backend), np.full((4, 4), -1.0), t_end=1.0, dt=0.1,
                      method=method)


def test_non_finite_initial_state_is_refused():
    u0 = DECAY_U0.copy()
    u0[1, 2] = np.nan
    with pytest.raises(StencilError, match="initial 'u' contains NaN"):
        integrate(stencil("decay", "numpy"), u0, t_end=1.0, dt=0.1, inputs={"a": 1.0})


@pytest.mark.parametrize("kwargs, words", [
    (dict(t_end=0.0), ["t_end"]),
    (dict(t_end=-1.0), ["t_end"]),
    (dict(dt=0.0), ["dt"]),
    (dict(dt=float("nan")), ["dt"]),
    (dict(dt=float("inf")), ["dt"]),
    (dict(method="rk5"), ["'rk5'", "'euler'", "'heun'", "'rk4'", "'rk45'"]),
    (dict(record_every=-0.5), ["record_every"]),
    (dict(method="rk45", rtol=-1.0), ["rtol"]),
])
def test_bad_options_are_named(kwargs, words):
    options = dict(t_end=1.0, dt=0.1, inputs={"a": 1.0}) | kwargs
    with pytest.raises(StencilError) as info:
        integrate(stencil("decay", "numpy"), DECAY_U0, **options)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("initial, words", [
    (np.ones((4, 5), dtype=np.float32), ["'u'", "float32", "float64"]),
    (np.ones(20), ["'u'", "dimension"]),
])
def test_initial_dtype_and_ndim_are_checked(initial, words):
    with pytest.raises(StencilError) as info:
        integrate(stencil("decay", "numpy"), initial, t_end=1.0, dt=0.1, inputs={"a": 1.0})
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("initial, word", [
    ({"u": np.ones((4, 4))}, "'v'"),
    ({"u": np.ones((4, 4)), "v": np.ones((4, 4)), "w": np.ones((4, 4))}, "'w'"),
    (np.ones((4, 4)), "dict"),
    ({"u": np.ones((4, 4)), "v": np.ones((4, 5))}, "shape"),
])
def test_system_initial_must_name_exactly_the_state(initial, word):
    params = {"Du": 0.16, "Dv": 0.08, "F": 0.035, "kappa": 0.06}
    with pytest.raises(StencilError, match=re.escape(word)):
        integrate(stencil("gray_scott", "numpy"), initial, t_end=1.0, dt=0.1, inputs=params)


def test_state_field_given_as_input_is_refused():
    with pytest.raises(StencilError, match="'u'"):
        integrate(stencil("decay", "numpy"), DECAY_U0, t_end=1.0, dt=0.1,
                  inputs={"a": 1.0, "u": DECAY_U0})


def test_missing_input_is_the_stencils_type_error():
    with pytest.raises(TypeError, match="a"):
        integrate(stencil("decay", "numpy"), DECAY_U0, t_end=1.0, dt=0.1)


# --- memory ---------------------------------------------------------------------------------------


class TracedRHS:
    """Wraps a stencil to watch the integrator's own memory with tracemalloc.

    The right-hand side may allocate temporaries of its own (the NumPy backend does); those are
    not the integrator's, so the traced peak is reset after each call. What is left is the peak
    between two calls — the integrator's stage updates, bookkeeping, recording and checks — and
    the traced memory right after each call (which must not grow from step to step). Results go
    to preallocated arrays so that the watcher itself allocates nothing that stays alive.
    """

    def __init__(self, k, calls):
        self.k = k
        self.calls = 0
        self.level_after = np.zeros(calls, dtype=np.int64)
        self.peak_before = np.zeros(calls, dtype=np.int64)

    def __getattr__(self, name):
        if name in ("euler_step", "euler_steps"):  # watch the generic path; fused ones are tested apart
            raise AttributeError(name)
        return getattr(self.k, name)

    def __call__(self, *args, **kwargs):
        i = self.calls
        self.peak_before[i] = tracemalloc.get_traced_memory()[1]
        result = self.k(*args, **kwargs)
        tracemalloc.reset_peak()
        self.level_after[i] = tracemalloc.get_traced_memory()[0]
        self.calls += 1
        return result


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method, dt, rtol", [("euler", 0.1, None), ("heun", 0.1, None),
                                              ("rk4", 0.1, None), ("rk45", 0.1, 1e-12)])
def test_no_per_step_allocation(method, dt, rtol, backend):
    u0, _ = cosine_mode((256, 256), (3, 5))
    grid = u0.nbytes  # 512 KiB
    watched = TracedRHS(stencil("heat", backend), calls=2000)
    options = {"rtol": rtol, "atol": 0.0} if rtol else {}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sol = integrate(watched, u0, t_end=20.0, dt=dt, method=method, record_every=5.0,
                        **options)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    steps, calls = sol.stats["steps"], watched.calls
    assert calls == sol.stats["rhs_evals"] and steps >= 40
    # Between two RHS evaluations the integrator may create small Python objects (floats, the
    # callback's dict, ...) but never an array of even a quarter of the grid: one per-step
    # temporary of the grid's size would show here as ≥ 1 grid.
    peaks = watched.peak_before[1:calls] - watched.level_after[:calls - 1]
    assert peaks.max() < grid / 4, peaks.max() / grid
    # The memory held between steps is constant: nothing accumulates (frames are preallocated).
    levels = watched.level_after[1:calls]
    assert levels.max() - levels.min() < grid / 4
    # What remains is the solution: 5 frames, the last of which is `final` (no copy); the work
    # buffers are gone.
    assert np.shares_memory(sol.final, sol.frames[-1])
    held = sol.frames.nbytes
    assert held <= after - before < held + grid / 4


class CountingFused:
    """A stencil whose fused Euler step is counted and whose plain call is refused."""

    def __init__(self, k):
        self.k, self.fused_calls = k, 0

    def __getattr__(self, name):
        if name == "euler_steps":   # one step at a time here; batches are tested below
            raise AttributeError(name)
        return getattr(self.k, name)

    def __call__(self, *args, **kwargs):
        raise AssertionError("the integrator should use the fused Euler step")

    def euler_step(self, *args, **kwargs):
        self.fused_calls += 1
        return self.k.euler_step(*args, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_euler_uses_the_fused_step_and_matches_the_plain_loop(backend):
    u0, _ = cosine_mode((40, 30), (2, 1))
    k = stencil("heat", backend)
    counted = CountingFused(k)
    sol = integrate(counted, u0, t_end=2.0, dt=0.1, method="euler", record_every=0.5)
    assert counted.fused_calls == sol.stats["steps"] == 20
    ref = stencil("heat", "numpy")
    u = u0.copy()
    for _ in range(20):
        u = u + 0.1 * ref(u)
    np.testing.assert_allclose(sol.final, u, rtol=0, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_euler_batches_steps_on_small_grids_and_lands_on_the_same_times(backend):
    """Without a callback, stretches of steps run in one compiled call; results and step counts
    match a step-by-step loop, and recording times are still hit exactly."""
    u0, _ = cosine_mode((16, 12), (1, 2))
    k = stencil("heat", backend)
    calls = []

    class Watch:
        def __getattr__(self, name):
            return getattr(k, name)

        def __call__(self, *a, **kw):
            return k(*a, **kw)

        def euler_steps(self, *a, steps, **kw):
            calls.append(steps)
            return k.euler_steps(*a, steps=steps, **kw)

    sol = integrate(Watch(), u0, t_end=1.0, dt=0.01, method="euler", record_every=0.3)
    assert calls and sum(calls) + len(sol.t) - 1 == sol.stats["steps"] == 100
    np.testing.assert_allclose(sol.t, [0.0, 0.3, 0.6, 0.9, 1.0], rtol=1e-15, atol=0)
    ref = stencil("heat", "numpy")
    u = u0.copy()
    for _ in range(100):
        u = u + 0.01 * ref(u)
    np.testing.assert_allclose(sol.final, u, rtol=0, atol=1e-13)


def test_record_initial_false_keeps_only_the_final_frame_and_steps_in_place(monkeypatch):
    import importlib
    integ = importlib.import_module("stencilc.integrate")
    import stencilc.stepping as st
    monkeypatch.setattr(integ, "_IN_PLACE_MIN_BYTES", 1)     # every grid counts as large here
    monkeypatch.setattr(st, "DRIVER_BLOCK_BYTES", 8 * 24 * 5)      # 5 rows per block
    u0, _ = cosine_mode((40, 24), (3, 5))
    k = stencil("heat", "c")
    calls = []
    real = k.euler_step

    def watched(*a, out=None, **kw):
        calls.append(out is a[0])
        return real(*a, out=out, **kw)
    monkeypatch.setattr(k, "euler_step", watched)
    lean = integrate(k, u0, t_end=1.0, dt=0.1, method="euler", record_initial=False)
    assert calls and all(calls)          # every step was taken in place
    full = integrate(stencil("heat", "numpy"), u0, t_end=1.0, dt=0.1, method="euler")
    assert lean.frames.shape == (1,) + u0.shape and list(lean.t) == [1.0]
    assert np.shares_memory(lean.final, lean.frames[0])
    np.testing.assert_allclose(lean.final, full.final, rtol=0, atol=1e-12)
    assert lean.stats["steps"] == 10


# --- start time and time-dependent right-hand sides -----------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["euler", "heun", "rk4", "rk45"])
def test_t0_shifts_the_times_of_an_autonomous_run(method, backend):
    k = stencil("heat", backend)
    u0 = np.random.default_rng(3).random((6, 5))
    # Every time here is a binary fraction: fixed steps see the same step sizes from t0 = 2.
    options = dict(dt=0.125, method=method, record_every=0.25)
    shifted = integrate(k, u0, t0=2.0, t_end=3.0, **options)
    plain = integrate(k, u0, t_end=1.0, **options)
    np.testing.assert_array_equal(shifted.t, [2.0, 2.25, 2.5, 2.75, 3.0])
    np.testing.assert_array_equal(shifted.t, 2.0 + plain.t)
    if method == "rk45":  # adaptive steps round t + h differently away from 0
        np.testing.assert_allclose(shifted.frames, plain.frames, rtol=1e-9, atol=0)
    else:
        np.testing.assert_array_equal(shifted.frames, plain.frames)
        assert shifted.stats["steps"] == plain.stats["steps"] == 8


def test_t0_with_a_shortened_last_step():
    sol = integrate(stencil("decay", "numpy"), DECAY_U0, t0=-0.35, t_end=0.65, dt=0.1,
                    method="rk4", inputs={"a": DECAY_A}, record_every=0.3)
    np.testing.assert_allclose(sol.t, [-0.35, -0.05, 0.25, 0.55, 0.65], rtol=0, atol=1e-15)
    assert sol.t[0] == -0.35 and sol.t[-1] == 0.65
    assert sol.stats["steps"] == 10  # 3 per interval of 0.3, then one of 0.1
    # RK4's relative error on u' = -a u is about (a h)^5 / 120 ≈ 6e-7 per step of 0.1.
    np.testing.assert_allclose(sol.final, DECAY_U0 * np.exp(-DECAY_A), rtol=1e-5)


class Clock:
    """A time-dependent stand-in for a stencil: du/dt = cos(t) at every point, so that u(t) -
    u(t0) = sin(t) - sin(t0) exactly, and the integrator's error is its quadrature error in t
    alone. It records the time of every evaluation."""

    state, ndim, dtype, time_dependent = ("u",), 2, "float64", True

    def __init__(self):
        self.times = []

    def __call__(self, u, *, out=None, t, **inputs):
        assert not inputs
        self.times.append(t)
        out[...] = math.cos(t)
        return out


CLOCK_TOLERANCE = {"euler": 1e-2, "heun": 1e-4, "rk4": 1e-8, "rk45": 1e-7}


@pytest.mark.parametrize("t0", [0.0, 1.0])
@pytest.mark.parametrize("method", ["euler", "heun", "rk4", "rk45"])
def test_time_dependent_right_hand_side_sees_each_stage_time(method, t0):
    # A wrong stage time costs any method an O(dt) error (Euler's ~5e-3 here, far above these
    # bounds: rk4's ~4e-12, heun's ~1e-5).
    clock = Clock()
    t_end = t0 + math.pi / 2
    sol = integrate(clock, np.zeros((3, 4)), t0=t0, t_end=t_end, dt=0.01, method=method,
                    rtol=1e-9, atol=1e-12)
    error = np.abs(sol.final - (math.sin(t_end) - math.sin(t0))).max()
    assert error < CLOCK_TOLERANCE[method], error
    h = 0.01
    first = {"euler": [t0], "heun": [t0, t0 + h], "rk4": [t0, t0 + h / 2, t0 + h / 2, t0 + h],
             "rk45": [t0] + [t0 + c * h for c in (1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1)]}[method]
    np.testing.assert_allclose(clock.times[:len(first)], first, rtol=0, atol=1e-15)
    assert len(clock.times) == sol.stats["rhs_evals"]
    assert min(clock.times) == t0 and max(clock.times) <= t_end


def test_rk4_on_the_clock_is_accurate_to_1e_8_from_0_to_half_pi():
    sol = integrate(Clock(), np.zeros((2, 2)), t_end=math.pi / 2, dt=0.01, method="rk4")
    assert np.abs(sol.final - 1.0).max() < 1e-8


class FusedClock(Clock):
    """The clock with fused Euler sweeps, which take the time of their (first) step and, for a
    batch, advance it themselves."""

    def __init__(self):
        super().__init__()
        self.step_times, self.batch_times = [], []

    def euler_step(self, u, *, dt, out, t):
        self.step_times.append(t)
        np.add(u, dt * math.cos(t), out=out)
        return out

    def euler_steps(self, u, *, dt, steps, out, t):
        self.batch_times.append((t, steps))
        out[...] = u
        for i in range(steps):
            out += dt * math.cos(t + i * dt)
        return out


def test_fused_and_batched_euler_are_given_the_time():
    clock = FusedClock()
    sol = integrate(clock, np.zeros((3, 3)), t0=1.0, t_end=2.0, dt=0.01, method="euler",
                    record_every=0.25)
    assert clock.times == []          # the fused sweeps did every step
    # Each interval: its full steps in one batch from its start, then the last step alone.
    np.testing.assert_allclose([t for t, _ in clock.batch_times], [1.0, 1.25, 1.5, 1.75],
                               rtol=0, atol=1e-14)
    np.testing.assert_allclose(clock.step_times, [1.24, 1.49, 1.74, 1.99], rtol=0, atol=1e-14)
    assert sum(n for _, n in clock.batch_times) + 4 == sol.stats["steps"] == 100
    plain = integrate(Clock(), np.zeros((3, 3)), t0=1.0, t_end=2.0, dt=0.01, method="euler")
    np.testing.assert_allclose(sol.final, plain.final, rtol=0, atol=1e-13)
    assert np.abs(sol.final - (math.sin(2.0) - math.sin(1.0))).max() < 1e-2

    seen = []
    clock = FusedClock()
    integrate(clock, np.zeros((3, 3)), t0=1.0, t_end=2.0, dt=0.01, method="euler",
              callback=lambda t, state: seen.append(t))
    assert clock.batch_times == []    # a callback needs every step: one fused step at a time
    np.testing.assert_allclose(clock.step_times, [1.0] + seen[:-1], rtol=0, atol=1e-14)


def test_t_in_inputs_is_refused():
    with pytest.raises(StencilError, match=r"'t'.*integrator"):
        integrate(stencil("decay", "numpy"), DECAY_U0, t_end=1.0, dt=0.1,
                  inputs={"a": 1.0, "t": 0})


@pytest.mark.parametrize("kwargs, words", [
    (dict(t0=1.0, t_end=0.5), ["t_end", "t0"]),
    (dict(t0=1.0, t_end=1.0), ["t_end", "t0"]),
    (dict(t0=float("nan")), ["t0"]),
    (dict(t0="soon"), ["t0", "'soon'"]),
])
def test_bad_start_times_are_named_in_one_line(kwargs, words):
    options = dict(t_end=1.0, dt=0.1, inputs={"a": 1.0}) | kwargs
    with pytest.raises(StencilError) as info:
        integrate(stencil("decay", "numpy"), DECAY_U0, **options)
    assert "\n" not in str(info.value)
    for word in words:
        assert word in str(info.value)


# --- batching with a progress bar -----------------------------------------------------------------


class WatchBatches:
    """A stencil whose multi-step Euler calls are recorded (their step counts)."""

    def __init__(self, k):
        self.k, self.calls = k, []

    def __getattr__(self, name):
        return getattr(self.k, name)

    def __call__(self, *a, **kw):
        return self.k(*a, **kw)

    def euler_steps(self, *a, steps, **kw):
        self.calls.append(steps)
        return self.k.euler_steps(*a, steps=steps, **kw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_progress_bar_keeps_batching_on_small_grids(backend, capsys):
    u0, _ = cosine_mode((16, 12), (1, 2))
    watched = WatchBatches(stencil("heat", backend))
    sol = integrate(watched, u0, t_end=1.0, dt=0.01, method="euler", record_every=0.3,
                    progress=True)
    assert "t=1/1" in capsys.readouterr().err
    assert watched.calls and sum(watched.calls) + len(sol.t) - 1 == sol.stats["steps"] == 100
    quiet = integrate(stencil("heat", backend), u0, t_end=1.0, dt=0.01, method="euler",
                      record_every=0.3)
    np.testing.assert_array_equal(sol.frames, quiet.frames)


def test_progress_bar_cuts_batches_short_and_results_do_not_change(monkeypatch, capsys):
    import importlib
    integ = importlib.import_module("stencilc.integrate")
    monkeypatch.setattr(integ, "_REPORT_FIRST_STEPS", 7)
    monkeypatch.setattr(integ, "_REPORT_MAX_STEPS", 7)
    u0, _ = cosine_mode((16, 12), (1, 2))
    watched = WatchBatches(stencil("heat", "numpy"))
    sol = integrate(watched, u0, t_end=1.0, dt=0.01, method="euler", record_every=0.3,
                    progress=True)
    capsys.readouterr()
    # 29 full steps per interval of 0.3: batches of 7, 7, 7, 7, 1; then the last 9 of 0.1.
    assert watched.calls == [7, 7, 7, 7, 1] * 3 + [7, 2]
    assert sol.stats["steps"] == sol.stats["rhs_evals"] == 100
    quiet = integrate(stencil("heat", "numpy"), u0, t_end=1.0, dt=0.01, method="euler",
                      record_every=0.3)
    np.testing.assert_array_equal(sol.frames, quiet.frames)
