"""Beside the pipeline, on more than one process: the same compiled kernels on the blocks of a grid
decomposed over MPI ranks.

Takes a compiled `Stencil` and a `Decomposition` of the global grid over a Cartesian communicator
(mpi4py); gives a `DistributedStencil` with the stencil's call conventions on this rank's block,
and moves arrays between the global grid and the blocks (`scatter`, `gather`, `local`, and one
global ``.npy`` written and read by all ranks through MPI-IO). Each rank runs the stencil's
problem compiled as a halo kernel (ir.build_kernel's side kinds): a side of its block that lies
inside the global grid, or on a periodic wall split over ranks, is a *halo* side, whose ghost
layers (the stencil's radius deep) this module fills from the neighbouring rank; a side on the
global boundary is *physical* and applies the boundary condition inside the kernel, as one process
would (a periodic axis that is not split keeps its in-kernel wrap). Ghosts are exchanged axis by
axis, non-blocking, with slabs that span the padded extent of the other axes, so that corners
arrive in the second round; message tags encode the axis and the direction, so that two ranks
that are each other's neighbours on both sides (a periodic axis over two ranks) never confuse the
two slabs. What a halo side means for a kernel is the IR's business; this module owns the
communicator, the exchange and the input/output, nothing else.

Importing it installs an exception hook that prints the exception with its rank and calls
``MPI_Abort``, so that an exception on one rank ends every rank instead of leaving the others
waiting for it.
"""
from __future__ import annotations

import dataclasses
import io
import numbers
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

try:
    from mpi4py import MPI
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError('stencilc.distributed needs mpi4py and an MPI library: '
                      'pip install "stencilc[mpi]"') from exc

from . import api, ir
from .errors import StencilError
from .ir import HALO, PHYSICAL


# --------------------------------------------------------------------------- one rank fails: all end

def _abort_on_exception(kind, value, traceback, _previous=sys.excepthook):
    """Print the exception, naming the rank, then end every rank of the job (MPI_Abort)."""
    rank = MPI.COMM_WORLD.Get_rank() if MPI.Is_initialized() and not MPI.Is_finalized() else "?"
    sys.stderr.write(f"[stencilc.distributed] uncaught exception on rank {rank}:\n")
    _previous(kind, value, traceback)
    sys.stderr.flush()
    if MPI.Is_initialized() and not MPI.Is_finalized():
        MPI.COMM_WORLD.Abort(1)


if getattr(sys.excepthook, "__name__", "") != _abort_on_exception.__name__:
    sys.excepthook = _abort_on_exception


def _numbers(a, shape, what: str, which: str, expected: str) -> np.ndarray:
    """`a` as an array of numbers of `shape`; a StencilError naming `what` and `which` if not."""
    x = np.asarray(a)
    if x.shape != shape:
        raise StencilError(f"{what}: {which} has shape {x.shape}, expected {expected} {shape}")
    if x.dtype.hasobject:
        raise StencilError(f"{what}: dtype {x.dtype} holds Python objects; give numbers")
    return x


def _together(comm, work: Callable[[], Any]):
    """Run `work` on every rank; when it raises on any rank, raise on every rank (the failing
    ranks their own exception, the others the first failing rank's `StencilError`, or for another
    exception a `StencilError` naming that rank), so that a rank that catches the error is never
    left waiting for the others."""
    try:
        result, message = work(), None
    except Exception as exc:  # noqa: BLE001 - re-raised below on this rank
        result, error = None, exc
        message = str(exc) if isinstance(exc, StencilError) else f"{type(exc).__name__}: {exc}"
        message = (isinstance(exc, StencilError), message)
    messages = comm.allgather(message)
    failed = [r for r, m in enumerate(messages) if m is not None]
    if failed:
        if message is not None:
            raise error
        ours, text = messages[failed[0]]
        raise StencilError(text if ours else f"rank {failed[0]} failed ({text}); every rank stops")
    return result


# --------------------------------------------------------------------------- the decomposition

def _blocks(n: int, parts: int) -> list[tuple[int, int]]:
    """`n` cells in `parts` near-equal blocks, the larger ones first: [(start, stop), ...]."""
    q, extra = divmod(n, parts)
    out, start = [], 0
    for p in range(parts):
        stop = start + q + (p < extra)
        out.append((start, stop))
        start = stop
    return out


def _byte_element(itemsize: int):
    """An MPI datatype of one array element as `itemsize` raw bytes (any dtype, any byte order)."""
    return MPI.BYTE.Create_contiguous(itemsize).Commit()


def _slab(element, shape, sub, start):
    """The MPI datatype of the box `start .. start+sub` inside a C-ordered array of `shape`."""
    return element.Create_subarray(list(shape), list(sub), list(start), order=MPI.ORDER_C).Commit()


class _Exchange:
    """Ghost-layer exchange for arrays of one padded shape: per axis, per halo side, the slab this
    rank receives into its padding and the slab it sends from its own cells, both spanning the
    padded extent of every other axis."""

    def __init__(self, dec: "Decomposition", shape, padding, halo, itemsize: int):
        self.element = _byte_element(itemsize)
        self.rounds = []
        self.types = []
        for a in range(len(shape)):
            low, high = dec._neighbours[a]
            moves = []
            for side, peer in ((0, low), (1, high)):
                width = padding[a][side]
                if not halo[a][side] or width == 0:
                    continue
                sub = list(shape)
                sub[a] = width
                ghost, own = [0] * len(shape), [0] * len(shape)
                ghost[a] = 0 if side == 0 else shape[a] - width
                own[a] = padding[a][0] if side == 0 else shape[a] - padding[a][1] - width
                recv, send = _slab(self.element, shape, sub, ghost), _slab(self.element, shape, sub, own)
                self.types += [recv, send]
                # tag: the axis and the direction the message travels (0 towards low, 1 towards high);
                # what arrives on the low side travels towards high, and the other way round
                moves.append((peer, recv, 2 * a + (1 - side), send, 2 * a + side))
            self.rounds.append(moves)
        self.comm = dec.comm

    def __call__(self, arrays) -> None:
        comm, step = self.comm, 2 * len(self.rounds)
        for moves in self.rounds:
            if not moves:
                continue
            requests = []
            for i, x in enumerate(arrays):
                for peer, recv, recv_tag, _, _ in moves:
                    requests.append(comm.Irecv([x, 1, recv], source=peer, tag=i * step + recv_tag))
            for i, x in enumerate(arrays):
                for peer, _, _, send, send_tag in moves:
                    requests.append(comm.Isend([x, 1, send], dest=peer, tag=i * step + send_tag))
            MPI.Request.Waitall(requests)


class Decomposition:
    """A global grid split into near-equal blocks (the larger first), one per rank of a Cartesian
    communicator periodic along every axis (`dec.distribute(k)` decides from k's boundary
    conditions which sides exchange ghosts and which are physical).

    ``comm``: an MPI intracommunicator (None: ``MPI.COMM_WORLD``); ``dims``: ranks per axis (None,
    or zeros in it: ``MPI.Compute_dims``). Attributes: ``comm`` (the Cartesian communicator),
    ``rank``, ``size``, ``dims``, ``coords``, ``global_shape``, ``local_shape``, ``local_slices``
    (this rank's block as global index slices). Every method is collective: every rank calls it.
    """

    def __init__(self, global_shape, comm=None, dims=None):
        shape = _check_shape(global_shape)
        ndim = len(shape)
        base = MPI.COMM_WORLD if comm is None else comm
        if not isinstance(base, MPI.Intracomm):
            raise StencilError(f"comm must be an MPI intracommunicator (or None for COMM_WORLD), "
                               f"got {type(base).__name__}")
        size = base.Get_size()
        dims = _check_dims(dims, size, ndim)
        for a, (n, d) in enumerate(zip(shape, dims)):
            if d > n:
                raise StencilError(f"axis {a} has {n} cell(s) but dims={dims} splits it into {d} "
                                   f"blocks; every block needs at least one cell: use fewer ranks "
                                   f"along axis {a} (dims=)")
        self.comm = base.Create_cart(list(dims), periods=[True] * ndim, reorder=False)
        self.rank = self.comm.Get_rank()
        self.size = size
        self.dims = dims
        self.coords = tuple(self.comm.Get_coords(self.rank))
        self.global_shape = shape
        self.ndim = ndim
        self._axis_blocks = [_blocks(n, d) for n, d in zip(shape, dims)]
        self.local_slices = tuple(slice(*self._axis_blocks[a][c]) for a, c in enumerate(self.coords))
        self.local_shape = tuple(s.stop - s.start for s in self.local_slices)
        self._neighbours = [self.comm.Shift(a, 1) for a in range(ndim)]
        self._exchanges: dict = {}

    def __repr__(self) -> str:
        return (f"<Decomposition {'x'.join(map(str, self.global_shape))} over dims={self.dims}: rank "
                f"{self.rank} of {self.size} at {self.coords}, block "
                f"{'x'.join(map(str, self.local_shape))}>")

    # ------------------------------------------------------------------ blocks of every rank

    def _block_of(self, rank: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(starts, sizes) of `rank`'s block in the global grid."""
        spans = [self._axis_blocks[a][c] for a, c in enumerate(self.comm.Get_coords(rank))]
        return tuple(s for s, _ in spans), tuple(e - s for s, e in spans)

    def narrowest(self, axis: int) -> int:
        """The width of the narrowest block along `axis` (the same on every rank)."""
        return min(e - s for s, e in self._axis_blocks[axis])

    def _check_width(self, radius: int, halo_axes, what: str) -> None:
        for a in halo_axes:
            if self.narrowest(a) < radius:
                fix = (f"use fewer ranks along axis {a} (dims=) or a larger grid" if self.dims[a] > 1
                       else "use a larger grid")
                raise StencilError(
                    f"{what} needs ghost layers {radius} deep, but along axis {a} the grid's "
                    f"{self.global_shape[a]} cells over {self.dims[a]} rank(s) give blocks of "
                    f"{self.narrowest(a)}: every block must be at least {radius} wide along an axis "
                    f"that exchanges ghosts; {fix}")

    def _root(self, root) -> int:
        if isinstance(root, bool) or not isinstance(root, numbers.Integral) or not 0 <= root < self.size:
            raise StencilError(f"root={root!r} must be a rank of dec.comm, 0 to {self.size - 1}")
        return int(root)

    # ------------------------------------------------------------------ ghosts

    def exchange(self, a: np.ndarray, radius: int, periodic=False) -> np.ndarray:
        """Fill the ghost layers of `a`, this rank's block padded by `radius` cells on every side,
        from the neighbouring ranks, corners included; ``periodic`` (one flag, or one per axis)
        says which axes wrap around the global grid (ghosts there come from the other end, also
        when one rank holds the whole axis). Ghosts beyond the global boundary of the other axes
        are left as they are. Returns `a`."""
        radius = _check_count("radius", radius)
        flags = tuple(periodic) if isinstance(periodic, (tuple, list)) else (periodic,) * self.ndim
        if len(flags) != self.ndim or any(not isinstance(p, (bool, np.bool_)) for p in flags):
            raise StencilError(f"periodic={periodic!r}: give True/False, or one per axis ({self.ndim})")
        shape = tuple(n + 2 * radius for n in self.local_shape)
        if not isinstance(a, np.ndarray) or a.shape != shape or not a.flags.c_contiguous:
            got = f"shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
            raise StencilError(f"exchange needs a C-contiguous array of this rank's block padded by "
                               f"radius={radius} on every side, shape {shape}; got {got}")
        halo = tuple((bool(p) or c > 0, bool(p) or c < d - 1)
                     for p, c, d in zip(flags, self.coords, self.dims))
        self._check_width(radius, [ax for ax, (p, d) in enumerate(zip(flags, self.dims)) if p or d > 1],
                          "exchange")
        key = (shape, radius, halo, a.itemsize)
        if key not in self._exchanges:
            self._exchanges[key] = _Exchange(self, shape, ((radius, radius),) * self.ndim, halo, a.itemsize)
        self._exchanges[key]([a])
        return a

    # ------------------------------------------------------------------ stencils

    def distribute(self, stencil, *, every_rank: bool = False) -> "DistributedStencil":
        """`stencil` on this rank's block: same call conventions, local arrays (see
        `DistributedStencil`). ``every_rank=True`` runs `integrate`'s progress bar and callbacks
        on every rank, not only on rank 0 (a callback that calls a collective such as `gather`
        needs it)."""
        return DistributedStencil(self, stencil, every_rank=every_rank)

    # ------------------------------------------------------------------ arrays

    def local(self, f: Callable) -> np.ndarray:
        """``f(*global_index_arrays)`` over this rank's block (as numpy.fromfunction, with the
        global indices of the block's cells), broadcast to the block's shape."""
        index = np.meshgrid(*[np.arange(s.start, s.stop) for s in self.local_slices], indexing="ij")
        value = np.asarray(f(*index))
        if value.shape == self.local_shape and value.flags.c_contiguous and value.flags.writeable:
            return value
        try:
            return np.array(np.broadcast_to(value, self.local_shape), order="C")
        except ValueError:
            raise StencilError(f"local(f): f returned shape {value.shape}, which does not broadcast "
                               f"to this rank's block {self.local_shape}") from None

    def scatter(self, a, root: int = 0):
        """This rank's block of the global array `a` given on rank ``root`` (other ranks pass
        None); a dict name → array scatters each entry."""
        root = self._root(root)
        if self.rank == root and isinstance(a, dict):
            keys = list(a)
        else:
            keys = None
        keys = self.comm.bcast(keys, root=root)
        if keys is not None:
            return {k: self.scatter(a[k] if self.rank == root else None, root) for k in keys}

        def check():
            if self.rank != root:
                return None
            return _numbers(a, self.global_shape, "scatter", f"the array on rank {root}",
                            "the global shape").dtype.str

        dtype = self.comm.bcast(_together(self.comm, check), root=root)
        local = np.empty(self.local_shape, dtype=np.dtype(dtype))
        element = _byte_element(local.itemsize)
        try:
            if self.rank == root:
                x = np.ascontiguousarray(a, dtype=local.dtype)
                types, requests = [], []
                for r in range(self.size):
                    if r != root:
                        starts, sizes = self._block_of(r)
                        types.append(_slab(element, self.global_shape, sizes, starts))
                        requests.append(self.comm.Isend([x, 1, types[-1]], dest=r, tag=7))
                local[...] = x[self.local_slices]
                MPI.Request.Waitall(requests)
                for t in types:
                    t.Free()
            else:
                self.comm.Recv([local, local.size, element], source=root, tag=7)
        finally:
            element.Free()
        return local

    def _check_block(self, a, what: str) -> np.ndarray:
        """`a` as this rank's C-contiguous block, checked on every rank together: the right shape,
        and the same dtype on every rank."""
        def check():
            return np.ascontiguousarray(_numbers(a, self.local_shape, what, f"the array on rank {self.rank}",
                                                 "this rank's block"))

        x = _together(self.comm, check)
        dtypes = self.comm.allgather(x.dtype.str)
        if len(set(dtypes)) > 1:
            raise StencilError(f"{what}: the ranks' blocks have different dtypes "
                               f"({', '.join(f'rank {r}: {d}' for r, d in enumerate(dtypes))})")
        return x

    def gather(self, a, root: int = 0):
        """The global array on rank ``root`` from every rank's block `a` (None on other ranks);
        a dict name → block gathers each entry."""
        root = self._root(root)
        keys = self.comm.allgather(list(a) if isinstance(a, dict) else None)
        if any(k is not None for k in keys):
            if any(k != keys[0] for k in keys):
                raise StencilError(f"gather: the ranks give different dicts (keys {keys})")
            return {k: self.gather(a[k], root) for k in keys[0]}
        x = self._check_block(a, "gather")
        element = _byte_element(x.itemsize)
        try:
            if self.rank != root:
                self.comm.Send([x, x.size, element], dest=root, tag=8)
                return None
            full = np.empty(self.global_shape, dtype=x.dtype)
            types, requests = [], []
            for r in range(self.size):
                if r != root:
                    starts, sizes = self._block_of(r)
                    types.append(_slab(element, self.global_shape, sizes, starts))
                    requests.append(self.comm.Irecv([full, 1, types[-1]], source=r, tag=8))
            full[self.local_slices] = x
            MPI.Request.Waitall(requests)
            for t in types:
                t.Free()
            return full
        finally:
            element.Free()

    def save(self, path, a) -> None:
        """Write the global array whose blocks the ranks hold as one ``.npy`` file (through
        MPI-IO: every rank writes its block; no rank holds the whole array)."""
        x = self._check_block(a, "save")
        header = _npy_header(x.dtype, self.global_shape)
        element = _byte_element(x.itemsize)
        starts, sizes = self._block_of(self.rank)
        view = _slab(element, self.global_shape, sizes, starts)
        name = str(Path(path))
        fh = _together(self.comm, lambda: MPI.File.Open(self.comm, name, MPI.MODE_WRONLY | MPI.MODE_CREATE))
        try:
            fh.Set_size(0)
            if self.rank == 0:
                fh.Write_at(0, header)
            fh.Set_view(len(header), element, view)
            fh.Write_all([x, x.size, element])
        finally:
            fh.Close()
            view.Free()
            element.Free()

    def load(self, path) -> np.ndarray:
        """This rank's block of the global array in the ``.npy`` file `path` (written by `save`
        on any number of ranks, or by numpy.save), read through MPI-IO."""
        name = str(Path(path))

        def header():
            if self.rank != 0:
                return None
            try:
                with open(name, "rb") as f:
                    version = np.lib.format.read_magic(f)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, fortran, dtype = read(f)
                    offset = f.tell()
            except (OSError, ValueError) as exc:
                raise StencilError(f"load: cannot read {name!r} as a .npy file ({exc})") from None
            if tuple(shape) != self.global_shape:
                raise StencilError(f"load: {name!r} holds an array of shape {tuple(shape)}, but the "
                                   f"decomposition's global shape is {self.global_shape}")
            if fortran and len(shape) > 1:
                raise StencilError(f"load: {name!r} is in Fortran order; save it in C order")
            if dtype.hasobject:
                raise StencilError(f"load: {name!r} holds Python objects (dtype {dtype})")
            return dtype.str, offset

        dtype, offset = self.comm.bcast(_together(self.comm, header), root=0)
        local = np.empty(self.local_shape, dtype=np.dtype(dtype))
        element = _byte_element(local.itemsize)
        starts, sizes = self._block_of(self.rank)
        view = _slab(element, self.global_shape, sizes, starts)
        fh = MPI.File.Open(self.comm, name, MPI.MODE_RDONLY)
        try:
            fh.Set_view(offset, element, view)
            fh.Read_all([local, local.size, element])
        finally:
            fh.Close()
            view.Free()
            element.Free()
        if not local.dtype.isnative:
            local = local.astype(local.dtype.newbyteorder("="))
        return local


def _npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The .npy header (format 1.0) of a C-ordered array of `dtype` and `shape`."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise StencilError(f"{name}={value!r} must be a non-negative integer")
    return int(value)


def _check_shape(shape) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        raise StencilError(f"global_shape={shape!r} must be a tuple of 1 to 3 positive integers") from None
    if not 1 <= len(dims) <= 3 or any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1
                                      for n in dims):
        raise StencilError(f"global_shape={shape!r} must be a tuple of 1 to 3 positive integers")
    return tuple(int(n) for n in dims)


def _check_dims(dims, size: int, ndim: int) -> tuple[int, ...]:
    if dims is None:
        return tuple(MPI.Compute_dims(size, ndim))
    try:
        given = [int(d) for d in dims]
    except (TypeError, ValueError):
        raise StencilError(f"dims={dims!r} must be {ndim} non-negative integers (0: chosen)") from None
    fixed = int(np.prod([d for d in given if d > 0], dtype=np.int64))
    if len(given) != ndim or any(d < 0 for d in given) or size % fixed or (0 not in given and fixed != size):
        raise StencilError(f"dims={tuple(dims)} does not split {size} rank(s) over {ndim} axes: give "
                           f"{ndim} non-negative integers (0: chosen) whose product is {size}")
    return tuple(MPI.Compute_dims(size, given))


# --------------------------------------------------------------------------- the distributed stencil

def _on_block(problem, dec: Decomposition):
    """`problem` as this rank's kernels see it: where the right-hand side or a boundary value
    uses the coordinates, the grid's origin moved to the low corner of this rank's block, so that
    the coordinates (cell centres and boundary faces) are those of the global grid; otherwise
    `problem` itself, so that ranks with the same side kinds share one kernel."""
    if not problem.uses_coordinates:
        return problem
    origin = problem.origin or (0.0,) * problem.ndim
    return dataclasses.replace(problem, origin=tuple(
        float(o) + s.start * float(h) for o, s, h in zip(origin, dec.local_slices, problem.spacing)))


class DistributedStencil:
    """A `Stencil` on this rank's block of a `Decomposition`: ``kd(*state, out=None, **inputs)``
    with the stencil's arguments, every array this rank's block (``dec.local_shape``); it
    exchanges the ghost layers with the neighbouring ranks and runs the rank's halo kernel, so
    that the gathered result is the single-process result. The coordinates ``x, y, z`` in the
    right-hand side and the boundary values are those of the global grid (this rank's kernels
    are compiled with the origin of its block), and a time-dependent stencil takes ``t=`` as
    the stencil does. ``euler_step`` is the fused
    ``u + dt*f(u)`` (``out`` may be the state itself). Every call is collective.

    ``sides``: this rank's per-axis (low, high) side kinds, "physical" or "halo". ``reporting``:
    whether `integrate`'s progress bar and callbacks run on this rank. ``allreduce_sum(value)``
    sums a number (or a tuple of numbers) over the ranks, the same on every rank; `integrate`
    takes its blow-up check and RK45's error norm through it.
    """

    def __init__(self, dec: Decomposition, stencil, *, every_rank: bool = False):
        problem = getattr(stencil, "_problem", None)
        if problem is None:
            raise StencilError(f"distribute takes a compiled Stencil (compile_stencil), got "
                               f"{type(stencil).__name__}")
        if stencil.ndim != dec.ndim:
            raise StencilError(f"the stencil is {stencil.ndim}-dimensional but the decomposition's "
                               f"grid {dec.global_shape} has {dec.ndim} axes")
        if stencil.backend == "cuda":
            raise StencilError("distribute runs host kernels: compile the stencil with backend='c', "
                               "'numba' or 'numpy' (cuda arrays are not exchanged between ranks)")
        if not isinstance(every_rank, bool):
            raise StencilError(f"every_rank={every_rank!r} must be True or False")
        self._dec, self._k = dec, stencil
        for name in ("state", "fields", "params", "ndim", "dtype", "radius", "bc", "backend",
                     "spacing", "origin", "order", "time_dependent", "expr"):
            setattr(self, name, getattr(stencil, name))
        self._problem = _on_block(problem, dec)
        self.decomposition = dec
        self.local_shape, self.global_shape = dec.local_shape, dec.global_shape
        self.reporting = every_rank or dec.rank == 0
        self.sides = self._sides()
        dec._check_width(self.radius, [a for a, s in enumerate(self.sides) if HALO in s],
                         f"the stencil (radius {self.radius})")
        self._dtype = np.dtype(self.dtype)
        self._variants: dict[str, Callable] = {}
        self._run, self.source, self.from_cache = self._build("rhs")
        pad = tuple((self.radius if lo == HALO else 0, self.radius if hi == HALO else 0) for lo, hi in self.sides)
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(self.local_shape, pad))
        # the inputs the kernel reads padded (the state, and fields read at a neighbour); the
        # others it reads from the caller's arrays, without a copy or an exchange
        padded = ir.padded_inputs(self._problem)
        self._which = [i for i, f in enumerate(self.state + self.fields) if f in padded]
        self._padded = [np.zeros(shape, dtype=self._dtype) for _ in self._which]
        self._inputs: list = [None] * len(self.state + self.fields)
        self._core = tuple(slice(lo, lo + n) for n, (lo, _) in zip(self.local_shape, pad))
        self._exchange = _Exchange(dec, shape, pad, tuple((lo == HALO, hi == HALO) for lo, hi in self.sides),
                                   self._dtype.itemsize)

    def __repr__(self) -> str:
        return (f"<DistributedStencil {self.backend} {self.dtype} rank {self._dec.rank}/{self._dec.size} "
                f"block {'x'.join(map(str, self.local_shape))} of {'x'.join(map(str, self.global_shape))} "
                f"state={self.state} radius={self.radius} sides={self.sides}>")

    def _sides(self) -> tuple[tuple[str, str], ...]:
        """Per axis: halo inside the global grid and on a periodic wall split over ranks, physical
        on the global boundary otherwise (one rank along a periodic axis wraps in the kernel)."""
        dec, sides = self._dec, []
        for a in range(dec.ndim):
            periodic = {f: self.bc[f][a][0].periodic for f in self.state + self.fields}
            if dec.dims[a] > 1 and len(set(periodic.values())) > 1:
                wraps = sorted(f for f, p in periodic.items() if p)
                raise StencilError(f"axis {a} is periodic for {wraps} but not for "
                                   f"{sorted(set(periodic) - set(wraps))}; an axis split over ranks "
                                   f"must be periodic for every field or for none")
            wrap = dec.dims[a] > 1 and periodic[self.state[0]]
            c = dec.coords[a]
            sides.append((HALO if c > 0 or wrap else PHYSICAL, HALO if c < dec.dims[a] - 1 or wrap else PHYSICAL))
        return tuple(sides)

    def _build(self, variant: str):
        """(runner, source, from_cache) of this rank's kernel for `variant`. Each distinct kernel
        of the job is compiled once, by one rank, the ranks sharing the work; the others then load
        it from the cache (a cache that is not shared between nodes just means another compile)."""
        dec, problem = self._dec, self._problem
        # the distinct kernels of the job: per rank its sides and, where the stencil uses the
        # coordinates, its block's origin
        kinds = sorted(set(dec.comm.allgather((self.sides, problem.origin))))

        def compile_mine():
            for i, (sides, origin) in enumerate(kinds):
                if i % dec.size == dec.rank:
                    api._build(dataclasses.replace(problem, origin=origin), self.backend, True,
                               variant, sides)

        _together(dec.comm, compile_mine)
        run, source, _, from_cache = _together(
            dec.comm, lambda: api._build(problem, self.backend, True, variant, self.sides))
        return run, source, from_cache

    def _variant(self, name: str) -> Callable:
        if name not in self._variants:
            self._variants[name] = self._build(name)[0]
        return self._variants[name]

    # ------------------------------------------------------------------ calls

    def _prepare(self, state_arrays, out, inputs, in_place: bool):
        """Checked arguments, the padded inputs filled (own cells copied, ghosts exchanged), and
        the outputs (None: in place)."""
        arrays, params, shape = self._k._bind(state_arrays, dict(inputs))
        if shape != self.local_shape:
            raise ValueError(f"argument {self.state[0]!r} has shape {shape}, expected this rank's block "
                             f"{self.local_shape} of the global grid {self.global_shape} (rank "
                             f"{self._dec.rank}; make it with dec.scatter or dec.local)")
        outs = self._k._outputs(out, shape, arrays, in_place=in_place)
        inputs = self._inputs
        inputs[:] = arrays
        for i, padded in zip(self._which, self._padded):
            padded[self._core] = arrays[i]
            inputs[i] = padded
        self._exchange(self._padded)
        return arrays, params, outs

    def __call__(self, *state_arrays, out=None, **inputs):
        _, params, outs = self._prepare(state_arrays, out, inputs, in_place=False)
        self._run(self._inputs, params, outs, self.local_shape)
        return outs[0] if len(self.state) == 1 else tuple(outs)

    def euler_step(self, *state_arrays, dt, out=None, **inputs):
        """`u + dt*f(u)` in one fused sweep on this rank's block; ``out`` may be the state array
        itself (for a system, the tuple of state arrays): the kernel reads the padded copies."""
        arrays, params, outs = self._prepare(state_arrays, out, inputs, in_place=True)
        outs = list(arrays[:len(self.state)]) if outs is None else outs
        self._variant("euler")(self._inputs, params + [self._k._param("dt", dt, real=True)], outs, self.local_shape)
        return outs[0] if len(self.state) == 1 else tuple(outs)

    def allreduce_sum(self, value):
        """`value` (a number or a tuple of numbers) summed over the ranks in rank order, so that
        every rank gets the same bits."""
        local = np.atleast_1d(np.asarray(value, dtype=np.float64))
        parts = np.empty((self._dec.size, local.size), dtype=np.float64)
        self._dec.comm.Allgather(local, parts)
        total = parts[0].copy()
        for p in parts[1:]:
            total += p
        return tuple(float(v) for v in total) if isinstance(value, tuple) else float(total[0])
