"""Time integration, the last stage: explicit Euler, Heun, classic RK4 and adaptive Dormand–Prince
RK45 over any compiled `Stencil` (anything callable as ``k(*state, out=..., **inputs)`` with
``state``, ``ndim`` and ``dtype``, and also ``t=`` when ``time_dependent``), giving a `Solution`.
`integrate`'s time loop composes two parts. A stepper per method (`_Euler`, `_Heun`, `_RK4`,
`_DormandPrince`) advances the state in place, every right-hand side evaluation going through one
``rhs(t_stage, state, out)`` at its stage time ``t + c_i·h``; `_choose_stepper` picks it once,
before the loop, or instead a faster Euler on the stencil's fused sweeps (`_FusedEuler`,
`_InPlaceEuler`, `_BatchedEuler`). A controller (`_FixedSteps`, `_AdaptiveSteps`) sizes each step,
lands exactly on the recording times and accepts or rejects RK45 attempts. The array module (NumPy,
or CuPy for CuPy arrays) is taken from the initial state, every full-grid buffer is allocated once
before the loop, and the state lives in the last recorded frame, so `Solution.final` costs no copy.
"""

import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import StencilError

METHODS = ("euler", "heun", "rk4", "rk45")

# A step whose end lies within this fraction of a step of the next stop time lands on it: this
# absorbs the rounding in t + dt without ever taking a step of a few ulps.
_SNAP = 1e-9

# Dormand–Prince 5(4) (Hairer, Nørsett & Wanner, Solving ODEs I, table II.5.2). Row 7 of A is the
# 5th-order weights, so stage 7 is evaluated at the new state and becomes stage 1 of the next
# step (FSAL). _DP_C are the stage times (the row sums of A, exact); _DP_E are the 5th minus the
# embedded 4th-order weights.
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_DP_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)
_SAFETY, _FAC_MIN, _FAC_MAX = 0.9, 0.2, 5.0

# Grids up to this many points run stretches of Euler steps in the stencil's compiled loop, and so
# do larger ones where that loop is temporally blocked (it then reads the grid once per sweep of
# several steps instead of once per step).
_BATCH_MAX_POINTS = 1 << 16

# With a progress bar, batches are sized to take about _REPORT_SECONDS each (measured on the
# previous batch, starting from _REPORT_FIRST_STEPS) and never more than _REPORT_MAX_STEPS steps,
# so that the bar moves; between updates the steps still run in compiled code.
_REPORT_SECONDS, _REPORT_FIRST_STEPS, _REPORT_MAX_STEPS = 0.2, 64, 4096

# With record_initial=False, state fields of at least this many bytes in all take Euler steps in
# place (a blocked sweep, 1.2-1.6x slower per step than double-buffering, measured in
# benchmarks/memory.py) instead of keeping a spare grid per field.
_IN_PLACE_MIN_BYTES = 256 << 20


@dataclass(frozen=True)
class Solution:
    """The result of `integrate` (and of `iterate`, whose ``t`` holds step counts).

    ``t``: recorded times (a float64 NumPy array, first t0, last t_end; for `iterate` the recorded
    step counts as int64). ``frames``: the recorded
    states stacked along a new first axis (for systems a dict name → stack). ``final``: the state at
    t_end (for systems a dict name → array). ``stats``: ``steps`` (accepted steps), ``rejected``
    (rejected RK45 steps), ``rhs_evals``, ``wall_seconds`` (the time loop) and
    ``compile_seconds`` (kernels built for the run before its clock started, not part of
    ``wall_seconds``). Arrays are of the state's array type (CuPy arrays stay on the device).
    ``final`` is the last frame (the same memory, not a copy).

    The grid the run was on, for `to_xarray`, `save` and `stencilc.movie`: ``state`` (the state
    field names), ``spacing`` and ``origin`` (per axis; cell i of axis a is centred at
    ``origin[a] + (i + 1/2) * spacing[a]``). `integrate` fills them in from the stencil; None
    where unknown (spacing 1 and origin 0 are then assumed).
    """

    t: np.ndarray
    frames: Any
    final: Any
    stats: dict
    state: tuple | None = field(default=None, kw_only=True)
    spacing: tuple | None = field(default=None, kw_only=True)
    origin: tuple | None = field(default=None, kw_only=True)

    def to_xarray(self):
        """The recorded frames as an ``xarray.DataArray`` (a ``Dataset`` of one variable per
        state field for a system) with dims ``t``, ``x``, ``y``, ``z`` (axes 0, 1, 2) and
        cell-centre coordinates, ready for ``.to_netcdf(path)``; ``stats`` are its attributes.
        Needs xarray (``pip install "stencilc[xarray]"``)."""
        from .results import to_xarray
        return to_xarray(self)

    def save(self, path):
        """Write the run to ``path`` (a ``.npz`` file, suffix added if missing; no xarray
        needed); `Solution.load` reads it back exactly. Returns the path written."""
        from .results import save
        return save(self, path)

    @classmethod
    def load(cls, path) -> "Solution":
        """The `Solution` written by `save` (NumPy arrays, the same values, names and stats)."""
        from .results import load
        return load(path)

    def __repr__(self) -> str:
        """The state, the number and shape of the frames, the recorded times and the stats."""
        from .display import describe_solution
        return describe_solution(self)

    def _repr_html_(self) -> str:
        from .display import solution_html
        return solution_html(self)


def integrate(stencil, initial, *, t_end, dt, method="rk4", t0=0.0, inputs=None,
              record_every=None, progress=False, rtol=1e-6, atol=1e-9, callback=None,
              record_initial=True) -> Solution:
    """Integrate ``d(state)/dt = stencil(state, **inputs)`` from ``t0`` to ``t_end``.

    ``method`` is ``"euler"``, ``"heun"`` (explicit trapezoid), ``"rk4"`` (classic) with the fixed
    step ``dt``, or ``"rk45"`` (adaptive Dormand–Prince 5(4), ``dt`` is the first trial step).
    RK45 accepts a step when the RMS over all grid points and state fields of
    ``err / (atol + rtol * max(|u_old|, |u_new|))`` is ≤ 1, and scales the step by
    ``0.9 * err**(-1/5)`` bounded to [0.2, 5] (not growing right after a rejection).

    ``initial`` is an array, or for a system a dict name → array with exactly the stencil's state
    names; it is copied, never modified. ``inputs`` are the stencil's other fields and parameters;
    the time is not one of them: a time-dependent stencil (``stencil.time_dependent``) is called
    with ``t=`` the time of each stage, ``t + c_i*dt``.
    Frames are recorded at t0, at t0 + every multiple of ``record_every`` and at ``t_end`` (only t0
    and t_end when it is None); steps are shortened to land on these times exactly.
    ``record_initial=False`` leaves out the frame at t0 (which is ``initial`` again): with
    ``record_every=None`` the only frame is then the final state, and the run holds no grid-sized
    copy beyond the state itself; Euler on a grid of 256 MiB or more then also steps in place (no
    spare grid, but slower). ``callback(t, state)`` runs after every accepted step; ``state`` is the
    integrator's own buffer (a dict for systems): copy it to keep it. ``progress=True`` shows a tqdm
    bar on stderr.

    After every accepted step the state is checked for NaN/inf (a sum, and an exact check only
    when the sum is not finite): a non-finite state raises `StencilError` naming the time and step.
    """
    t0 = _finite_time("t0", t0)
    t_end = _end_time(t_end, t0)
    dt = _positive_time("dt", dt)
    if method not in METHODS:
        raise StencilError(f"unknown integration method {method!r}; accepted methods are "
                           + ", ".join(repr(m) for m in METHODS))
    if method == "rk45":
        rtol, atol = _tolerance("rtol", rtol), _tolerance("atol", atol)
        if rtol == 0 and atol == 0:
            raise StencilError("rk45 needs rtol > 0 or atol > 0; both are 0")
    if record_every is not None:
        record_every = _positive_time("record_every", record_every)
    _check_callback(callback)
    inputs = _check_inputs(stencil, inputs)
    if not getattr(stencil, "reporting", True):   # a distributed stencil on a rank other than 0
        progress, callback = False, None

    start = time.perf_counter()
    names = tuple(stencil.state)
    given = _initial_state(stencil, names, initial)
    xp = _array_module(given[0])
    times = _recording_times(t0, t_end, record_every)
    first = 0 if record_initial else 1     # frame i of the stack holds times[first + i]
    frames = _Frames(xp, given, len(times) - first, record_initial)
    u = list(frames.home)
    del given

    stepper = _choose_stepper(method, stencil, inputs, xp, u, rtol=rtol, atol=atol,
                              record_initial=record_initial, callback=callback,
                              progress=progress)
    compile_seconds = _compile_kernels(stencil, stepper.kernels)
    start += compile_seconds    # the run's clock starts after the compile
    # Below this step size t + h no longer moves t by much more than its rounding.
    control = (_AdaptiveSteps(dt, h_min=1e-12 * max(abs(t0), abs(t_end))) if method == "rk45"
               else _FixedSteps(dt))

    def view(state):
        return dict(zip(names, state)) if len(names) > 1 else state[0]

    bar = _progress_bar(t_end - t0, "t" if t0 == 0 else "t-t0", ".4g") if progress else None

    def report(t):
        _report(bar, t - t0, steps, start)

    steps = rejected = 0
    t = t0
    evals = stepper.start(t)
    try:
        for frame, t_stop in enumerate(times[1:], start=1):
            control.begin(t, t_stop)
            while True:
                n = min(control.steps_before_last(), stepper.most_steps)
                if n > 0 and stepper.steps(t, control.h, n):
                    steps += n
                    evals += n
                    t = control.skip(n)
                    if bar is not None:
                        report(t)
                    continue
                h_step, last = control.trial(t)
                evals += stepper.evals
                err = stepper.step(t, h_step)
                if not control.judge(err, h_step, t, steps):
                    rejected += 1
                    continue
                stepper.accept()
                steps += 1
                t = control.accepted(t, h_step, last)
                if not _finite_everywhere(stencil, xp, u):
                    raise StencilError(
                        f"the state became non-finite (NaN or inf) at t={t:.6g} (step "
                        f"{steps}, method {method!r}, dt={h_step:.6g}); the time step is "
                        f"probably too large for this problem: try a smaller dt")
                if callback is not None:
                    callback(t, view(u))
                if bar is not None:
                    report(t)
                if last:
                    break
            frames.record(frame - first, u)
    finally:
        if bar is not None:
            bar.close()

    stats = {"steps": steps, "rejected": rejected, "rhs_evals": evals,
             "wall_seconds": time.perf_counter() - start, "compile_seconds": compile_seconds}
    return frames.solution(np.array(times, dtype=np.float64)[first:], stats, stencil, names)


class _Frames:
    """The recorded frames, allocated once before the run: a stack per state field whose last
    frame is the state's home, so that the final state needs no copy. The initial state is copied
    to the home (unless not `fill_home`: a run whose first step writes the home from frame 0),
    and to frame 0 when `record_initial`."""

    def __init__(self, xp, given, count, record_initial=True, fill_home=True):
        self.stacks = [xp.empty((count,) + x.shape, dtype=x.dtype) for x in given]
        self.home = [stack[-1] for stack in self.stacks]
        for stack, x, mine in zip(self.stacks, given, self.home):
            if fill_home or len(stack) == 1:
                mine[...] = x
            if record_initial and len(stack) > 1:
                stack[0][...] = x

    def frame(self, i):
        """Frame i, one array per field."""
        return [stack[i] for stack in self.stacks]

    def record(self, i, u):
        """The state `u` (a list, one array per field) into frame i; the last frame only needs a
        copy when the state ended up outside its home (a swapped-in work grid)."""
        for stack, x, mine in zip(self.stacks, u, self.home):
            if i < len(stack) - 1 or x is not mine:
                stack[i][...] = x

    def solution(self, t, stats, stencil, names) -> Solution:
        grid = _grid(stencil, names)
        if len(names) > 1:
            return Solution(t, dict(zip(names, self.stacks)), dict(zip(names, self.home)), stats,
                            **grid)
        return Solution(t, self.stacks[0], self.home[0], stats, **grid)


# --- choosing the stepper ---------------------------------------------------------------------


def _choose_stepper(method, stencil, inputs, xp, u, *, rtol, atol, record_initial, callback,
                    progress):
    """The stepper for `method`, taking the fastest route the stencil and the run allow.

    Euler goes through the stencil's fused ``u + h·f(u)`` sweep when it has one: in place when
    only the final state is kept and the grid is large (memory is then what matters), in batches
    of compiled steps on small grids when no callback needs each step (a call from Python costs
    more than the sweep there) and on large ones whose compiled steps are temporally blocked, and
    otherwise one double-buffered step at a time. Every result is
    the same; only the cost differs.
    """
    rhs = _rhs(stencil, inputs)
    if method == "rk45":
        return _DormandPrince(rhs, xp, u, rtol, atol, _sum_over_processes(stencil))
    if method != "euler":
        return {"heun": _Heun, "rk4": _RK4}[method](rhs, xp, u)
    fused = callable(getattr(stencil, "euler_step", None))
    if fused and not record_initial and sum(x.nbytes for x in u) >= _IN_PLACE_MIN_BYTES:
        return _InPlaceEuler(stencil, inputs, u)
    single = _FusedEuler(stencil, inputs, xp, u) if fused else _Euler(rhs, xp, u)
    blocked = _temporally_blocked(stencil, u[0].shape)
    if (callback is None and (u[0].size <= _BATCH_MAX_POINTS or blocked)
            and callable(getattr(stencil, "euler_steps", None))):
        return _BatchedEuler(single, stencil, inputs, xp, u, progress, blocked)
    return single


def _temporally_blocked(stencil, shape) -> bool:
    """Whether the stencil's multi-step calls on this grid are temporally blocked (stepping.py)."""
    stepping = getattr(stencil, "_stepping", None)
    return stepping is not None and stepping.blocks(tuple(shape))


def _compile_kernels(stencil, kernels) -> float:
    """Builds the variants named in `kernels` that the stencil compiles on first use (its fused
    Euler sweeps, its map driver), so that no compile falls inside the timed run; the seconds it
    took."""
    stepping = getattr(stencil, "_stepping", None)
    if stepping is None or not kernels:
        return 0.0
    began = time.perf_counter()
    for name in kernels:
        stepping.variant(name)
    return time.perf_counter() - began


def _grid(stencil, names):
    """The `Solution`'s description of the grid: state names, spacing and origin per axis."""
    ndim = getattr(stencil, "ndim", None)

    def per_axis(value):
        if value is None or ndim is None:
            return None
        values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim
        return tuple(float(v) for v in values)
    return {"state": tuple(names), "spacing": per_axis(getattr(stencil, "spacing", None)),
            "origin": per_axis(getattr(stencil, "origin", 0))}


def _time_keyword(stencil):
    """The keyword arguments that tell the stencil the time t: ``t=`` only for a time-dependent
    stencil, since one without ``t`` refuses the keyword."""
    if getattr(stencil, "time_dependent", False):
        return lambda t: {"t": t}
    return lambda t: {}


def _rhs(stencil, inputs):
    """``rhs(t, state, out)``: the right-hand side at time t into ``out`` (lists, one array per
    state field); every stage of every generic stepper evaluates through it."""
    at = _time_keyword(stencil)
    if len(stencil.state) > 1:
        def rhs(t, state, out):
            stencil(*state, out=tuple(out), **at(t), **inputs)
    else:
        def rhs(t, state, out):
            stencil(state[0], out=out[0], **at(t), **inputs)
    return rhs


def _out(arrays):
    """``out=`` for a stencil call: the array, or for a system the tuple of arrays."""
    return tuple(arrays) if len(arrays) > 1 else arrays[0]


def _grids(xp, u):
    """One work grid per state field, like the state."""
    return [xp.empty_like(x) for x in u]


# --- steppers: each advances the state list u in place (its entries may be swapped) -----------


class _Stepper:
    """What the time loop asks of a stepper.

    ``evals``: right-hand side evaluations per attempted step. ``start(t)``: work before the first
    step, returning its evaluations. ``step(t, h)``: one attempt from time t with step h, returning
    the scaled error norm for an adaptive method (None otherwise); ``accept()`` then makes an
    accepted attempt the state. ``most_steps``: how many fixed steps ``steps(t, h, n)`` may take
    in one call (0: it has no such call).
    """

    evals = 1
    most_steps = 0
    kernels = ()    # the stencil's lazily built variants it calls ("euler", "euler_window")

    def start(self, t):
        return 0

    def accept(self):
        pass


class _Euler(_Stepper):
    """Explicit Euler through ``rhs``."""

    def __init__(self, rhs, xp, u):
        self.rhs, self.xp, self.u, self.dtype = rhs, xp, u, u[0].real.dtype.type   # steps are real
        self.spare = _grids(xp, u)      # holds f(u) during a step, free between steps

    def step(self, t, h):
        xp, h = self.xp, self.dtype(h)
        self.rhs(t, self.u, self.spare)
        for x, k in zip(self.u, self.spare):
            xp.multiply(k, h, out=k)
            xp.add(x, k, out=x)


class _FusedEuler(_Stepper):
    """Euler through the stencil's fused ``u + h·f(u)`` sweep, double-buffered."""

    kernels = ("euler",)

    def __init__(self, stencil, inputs, xp, u):
        self.stencil, self.inputs, self.u = stencil, inputs, u
        self.at, self.dtype = _time_keyword(stencil), u[0].real.dtype.type
        self.spare = _grids(xp, u)      # receives the next state, free between steps

    def step(self, t, h):
        u, spare = self.u, self.spare
        self.stencil.euler_step(*u, dt=self.dtype(h), out=_out(spare), **self.at(t),
                                **self.inputs)
        for i in range(len(u)):
            u[i], spare[i] = spare[i], u[i]


class _InPlaceEuler(_Stepper):
    """Euler through the stencil's fused sweep with the state as its own output (no spare grid)."""

    kernels = ("euler_window",)

    def __init__(self, stencil, inputs, u):
        self.stencil, self.inputs, self.u = stencil, inputs, u
        self.at, self.dtype = _time_keyword(stencil), u[0].real.dtype.type

    def step(self, t, h):
        self.stencil.euler_step(*self.u, dt=self.dtype(h), out=_out(self.u), **self.at(t),
                                **self.inputs)


class _BatchedEuler(_Stepper):
    """Euler whose full steps run in stretches in the stencil's compiled multi-step loop (which
    leaves its input alone, writing to the single stepper's spare); the shortened last step of
    each interval goes to ``single``.

    A stretch that turns non-finite is dropped and batching stops, so that the run redoes it one
    step at a time and the error names the exact step. With a progress bar, stretches are cut
    short so that the bar moves (see _REPORT_SECONDS).
    """

    def __init__(self, single, stencil, inputs, xp, u, progress, blocked=False):
        self.single, self.stencil, self.inputs, self.xp, self.u = single, stencil, inputs, xp, u
        self.kernels = ("euler", "euler_tiled") if blocked else ("euler",)
        self.at, self.dtype = _time_keyword(stencil), u[0].real.dtype.type
        self.progress = progress
        self.most_steps = _REPORT_FIRST_STEPS if progress else sys.maxsize

    def step(self, t, h):
        self.single.step(t, h)

    def steps(self, t, h, n):
        """n steps of h from time t; False (the state untouched) when they end non-finite."""
        began = time.perf_counter()
        u, spare = self.u, self.single.spare
        self.stencil.euler_steps(*u, dt=self.dtype(h), steps=n, out=_out(spare), **self.at(t),
                                 **self.inputs)
        if not all(_all_finite(self.xp, x) for x in spare):
            self.most_steps = 0
            return False
        for i in range(len(u)):
            u[i], spare[i] = spare[i], u[i]
        if self.progress:
            self.most_steps = _batch_after(n, time.perf_counter() - began)
        return True


def _batch_after(n, took):
    """The steps in the next batch when a progress bar is shown, after a batch of n steps took
    `took` seconds: about _REPORT_SECONDS' worth, between 1 and _REPORT_MAX_STEPS."""
    fit = n * _REPORT_SECONDS / took if took > 0 else _REPORT_MAX_STEPS
    return max(1, min(_REPORT_MAX_STEPS, int(fit)))


class _Heun(_Stepper):
    """The explicit trapezoid rule: stages at t and t + h."""

    evals = 2

    def __init__(self, rhs, xp, u):
        self.rhs, self.xp, self.u, self.dtype = rhs, xp, u, u[0].real.dtype.type
        self.k1, self.k2, self.stage = _grids(xp, u), _grids(xp, u), _grids(xp, u)

    def step(self, t, h):
        xp, u, hs = self.xp, self.u, self.dtype(h)
        self.rhs(t, u, self.k1)
        for x, k1, s in zip(u, self.k1, self.stage):
            xp.multiply(k1, hs, out=s)
            xp.add(x, s, out=s)
        self.rhs(t + h, self.stage, self.k2)
        half = hs * self.dtype(0.5)
        for x, k1, k2 in zip(u, self.k1, self.k2):
            xp.add(k1, k2, out=k1)
            xp.multiply(k1, half, out=k1)
            xp.add(x, k1, out=x)


class _RK4(_Stepper):
    """The classic RK4: stages at t, t + h/2 (twice) and t + h, summed into ``acc``."""

    evals = 4

    def __init__(self, rhs, xp, u):
        self.rhs, self.xp, self.u, self.dtype = rhs, xp, u, u[0].real.dtype.type
        self.k, self.stage, self.acc = _grids(xp, u), _grids(xp, u), _grids(xp, u)

    def step(self, t, h):
        xp, u, hs = self.xp, self.u, self.dtype(h)
        half, sixth, two = hs * self.dtype(0.5), hs / self.dtype(6), self.dtype(2)
        self.rhs(t, u, self.k)
        for x, k, s, acc in zip(u, self.k, self.stage, self.acc):
            acc[...] = k
            xp.multiply(k, half, out=s)
            xp.add(x, s, out=s)
        # Stages 2 and 3 are both at t + h/2; each sets up the next stage with its own weight.
        for coef in (half, hs):
            self.rhs(t + 0.5 * h, self.stage, self.k)
            for x, k, s, acc in zip(u, self.k, self.stage, self.acc):
                xp.multiply(k, coef, out=s)
                xp.add(x, s, out=s)
                xp.multiply(k, two, out=k)
                xp.add(acc, k, out=acc)
        self.rhs(t + h, self.stage, self.k)
        for x, k, acc in zip(u, self.k, self.acc):
            xp.add(acc, k, out=acc)
            xp.multiply(acc, sixth, out=acc)
            xp.add(x, acc, out=x)


class _DormandPrince(_Stepper):
    """Dormand–Prince 5(4) with FSAL: an attempt writes the new state to ``stage`` and its
    right-hand side to ``k[6]``, leaving u alone; accepting swaps them in, so k[6] is the next
    step's first stage for free."""

    evals = 6

    def __init__(self, rhs, xp, u, rtol, atol, total=lambda sums: sums):
        self.rhs, self.xp, self.u, self.dtype = rhs, xp, u, u[0].real.dtype.type
        self.rtol, self.atol, self.total = rtol, atol, total
        self.k = [_grids(xp, u) for _ in range(7)]
        self.stage, self.tmp = _grids(xp, u), _grids(xp, u)

    def start(self, t):
        self.rhs(t, self.u, self.k[0])
        return 1

    def step(self, t, h):
        xp, u, k, hs = self.xp, self.u, self.k, self.dtype(h)
        for i in range(1, 7):
            for f, x in enumerate(u):
                _combine(xp, self.stage[f], x, [(hs * self.dtype(a), k[j][f])
                                                for j, a in enumerate(_DP_A[i])], self.tmp[f])
            self.rhs(t + _DP_C[i] * h, self.stage, k[i])
        # k[1] (weight 0 in both solutions) holds the error estimate; tmp and k[2] are then free.
        total, count = 0.0, 0
        for f, x in enumerate(u):
            err = k[1][f]
            _combine(xp, err, None, [(hs * self.dtype(e), k[j][f]) for j, e in enumerate(_DP_E)],
                     self.tmp[f])
            scale, other = self.tmp[f], k[2][f]
            xp.abs(x, out=scale)
            xp.abs(self.stage[f], out=other)
            xp.maximum(scale, other, out=scale)
            xp.multiply(scale, scale.dtype.type(self.rtol), out=scale)
            xp.add(scale, scale.dtype.type(self.atol), out=scale)
            xp.divide(err, scale, out=err)
            flat = err.reshape(-1)
            total += float(xp.vdot(flat, flat).real)   # complex: the sum of |err|^2
            count += flat.size
        total, count = self.total((total, count))
        return math.sqrt(total / count) if count else 0.0

    def accept(self):
        u, stage, k = self.u, self.stage, self.k
        for i in range(len(u)):
            u[i], stage[i] = stage[i], u[i]
        k[0], k[6] = k[6], k[0]


def _combine(xp, out, base, terms, tmp):
    """out = base + Σ c·k over the (c, k) in terms with c ≠ 0 (there is at least one), in place;
    out must not be base or any k."""
    terms = [(c, k) for c, k in terms if c != 0]
    xp.multiply(terms[0][1], terms[0][0], out=out)
    for c, k in terms[1:]:
        xp.multiply(k, c, out=tmp)
        xp.add(out, tmp, out=out)
    if base is not None:
        xp.add(out, base, out=out)


def _sum_over_processes(stencil):
    """Sums over the processes a distributed stencil spans (its ``allreduce_sum``, the same on
    every rank), so that every rank takes the same steps; the identity for one process."""
    total = getattr(stencil, "allreduce_sum", None)
    return total if callable(total) else (lambda sums: sums)


def _finite_everywhere(stencil, xp, u) -> bool:
    """Whether every state array is finite, on every process of a distributed stencil."""
    return _sum_over_processes(stencil)(sum(not _all_finite(xp, x) for x in u)) == 0


def _all_finite(xp, x) -> bool:
    """Whether every value of `x` is finite, with no grid-sized temporary: a sum is finite unless
    some value is NaN or inf, or large finite values overflow it (then an exact look)."""
    if bool(xp.isfinite(x.sum(dtype=x.dtype))):
        return True
    return bool(xp.isfinite(x.min())) and bool(xp.isfinite(x.max()))


# --- step-size controllers: each interval between two recording times is one begin() ----------


def _next_step(h, t, t_stop):
    """The step from t of nominal size h: (its size, whether it is the interval's last). A step
    that would end within _SNAP of a step from t_stop, or beyond it, is the last and lands on
    t_stop."""
    last = t_stop - t <= h * (1 + _SNAP)
    return (t_stop - t if last and t_stop - t < h * (1 - _SNAP) else h), last


class _FixedSteps:
    """Steps of dt, the last of each interval shortened to land on its stop time. Times count
    from the interval's start (t_from + k·dt), so that no rounding accumulates over many steps."""

    def __init__(self, dt):
        self.h = dt

    def begin(self, t, t_stop):
        self.t_from, self.t_stop, self.done = t, t_stop, 0

    def steps_before_last(self):
        """How many full steps from the current time come before the interval's last one.

        Mirrors `_next_step`'s rule with t = t_from + k·dt, so that batched and single steps visit
        exactly the same times.
        """
        t_stop, t_from, done, h = self.t_stop, self.t_from, self.done, self.h
        n = max(0, math.ceil((t_stop - t_from) / h - done - 1 - _SNAP) - 1)
        while t_stop - (t_from + (done + n) * h) > h * (1 + _SNAP):
            n += 1
        while n > 0 and not t_stop - (t_from + (done + n - 1) * h) > h * (1 + _SNAP):
            n -= 1
        return n

    def skip(self, n):
        """The time after n full steps taken in one batch."""
        self.done += n
        return self.t_from + self.done * self.h

    def trial(self, t):
        return _next_step(self.h, t, self.t_stop)

    def judge(self, err, h_step, t, steps):
        return True

    def accepted(self, t, h_step, last):
        self.done += 1
        return self.t_stop if last else self.t_from + self.done * self.h


class _AdaptiveSteps:
    """RK45's step-size control: accept an attempt when its scaled error norm is ≤ 1, and scale
    the step by `_step_factor`; a step below h_min means the run cannot go on."""

    def __init__(self, dt, h_min):
        self.h, self.h_min, self.after_reject = dt, h_min, False

    def begin(self, t, t_stop):
        self.t_stop = t_stop

    def steps_before_last(self):
        return 0

    def trial(self, t):
        return _next_step(self.h, t, self.t_stop)

    def judge(self, err, h_step, t, steps):
        fac = _step_factor(err)
        if not err <= 1:  # also rejects a NaN error estimate
            self.h = h_step * min(fac, 1.0)
            self.after_reject = True
            if self.h < self.h_min:
                raise StencilError(
                    f"rk45 step size fell to {self.h:.3g} at t={t:.6g} (step {steps + 1}): the "
                    f"right-hand side gives non-finite values or the solution blows up; check "
                    f"the initial state and inputs, or try a smaller dt or looser rtol/atol")
            return False
        if self.after_reject:
            fac, self.after_reject = min(fac, 1.0), False
        # A step shortened only to land on t_stop says nothing against the last h.
        self.h = max(self.h, h_step * fac) if h_step < self.h else h_step * fac
        return True

    def accepted(self, t, h_step, last):
        return self.t_stop if last else t + h_step


def _step_factor(err):
    """The controller's step-size factor for a scaled error norm (NaN or inf: shrink most)."""
    if err == 0:
        return _FAC_MAX
    if not math.isfinite(err):
        return _FAC_MIN
    return min(_FAC_MAX, max(_FAC_MIN, _SAFETY * err ** -0.2))


# --- setup and validation ----------------------------------------------------------------------


def _array_module(a):
    """NumPy, or CuPy for CuPy arrays (imported only when such an array is passed)."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def _finite_time(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise StencilError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(value):
        raise StencilError(f"{name} must be a finite number, got {value!r}")
    return value


def _end_time(t_end, t0):
    try:
        value = float(t_end)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > t0):
        raise StencilError(f"t_end must be a finite number greater than t0={t0:g}, "
                           f"got {t_end!r}")
    return value


def _positive_time(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise StencilError(f"{name} must be a positive finite number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise StencilError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _tolerance(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise StencilError(f"{name} must be a non-negative finite number, got {value!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise StencilError(f"{name} must be a non-negative finite number, got {value!r}")
    return value


def _check_callback(callback):
    if callback is not None and not callable(callback):
        raise StencilError(f"callback must be callable as callback(t, state), "
                           f"got {type(callback).__name__}")


def _check_inputs(stencil, inputs, t_is="the time t is supplied by the integrator (each stage's "
                  "time, starting from t0)"):
    """The inputs by name, checked: no state field, and no 't', which is `t_is`."""
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise StencilError(f"inputs must be a dict name → array or number, "
                           f"got {type(inputs).__name__}")
    inputs = {getattr(key, "name", key): value for key, value in inputs.items()}
    if "t" in inputs:
        raise StencilError(f"inputs has 't', but {t_is}: leave 't' out of inputs")
    for name in inputs:
        if name in stencil.state:
            raise StencilError(f"{name!r} is a state field: give its value in `initial`, "
                               f"not in `inputs`")
    return inputs


def _initial_state(stencil, names, initial):
    """The initial arrays in state order, checked against the stencil (not copied)."""
    listed = ", ".join(repr(n) for n in names)
    if isinstance(initial, Mapping):
        given = {getattr(key, "name", key): value for key, value in initial.items()}
        missing = [n for n in names if n not in given]
        unknown = [n for n in given if n not in names]
        if missing:
            raise StencilError(f"initial is missing state field {missing[0]!r} "
                               f"(the stencil's state is {listed})")
        if unknown:
            raise StencilError(f"initial has {unknown[0]!r}, which is not a state field "
                               f"(the stencil's state is {listed})")
        arrays = [given[n] for n in names]
    elif len(names) == 1:
        arrays = [initial]
    else:
        raise StencilError(f"initial must be a dict name → array for a system; the stencil's "
                           f"state is {listed}, got {type(initial).__name__}")
    dtype = np.dtype(stencil.dtype)
    u = []
    for name, x in zip(names, arrays):
        if not hasattr(x, "dtype"):
            x = np.asarray(x, dtype=dtype)
        if x.dtype != dtype:
            raise StencilError(f"initial {name!r} has dtype {x.dtype}, the stencil computes in "
                               f"{dtype}: pass it as .astype({str(dtype)!r})")
        if x.ndim != stencil.ndim:
            raise StencilError(f"initial {name!r} has {x.ndim} dimension(s), the stencil is "
                               f"{stencil.ndim}-dimensional")
        if u and x.shape != u[0].shape:
            raise StencilError(f"initial {name!r} has shape {x.shape}, but {names[0]!r} has "
                               f"shape {u[0].shape}: all state fields share one grid")
        if not _all_finite(_array_module(x), x):
            raise StencilError(f"initial {name!r} contains NaN or inf")
        u.append(x)
    return u


def _recording_times(t0, t_end, record_every):
    """t0, t0 plus the multiples of record_every below t_end, and t_end (a time within _SNAP of
    record_every below t_end is dropped: it would make a frame of a few ulps)."""
    if record_every is None:
        return [t0, t_end]
    count = math.floor((t_end - t0) / record_every * (1 + _SNAP))
    times = [t0 + i * record_every for i in range(count + 1)]
    times = [s for s in times if s < t_end - _SNAP * record_every]
    return times + [t_end]


def _progress_bar(total, label, number):
    """A bar on stderr up to `total`, shown as ``label=n/total`` with the format `number`
    (integrate: the time elapsed, ``t`` itself when the run starts at 0; iterate: the steps)."""
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| " + label + "={n:" + number + "}/{total:" + number
                + "} [{elapsed}<{remaining}{postfix}]")


def _report(bar, position, steps, start):
    """Moves the bar to `position`, with the steps per second since `start`."""
    bar.n = position
    bar.set_postfix_str(f"{steps / (time.perf_counter() - start):.4g} steps/s", refresh=False)
    bar.update(0)
