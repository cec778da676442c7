"""`compile_stencil` and `generate`: the pipeline end to end, through the cache.

Takes what the user wrote and the options of `compile_stencil`; gives a `Stencil` (or source text).
What a target needs is read from its backend's declaration (`backends.Backend`): the kernel is built
and the declared passes are run by name, so nothing here knows a target. The cache is looked up from
the checked problem and options before any lowering, so a warm compile costs only the front end and
a library load. A compile (a cache miss) that runs longer than `NOTICE_SECONDS` says so in one
line on stderr while it runs, on every backend, unless $STENCILC_QUIET is set (to anything but 0).
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

from . import cache as _cache
from .backends import TARGETS, target as _target
from .describe import describe
from .errors import StencilError
from .ir import Kernel, bind_positions, build_kernel, columns_cuttable, tileable
from .passes import eliminate_common_subexpressions, fuse_euler, hoist_invariants, reuse_fluxes
from .stencil import Stencil
from .symbolic import Problem, check_problem

# the IR passes by the names that backends declare and that join the cache key
PASSES = {
    "fuse_euler": fuse_euler,
    "reuse_fluxes:all": reuse_fluxes,
    "reuse_fluxes:innermost": functools.partial(reuse_fluxes, innermost_only=True),
    "cse": eliminate_common_subexpressions,
}

# the kernel variants and the passes each runs before the backend's own: "euler" is the update
# kernel `u + dt*f(u)`, which gets the backend's multi-step driver where it has one, "map" the
# right-hand side itself as a discrete map `u <- f(u)` (`iterate`), which gets the same driver, and
# "euler_window" the update over a row window (ir.py), which gets its in-place driver, and
# "euler_tiled" and "map_tiled" the tile kernels (ir.py) of the two, which get the temporally
# blocked multi-step driver (stepping.py)
VARIANTS = {"rhs": (), "euler": ("fuse_euler",), "map": (), "euler_window": ("fuse_euler",),
            "euler_tiled": ("fuse_euler",), "map_tiled": ()}
WINDOWED = {"euler_window"}
TILED = {"euler_tiled", "map_tiled"}
STEPPED = {"euler", "map", "euler_window", "euler_tiled", "map_tiled"}

# A compile still running after this many seconds prints a one-line notice on stderr (a C kernel
# takes a fraction of a second, a cold Numba one several); $STENCILC_QUIET=1 turns it off.
NOTICE_SECONDS = 1.0
_NOTICE_KIND = {"rhs": "kernel", "euler": "Euler-step kernel", "map": "map kernel",
                "euler_window": "in-place Euler kernel", "euler_tiled": "temporally blocked Euler kernel",
                "map_tiled": "temporally blocked map kernel"}


def _passes(backend: ModuleType, variant: str) -> tuple[str, ...]:
    return VARIANTS[variant] + backend.BACKEND.passes


def _kernel(problem: Problem, name: str, backend: ModuleType, variant: str = "rhs", sides=None) -> Kernel:
    kernel = build_kernel(problem, name=name, split_strips=backend.BACKEND.split_strips,
                          window=variant in WINDOWED, tile=variant in TILED, sides=sides)
    for p in _passes(backend, variant):
        kernel = PASSES[p](kernel)
    # coordinates become values computed once per index, and what depends on one outer axis only
    # is computed once per index of that axis
    return hoist_invariants(bind_positions(kernel))


def _steps_driver(backend: ModuleType, variant: str) -> bool:
    return backend.BACKEND.steps_driver and variant in STEPPED


def _render(problem: Problem, backend: ModuleType, name: str, variant: str = "rhs",
            sides=None) -> tuple[str, Kernel]:
    kernel = _kernel(problem, name, backend, variant, sides)
    header = describe(problem, name, backend.BACKEND.name, backend.signature(kernel))
    # fastmath is part of Numba's source (a decorator argument)
    return backend.render(kernel, header, fastmath=problem.fastmath,
                          steps_driver=_steps_driver(backend, variant)), kernel


@contextlib.contextmanager
def _compile_notice(problem: Problem, backend_name: str, variant: str, cache: bool):
    """Prints ``stencilc: compiling <backend> kernel for <state> (first time only) ...`` on stderr
    if the block is still running after `NOTICE_SECONDS`, so that a slow compile is not silence."""
    if os.environ.get("STENCILC_QUIET", "") not in ("", "0"):
        yield
        return
    when = "first time only" if cache else "cache=False: every time"
    text = (f"stencilc: compiling {backend_name} {_NOTICE_KIND.get(variant, variant + ' kernel')} "
            f"for {', '.join(problem.state)} ({when}) ...")
    timer = threading.Timer(NOTICE_SECONDS, lambda: print(text, file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise StencilError(f"name {name!r} is not a valid C/Python identifier")
    return name


def _build(problem: Problem, backend_name: str, cache: bool, variant: str = "rhs", sides=None):
    """(runner, source, radius, from_cache) for `problem` on the backend, through the cache.

    `sides` (per axis a (low, high) pair of "physical"/"halo", default all physical) builds a halo
    kernel, whose inputs carry padding beyond its halo sides (ir.build_kernel)."""
    backend = _target(backend_name)
    spec = backend.BACKEND
    spec.require()
    name = "stencil_rhs"
    passes = _passes(backend, variant)
    key = _cache.make_key(problem.key(), spec.name, name, variant, " ".join(passes),
                          f"split_strips={spec.split_strips}", f"sides={sides!r}",
                          backend.toolchain_id(problem.fastmath))

    def populate(directory: Path) -> dict:
        source, kernel = _render(problem, backend, name, variant, sides)
        backend.build(source, directory, problem.fastmath)
        return {"backend": spec.name, "name": kernel.name, "dtype": problem.dtype, "radius": kernel.radius,
                "source_file": spec.source_file, "passes": list(passes),
                **backend.metadata(kernel, _steps_driver(backend, variant))}

    found = _cache.lookup(key) if cache else None
    from_cache = found is not None
    if found is None:
        with _compile_notice(problem, spec.name, variant, cache):
            found = _cache.store(key, populate) if cache else _cache.build_uncached(populate)
    directory, meta = found
    source = (directory / meta["source_file"]).read_text()
    return backend.load(directory, meta), source, meta["radius"], from_cache


def compile_stencil(rhs, *, state=None, fields=None, ndim=2, bc="neumann", backend="c",
                    dtype="float64", spacing=1.0, origin=0.0, order=2, fastmath=False, cache=True) -> Stencil:
    """Compile a right-hand side into a callable `Stencil` for `backend` (one of `backends.TARGETS`).

    Parameters
    ----------
    rhs : sympy.Expr, str or dict
        The right-hand side ``du/dt``: an expression of `Field` objects, scalar ``Symbol``
        parameters, numbers, pointwise SymPy functions and the operators `grad`, `div`,
        `laplace`, `D` and `dot`; a string in the same language; or, for a system, a dict
        ``{field: rhs}`` (all computed in one fused sweep).
    state : Field, str or sequence, optional
        The evolving field(s). Default: the keys of a dict ``rhs``, else the one field that appears
        under a differential operator.
    fields : sequence of Field or str, optional
        Input fields, in call order; fields not listed follow, sorted by name. In a string ``rhs``,
        names not declared as state or fields are scalar parameters.
    ndim : {1, 2, 3}
        Number of grid dimensions.
    bc : str, boundary condition, tuple or dict
        ``"neumann"``, ``"periodic"``, ``"dirichlet"`` (or a word with values such as
        ``"dirichlet:1"``), a `Neumann`, `Periodic`, `Dirichlet` or `Robin` object, a tuple with
        one entry per axis (each a condition or a ``(low, high)`` pair), or a dict per field.
        Input fields are Neumann unless named, except along axes periodic for the state.
    backend : {"c", "numpy", "numba", "cuda"}
        What the kernel is generated as and run with.
    dtype : {"float64", "float32", "complex128", "complex64"}
        The precision of the arrays, the arithmetic and the literals. With a complex dtype, fields
        and parameters are complex and ``I`` is the imaginary unit (also in a string ``rhs``; in a
        real stencil's string it is a parameter's name); ``re``, ``im``, ``Abs`` and ``arg`` give
        reals, which conditions, ``Min`` and ``Max`` need.
    spacing : float or sequence of float
        Grid spacing ``h``, one value or one per axis.
    order : {2, 4, 6}
        Accuracy order of every difference and of every interpolation to a face: p-point centred
        formulas, O(h^p) in the interior. The radius grows with it (``D(u)`` and
        ``div(c*grad(u))`` reach ``order - 1`` cells); the boundary conditions' ghost rules are
        the same at every order, so zero-flux walls stay exactly conservative. ``laplace`` is
        ``div(grad(.))`` at order 2 and the compact centred second difference (p + 1 points per
        axis, reaching ``order / 2`` cells) at orders 4 and 6.
    origin : float or sequence of float
        Where the grid's low corner lies, one value or one per axis: cell ``i`` along axis ``a``
        is centred at ``origin[a] + (i + 1/2) * spacing[a]``, which is what the coordinates ``x``,
        ``y``, ``z`` stand for in ``rhs`` and in boundary values.
    fastmath : bool
        Allow reassociation, contraction and cheaper math functions (``-ffast-math`` and the like).
    cache : bool
        Look the kernel up in, and store it to, the on-disk cache.

    Returns
    -------
    Stencil
        Call it as ``k(*state_arrays, out=None, **inputs)``.

    Raises
    ------
    StencilError
        For any mistake in the expression or the options, naming the offending part, and where a
        backend's compiler or module is missing.

    Notes
    -----
    A compile still running after a second (a cold Numba kernel takes several) prints one line,
    ``stencilc: compiling numba kernel for theta (first time only) ...``, on stderr; later runs
    load the kernel from the cache. Set the environment variable ``STENCILC_QUIET=1`` to silence it.

    Examples
    --------
    >>> import sympy as sp
    >>> from stencilc import compile_stencil, div, fields, grad
    >>> theta, omega = fields("theta omega")
    >>> K = sp.Symbol("K")
    >>> k = compile_stencil(omega + K * div(sp.sin(grad(theta))), ndim=2, bc="neumann")
    >>> k.state, k.fields, k.params
    (('theta',), ('omega',), ('K',))
    """
    _target(backend)
    problem = check_problem(rhs, state=state, fields=fields, ndim=ndim, bc=bc, dtype=dtype,
                            spacing=spacing, fastmath=fastmath, order=order, origin=origin)
    if not isinstance(cache, bool):
        raise StencilError(f"cache={cache!r} must be True or False")
    run, source, radius, from_cache = _build(problem, backend, cache)
    # a stencil of radius 0 keeps the pointwise multi-step driver, which takes each point through
    # every step in cache
    tiled = _target(backend).BACKEND.tiled_driver and radius > 0 and tileable(problem) is None
    return Stencil(problem, backend=backend, source=source, radius=radius, run=run,
                   from_cache=from_cache, tiled=tiled, cut=tiled and columns_cuttable(problem) is None,
                   build_variant=lambda variant: _build(problem, backend, cache, variant)[0])


def generate(rhs, *, target="c", name="stencil_rhs", state=None, fields=None, ndim=2, bc="neumann",
             dtype="float64", spacing=1.0, origin=0.0, order=2, fastmath=False) -> str:
    """The source for `target` without compiling it (no compiler, Numba, CuPy or GPU needed); for
    "c" exactly what ``stencilc emit`` writes.

    Parameters
    ----------
    rhs, state, fields, ndim, bc, dtype, spacing, origin, order, fastmath
        As for `compile_stencil`.
    target : {"c", "numpy", "numba", "cuda"}
        The language: a standalone C99 + OpenMP file, a NumPy or Numba module, or CUDA C with a
        host launcher.
    name : str
        The name of the generated function.

    Returns
    -------
    str
        The source text. Its top comment gives the function's signature, the boundary conditions,
        the stencilc version and the ``stencilc emit`` command that regenerates it.
    """
    backend = _target(target, what="target")
    problem = check_problem(rhs, state=state, fields=fields, ndim=ndim, bc=bc, dtype=dtype,
                            spacing=spacing, fastmath=fastmath, order=order, origin=origin)
    return _render(problem, backend, _check_name(name))[0]


def generate_header(rhs, *, target="c", name="stencil_rhs", state=None, fields=None, ndim=2,
                    bc="neumann", dtype="float64", spacing=1.0, origin=0.0, order=2, fastmath=False) -> str:
    """A C header declaring the function that `generate(..., target=target)` defines, for the
    targets with a C prototype ("c", and "cuda" for its host launcher)."""
    from .templates_env import environment
    backend = _target(target, what="target")
    problem = check_problem(rhs, state=state, fields=fields, ndim=ndim, bc=bc, dtype=dtype,
                            spacing=spacing, fastmath=fastmath, order=order, origin=origin)
    kernel = _kernel(problem, _check_name(name), backend)
    signature = backend.signature(kernel)
    if signature is None:
        with_prototype = [t for t in TARGETS if _target(t).signature(kernel) is not None]
        raise StencilError(f"target {target!r} defines no C function to declare in a header; "
                           f"headers are for {', '.join(with_prototype)}")
    complex_types = None
    if "stencilc_complex" in signature:
        part = "float" if problem.dtype == "complex64" else "double"
        complex_types = {"cxx": f"cuda::std::complex<{part}>", "c": f"{part} _Complex"}
    return environment().get_template("c/header.h.j2").render(
        header=describe(problem, name, target, signature), guard=f"STENCILC_{name.upper()}_H",
        prototype=signature, complex=complex_types)
