"""Discrete maps, beside time integration: `iterate` applies a compiled stencil's value as the new
state, ``u <- F(u)``, a given number of times, giving a `Solution` whose ``t`` counts steps.

It shares `integrate`'s machinery (checked initial state and inputs, frames allocated once with the
state living in the last one, progress bar, callbacks) and differs in its loop: the steps between
two recorded frames run as one call of the stencil's compiled multi-step driver where the backend
has one (`Stencil.map_steps`; C: the whole stretch in compiled code, double-buffered, temporally
blocked on large grids, or for a map of radius 0 each point through every step while it is in
cache), since a call from Python per step would cost more than the step on small grids; the call
reads the frame recorded at the stretch's start and writes the state's home, so it needs no work
grids. Otherwise, and when a callback or the step count ``t`` needs each step, one call per step
alternates between two grids.
"""
from __future__ import annotations

import numbers
import sys
import time

import numpy as np

from .errors import StencilError
from .integrate import (_REPORT_FIRST_STEPS, Solution, _array_module, _batch_after, _check_callback,
                        _check_inputs, _compile_kernels, _Frames, _grids, _initial_state, _out,
                        _progress_bar, _report, _temporally_blocked)


def iterate(stencil, initial, *, steps, inputs=None, record_every=None, progress=False,
            callback=None) -> Solution:
    """Apply the discrete map ``state <- stencil(state, **inputs)`` `steps` times.

    The stencil's value replaces the state at every step (double-buffered: each step reads only
    the previous state), so a right-hand side such as ``r*u*(1 - u) + eps*laplace(u)`` (a coupled
    map lattice), a cellular automaton's rule or the Mandelbrot iteration is written as its map F.

    Parameters
    ----------
    stencil : Stencil
        A compiled stencil (`compile_stencil`), or a distributed one (``dec.distribute(k)``).
    initial : array or dict
        The initial state; for a system a dict name -> array with exactly the stencil's state
        names. It is copied, never modified.
    steps : int
        How many times the map is applied (0 or more).
    inputs : dict, optional
        The stencil's input fields and parameters, by name.
    record_every : int, optional
        Record a frame at every multiple of this many steps (and at `steps`); None records steps
        0 and `steps` only.
    progress : bool
        Show a tqdm bar on stderr (steps done and steps per second).
    callback : callable, optional
        ``callback(n, state)`` after every step, n the steps taken so far; ``state`` is iterate's
        own buffer (a dict for systems): copy it to keep it.

    Returns
    -------
    Solution
        ``t``: the recorded step counts (int64: 0, the multiples of `record_every`, `steps`; just
        0 when ``steps=0``); ``frames``, ``final`` as for `integrate`; ``stats``: ``steps``,
        ``rhs_evals`` (one per step), ``calls`` (calls into the stencil: one per stretch between
        frames through a multi-step driver, one per step otherwise), ``wall_seconds`` and
        ``compile_seconds`` (the driver built before the clock started).

    Notes
    -----
    In a time-dependent stencil, ``t`` is the step count: the step from state n to state n + 1
    is evaluated with ``t=n``. Such a stencil, like a run with a callback, takes one call per step.
    The state is not checked for NaN or inf between steps (a map may legitimately escape to large
    values); the initial state must be finite.

    Examples
    --------
    >>> import numpy as np
    >>> from stencilc import Field, compile_stencil, iterate, laplace
    >>> u = Field("u")
    >>> k = compile_stencil(3.7 * u * (1 - u) + 0.1 * laplace(u), state=u, ndim=1, backend="numpy")
    >>> sol = iterate(k, np.full(8, 0.5), steps=20, record_every=10)
    >>> sol.t
    array([ 0, 10, 20])
    """
    steps = _count("steps", steps, 0)
    if record_every is not None:
        record_every = _count("record_every", record_every, 1)
    _check_callback(callback)
    inputs = _check_inputs(stencil, inputs, "in iterate t is the step count, supplied by iterate")
    if not getattr(stencil, "reporting", True):   # a distributed stencil on a rank other than 0
        progress, callback = False, None

    time_dependent = getattr(stencil, "time_dependent", False)
    driver = (callback is None and not time_dependent
              and callable(getattr(stencil, "map_steps", None)))

    start = time.perf_counter()
    names = tuple(stencil.state)
    given = _initial_state(stencil, names, initial)
    xp = _array_module(given[0])
    marks = _recording_steps(steps, record_every)
    # when every stretch is one driver call (no progress bar splitting it), the first reads frame
    # 0 and writes the home, so the home needs no copy of the initial state
    frames = _Frames(xp, given, len(marks), fill_home=not (driver and not progress and steps))
    u = list(frames.home)
    del given
    spare = None          # the work grids of one call per step, allocated when first needed
    blocked = driver and _temporally_blocked(stencil, u[0].shape)
    compile_seconds = _compile_kernels(stencil, (("map", "map_tiled") if blocked else ("map",))
                                       if driver and steps else ())
    start += compile_seconds    # the run's clock starts after the compile

    def spares():
        nonlocal spare
        if spare is None:
            spare = _grids(xp, u)
        return spare

    def swap():
        for i in range(len(u)):
            u[i], spare[i] = spare[i], u[i]

    def one_step(n):
        at = {"t": n} if time_dependent else {}
        stencil(*u, out=_out(spares()), **at, **inputs)
        swap()
        if callback is not None:
            callback(n + 1, dict(zip(names, u)) if len(names) > 1 else u[0])

    bar = _progress_bar(steps, "step", ".0f") if progress else None
    most = _REPORT_FIRST_STEPS if progress else sys.maxsize
    done = calls = 0
    try:
        for frame, stop in enumerate(marks[1:], start=1):
            while done < stop:
                n = min(stop - done, most) if driver else 1
                began = time.perf_counter()
                if driver and done == marks[frame - 1] and n == stop - done:
                    # the whole stretch in one call, from the frame recorded at its start (a copy
                    # of the state) straight into the state's home: no work grid, no copy back
                    home = frames.home
                    stencil.map_steps(*frames.frame(frame - 1), steps=n, out=_out(home), **inputs)
                    u[:] = home
                elif driver:
                    stencil.map_steps(*u, steps=n, out=_out(spares()), **inputs)
                    swap()
                else:
                    one_step(done)
                done += n
                calls += 1
                if bar is not None:
                    if driver:
                        most = _batch_after(n, time.perf_counter() - began)
                    _report(bar, done, done, start)
            frames.record(frame, u)
    finally:
        if bar is not None:
            bar.close()

    stats = {"steps": steps, "rhs_evals": steps, "calls": calls,
             "wall_seconds": time.perf_counter() - start, "compile_seconds": compile_seconds}
    return frames.solution(np.array(marks, dtype=np.int64), stats, stencil, names)


def _count(name, value, least):
    """`value` as an int, at least `least`; a bool, a float or a smaller number is an error."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < least:
        what = "a non-negative" if least == 0 else "a positive"
        raise StencilError(f"{name} must be {what} integer (a number of steps), got {value!r}")
    return int(value)


def _recording_steps(steps, record_every):
    """0, the multiples of record_every below `steps`, and `steps` (just 0 when steps is 0)."""
    marks = list(range(0, steps, record_every or max(steps, 1)))
    return marks + [steps] if steps else [0]
