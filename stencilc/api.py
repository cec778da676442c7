"""`compile_stencil` and `generate`: the pipeline end to end (DESIGN.md), through the cache.

Takes what the user wrote and the options of API.md §4; gives a `Stencil` (or source text). The cache
is looked up from the checked problem and options before any lowering, so a warm compile costs only
the front end and a library load.
"""
from __future__ import annotations

from pathlib import Path

from . import cache as _cache
from .backends import target as _target
from .errors import StencilError
from .ir import Kernel, build_kernel
from .passes import eliminate_common_subexpressions, fuse_euler, reuse_fluxes
from .describe import describe
from .stencil import Stencil
from .symbolic import Problem, check_problem

GENERATE_TARGETS = ("c", "numpy", "numba", "cuda")


VARIANTS = ("rhs", "euler")


# targets whose templates keep carried values in buffers (passes/reuse.py): along every axis, or
# along the contiguous axis only
REUSE_TARGETS = {"c": "all", "numba": "innermost"}

# targets that vectorise the middle of the boundary strips (ir.build_kernel(split_strips=True));
# numba keeps one shared function per strip (compile time), numpy stays the plain reference
SPLIT_STRIP_TARGETS = {"c"}


def _kernel(problem: Problem, name: str, variant: str = "rhs", target: str = "c") -> Kernel:
    kernel = build_kernel(problem, name=name, split_strips=target in SPLIT_STRIP_TARGETS)
    if variant == "euler":
        kernel = fuse_euler(kernel)
    if target in REUSE_TARGETS:
        kernel = reuse_fluxes(kernel, innermost_only=REUSE_TARGETS[target] == "innermost")
    return eliminate_common_subexpressions(kernel)


def _render(problem: Problem, target: str, name: str, variant: str = "rhs") -> tuple[str, Kernel]:
    kernel = _kernel(problem, name, variant, target)
    signature = None
    if target in ("c", "cuda"):  # the CUDA host launcher has the C signature
        from .backends.c import signature as c_signature
        signature = c_signature(kernel)
    header = describe(problem, name, target, signature)
    # fastmath is part of Numba's source (a decorator argument); update kernels get a multi-step
    # driver where the target has one
    return _target(target).render(kernel, header, fastmath=problem.fastmath,
                                  steps_driver=variant == "euler"), kernel


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise StencilError(f"name {name!r} is not a valid C/Python identifier")
    return name


def _build(problem: Problem, backend: str, cache: bool, variant: str = "rhs"):
    """(runner, source, radius, from_cache) for `problem` on `backend`, through the cache."""
    tgt = _target(backend)
    name = "stencil_rhs"
    key = _cache.make_key(problem.key(), backend, name, variant, tgt.toolchain_id(problem.fastmath))

    def populate(directory: Path) -> dict:
        source, kernel = _render(problem, backend, name, variant)
        tgt.build(source, directory, problem.fastmath)
        from .backends.c import signature as c_signature
        meta = {"backend": backend, "name": kernel.name, "dtype": problem.dtype, "radius": kernel.radius,
                "signature": c_signature(kernel), "source_file": tgt.SOURCE_FILE}
        if backend == "c" and variant == "euler":
            from .backends.c import steps_signature
            meta["steps_signature"] = steps_signature(kernel)
        return meta

    found = _cache.lookup(key) if cache else None
    from_cache = found is not None
    if found is None:
        found = _cache.store(key, populate) if cache else _cache.build_uncached(populate)
    directory, meta = found
    source = (directory / meta["source_file"]).read_text()
    return tgt.load(directory, meta), source, meta["radius"], from_cache


def compile_stencil(rhs, *, state=None, fields=None, ndim=2, bc="neumann", backend="c",
                    dtype="float64", spacing=1.0, fastmath=False, cache=True) -> Stencil:
    """Compile a right-hand side into a callable `Stencil` (API.md §4)."""
    _target(backend)
    problem = check_problem(rhs, state=state, fields=fields, ndim=ndim, bc=bc, dtype=dtype,
                            spacing=spacing, fastmath=fastmath)
    if not isinstance(cache, bool):
        raise StencilError(f"cache={cache!r} must be True or False")
    run, source, radius, from_cache = _build(problem, backend, cache)
    return Stencil(problem, backend=backend, source=source, radius=radius, run=run,
                   from_cache=from_cache,
                   build_variant=lambda variant: _build(problem, backend, cache, variant)[0])


def generate(rhs, *, target="c", name="stencil_rhs", state=None, fields=None, ndim=2, bc="neumann",
             dtype="float64", spacing=1.0, fastmath=False) -> str:
    """The source for `target` without compiling it; for "c" exactly what `stencilc emit` writes."""
    if target not in GENERATE_TARGETS:
        raise StencilError(f"target {target!r} is not known; accepted: {', '.join(GENERATE_TARGETS)}")
    problem = check_problem(rhs, state=state, fields=fields, ndim=ndim, bc=bc, dtype=dtype,
                            spacing=spacing, fastmath=fastmath)
    return _render(problem, target, _check_name(name))[0]


def generate_header(rhs, *, name="stencil_rhs", state=None, fields=None, ndim=2, bc="neumann",
                    dtype="float64", spacing=1.0, fastmath=False) -> str:
    """A C header declaring the function that `generate(..., target="c")` (or "cuda") defines."""
    from .backends.c import signature as c_signature
    from .templates_env import environment
    problem = check_problem(rhs, state=state, fields=fields, ndim=ndim, bc=bc, dtype=dtype,
                            spacing=spacing, fastmath=fastmath)
    kernel = _kernel(problem, _check_name(name))
    signature = c_signature(kernel)
    return environment().get_template("c/header.h.j2").render(
        header=describe(problem, name, "c", signature), guard=f"STENCILC_{name.upper()}_H",
        prototype=signature)
