"""Time integration: explicit Euler, Heun, classic RK4 and adaptive Dormand–Prince RK45 (API.md §5).

Takes a compiled `Stencil` (anything callable as ``k(*state, out=..., **inputs)`` with ``state``,
``ndim`` and ``dtype`` attributes), an initial state and a time span; gives a `Solution`. The
integrator never asks which backend it drives: the array module (NumPy, or CuPy for CuPy arrays) is
taken from the initial state, every full-grid buffer is allocated once before the time loop, and
each step updates those buffers in place through ``out=`` ufunc calls. The recorded frames are one
stack allocated up front, and the state lives in its last frame, so `Solution.final` costs no copy.
With ``record_initial=False``, Euler on grids of at least `_IN_PLACE_MIN_BYTES` steps in place
(`Stencil.euler_step` with ``out=`` the state): a run then holds the initial state, the inputs and
the one final frame, and no grid-sized work array.
"""

import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from .errors import StencilError

METHODS = ("euler", "heun", "rk4", "rk45")

# Right-hand side evaluations per attempted step (RK45 adds one for the very first step: FSAL).
_EVALS = {"euler": 1, "heun": 2, "rk4": 4, "rk45": 6}

# A step whose end lies within this fraction of a step of the next stop time lands on it: this
# absorbs the rounding in t + dt without ever taking a step of a few ulps.
_SNAP = 1e-9

# Dormand–Prince 5(4) (Hairer, Nørsett & Wanner, Solving ODEs I, table II.5.2). Row 7 of A is the
# 5th-order weights, so stage 7 is evaluated at the new state and becomes stage 1 of the next
# step (FSAL). _DP_E are the 5th minus the embedded 4th-order weights.
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)
_SAFETY, _FAC_MIN, _FAC_MAX = 0.9, 0.2, 5.0

# Grids up to this many points run stretches of Euler steps in the stencil's compiled loop.
_BATCH_MAX_POINTS = 1 << 16

# With record_initial=False, state fields of at least this many bytes in all take Euler steps in
# place (a blocked sweep, 1.2-1.6x slower per step than double-buffering, measured in
# benchmarks/memory.py) instead of keeping a spare grid per field.
_IN_PLACE_MIN_BYTES = 256 << 20


@dataclass(frozen=True)
class Solution:
    """The result of `integrate`.

    ``t``: recorded times (a float64 NumPy array, first 0, last t_end). ``frames``: the recorded
    states stacked along a new first axis (for systems a dict name → stack). ``final``: the state at
    t_end (for systems a dict name → array). ``stats``: ``steps`` (accepted steps), ``rejected``
    (rejected RK45 steps), ``rhs_evals`` and ``wall_seconds``. Arrays are of the state's array type
    (CuPy arrays stay on the device). ``final`` is the last frame (the same memory, not a copy).
    """

    t: np.ndarray
    frames: Any
    final: Any
    stats: dict


def integrate(stencil, initial, *, t_end, dt, method="rk4", inputs=None, record_every=None,
              progress=False, rtol=1e-6, atol=1e-9, callback=None, record_initial=True) -> Solution:
    """Integrate ``d(state)/dt = stencil(state, **inputs)`` from t = 0 to ``t_end``.

    ``method`` is ``"euler"``, ``"heun"`` (explicit trapezoid), ``"rk4"`` (classic) with the fixed
    step ``dt``, or ``"rk45"`` (adaptive Dormand–Prince 5(4), ``dt`` is the first trial step).
    RK45 accepts a step when the RMS over all grid points and state fields of
    ``err / (atol + rtol * max(|u_old|, |u_new|))`` is ≤ 1, and scales the step by
    ``0.9 * err**(-1/5)`` bounded to [0.2, 5] (not growing right after a rejection).

    ``initial`` is an array, or for a system a dict name → array with exactly the stencil's state
    names; it is copied, never modified. ``inputs`` are the stencil's other fields and parameters.
    Frames are recorded at 0, every multiple of ``record_every`` and ``t_end`` (only 0 and t_end
    when it is None); steps are shortened to land on these times exactly. ``record_initial=False``
    leaves out the frame at t = 0 (which is ``initial`` again): with ``record_every=None`` the only
    frame is then the final state, and the run holds no grid-sized copy beyond the state itself;
    Euler on a grid of 256 MiB or more then also steps in place (no spare grid, but slower).
    ``callback(t, state)``
    runs after every accepted step; ``state`` is the integrator's own buffer (a dict for
    systems): copy it to keep it. ``progress=True`` shows a tqdm bar on stderr.

    After every accepted step the state is checked for NaN/inf (a sum, and an exact check only
    when the sum is not finite): a non-finite state raises `StencilError` naming the time and step.
    """
    t_end = _positive_time("t_end", t_end)
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
    if callback is not None and not callable(callback):
        raise StencilError(f"callback must be callable as callback(t, state), "
                           f"got {type(callback).__name__}")
    inputs = _check_inputs(stencil, inputs)

    start = time.perf_counter()
    names = tuple(stencil.state)
    given = _initial_state(stencil, names, initial)
    xp = _array_module(given[0])
    dtype = given[0].dtype.type
    times = _recording_times(t_end, record_every)
    first = 0 if record_initial else 1     # frame i of the stack holds times[first + i]
    frames = [xp.empty((len(times) - first,) + x.shape, dtype=x.dtype) for x in given]
    home = [stack[-1] for stack in frames]
    u = list(home)
    for stack, x, mine in zip(frames, given, home):
        mine[...] = x
        if record_initial and len(stack) > 1:
            stack[0][...] = x
    del given

    system = len(names) > 1
    in_place = (method == "euler" and not record_initial
                and callable(getattr(stencil, "euler_step", None))
                and sum(x.nbytes for x in u) >= _IN_PLACE_MIN_BYTES)
    buf = SimpleNamespace(k=None) if in_place else _buffers(method, u)

    def rhs(state, out):
        if system:
            stencil(*state, out=tuple(out), **inputs)
        else:
            stencil(state[0], out=out[0], **inputs)

    def view(state):
        return dict(zip(names, state)) if system else state[0]

    steps = rejected = evals = 0
    t, h = 0.0, dt
    after_reject = False
    if method == "rk45":
        rhs(u, buf.k[0])
        evals += 1
    step = {"euler": _euler, "heun": _heun, "rk4": _rk4}.get(method)
    if in_place:
        step = _in_place_euler(stencil, inputs, system)
    elif method == "euler" and callable(getattr(stencil, "euler_step", None)):
        step = _fused_euler(stencil, inputs, system)
    # On small grids a call from Python costs more than the sweep: with nothing to report between
    # steps, runs of Euler steps go to the stencil's compiled multi-step loop (which leaves its
    # input alone). A run that turns non-finite is redone one step at a time, so the error still
    # names the exact step.
    batch = (method == "euler" and callback is None and not progress and not in_place
             and u[0].size <= _BATCH_MAX_POINTS
             and callable(getattr(stencil, "euler_steps", None)))

    bar = _progress_bar(t_end) if progress else None
    try:
        for frame, t_stop in enumerate(times[1:], start=1):
            t_from, steps_from = t, steps
            while True:
                n = _steps_before_last(t_stop, t_from, steps - steps_from, h) if batch else 0
                if n > 0:
                    spare = buf.k
                    stencil.euler_steps(*u, dt=dtype(h), steps=n,
                                        out=tuple(spare) if system else spare[0], **inputs)
                    if all(_all_finite(xp, x) for x in spare):
                        for i in range(len(u)):
                            u[i], spare[i] = spare[i], u[i]
                        evals += n
                        steps += n
                        t = t_from + (steps - steps_from) * h
                    else:
                        batch = False   # redo this stretch one step at a time to find the step
                # A step that would end within _SNAP of t_stop (or beyond it) is the last one.
                last = t_stop - t <= h * (1 + _SNAP)
                h_step = t_stop - t if last and t_stop - t < h * (1 - _SNAP) else h
                evals += _EVALS[method]
                if step is not None:
                    step(rhs, xp, u, dtype(h_step), buf)
                    # Counting from the last stop keeps t free of accumulated rounding.
                    t_new = t_stop if last else t_from + (steps + 1 - steps_from) * h
                else:
                    err = _dopri(rhs, xp, u, dtype(h_step), buf, rtol, atol)
                    fac = _step_factor(err)
                    if not err <= 1:  # also rejects a NaN error estimate
                        rejected += 1
                        h = h_step * min(fac, 1.0)
                        after_reject = True
                        if h < 1e-12 * t_end:
                            raise StencilError(
                                f"rk45 step size fell to {h:.3g} at t={t:.6g} (step {steps + 1}):"
                                f" the right-hand side gives non-finite values or the solution "
                                f"blows up; check the initial state and inputs, or try a smaller "
                                f"dt or looser rtol/atol")
                        continue
                    if after_reject:
                        fac, after_reject = min(fac, 1.0), False
                    # A step shortened only to land on t_stop says nothing against the last h.
                    h = max(h, h_step * fac) if h_step < h else h_step * fac
                    u, buf.stage = buf.stage, u
                    buf.k[0], buf.k[6] = buf.k[6], buf.k[0]
                    t_new = t_stop if last else t + h_step
                steps += 1
                t = t_new
                for x in u:
                    if not _all_finite(xp, x):
                        raise StencilError(
                            f"the state became non-finite (NaN or inf) at t={t:.6g} (step "
                            f"{steps}, method {method!r}, dt={h_step:.6g}); the time step is "
                            f"probably too large for this problem: try a smaller dt")
                if callback is not None:
                    callback(t, view(u))
                if bar is not None:
                    bar.n = t
                    bar.set_postfix_str(f"{steps / (time.perf_counter() - start):.4g} steps/s",
                                        refresh=False)
                    bar.update(0)
                if last:
                    break
            for stack, x, mine in zip(frames, u, home):
                if frame - first < len(stack) - 1 or x is not mine:
                    stack[frame - first][...] = x
    finally:
        if bar is not None:
            bar.close()

    stats = {"steps": steps, "rejected": rejected, "rhs_evals": evals,
             "wall_seconds": time.perf_counter() - start}
    t_rec = np.array(times, dtype=np.float64)
    t_rec = t_rec[first:]
    if system:
        return Solution(t_rec, dict(zip(names, frames)), dict(zip(names, home)), stats)
    return Solution(t_rec, frames[0], home[0], stats)


# --- one step per method: u (a list, one array per state field) is advanced in place ----------


def _euler(rhs, xp, u, h, buf):
    rhs(u, buf.k)
    for x, k in zip(u, buf.k):
        xp.multiply(k, h, out=k)
        xp.add(x, k, out=x)


def _steps_before_last(t_stop, t_from, done, h):
    """How many fixed steps from `t_from + done*h` come before the last one of the interval.

    Mirrors the stepping loop's rule (a step is the last when `t_stop - t <= h*(1 + _SNAP)`, with
    `t = t_from + k*h`), so batched and single steps visit exactly the same times.
    """
    n = max(0, math.ceil((t_stop - t_from) / h - done - 1 - _SNAP) - 1)
    while t_stop - (t_from + (done + n) * h) > h * (1 + _SNAP):
        n += 1
    while n > 0 and not t_stop - (t_from + (done + n - 1) * h) > h * (1 + _SNAP):
        n -= 1
    return n


def _fused_euler(stencil, inputs, system):
    """Euler through the stencil's fused `u + h*f(u)` sweep, double-buffered (buf.k is the spare)."""
    def step(rhs, xp, u, h, buf):
        spare = buf.k
        stencil.euler_step(*u, dt=h, out=tuple(spare) if system else spare[0], **inputs)
        for i in range(len(u)):
            u[i], spare[i] = spare[i], u[i]
    return step


def _in_place_euler(stencil, inputs, system):
    """Euler through the stencil's fused sweep with the state as its own output (no spare grid)."""
    def step(rhs, xp, u, h, buf):
        stencil.euler_step(*u, dt=h, out=tuple(u) if system else u[0], **inputs)
    return step


def _all_finite(xp, x) -> bool:
    """Whether every value of `x` is finite, with no grid-sized temporary: a sum is finite unless
    some value is NaN or inf, or large finite values overflow it (then an exact look)."""
    if bool(xp.isfinite(x.sum(dtype=x.dtype))):
        return True
    return bool(xp.isfinite(x.min())) and bool(xp.isfinite(x.max()))


def _heun(rhs, xp, u, h, buf):
    rhs(u, buf.k1)
    for x, k1, s in zip(u, buf.k1, buf.stage):
        xp.multiply(k1, h, out=s)
        xp.add(x, s, out=s)
    rhs(buf.stage, buf.k2)
    half = h * h.dtype.type(0.5)
    for x, k1, k2 in zip(u, buf.k1, buf.k2):
        xp.add(k1, k2, out=k1)
        xp.multiply(k1, half, out=k1)
        xp.add(x, k1, out=x)


def _rk4(rhs, xp, u, h, buf):
    half, sixth, two = h * h.dtype.type(0.5), h / h.dtype.type(6), h.dtype.type(2)
    rhs(u, buf.k)
    for x, k, s, acc in zip(u, buf.k, buf.stage, buf.acc):
        acc[...] = k
        xp.multiply(k, half, out=s)
        xp.add(x, s, out=s)
    for coef in (half, h):
        rhs(buf.stage, buf.k)
        for x, k, s, acc in zip(u, buf.k, buf.stage, buf.acc):
            xp.multiply(k, coef, out=s)
            xp.add(x, s, out=s)
            xp.multiply(k, two, out=k)
            xp.add(acc, k, out=acc)
    rhs(buf.stage, buf.k)
    for x, k, acc in zip(u, buf.k, buf.acc):
        xp.add(acc, k, out=acc)
        xp.multiply(acc, sixth, out=acc)
        xp.add(x, acc, out=x)


def _dopri(rhs, xp, u, h, buf, rtol, atol):
    """One Dormand–Prince attempt from u (buf.k[0] = f(u)): the new state goes to buf.stage,
    f(new state) to buf.k[6]; returns the scaled RMS error norm. u itself is not touched."""
    k = buf.k
    for i in range(1, 7):
        for f, x in enumerate(u):
            _combine(xp, buf.stage[f], x, [(h * h.dtype.type(a), k[j][f])
                                           for j, a in enumerate(_DP_A[i])], buf.tmp[f])
        rhs(buf.stage, k[i])
    # k[1] (weight 0 in both solutions) holds the error estimate; tmp and k[2] are then free.
    total, count = 0.0, 0
    for f, x in enumerate(u):
        err = k[1][f]
        _combine(xp, err, None, [(h * h.dtype.type(e), k[j][f]) for j, e in enumerate(_DP_E)],
                 buf.tmp[f])
        scale, other = buf.tmp[f], k[2][f]
        xp.abs(x, out=scale)
        xp.abs(buf.stage[f], out=other)
        xp.maximum(scale, other, out=scale)
        xp.multiply(scale, scale.dtype.type(rtol), out=scale)
        xp.add(scale, scale.dtype.type(atol), out=scale)
        xp.divide(err, scale, out=err)
        flat = err.reshape(-1)
        total += float(xp.vdot(flat, flat))
        count += flat.size
    return math.sqrt(total / count) if count else 0.0


def _step_factor(err):
    """The controller's step-size factor for a scaled error norm (NaN or inf: shrink most)."""
    if err == 0:
        return _FAC_MAX
    if not math.isfinite(err):
        return _FAC_MIN
    return min(_FAC_MAX, max(_FAC_MIN, _SAFETY * err ** -0.2))


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


def _buffers(method, u):
    """Every full-grid work array of a method, allocated once (lists: one array per field)."""
    def grids():
        return [_array_module(x).empty_like(x) for x in u]
    if method == "euler":
        return SimpleNamespace(k=grids())
    if method == "heun":
        return SimpleNamespace(k1=grids(), k2=grids(), stage=grids())
    if method == "rk4":
        return SimpleNamespace(k=grids(), stage=grids(), acc=grids())
    return SimpleNamespace(k=[grids() for _ in range(7)], stage=grids(), tmp=grids())


# --- setup and validation ----------------------------------------------------------------------


def _array_module(a):
    """NumPy, or CuPy for CuPy arrays (imported only when such an array is passed)."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


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


def _check_inputs(stencil, inputs):
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise StencilError(f"inputs must be a dict name → array or number, "
                           f"got {type(inputs).__name__}")
    inputs = {getattr(key, "name", key): value for key, value in inputs.items()}
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


def _recording_times(t_end, record_every):
    """0, the multiples of record_every below t_end, and t_end (a multiple within _SNAP of
    record_every below t_end is dropped: it would make a frame of a few ulps)."""
    if record_every is None:
        return [0.0, t_end]
    count = math.floor(t_end / record_every * (1 + _SNAP))
    times = [i * record_every for i in range(count + 1)]
    times = [s for s in times if s < t_end - _SNAP * record_every]
    return times + [t_end]


def _progress_bar(t_end):
    from tqdm import tqdm

    return tqdm(total=t_end, file=sys.stderr, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}{postfix}]")
