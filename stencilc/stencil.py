"""The `Stencil`: a compiled right-hand side you call with arrays.

Takes the checked problem, the generated source and a backend runner; gives a callable that checks
its arguments (names, shapes, dtypes, memory layout) with errors naming the offending argument,
allocates or checks the outputs, and runs the kernel.
"""
from __future__ import annotations

import numbers
import reprlib
from typing import Any, Callable

import numpy as np

from . import display
from .backends.backend import data_address
from .stepping import Stepping, check_steps
from .symbolic import Field, Problem


class Stencil:
    """A compiled right-hand side: `k(*state_arrays, out=None, **inputs)`.

    Made by `compile_stencil`. A call takes the state arrays (positionally, in the order of
    ``state``), and every input field (an array of the grid's shape) and scalar parameter by name,
    and returns the right-hand side: one array, or a tuple for a system. ``out`` (an array, or a
    tuple for a system) is written in place and returned. Inputs are never modified. A missing or
    unknown argument is a ``TypeError`` naming it; a wrong shape, ndim or dtype is a
    ``ValueError`` naming the argument, what was expected and what was given.

    Attributes
    ----------
    source : str
        The generated code that runs.
    backend : str
        ``"c"``, ``"numpy"``, ``"numba"`` or ``"cuda"``.
    state, fields, params : tuple of str
        The state fields, the input fields and the scalar parameters, in call order.
    ndim : int
        Number of grid dimensions.
    dtype : str
        ``"float64"``, ``"float32"``, ``"complex128"`` or ``"complex64"``.
    spacing : tuple of float
        Grid spacing per axis.
    order : int
        The accuracy order of the differences (2, 4 or 6).
    origin : tuple of float
        The grid's low corner per axis: cell ``i`` of axis ``a`` is centred at
        ``origin[a] + (i + 1/2) * spacing[a]`` (what ``x``, ``y``, ``z`` stand for).
    time_dependent : bool
        Whether the right-hand side or a boundary value uses the time ``t``; such a stencil is
        called with ``t=`` (and one without ``t`` refuses it).
    radius : int
        How many cells beyond a point the stencil reads.
    expr : sympy.Expr or dict
        The right-hand side (for a system, a dict `Field` -> expression).
    bc : dict
        Per field name, per axis, the ``(low, high)`` boundary conditions.
    from_cache : bool
        Whether the kernel was loaded from the on-disk cache without compiling.
    """

    def __init__(self, problem: Problem, *, backend: str, source: str, radius: int,
                 run: Callable, from_cache: bool, build_variant: Callable | None = None,
                 tiled: bool = False, cut: bool = False):
        self._problem = problem
        self._run = run
        self._stepping = Stepping(len(problem.state), np.dtype(problem.dtype), radius, build_variant,
                                  timed=problem.time_dependent, tiled=tiled, cut=cut)
        self.backend = backend
        self.source = source
        self.radius = radius
        self.from_cache = from_cache
        self.state = problem.state
        self.fields = problem.fields
        self.params = problem.params
        self.ndim = problem.ndim
        self.dtype = problem.dtype
        self.spacing = problem.spacing
        self.order = problem.order
        self.origin = problem.origin
        self.time_dependent = problem.time_dependent
        self.bc = problem.bc_of
        self._np_dtype = np.dtype(problem.dtype)
        self._input_names = frozenset(problem.fields) | frozenset(problem.params)
        self._real_dtype = np.empty(0, self._np_dtype).real.dtype
        if len(problem.state) == 1:
            self.expr = problem.rhs[0]
        else:
            self.expr = {Field(s): e for s, e in zip(problem.state, problem.rhs)}

    def __repr__(self) -> str:
        """Backend, dtype, dimensions, radius and inputs; the equation(s); the boundary conditions
        in their command-line words."""
        return display.describe_stencil(self)

    def _repr_html_(self) -> str:
        return display.stencil_html(self)

    def _repr_latex_(self) -> str:
        return display.stencil_latex(self)

    # ------------------------------------------------------------------ argument checking

    def _array(self, name: str, value: Any, shape: tuple[int, ...] | None) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            if isinstance(value, numbers.Number) or not hasattr(value, "__len__"):
                raise ValueError(f"argument {name!r} must be an array of shape "
                                 f"{shape or '(grid)'}; got {type(value).__name__} {value!r}")
            value = np.asarray(value)
        if value.dtype != self._np_dtype:
            raise ValueError(f"argument {name!r} has dtype {value.dtype}, expected {self.dtype} "
                             f"(the stencil's dtype; convert with .astype('{self.dtype}'))")
        if value.ndim != self.ndim:
            raise ValueError(f"argument {name!r} has {value.ndim} dimensions (shape {value.shape}), "
                             f"expected {self.ndim}")
        if shape is not None and value.shape != shape:
            raise ValueError(f"argument {name!r} has shape {value.shape}, expected {shape} "
                             f"(the shape of {self.state[0]!r})")
        if 0 in value.shape:
            raise ValueError(f"argument {name!r} has shape {value.shape}; every axis needs size >= 1")
        if not value.flags.c_contiguous:
            value = np.ascontiguousarray(value)
        return value

    def _param(self, name: str, value: Any, real: bool = False):
        """`value` as a scalar of the stencil's dtype (of its real part with `real`, as the time
        step is); a complex value for a real stencil says which dtype takes it."""
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        kind = np.dtype(self._np_dtype).kind
        if (kind == "c" and not real and isinstance(value, numbers.Complex)
                and not isinstance(value, (bool, np.bool_))):
            return self._np_dtype.type(value)
        if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
            hint = ("; compile with dtype='complex128' (or 'complex64') for complex parameters"
                    if kind != "c" else "")
            raise ValueError(f"parameter {name!r} must be a real number, got complex {value!r}{hint}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            shape = getattr(value, "shape", None)
            # an array's shape, not its values: a grid-sized array would fill the screen
            given = (f"an array of shape {tuple(shape)}" if shape is not None
                     else f"{type(value).__name__} {reprlib.repr(value)}")
            raise ValueError(f"parameter {name!r} must be a {'complex' if kind == 'c' and not real else 'real'}"
                             f" number, got {given}"
                             + (f"; for a value per grid point make {name!r} a field "
                                f"(fields=[{name!r}], or Field({name!r}) in the expression)"
                                if shape is not None and len(shape) > 0 else ""))
        return (self._real_dtype if real else self._np_dtype).type(value)

    def _bind(self, state_arrays: tuple, inputs: dict):
        nstate = len(self.state)
        time = inputs.pop("t", None)
        if self.time_dependent and time is None:
            raise TypeError("missing argument 't': this stencil depends on the time t (in its "
                            "right-hand side or boundary values); call it with t=...")
        if not self.time_dependent and time is not None:
            raise TypeError("unknown argument 't': this stencil does not depend on the time t; "
                            "leave t= out")
        if len(state_arrays) > nstate:
            raise TypeError(f"stencil takes {nstate} state array(s) ({', '.join(self.state)}) "
                            f"positionally but {len(state_arrays)} were given")
        given = dict(zip(self.state, state_arrays))
        for name in self.state[len(state_arrays):]:
            if name in inputs:
                given[name] = inputs.pop(name)
        for name in self.state:
            if name in inputs:
                raise TypeError(f"state array {name!r} given both positionally and by name")
        known = set(self.fields) | set(self.params)
        unknown = sorted(set(inputs) - known)
        if unknown:
            raise TypeError(f"unknown argument(s) {', '.join(map(repr, unknown))}; this stencil takes "
                            f"state {list(self.state)}, fields {list(self.fields)}, "
                            f"parameters {list(self.params)}")
        missing = [n for n in self.state if n not in given]
        missing += [n for n in self.fields + self.params if n not in inputs]
        if missing:
            raise TypeError(f"missing argument(s) {', '.join(map(repr, missing))}; this stencil takes "
                            f"state {list(self.state)}, fields {list(self.fields)}, "
                            f"parameters {list(self.params)}")
        first = self._array(self.state[0], given[self.state[0]], None)
        shape = first.shape
        arrays = [first] + [self._array(n, given[n], shape) for n in self.state[1:]]
        arrays += [self._array(n, inputs[n], shape) for n in self.fields]
        params = [self._param(n, inputs[n]) for n in self.params]
        if self.time_dependent:
            params.append(self._param("t", time, real=True))
        return arrays, params, shape

    def _outputs(self, out, shape, arrays, in_place=False) -> list[np.ndarray] | None:
        """The checked output arrays, or None when ``in_place`` is allowed and ``out`` is exactly
        the state arrays (each ``out`` the very array given for its field)."""
        nstate = len(self.state)
        if out is None:
            return [np.empty(shape, dtype=self._np_dtype) for _ in range(nstate)]
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        if in_place and len(outs) == nstate and all(o is a for o, a in zip(outs, arrays)):
            return None
        if len(outs) != nstate or (nstate > 1 and not isinstance(out, (tuple, list))):
            raise ValueError(f"out must be {'a tuple of ' + str(nstate) + ' arrays' if nstate > 1 else 'an array'}"
                             f" (one per state field {', '.join(self.state)}); got {type(out).__name__}")
        for name, o in zip(self.state, outs):
            label = f"out for {name!r}"
            if not isinstance(o, np.ndarray):
                raise ValueError(f"{label} must be a numpy array, got {type(o).__name__}")
            if o.dtype != self._np_dtype or o.shape != shape:
                raise ValueError(f"{label} has dtype {o.dtype} and shape {o.shape}, expected "
                                 f"{self.dtype} and {shape}")
            if not (o.flags.c_contiguous and o.flags.writeable):
                raise ValueError(f"{label} must be a writeable C-contiguous array")
            for n, a in zip(self.state + self.fields, arrays):
                if np.may_share_memory(o, a):
                    hint = (" (or, for an Euler step in place, exactly the state array"
                            f"{'s' if nstate > 1 else ''})" if in_place else "")
                    raise ValueError(f"{label} overlaps input {n!r}; the kernel reads neighbours of "
                                     f"points it writes, so out must be a separate array{hint}")
        for i in range(nstate):
            for j in range(i):
                if np.may_share_memory(outs[i], outs[j]):
                    raise ValueError(f"out arrays for {self.state[j]!r} and {self.state[i]!r} overlap")
        return outs

    # ------------------------------------------------------------------ call

    def _bind_plain(self, state_arrays: tuple, out, inputs: dict):
        """The checked (arrays, params, outputs, shape) of a call in the plain form of a loop on a
        small grid, in a few microseconds, or None.

        Plain: every state array given positionally, every input by name, ``out`` given, each
        array an ndarray of the stencil's dtype, one shape, C-contiguous (``out`` writeable too),
        the scalars Python floats or ints, no ``out`` overlapping an input. Anything else returns
        None and the full checks run, which raise the same errors as ever. Nothing is remembered
        between calls but array addresses (`backends.backend.data_address`), which cannot go stale.
        """
        if out is None or len(state_arrays) != len(self.state) or inputs.keys() != self._input_names:
            return None
        outs = (out,) if type(out) is np.ndarray and len(self.state) == 1 else out
        if type(outs) not in (tuple, list) or len(outs) != len(self.state):
            return None
        dtype = self._np_dtype
        shape = state_arrays[0].shape if type(state_arrays[0]) is np.ndarray else None
        if shape is None or len(shape) != self.ndim or 0 in shape:
            return None
        arrays = [*state_arrays, *[inputs[n] for n in self.fields]]
        for a in arrays:
            if type(a) is not np.ndarray or a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous:
                return None
        for o in outs:
            if (type(o) is not np.ndarray or o.dtype != dtype or o.shape != shape
                    or not (o.flags.c_contiguous and o.flags.writeable)):
                return None
        params = []
        for n in self.params:
            v = inputs[n]
            if type(v) is not float and type(v) is not int:
                return None
            params.append(dtype.type(v))
        # contiguous arrays overlap exactly when their byte ranges do (np.may_share_memory's test)
        size = arrays[0].nbytes
        taken = [data_address(a) for a in arrays]
        for o in outs:
            lo = data_address(o)
            for b in taken:
                if lo < b + size and b < lo + size:
                    return None
            taken.append(lo)
        return arrays, params, list(outs), shape

    def __call__(self, *state_arrays, out=None, **inputs):
        plain = self._bind_plain(state_arrays, out, inputs)
        if plain is not None:
            arrays, params, outs, shape = plain
            self._run(arrays, params, outs, shape)
            return outs[0] if len(self.state) == 1 else tuple(outs)
        arrays, params, shape = self._bind(state_arrays, dict(inputs))
        outs = self._outputs(out, shape, arrays)
        self._run(arrays, params, outs, shape)
        return outs[0] if len(self.state) == 1 else tuple(outs)

    # ------------------------------------------------------------------ fused Euler steps

    def euler_step(self, *state_arrays, dt, out=None, **inputs):
        """`u + dt*f(u)` in one fused sweep (compiled on first use); same arguments as a call.

        ``out`` may be the state array itself (for a system, the tuple of state arrays): the step
        is then taken in place, by a sweep over blocks of rows that needs no grid-sized work array.
        """
        arrays, params, shape = self._bind(state_arrays, dict(inputs))
        outs = self._outputs(out, shape, arrays, in_place=True)
        self._stepping.step(arrays, params + [self._param("dt", dt, real=True)], outs, shape)
        outs = arrays[:len(self.state)] if outs is None else outs
        return outs[0] if len(self.state) == 1 else tuple(outs)

    def euler_steps(self, *state_arrays, dt, steps, out=None, **inputs):
        """`steps` Euler steps of size `dt` in one call.

        With a separate ``out`` the state arrays are not modified; where the backend has a
        compiled multi-step driver (C) the whole loop runs in compiled code, which removes the
        per-step cost of calling from Python on small grids, and on large grids is temporally
        blocked (sweeps of several steps that read the grid once, stepping.py), to the same bits.
        With ``out`` the state arrays themselves, the steps are taken in place.
        """
        steps = check_steps(steps)
        arrays, params, shape = self._bind(state_arrays, dict(inputs))
        outs = self._outputs(out, shape, arrays, in_place=True)
        self._stepping.steps(arrays, params + [self._param("dt", dt, real=True)], outs, shape, steps)
        outs = arrays[:len(self.state)] if outs is None else outs
        return outs[0] if len(self.state) == 1 else tuple(outs)

    def map_steps(self, *state_arrays, steps, out=None, **inputs):
        """The right-hand side applied as a discrete map, ``u <- f(u)``, `steps` times in one call
        (what `iterate` runs); same arguments as a call.

        The state arrays are not modified; the result is written to ``out`` (allocated when None,
        and which must not overlap the state). Where the backend has a compiled multi-step driver
        (C) the whole loop runs in compiled code, double-buffered between ``out`` and a work array
        kept between calls (temporally blocked on large grids, to the same bits), or for a stencil
        of radius 0 (each point reads only itself) a tile of points at a time through every step,
        its state in cache, which gives the same values; elsewhere one call per step alternates
        between the same two arrays.
        ``steps=0`` copies the state to ``out``.
        """
        steps = check_steps(steps)
        arrays, params, shape = self._bind(state_arrays, dict(inputs))
        outs = self._outputs(out, shape, arrays)
        self._stepping.steps(arrays, params, outs, shape, steps, variant="map")
        return outs[0] if len(self.state) == 1 else tuple(outs)
