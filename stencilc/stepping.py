"""Fused Euler stepping on a compiled stencil: one step, many steps in one call, or in place.

Takes a `Stencil`'s checked arguments (arrays, scalars, outputs) and its lazily compiled variants
(the fused update `u + dt*f(u)`, and its row-window form); gives the stepped state. Three ways:

* double-buffered: the update writes a separate output (`euler_step(..., out=v)`);
* many steps in one call: the backend's compiled multi-step driver where it has one (no call from
  Python per step), else a loop alternating between the output and a spare kept per shape; the
  same serves a discrete map `u <- f(u)` (the "map" variant, `iterate`);
* temporally blocked, where the backend has the driver (C) and the problem a tile kernel
  (ir.tileable): the same many steps, `depth` at a time, each thread advancing its band of rows
  through the `depth` levels as a wavefront whose levels stay in its cache (`tile_plan` chooses;
  the driver's comment in templates/c/kernel.c.j2 says how). The grid is read and written once per
  `depth` steps instead of once per step, and every value is the plain step's, to the last bit;
* in place (`out=` the state itself): a sweep over blocks of rows. Each block is computed by the
  row-window kernel, which reads the full arrays (direct reads across the cuts, the boundary
  conditions of the full grid at its walls, a periodic axis wrapping to the other end), into a
  small block buffer; a block is written back once the next block has been computed, when nothing
  still to be computed reads its old rows, except the first block, which the last block may read
  across a periodic wall and which is therefore written back at the very end. No row is computed
  twice and nothing is allocated per step: the block buffers are kept between steps. Where the
  backend has a compiled in-place driver (C) the whole sweep is one call: each thread sweeps its
  own share of the rows in blocks, into its own buffers (kept between calls), small enough to stay
  in cache until they are written back; a share's first and last blocks wait for the other
  threads, whose shares read them across the cuts.
"""
from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

# Rows per block of an in-place sweep run from Python: about this many bytes per state field and
# block (a call from Python per block must stay small against the block's work).
BLOCK_BYTES = 4 << 20

# Rows per block of a compiled in-place sweep, per thread and state field: a trade between the
# cost per block (each block recomputes the face values its first row shares with the block
# before) and the cost of copying a block back once it has left the cache (benchmarks/in_place.py,
# Kuramoto 6000^2, quiet machine: 256 KiB, 1 MiB and 2 MiB blocks cost 1.095, 1.070 and 1.111x a
# double-buffered step on 1 thread, 1.068, 1.039 and 1.113x on 2).
DRIVER_BLOCK_BYTES = 1 << 20


# Temporal blocking (`tile_plan`). Grids whose state, read and written (twice its size), takes
# fewer bytes than TILE_MIN_BYTES already stay in the cache between steps and are stepped plainly
# (heat, 1 thread: 724^2 float64 blocked took 1.08x the plain steps, 1024^2 0.72x). A sweep is at
# most TILE_MAX_DEPTH steps deep, and each call of the tile kernel computes TILE_SLAB_ROWS rows of
# a level (fewer where rows are long: about TILE_SLAB_POINTS points, at least one row; more where
# they are short: at least TILE_CALL_POINTS points). Tiles of full rows keep a
# thread's rings within TILE_WIDE_CACHE_BYTES (L2 and L3: on a 4096^2 heat grid deeper sweeps in
# L3 were measured faster than shallow ones in L2, and than tiles cut to fit the L2); where rows
# are so long that this leaves a sweep half as deep as cutting would, and the problem allows it
# (ir.columns_cuttable), tiles are cut along the last axis, TILE_COLUMNS wide, with rings within
# TILE_CACHE_BYTES (a 1024 x 16384 grid: 0.89x a copy per step cut, 1.03x in full rows).
# benchmarks/temporal.py measures the choice.
TILE_MIN_BYTES = 16 << 20
TILE_MAX_DEPTH = 16
TILE_SLAB_ROWS = 8
TILE_SLAB_POINTS = 32768
TILE_CALL_POINTS = 4096
TILE_COLUMNS = 512
TILE_CACHE_BYTES = 768 << 10
TILE_WIDE_CACHE_BYTES = 4 << 20


def tile_plan(shape: tuple[int, ...], itemsize: int, nstate: int, radius: int, steps: int,
              cut: bool = False):
    """(depth, slab, bands, cols) of the temporally blocked driver for `steps` steps on this grid,
    or None where plain steps are as good: a small grid, or rows so long that two levels' rings do
    not fit the cache budget. `cut`: tiles may be cut along the last axis (`cols` columns; 0 is
    full rows). The steps are split into sweeps of equal depth (the last may be shallower);
    `bands` 0 is one band per thread."""
    row = int(np.prod(shape[1:], dtype=np.int64))
    if steps < 2 or 2 * nstate * row * shape[0] * itemsize < TILE_MIN_BYTES:
        return None
    r = max(1, radius)

    def plan(points: int, budget: int, spare_levels: int):
        """(depth, slab) for rings of rows of `points` points; a sweep has `spare_levels` more
        levels than rings (its input and output levels are the arrays themselves)."""
        slab = max(-(-TILE_CALL_POINTS // points), min(TILE_SLAB_ROWS, max(1, TILE_SLAB_POINTS // points)))
        slab = min(shape[0], slab)
        level = (slab + 4 * r) * points * itemsize * nstate     # one level's rings (ring and repeat)
        return min(TILE_MAX_DEPTH, steps, budget // level + spare_levels), slab

    depth, slab = plan(row, TILE_WIDE_CACHE_BYTES, 1)
    cols = 0
    if cut and len(shape) > 1 and shape[-1] >= 2 * TILE_COLUMNS:
        cut_depth, cut_slab = plan(row // shape[-1] * (TILE_COLUMNS + 2 * TILE_MAX_DEPTH * r), TILE_CACHE_BYTES, -1)
        if cut_depth >= 2 * depth:
            depth, slab, cols = cut_depth, cut_slab, TILE_COLUMNS
    if depth < 2:
        return None
    sweeps = -(-steps // depth)
    return -(-steps // sweeps), slab, 0, cols


def check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    return int(steps)


def block_rows(shape: tuple[int, ...], itemsize: int, radius: int, target_bytes: int) -> int:
    """Rows per block: about `target_bytes` per block, at least the radius (so that a block's
    old rows are read by the next block only) and at least one row."""
    row_bytes = itemsize * int(np.prod(shape[1:], dtype=np.int64))
    return max(1, radius, target_bytes // max(row_bytes, 1))


class Stepping:
    """The stepping state of one stencil: its compiled variants and the work arrays kept between
    calls (spares per grid shape for multi-step calls, block buffers for in-place sweeps)."""

    def __init__(self, nstate: int, dtype: np.dtype, radius: int,
                 build_variant: Callable[[str], Callable] | None, timed: bool = False,
                 tiled: bool = False, cut: bool = False):
        self._nstate = nstate
        # the scalars end with the time t and the step dt: each step advances t by dt
        self._timed = timed
        self._dtype = np.dtype(dtype)
        self._radius = int(radius)
        self._build_variant = build_variant
        self._tiled = tiled   # the backend's temporally blocked driver can run this problem
        self._cut = cut       # ... with tiles cut along the last axis too
        self._variants: dict[str, Callable] = {}
        self._spares: tuple[tuple[int, ...], list[np.ndarray]] | None = None
        self._blocks: tuple[tuple[int, ...], list[list[np.ndarray]]] | None = None

    def variant(self, name: str) -> Callable:
        """The compiled variant `name` ("euler", "map", "euler_window", "euler_tiled",
        "map_tiled"), built on first use."""
        if name not in self._variants:
            if self._build_variant is None:
                raise NotImplementedError("this stencil was not built with fused variants")
            self._variants[name] = self._build_variant(name)
        return self._variants[name]

    def blocks(self, shape: tuple[int, ...]) -> bool:
        """Whether multi-step calls of a sweep's depth on this grid run temporally blocked."""
        return self._tiled and tile_plan(shape, self._dtype.itemsize, self._nstate, self._radius,
                                         TILE_MAX_DEPTH, self._cut) is not None

    def spares(self, shape: tuple[int, ...]) -> list[np.ndarray]:
        """One work array per state field, kept between calls of the same shape."""
        if self._spares is None or self._spares[0] != shape:
            self._spares = (shape, [np.empty(shape, dtype=self._dtype) for _ in range(self._nstate)])
        return self._spares[1]

    def _block_buffers(self, shape: tuple[int, ...]) -> list[list[np.ndarray]]:
        """Three block buffers per state field (the first block's, and two that alternate)."""
        if self._blocks is None or self._blocks[0] != shape:
            self._blocks = (shape, [[np.empty(shape, dtype=self._dtype) for _ in range(self._nstate)]
                                    for _ in range(3)])
        return self._blocks[1]

    def _at_step(self, params, k: int):
        """The scalars of step `k` (counting from 0) of a multi-step call: t advanced k steps."""
        if not self._timed or k == 0:
            return params
        t, dt = params[-2], params[-1]
        return params[:-2] + [type(t)(float(t) + k * float(dt)), dt]

    # ------------------------------------------------------------------ the three ways

    def step(self, arrays, params, outs, shape) -> None:
        """One Euler step into `outs`, or in place when `outs` is None."""
        if outs is None:
            self.in_place(arrays, params, shape, 1)
        else:
            self.variant("euler")(arrays, params, outs, shape)

    def steps(self, arrays, params, outs, shape, steps: int, variant: str = "euler") -> None:
        """`steps` applications of the update kernel `variant` ("euler", or "map": the right-hand
        side as the new state); the last writes `outs` (the state is left alone), or, for Euler,
        in place when `outs` is None."""
        if outs is None:
            self.in_place(arrays, params, shape, steps)
            return
        if steps == 0:
            for o, a in zip(outs, arrays):
                o[...] = a
            return
        plan = tile_plan(tuple(shape), self._dtype.itemsize, self._nstate, self._radius, steps, self._cut) \
            if self._tiled and not (variant == "map" and self._timed) else None
        if plan is not None:
            self.variant(variant + "_tiled").tiled(arrays, params, outs, self.spares(shape), shape, steps, *plan)
            return
        run = self.variant(variant)
        if hasattr(run, "steps"):
            run.steps(arrays, params, outs, self.spares(shape), shape, steps)
            return
        src, fixed = arrays[:self._nstate], arrays[self._nstate:]
        for k in range(steps):
            dst = outs if (steps - 1 - k) % 2 == 0 else self.spares(shape)
            run(list(src) + fixed, self._at_step(params, k), dst, shape)
            src = dst

    def in_place(self, arrays, params, shape, steps: int) -> None:
        """`steps` Euler steps with the state arrays (the first `nstate` of `arrays`) as output."""
        run = self.variant("euler_window")
        compiled = getattr(run, "in_place", None)
        rows = block_rows(shape, self._dtype.itemsize, self._radius,
                          DRIVER_BLOCK_BYTES if compiled else BLOCK_BYTES)
        rows = min(rows, shape[0])
        if compiled is not None:     # its block buffers are its own, per thread
            for k in range(steps):
                compiled(arrays, self._at_step(params, k), shape, rows)
            return
        buffers = self._block_buffers((rows,) + tuple(shape[1:]))
        for k in range(steps):
            self._sweep(run, arrays, self._at_step(params, k), shape, rows, buffers)

    def _sweep(self, run, arrays, params, shape, rows, buffers) -> None:
        state = arrays[:self._nstate]
        n0 = shape[0]
        first = pending = None
        for k, a in enumerate(range(0, n0, rows)):
            b = min(a + rows, n0)
            outs = [buf[:b - a] for buf in buffers[0 if k == 0 else 1 + k % 2]]
            run(arrays, params, outs, tuple(shape) + (a, b))
            if pending is not None:
                _write_back(state, pending)
            if k == 0:
                first = (a, b, outs)
            else:
                pending = (a, b, outs)
        if pending is not None:
            _write_back(state, pending)
        _write_back(state, first)


def _write_back(state, block) -> None:
    a, b, outs = block
    for s, o in zip(state, outs):
        s[a:b] = o
