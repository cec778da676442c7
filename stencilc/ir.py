"""Kernel IR: the backend-neutral loop nest.

Takes the point expressions of `lower.py` and the problem's boundary conditions; gives a `Kernel`:
a list of `Region`s, each a box of grid points given by per-axis bounds over the grid sizes `n0..`.
The interior region reads neighbours directly (`Access`, no branches) so that compilers vectorise it.
The boundary regions (thin strips, disjoint, together covering the rest of the grid for every size
≥ 1) read through index maps: per axis, the boundary conditions' ghost rules (each an affine map
`ghost = scale * mirrored + offset`, or a periodic wrap) are unrolled into a fixed number of
branch-free-able steps that map `i + offset` back into the grid and compose the affine maps, so
every access becomes `scale * f[m0, m1, ...] + offset`. A ghost rule's offset is the condition's value
(a number, or an expression of parameters, the time `t` and the coordinates) evaluated on the face:
the normal coordinate is the face's position, each other coordinate that of the cell whose ghost is
filled (axes filled before it at the read's own position, possibly outside the grid; axes filled
after it at their mapped index). Coordinates are `lower.Position` nodes until `bind_positions`
makes each a value assigned once per index in its axis's setup (so what depends on the outer axes
only is computed once per row, and nothing is stored). A kernel whose rhs or boundary values use
`t` takes it as a runtime scalar.
Each side of each axis is *physical* (the strips above apply the boundary condition) or *halo*
(no strip: reads beyond the side go directly into the arrays' padding, filled by someone else — a
neighbouring MPI rank). Each array has a `Layout` (padding per side, origin), so a kernel can read
padded inputs and write unpadded outputs. A *row window* kernel computes only the rows
`_row0 <= i0 < _row1` of the full grid and writes them to output blocks that start at `_row0`: the
reads across the cuts are direct, those across the grid's walls go through the boundary
conditions of the full grid (periodic ones wrap to its other end), which is what sweeping a grid
in place block by block needs. A *tile* kernel (temporal blocking, stepping.py) is a row window
kernel whose state inputs and outputs are row buffers: its state inputs hold the grid's rows from
`_in0` on, its outputs from `_out0` on (the input fields are whole arrays). Across a periodic
axis 0 its state reads are *unwrapped*: row -1 is read as row -1 of the buffer (which holds a copy
of row n0 - 1 there), not as row n0 - 1, so that a tile never needs rows of the grid's other end;
the strips and their arithmetic stay those of the full grid.
A backend prints this IR; it never decides what a boundary means.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from .lower import Access, Position, extents, lower
from .symbolic import COORDINATES, BoundaryCondition, Problem, t as TIME


class MappedAccess(sp.Function):
    """`MappedAccess(f, m0, m1, ...)`: field `f` at the grid point given by index symbols `m_a`."""

    @property
    def field(self) -> str:
        return self.args[0].name


class IntMin(sp.Function):
    """Minimum of two integer index expressions."""
    nargs = 2


class IntMax(sp.Function):
    """Maximum of two integer index expressions."""
    nargs = 2


PHYSICAL, HALO = "physical", "halo"

# the row window of a window kernel (runtime index arguments after the sizes)
ROW_START = sp.Symbol("_row0", integer=True, nonnegative=True)
ROW_STOP = sp.Symbol("_row1", integer=True, nonnegative=True)
# the grid row of a tile kernel's first state input row and first output row (negative past a
# periodic wall)
TILE_IN = sp.Symbol("_in0", integer=True)
TILE_OUT = sp.Symbol("_out0", integer=True)


def size(axis: int) -> sp.Symbol:
    """The grid size along `axis`, an argument of every kernel."""
    return sp.Symbol(f"n{axis}", integer=True, positive=True)


def index(axis: int) -> sp.Symbol:
    """The loop index along `axis`."""
    return sp.Symbol(f"i{axis}", integer=True, nonnegative=True)


@dataclass(frozen=True)
class Assign:
    """`target = value`; `is_index` marks integer index arithmetic, else a value of the kernel dtype."""
    target: sp.Symbol
    value: sp.Expr
    is_index: bool = False


@dataclass(frozen=True)
class Store:
    """Write `value` into output array `output` at the current point."""
    output: str
    value: sp.Expr


@dataclass(frozen=True)
class Carried:
    """A value computed once per point and read again by the next point along `axis`.

    `current` names `value` at this point, `previous` the same value at the point one step back
    along `axis` (e.g. a face flux shared by the two cells on either side of the face). A backend
    may keep it in a buffer; `inline_carried` turns it back into plain temporaries.
    """
    current: sp.Symbol
    previous: sp.Symbol
    axis: int
    value: sp.Expr


@dataclass(frozen=True)
class Region:
    """A box of points `bounds[a][0] <= i_a < bounds[a][1]` and what to compute at each of them."""
    name: str
    bounds: tuple[tuple[sp.Expr, sp.Expr], ...]
    setup: tuple[tuple[Assign, ...], ...]      # per axis, once i_a is known (index maps)
    body: tuple[Assign, ...]                    # temporaries at each point
    stores: tuple[Store, ...]
    interior: bool                              # direct neighbour reads, branch-free
    carried: tuple[Carried, ...] = ()           # values reused across iterations (interior only)
    vector: bool = False                        # boundary box whose reads along the contiguous
                                                # axis are direct: its innermost loop vectorises
    hoisted: tuple[sp.Symbol, ...] = ()         # setup values whose expressions the body and
                                                # the stores contain as they are: a printer prints
                                                # the name where it meets the expression


@dataclass(frozen=True)
class Layout:
    """How one array lies in memory over the grid's `n_0 x n_1 x ...` cells (row-major).

    `padding[a] = (lo, hi)`: cells before and after the grid along axis `a` (ghost values that a
    halo side reads directly); `origin[a]`: the grid index of the array's first non-padding cell
    (0, or `_row0` along axis 0 for a row window's output block).
    """
    padding: tuple[tuple[int, int], ...]
    origin: tuple[sp.Expr, ...]

    @staticmethod
    def plain(ndim: int, origin: tuple[sp.Expr, ...] | None = None) -> "Layout":
        return Layout(((0, 0),) * ndim, origin or (sp.Integer(0),) * ndim)

    @property
    def ndim(self) -> int:
        return len(self.padding)

    def strides(self) -> tuple[sp.Expr, ...]:
        """Row-major strides in elements over the size symbols (padding included)."""
        out, step = [], sp.Integer(1)
        for a in reversed(range(self.ndim)):
            out.append(step)
            lo, hi = self.padding[a]
            step = step * (size(a) + lo + hi)
        return tuple(reversed(out))

    def position(self, axis: int, j: sp.Expr) -> sp.Expr:
        """Where grid index `j` along `axis` lies in the array, counting from its first cell."""
        return j + self.padding[axis][0] - self.origin[axis]

    def shape(self, grid: tuple[int, ...]) -> tuple[int, ...]:
        """The array's shape for a grid of this shape (a window's rows excepted)."""
        return tuple(n + lo + hi for n, (lo, hi) in zip(grid, self.padding))


@dataclass(frozen=True)
class Kernel:
    """One fused sweep computing every state field's right-hand side.

    `dtype` is the value dtype (of arrays and scalars); `real_dtype` the dtype of real quantities
    (the same for real kernels; complex fields have a real part of this dtype). Scalars are the
    user's parameters, then `runtime` scalars the pipeline adds (the time `t` of a time-dependent
    stencil, the fused step's `_dt`).
    """
    name: str
    ndim: int
    dtype: str
    state: tuple[str, ...]
    fields: tuple[str, ...]
    params: tuple[str, ...]
    outputs: tuple[str, ...]
    extents: tuple[tuple[int, int], ...]
    regions: tuple[Region, ...]
    runtime: tuple[str, ...] = ()
    sides: tuple[tuple[str, str], ...] = ()           # per axis (low, high): PHYSICAL or HALO
    origin: tuple[float, ...] = ()                    # per axis: the grid's low corner (coordinates)
    spacing: tuple[float, ...] = ()                   # per axis: the cell size (coordinates)
    layouts: tuple[tuple[str, Layout], ...] = ()      # every input and output array's layout
    window: bool = False                              # computes rows [_row0, _row1) only
    tile: bool = False                                # a window over row buffers (_in0, _out0)
    wrapped: bool = False                             # a tile's state reads unwrapped (periodic axis 0)

    def layout(self, array: str) -> Layout:
        return dict(self.layouts)[array]

    @property
    def index_arguments(self) -> tuple[sp.Symbol, ...]:
        """Integer arguments after the arrays and scalars: the grid sizes, then the row window."""
        sizes = tuple(size(a) for a in range(self.ndim))
        return (sizes + ((ROW_START, ROW_STOP) if self.window else ())
                + ((TILE_IN, TILE_OUT) if self.tile else ()))

    @property
    def value_dtype(self) -> str:
        return self.dtype

    @property
    def real_dtype(self) -> str:
        return {"complex64": "float32", "complex128": "float64"}.get(self.dtype, self.dtype)

    @property
    def scalars(self) -> tuple[str, ...]:
        """Every scalar argument in call order: parameters, then runtime scalars."""
        return self.params + self.runtime

    @property
    def radius(self) -> int:
        return max([0] + [r for e in self.extents for r in e])

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.state + self.fields

    def replace_regions(self, regions) -> "Kernel":
        return replace(self, regions=tuple(regions))


def shift(expr: sp.Expr, axis: int, by: int) -> sp.Expr:
    """`expr` evaluated `by` points further along `axis` (every `Access` offset and every position
    at the loop index moved)."""
    repl = {a: Access(a.args[0], *[o + by if i == axis else o for i, o in enumerate(a.offset)])
            for a in expr.atoms(Access)}
    repl.update({p: Position(axis, p.base, p.halves + 2 * by) for p in expr.atoms(Position)
                 if p.axis == axis and p.base == index(axis)})
    return expr.xreplace(repl)


def inline_carried(kernel: "Kernel") -> "Kernel":
    """The same kernel with carried values computed directly at each point (no buffers)."""
    regions = []
    for r in kernel.regions:
        first = tuple(a for c in r.carried
                      for a in (Assign(c.current, c.value), Assign(c.previous, shift(c.value, c.axis, -1))))
        regions.append(replace(r, body=first + r.body, carried=()))
    return kernel.replace_regions(regions)


# --------------------------------------------------------------------------- boundary index maps

def _rule_step(j: int, n: int, lo: BoundaryCondition | None, hi: BoundaryCondition | None) -> int | None:
    """Index `j` of an axis of `n` cells after one application of the ghost rules; None past a
    halo side (`None`: the read stays in the padding)."""
    if j < 0:
        return None if lo is None else j + n if lo.periodic else -1 - j
    if j >= n:
        return None if hi is None else j - n if hi.periodic else 2 * n - 1 - j
    return j


def _steps_needed(offset: int, lo: BoundaryCondition | None, hi: BoundaryCondition | None,
                  radius: int) -> int:
    """How many applications of the ghost rules bring `i + offset` into [0, n) (or past a halo
    side) for every n >= 1."""
    worst = 0
    for n in range(1, 2 * radius + 3):
        for i in range(n):
            j, k = i + offset, 0
            while j is not None and not 0 <= j < n:
                j, k = _rule_step(j, n, lo, hi), k + 1
                assert k <= 4 * radius + 4, "ghost rule does not terminate"
            worst = max(worst, k - (j is None))
    return worst


@dataclass
class _AxisMap:
    """A read along one axis: at grid index `index`, the value `V` becomes `sign*V + shift` (the
    ghost rules' affine maps composed: `sign` is their scale, `shift` their offset). `shift` may hold
    the placeholders in `data` (side -> (placeholder, the side's value on its face)), standing for a
    boundary value that depends on the coordinates of other axes, which differ from read to read."""
    index: sp.Symbol
    sign: sp.Expr      # 1 (no value arithmetic), -1 or a symbol set by the rules' scales
    shift: sp.Expr     # 0, or a symbol set by the rules' offsets (times placeholders)
    assigns: list[Assign]
    data: dict = None


def _face_value(rule: BoundaryCondition, axis: int, face: sp.Expr) -> sp.Expr:
    """The rule's value with the coordinate normal to the face at the face's position."""
    return sp.sympify(rule.data).xreplace({COORDINATES[axis]: face}) if axis < 3 else rule.data


def _axis_map(axis: int, offset: int, lo: BoundaryCondition | None, hi: BoundaryCondition | None,
              radius: int, tag: str, h: float = 1.0, origin: float = 0.0, unwrap: bool = False) -> _AxisMap:
    """Unrolled ghost rules for index `i_axis + offset` under (lo, hi) on an axis of spacing `h`
    whose low face lies at `origin`, applied again while the index is outside (grids smaller than
    the stencil); a `None` side is a halo side: an index beyond it is left as it is. `unwrap`: a
    periodic rule leaves the index as it is too, with the wrapping map's steps and names."""
    for rule in (lo, hi):
        if rule is not None:
            rule.check(radius, h)
    i, n = index(axis), size(axis)
    steps = _steps_needed(offset, lo, hi, radius)
    name = f"_{tag}{axis}{'m' if offset < 0 else 'p'}{abs(offset)}"
    assigns: list[Assign] = []
    j: sp.Expr = i + offset   # left unbound so that SymPy drops branches that cannot be taken
    s: sp.Expr = sp.Integer(1)
    # the offset: a constant part and, per side whose value varies along the wall, a coefficient
    # of its placeholder
    faces = {"lo": _number(origin), "hi": _number(origin) + n * _number(h)}
    values, data = {}, {}
    for side, rule in (("lo", lo), ("hi", hi)):
        if rule is None or rule.periodic:
            continue
        value = _face_value(rule, axis, faces[side])
        if value.free_symbols & set(COORDINATES):
            data[side] = (sp.Symbol(f"_g{side}"), value)
            values[side] = None
        else:
            values[side] = value
    c: dict[str, sp.Expr] = {"1": sp.Integer(0), **{side: sp.Integer(0) for side in data}}

    def apply(rule: BoundaryCondition, side: str, layer: sp.Expr, mirror: sp.Expr, wrap: sp.Expr,
              label: str):
        """(index, sign, offset parts) after one application of `rule` to ghost layer `layer` (>= 1)."""
        if rule.periodic:
            return wrap, s, dict(c)
        k = sp.Symbol(label, integer=True, positive=True)
        scale, weight = rule.ghost(k, h, value=sp.Integer(1) if values[side] is None else values[side])
        if scale.has(k) or weight.has(k):   # an integer index, bound only for rules that use it
            k_index = _bind(assigns, label, layer, is_index=True)
            scale, weight = scale.subs(k, k_index), weight.subs(k, k_index)
        parts = dict(c)
        part = "1" if values[side] is not None else side
        parts[part] = c[part] + s * weight
        return mirror, s * scale, parts

    for step in range(steps):
        branches = []
        for side, rule, taken, depth, mirror, wrap in (
                ("lo", lo, sp.StrictLessThan(j, 0), -j, -1 - j, j if unwrap else j + n),
                ("hi", hi, sp.GreaterThan(j, n), j - n + 1, 2 * n - 1 - j, j if unwrap else j - n)):
            if rule is None or taken == sp.false:
                continue
            # the ghost layer where this branch is taken, 1 where it is not (so that a rule
            # evaluated there, as numpy evaluates every branch, never divides by zero)
            # (a symbolic Max is never a number: skip its costly assumption queries)
            layer = sp.Max(depth, 1) if depth.is_Number else sp.Piecewise((depth, taken), (1, True))
            branches.append((apply(rule, side, layer, mirror, wrap, f"{name}_k{side}{step}"), taken))
        # single assignment: every step reads only the previous step's values
        new_j = _bind(assigns, f"{name}_j{step}",
                      sp.Piecewise(*[(new[0], taken) for new, taken in branches], (j, True)), is_index=True,
                      always=unwrap)
        new_s = _bind(assigns, f"{name}_s{step}",
                      sp.Piecewise(*[(new[1], taken) for new, taken in branches], (s, True)), is_index=False)
        new_c = {part: _bind(assigns, f"{name}_c{'' if part == '1' else part}{step}",
                             sp.Piecewise(*[(new[2][part], taken) for new, taken in branches], (old, True)),
                             is_index=False)
                 for part, old in c.items()}
        j, s, c = new_j, new_s, new_c
    if steps == 0:
        j = _bind(assigns, f"{name}_j", j, is_index=True)
    shift = c["1"] + sp.Add(*[c[side] * ph for side, (ph, _) in data.items()])
    return _AxisMap(index=j, sign=s, shift=shift, assigns=assigns, data=data)


def _number(value: float) -> sp.Expr:
    return sp.Integer(0) if value == 0 else sp.Float(value, 17)


def _bind(assigns: list[Assign], name: str, value: sp.Expr, is_index: bool, always: bool = False) -> sp.Expr:
    """A new symbol assigned `value`, or (unless `always`) `value` itself when it is already an atom."""
    if value.is_Atom and not always:
        return value
    target = sp.Symbol(name, integer=True) if is_index else sp.Symbol(name)
    assigns.append(Assign(target, value, is_index=is_index))
    return target


# --------------------------------------------------------------------------- regions

def _spans(axis: int, lo: int, hi: int, sides: tuple[str, str]):
    """(low strip, middle, high strip) spans of `axis` for stencil reach (lo, hi): disjoint and
    covering [0, n) for every n >= 1. A halo side has no strip (None): the middle runs to the edge
    and reads the padding beyond it."""
    n = size(axis)
    low_phys, high_phys = sides[0] == PHYSICAL and lo > 0, sides[1] == PHYSICAL and hi > 0
    start = sp.Integer(lo) if low_phys else sp.Integer(0)
    stop = n - hi if high_phys else n
    low = (sp.Integer(0), IntMin(lo, n)) if low_phys else None
    high = (IntMax(n - hi, low[1] if low else sp.Integer(0)), n) if high_phys else None
    return low, (start, stop), high


def _boxes(ext: tuple[tuple[int, int], ...], sides):
    """The interior box and the boundary strips: disjoint, covering [0, n) for every n >= 1."""
    ndim = len(ext)
    spans = [_spans(a, lo, hi, sides[a]) for a, (lo, hi) in enumerate(ext)]
    inner = [mid for _, mid, _ in spans]
    full = [(sp.Integer(0), size(a)) for a in range(ndim)]
    yield "interior", tuple(inner), True
    for k, (low, _, high) in enumerate(spans):
        if low:
            yield f"low{k}", tuple(inner[:k] + [low] + full[k + 1:]), False
        if high:
            yield f"high{k}", tuple(inner[:k] + [high] + full[k + 1:]), False


def _split_strips(boxes, ext, sides):
    """Each strip across an outer axis cut along the contiguous axis into its two corners and the
    middle, where reads along the contiguous axis stay inside the grid (the third item: the
    region reads that axis directly)."""
    last = len(ext) - 1
    low, mid, high = _spans(last, *ext[last], sides[last])
    for name, bounds, interior in boxes:
        if interior or name == f"low{last}" or name == f"high{last}" or not (low or high):
            yield name, bounds, interior, False
            continue
        for part, span, direct in (("left", low, False), ("mid", mid, True), ("right", high, False)):
            if span is not None:
                yield f"{name}_{part}", bounds[:last] + (span,), False, direct


def _in_window(bounds):
    """`bounds` with axis 0 cut to the row window [_row0, _row1)."""
    (start, stop), rest = bounds[0], bounds[1:]
    return ((IntMax(start, ROW_START), IntMin(stop, ROW_STOP)),) + tuple(rest)


def _mapped(expr: sp.Expr, bc_of, radius: int, spacing, setup: list[list[Assign]], cache: dict,
            direct: int | None = None, origin=None, unwrapped=frozenset()) -> sp.Expr:
    """Replace every `Access` by its ghost-rule-mapped read (axis by axis, axis 0 first); along
    axis `direct` every read is known to be inside the grid and is taken as it is; the fields in
    `unwrapped` are read unwrapped across a periodic axis 0 (`_axis_map`)."""
    origin = origin or (0.0,) * len(spacing)
    repl = {}
    for acc in sorted(expr.atoms(Access), key=sp.default_sort_key):  # a set: fix the order
        per_axis = []
        for a, o in enumerate(acc.offset):
            if a == direct:   # an index variable, so that CSE never mistakes it for a value
                key = ("direct", a, o)
                if key not in cache:
                    j = _bind(setup[a], f"_d{a}{'m' if o < 0 else 'p'}{abs(o)}", index(a) + o, True)
                    cache[key] = _AxisMap(index=j, sign=sp.Integer(1), shift=sp.Integer(0), assigns=[])
                per_axis.append(cache[key])
                continue
            lo, hi = bc_of[acc.field][a]
            unwrap = a == 0 and acc.field in unwrapped
            key = (a, o, lo, hi, unwrap)
            if key not in cache:
                tags = cache.setdefault(("tags", a), {})
                tag = tags.setdefault((lo, hi, unwrap), f"b{len(tags)}_")
                cache[key] = _axis_map(a, o, lo, hi, radius, tag, h=spacing[a], origin=origin[a],
                                       unwrap=unwrap)
                setup[a].extend(cache[key].assigns)
            per_axis.append(cache[key])
        value: sp.Expr = MappedAccess(acc.args[0], *[m.index for m in per_axis])
        for a, m in enumerate(per_axis):   # filling axis by axis, axis 0 first: V <- s_a * V + c_a
            shift = m.shift
            if m.data:
                # the other coordinates: axes filled before this one at the read's own position,
                # axes filled after it at their mapped index
                at = {COORDINATES[b]: Position(b, index(b), 2 * acc.offset[b]) if b < a
                      else Position(b, per_axis[b].index, 0)
                      for b in range(len(per_axis)) if b != a}
                shift = shift.xreplace({ph: value_.xreplace(at) for ph, value_ in m.data.values()})
            value = m.sign * value + shift
        repl[acc] = value
    return expr.xreplace(repl)


def bind_positions(kernel: "Kernel") -> "Kernel":
    """The kernel with every `Position` replaced by a value assigned in its axis's setup, once per
    index (`_x<a>...`), from the kernel's origin and spacing. Run it after the passes."""
    regions = []
    for region in kernel.regions:
        nodes = set()
        for e in [s.value for s in region.stores] + [b.value for b in region.body] + \
                 [c.value for c in region.carried] + [a.value for st in region.setup for a in st]:
            nodes |= e.atoms(Position)
        if not nodes:
            regions.append(region)
            continue
        setup = [list(st) for st in region.setup]
        repl = {}
        for p in sorted(nodes, key=sp.default_sort_key):
            a, q = p.axis, p.halves
            base = "" if p.base == index(a) else "_" + (p.base.name.lstrip("_") if p.base.is_Symbol
                                                        else f"n{int(p.base)}".replace("-", "m"))
            target = sp.Symbol(f"_x{a}{base}{'m' if q < 0 else 'p'}{abs(q)}")
            value = _number(kernel.origin[a]) + (p.base + sp.Rational(q + 1, 2)) * _number(kernel.spacing[a])
            setup[a].append(Assign(target, value))
            repl[p] = target
        regions.append(replace(
            region, setup=tuple(tuple(Assign(x.target, x.value.xreplace(repl), x.is_index) for x in st)
                                for st in setup),
            body=tuple(Assign(b.target, b.value.xreplace(repl), b.is_index) for b in region.body),
            stores=tuple(Store(s.output, s.value.xreplace(repl)) for s in region.stores),
            carried=tuple(replace(c, value=c.value.xreplace(repl)) for c in region.carried)))
    return kernel.replace_regions(regions)


def padded_inputs(problem: Problem, exprs=None) -> frozenset[str]:
    """The inputs that a halo kernel reads from arrays padded beyond its halo sides: every state
    field (an Euler step in place writes them, so the kernel reads a copy) and every input field
    read at a neighbour; an input field read only at the point itself needs no ghosts, and is
    read from the caller's array as it is."""
    exprs = lower(problem) if exprs is None else exprs
    read = {acc.field for e in exprs for acc in e.atoms(Access) if any(acc.offset)}
    return frozenset(problem.state) | frozenset(f for f in problem.fields if f in read)


def build_kernel(problem: Problem, name: str = "stencil_rhs", split_strips: bool = False,
                 sides=None, window: bool = False, tile: bool = False) -> Kernel:
    """Lower `problem` and lay its point expressions out over interior and boundary regions.

    With `split_strips`, the strips across the outer axes are cut along the contiguous axis so
    that their long middle parts read that axis directly (`Region.vector`): a backend can then
    vectorise them like the interior instead of mapping every read. `sides` gives per axis the
    (low, high) side kinds, PHYSICAL (the default) or HALO: input arrays then carry `radius`
    cells of padding beyond each halo side (except input fields read only at the point itself,
    `padded_inputs`), which the kernel reads and never writes. `window` makes a row window
    kernel, `tile` a tile kernel (see the module docstring; `tileable` says whether the problem
    has one).
    """
    exprs = lower(problem)
    ext = extents(exprs, problem.ndim)
    radius = max([0] + [r for e in ext for r in e])
    ndim = problem.ndim
    sides = tuple(tuple(s) for s in sides) if sides is not None else ((PHYSICAL, PHYSICAL),) * ndim
    if len(sides) != ndim or any(k not in (PHYSICAL, HALO) for s in sides for k in s):
        raise ValueError(f"sides={sides!r}: give one (low, high) pair of {PHYSICAL!r}/{HALO!r} per axis")
    if window and HALO in sides[0]:
        raise ValueError("a row window kernel reads the full grid along axis 0: no halo sides there")
    if tile:
        reason = tileable(problem)
        if reason:
            raise ValueError(f"no tile kernel: {reason}")
        window = True
    # a tile's state rows past a periodic wall are in its buffers
    unwrapped = frozenset(problem.state) if tile and _periodic_axis0(problem) else frozenset()
    # a halo side has no ghost rule: reads beyond it are taken from the padding as they are
    bc_of = {f: tuple((lo if s[0] == PHYSICAL else None, hi if s[1] == PHYSICAL else None)
                      for (lo, hi), s in zip(axes, sides))
             for f, axes in problem.bc_of.items()}
    outputs = tuple(f"out_{s}" for s in problem.state)
    off_centre = padded_inputs(problem, exprs)
    padded = Layout(tuple((radius if lo == HALO else 0, radius if hi == HALO else 0) for lo, hi in sides),
                    (sp.Integer(0),) * ndim)
    out_layout = Layout.plain(ndim, (ROW_START,) + (sp.Integer(0),) * (ndim - 1) if window else None)
    layouts = tuple((f, padded if f in off_centre else Layout.plain(ndim)) for f in problem.state + problem.fields)
    layouts += tuple((o, out_layout) for o in outputs)
    if tile:
        zero = (sp.Integer(0),) * (ndim - 1)
        layouts = (tuple((f, Layout.plain(ndim, (TILE_IN,) + zero)) for f in problem.state)
                   + tuple((f, Layout.plain(ndim)) for f in problem.fields)
                   + tuple((o, Layout.plain(ndim, (TILE_OUT,) + zero)) for o in outputs))
    last = ndim - 1
    boxes = _boxes(ext, sides)
    boxes = _split_strips(boxes, ext, sides) if split_strips else ((*b, False) for b in boxes)
    regions = []
    for rname, bounds, interior, vector in boxes:
        setup: list[list[Assign]] = [[] for _ in range(ndim)]
        cache: dict = {}
        if interior:
            values = list(exprs)
        else:
            values = [_mapped(e, bc_of, radius, problem.spacing, setup, cache,
                              direct=last if vector else None, origin=problem.origin,
                              unwrapped=unwrapped)
                      for e in exprs]
        regions.append(Region(name=rname, bounds=_in_window(bounds) if window else bounds,
                              setup=tuple(tuple(s) for s in setup), body=(),
                              stores=tuple(Store(o, v) for o, v in zip(outputs, values)),
                              interior=interior, vector=vector))
    return Kernel(name=name, ndim=ndim, dtype=problem.dtype, state=problem.state,
                  fields=problem.fields, params=problem.params, outputs=outputs, extents=ext,
                  regions=tuple(regions), sides=sides, layouts=layouts, window=window, tile=tile,
                  wrapped=bool(unwrapped),
                  runtime=(TIME.name,) if problem.time_dependent else (),
                  origin=problem.origin or (0.0,) * ndim, spacing=problem.spacing)


def _periodic_axis0(problem: Problem) -> bool:
    """Whether axis 0 is periodic for the state (for all state fields alike, symbolic.py checks)."""
    return any(problem.bc_of[s][0][0].periodic for s in problem.state)


def tileable(problem: Problem) -> str | None:
    """None when `problem` has a tile kernel (temporal blocking computes the same values as plain
    steps, to the last bit), else why not."""
    if problem.fastmath:
        return "fastmath=True (the compiler may reorder the tile kernel's arithmetic otherwise)"
    if problem.ndim == 1 and _calls_functions(problem):
        # in 1-D a tile cuts the vectorised loop elsewhere than a full sweep, and glibc's vector
        # maths can differ from its scalar functions in the last bit
        return "a 1-D right-hand side calling maths functions"
    return None


def columns_cuttable(problem: Problem) -> str | None:
    """None when a tile of `problem` may also be cut along the last axis and computed as a grid of
    its own width (stepping.py), to the same bits, else why not."""
    last = problem.ndim - 1
    if problem.ndim < 2:
        return "one axis only"
    if any(axes[last][0].periodic for axes in problem.bc_of.values()):
        return "the last axis is periodic"
    if problem.fields:
        return "input fields (read over the full grid's width)"
    if problem.uses_coordinates:
        return "coordinates (a cut tile counts its own columns)"
    if _calls_functions(problem):
        # a cut moves the vectorised loop's remainder, where glibc's scalar maths may differ from
        # its vector maths in the last bit
        return "maths functions"
    return None


def _calls_functions(problem: Problem) -> bool:
    """Whether the rhs calls a maths function or raises to a non-integer power."""
    for e in problem.rhs:
        for node in sp.preorder_traversal(e):
            if isinstance(node, sp.Function) and not isinstance(node, sp.core.function.AppliedUndef) \
                    and type(node).__module__.startswith("sympy"):
                return True
            if isinstance(node, sp.Pow) and not node.exp.is_Integer:
                return True
    return False
