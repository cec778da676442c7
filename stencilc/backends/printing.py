"""Printing shared by the backends: the rules every target prints alike, so each printer adds syntax.

Takes kernel IR nodes; gives text. `KernelPrinter` is a mixin for SymPy code printers: every array
element goes through its one `element` method (a target says how it subscripts), integer min/max,
`Piecewise` as nested conditionals and n-ary `Min`/`Max` folded into binary calls go through small
per-target hooks, and `view(region)` is the per-region data (loops, bounds, index maps, temporaries,
stores) every template reads. `PointPrinter` adds what targets computing one point at a time share
(small integer powers as products, constants as floating literals); `CLikePrinter` is C99 for the C
and CUDA targets. Also here: row-major strides, and argument lists in call order.
"""
from __future__ import annotations

import contextlib

import sympy as sp
from sympy.codegen.ast import float32, float64, real
from sympy.printing.c import C99CodePrinter

from ..ir import Access, Assign, Kernel, Layout, MappedAccess, Region, index, size
from ..symbolic import COMPLEX_DTYPES, real_valued

# integer powers up to this are printed as products (exact enough, and vectorisable everywhere)
MAX_UNROLLED_POWER = 4

CTYPE = {"float64": "double", "float32": "float", "complex128": "double _Complex",
         "complex64": "float _Complex"}


# --------------------------------------------------------------------------- layout

def stride(axis: int, ndim: int) -> sp.Expr:
    """Row-major stride of `axis` in elements of an unpadded array (`st{axis}` in generated code)."""
    return sp.Integer(1) if axis == ndim - 1 else sp.Symbol(f"st{axis}", integer=True)


def linear_offset(offset, ndim: int) -> sp.Expr:
    """Offset of a neighbour in elements of an unpadded array: sum of offset_a * stride_a."""
    return sp.Add(*[int(o) * stride(a, ndim) for a, o in enumerate(offset)])


def linear_index(indices, ndim: int) -> sp.Expr:
    """Row-major element index of the point with per-axis `indices` in an unpadded array."""
    return sp.Add(*[i * stride(a, ndim) for a, i in enumerate(indices)])


class Layouts:
    """The memory layout of every array of a kernel (`ir.Layout`), as printers need it.

    Arrays of one padding share strides: unpadded arrays the classic `st<a>`, each other padding
    its own `_st<g>_<a>`. Arrays of one padding and origin share a *frame*: the interior's linear
    index of the loop point in it is `ix` for the first array's frame, `_ix<k>` for the others.
    Arrays the kernel does not list (scratch buffers) are unpadded.
    """

    def __init__(self, ndim: int, layouts=()):
        self.ndim = ndim
        self.layouts = dict(layouts)
        plain = Layout.plain(ndim)
        self.paddings = [plain.padding]
        self.frames = [(plain.padding, plain.origin)]
        for layout in self.layouts.values():
            if layout.padding not in self.paddings:
                self.paddings.append(layout.padding)
        first = next(iter(self.layouts.values()), plain)
        self.frames = [(first.padding, first.origin)]
        for layout in self.layouts.values():
            if (layout.padding, layout.origin) not in self.frames:
                self.frames.append((layout.padding, layout.origin))

    def layout(self, array: str) -> Layout:
        return self.layouts.get(array) or Layout.plain(self.ndim)

    def strides(self, padding) -> tuple[sp.Expr, ...]:
        g = self.paddings.index(padding)
        if g == 0:
            return tuple(stride(a, self.ndim) for a in range(self.ndim))
        return tuple(sp.Symbol(f"_st{g}_{a}", integer=True) if a < self.ndim - 1 else sp.Integer(1)
                     for a in range(self.ndim))

    def definitions(self) -> list[tuple[str, sp.Expr]]:
        """(name, value) of every stride symbol, innermost last within each padding."""
        out = []
        for padding in self.paddings:
            values = Layout(padding, (sp.Integer(0),) * self.ndim).strides()
            out += [(sym.name, value) for sym, value in zip(self.strides(padding), values) if sym.is_Symbol]
        return out

    def linear(self, array: str, indices) -> sp.Expr:
        """The element index in `array` of the grid point with per-axis `indices`."""
        layout = self.layout(array)
        return sp.Add(*[layout.position(a, j) * st
                        for a, (j, st) in enumerate(zip(indices, self.strides(layout.padding)))])

    def point_name(self, array: str) -> str:
        layout = self.layout(array)
        k = self.frames.index((layout.padding, layout.origin))
        return "ix" if k == 0 else f"_ix{k}"

    def neighbour(self, array: str, offset) -> sp.Expr:
        """The element index in `array` of the loop point plus `offset`, over its frame's `ix`."""
        strides = self.strides(self.layout(array).padding)
        return sp.Symbol(self.point_name(array)) + sp.Add(*[int(o) * st for o, st in zip(offset, strides)])

    def point_definitions(self, indices=None) -> list[tuple[str, sp.Expr]]:
        """(name, value) of every frame's linear index of the point at `indices` (default: the
        loop point)."""
        indices = indices or [index(a) for a in range(self.ndim)]
        out = []
        for k, (padding, origin) in enumerate(self.frames):
            strides = self.strides(padding)
            layout = Layout(padding, origin)
            out.append(("ix" if k == 0 else f"_ix{k}",
                        sp.Add(*[layout.position(a, j) * st for a, (j, st) in enumerate(zip(indices, strides))])))
        return out


def point_offset(indices) -> list[int] | None:
    """The per-axis offsets of `indices` from the loop point (i0, i1, ...), when every index is the
    loop index plus a constant; else None (an index map's result)."""
    offset = [sp.sympify(i) - index(a) for a, i in enumerate(indices)]
    return [int(o) for o in offset] if all(o.is_Integer for o in offset) else None


# --------------------------------------------------------------------------- arguments

def arguments(kernel: Kernel) -> list[tuple[str, str]]:
    """The kernel's arguments in call order, as (kind, name): the state arrays and input fields
    ("input"), the scalars, parameters then runtime scalars such as `_dt` ("scalar"), the output
    arrays ("output"), then the integers: the grid sizes, and a row window's rows ("index")."""
    return ([("input", n) for n in kernel.inputs] + [("scalar", p) for p in kernel.scalars]
            + [("output", o) for o in kernel.outputs] + [("index", s.name) for s in kernel.index_arguments])


def declarations(kernel: Kernel, formats: dict[str, str]) -> list[str]:
    """Every argument in call order written by the format of its kind (`{}` is its name); kinds
    without a format are left out."""
    return [formats[kind].format(name) for kind, name in arguments(kernel) if kind in formats]


def argument_names(kernel: Kernel) -> list[str]:
    return [name for _, name in arguments(kernel)]


def scalar_parts(kernel: Kernel, name: str) -> list[str]:
    """The C-like arguments that carry scalar `name`: a complex parameter travels as its real and
    imaginary parts, `_re_<name>` and `_im_<name>` (libffi, and so cffi in ABI mode, cannot pass
    complex numbers by value); a real one, and a runtime scalar (the time step: always real), as
    itself."""
    if kernel.dtype in COMPLEX_DTYPES and name not in kernel.runtime:
        return [f"_re_{name}", f"_im_{name}"]
    return [name]


def complex_parameters(kernel: Kernel) -> list[str]:
    """The scalars that a C-like function assembles from their parts (`scalar_parts`)."""
    return [p for p in kernel.scalars if len(scalar_parts(kernel, p)) == 2]


def c_call_names(kernel: Kernel, rename=None) -> list[str]:
    """The argument names of a C-like call in call order, complex scalars as their parts."""
    rename = rename or {}
    return [rename.get(part, part) for kind, name in arguments(kernel)
            for part in (scalar_parts(kernel, name) if kind == "scalar" else [name])]


def c_declarations(kernel: Kernel, restrict: str = "", index_type: str = "int64_t",
                   value_type: str | None = None) -> list[str]:
    """C-like parameters in call order: arrays of the kernel dtype (inputs const; `value_type`
    overrides its C type), scalars (complex ones as their two real parts, `scalar_parts`), then the
    integers; `restrict` is the target's no-alias qualifier with its leading space, or ""."""
    ct = value_type or CTYPE[kernel.dtype]
    rt = CTYPE[COMPLEX_DTYPES.get(kernel.dtype, kernel.dtype)]
    out = []
    for kind, name in arguments(kernel):
        if kind == "input":
            out.append(f"const {ct} *{restrict} {name}")
        elif kind == "output":
            out.append(f"{ct} *{restrict} {name}")
        elif kind == "index":
            out.append(f"const {index_type} {name}")
        else:
            parts = scalar_parts(kernel, name)
            out += [f"const {rt if len(parts) == 2 or name in kernel.runtime else ct} {part}"
                    for part in parts]
    return out


# --------------------------------------------------------------------------- printers

def small_integer_power(expr: sp.Pow):
    """(base, n) when `expr` is base**n with 1 < |n| <= MAX_UNROLLED_POWER, else None."""
    b, e = expr.args
    if e.is_Integer and 1 < abs(int(e)) <= MAX_UNROLLED_POWER:
        return b, int(e)
    return None


def float_literal(number: sp.Expr) -> sp.Float:
    """A number such as pi or sqrt(2) as a floating literal, to double precision."""
    return sp.Float(sp.N(number, 17), 17)


class KernelPrinter:
    """Mixin for a SymPy code printer of kernel IR expressions (listed before the SymPy printer).

    A target defines `element(array, indices)`, how it writes the element of `array` at per-axis
    index expressions, and `conditional(cond, then, otherwise)`; it may change `int_extremum` (an
    integer min/max), `min_function`/`max_function` (the binary min/max that n-ary ones fold into),
    `index` (how integer index arithmetic is printed) and, for typed languages, `index_type` and
    `value_type` (the types of index and value declarations).
    """
    min_function = "min"
    max_function = "max"
    index_type: str | None = None
    value_type: str | None = None
    # the type of a temporary holding a condition (a comparison, And, Or), for typed languages
    condition_type: str | None = None
    # the region being printed (set by `view`): element positions may depend on its box or point
    region: Region | None = None
    # the arrays' layouts (padding, origin); None: every array unpadded, starting at the grid's origin
    layouts: "Layouts | None" = None
    # complex kernels: array elements and parameters are complex, and real-valued subexpressions
    # (`symbolic.real_valued`) are computed in real arithmetic, in temporaries of `real_type`
    complex_values: bool = False
    real_type: str | None = None
    real_symbols: frozenset = frozenset()
    # while printing a region's body and stores (set by `view`): hoisted setup values by expression
    invariants: dict = {}

    def is_real(self, expr) -> bool:
        """Whether `expr` has a real value (always, in a real kernel)."""
        return not self.complex_values or real_valued(sp.sympify(expr), self.real_symbols)

    def positions(self, array: str, indices) -> list:
        """Where the grid indices `indices` lie in `array`, per axis (its padding and origin)."""
        if self.layouts is None:
            return list(indices)
        layout = self.layouts.layout(array)
        return [layout.position(a, j) for a, j in enumerate(indices)]

    def element(self, array: str, indices) -> str:
        raise NotImplementedError

    def conditional(self, cond: str, then: str, otherwise: str) -> str:
        raise NotImplementedError

    def int_extremum(self, function: str, a: str, b: str) -> str:
        return f"{function}({a}, {b})"

    def index(self, expr) -> str:
        """Integer index arithmetic: loop bounds, index maps."""
        return self._print(sp.sympify(expr))

    def _print_Access(self, expr: Access) -> str:
        return self.element(expr.field, [index(a) + int(o) for a, o in enumerate(expr.offset)])

    def _print_MappedAccess(self, expr: MappedAccess) -> str:
        return self.element(expr.field, expr.args[1:])

    def _print_IntMin(self, expr) -> str:
        return self.int_extremum("min", *(self.index(a) for a in expr.args))

    def _print_IntMax(self, expr) -> str:
        return self.int_extremum("max", *(self.index(a) for a in expr.args))

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        *branches, (last, cond) = expr.args
        assert cond == sp.true, f"{expr}: the front end gives every Piecewise a final True branch"
        text = self._print(last)
        for value, c in reversed(branches):
            then = self._print(value)
            text = self.conditional(self._print(c), then, text)
        return text

    def _fold(self, function: str, args) -> str:
        """`f(f(a, b), c)` for an n-ary function printed through a binary one."""
        text = self._print(args[0])
        for a in args[1:]:
            text = f"{function}({text}, {self._print(a)})"
        return text

    def _print_Min(self, expr) -> str:
        return self._fold(self.min_function, expr.args)

    def _print_Max(self, expr) -> str:
        return self._fold(self.max_function, expr.args)

    def assignment(self, a: Assign) -> dict:
        value_type = self.value_type
        if self.complex_values and not a.is_index and self.is_real(a.value):
            value_type = self.real_type
            self.real_symbols = self.real_symbols | {a.target}
        # (not sp.Boolean: a Symbol is one too)
        if self.condition_type and isinstance(a.value, (sp.core.relational.Relational,
                                                        sp.logic.boolalg.BooleanFunction)):
            value_type = self.condition_type
        return {"type": self.index_type if a.is_index else value_type, "name": a.target.name,
                "value": self.index(a.value) if a.is_index else self.doprint(a.value),
                "is_index": a.is_index}

    def _print(self, expr, **kwargs) -> str:
        if self.invariants and isinstance(expr, sp.Basic):
            name = self.invariants.get(expr)
            if name is not None:
                return name
        return super()._print(expr, **kwargs)

    def view(self, region: Region) -> dict:
        """What a template needs of one region, printed: its name and kind, per axis its loop (the
        variable, bounds and the index-map assignments made once that index is known), the
        temporaries computed at each point and the stores into the outputs. In the temporaries
        and the stores, a hoisted setup value's expression is printed as its name."""
        self.region = region
        # temporaries are named per region; carried values are known before the body reads them
        self.real_symbols = frozenset()
        if self.complex_values:
            self.real_symbols = frozenset(s for c in region.carried if self.is_real(c.value)
                                          for s in (c.current, c.previous))
        ndim = len(region.bounds)
        point = [index(a) for a in range(ndim)]
        loops = [{"depth": a, "var": index(a).name, "start": self.index(start), "stop": self.index(stop),
                  "innermost": a == ndim - 1, "setup": [self.assignment(s) for s in region.setup[a]]}
                 for a, (start, stop) in enumerate(region.bounds)]
        hoisted = set(region.hoisted)
        self.invariants = {s.value: s.target.name for st in region.setup for s in st if s.target in hoisted}
        try:
            body = [self.assignment(b) for b in region.body]
            stores = [{"element": self.element(s.output, point), "value": self.doprint(s.value)}
                      for s in region.stores]
        finally:
            self.invariants = {}
        return {"name": region.name, "interior": region.interior, "vector": region.vector,
                "loops": loops, "body": body, "stores": stores}


class IndexMode:
    """For printers whose numbers print as the kernel's values except in index arithmetic
    (accesses, index maps, loop bounds, comparisons of integers), where they stay integers:
    `in_index()` is that mode, which `_print_Integer` and the like consult as `_in_index`."""
    _in_index = False

    @contextlib.contextmanager
    def in_index(self):
        saved, self._in_index = self._in_index, True
        try:
            yield
        finally:
            self._in_index = saved

    def _print_Relational(self, expr) -> str:
        if expr.lhs.is_integer and expr.rhs.is_integer:
            with self.in_index():
                return super()._print_Relational(expr)
        return super()._print_Relational(expr)


class PointPrinter(KernelPrinter):
    """For code that computes one point at a time (C, CUDA, Numba): small integer powers become
    products (no pow call, so loops vectorise), and constants such as pi or sqrt(2) become floating
    literals (no library constant of another precision, and C99's <math.h> has no M_PI)."""

    def _print(self, expr, **kwargs) -> str:
        if isinstance(expr, sp.Expr) and expr.is_number and expr.is_real and not (expr.is_Rational or expr.is_Float):
            expr = float_literal(expr)
        return super()._print(expr, **kwargs)

    def power(self, expr: sp.Pow) -> str:
        """Any other power, as the target prints it."""
        return super()._print_Pow(expr)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        small = small_integer_power(expr)
        if small is None:
            return self.power(expr)
        base, n = small
        product = "*".join([f"({self._print(base)})"] * abs(n))
        return f"({self._print(sp.Integer(1))}/({product}))" if n < 0 else f"({product})"


# SymPy functions with a complex version that a complex argument calls (C99 <complex.h>: the
# name with a leading c, or a target's own, `CLikePrinter.complex_call`)
COMPLEX_FUNCTIONS = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log",
                     "Abs", "sqrt", "pow", "re", "im", "conjugate", "arg")
_C_COMPLEX_NAMES = {"re": "creal", "im": "cimag", "conjugate": "conj", "arg": "carg"}


class CLikePrinter(PointPrinter, C99CodePrinter):
    """C99 expressions of the kernel IR in one dtype, for the C-like targets.

    Arrays are row-major with the strides of their layout (`Layouts`); in the interior, where a
    template defines `ix` (the point's linear index in each frame), a neighbour is `ix` plus its
    offset. In a complex kernel a function of a complex value calls its complex version
    (`complex_call`: C99's `csin`, `creal`, ..., a modulus `hypot` of the parts), one of real
    values the real one.
    """
    index_type = "int64_t"
    # an int, not a value: GCC if-converts a conditional on a float 'truth value' that selects
    # complex values only as a branch, which keeps the loop from vectorising
    condition_type = "int"

    def __init__(self, dtype: str, ndim: int, layouts=()):
        part = COMPLEX_DTYPES.get(dtype, dtype)
        super().__init__(settings={"type_aliases": {real: float32 if part == "float32" else float64}})
        self.ndim = ndim
        self.value_type = CTYPE[dtype]
        self.complex_values = dtype in COMPLEX_DTYPES
        self.real_type = CTYPE[part]
        self.layouts = Layouts(ndim, layouts)

    def complex_call(self, function: str, args: list[str]) -> str:
        """The call of the complex version of SymPy function `function` (or "pow")."""
        sfx = self._get_func_suffix(real)
        if function == "Abs":
            # hypot of the parts is what C99's cabs computes, and unlike cabs it has a vector
            # version in libmvec, so a loop taking a modulus vectorises
            return f"hypot{sfx}(creal{sfx}({args[0]}), cimag{sfx}({args[0]}))"
        name = _C_COMPLEX_NAMES.get(function, "c" + function)
        return f"{name}{sfx}({', '.join(args)})"

    def _complex_function(self, expr) -> str | None:
        """The complex call for `expr` when it takes a complex value, else None."""
        if not self.complex_values or all(self.is_real(a) for a in expr.args):
            return None
        return self.complex_call(type(expr).__name__, [self._print(a) for a in expr.args])

    def _print_math_func(self, expr, nest=False, known=None) -> str:
        text = self._complex_function(expr)
        return text if text is not None else super()._print_math_func(expr, nest=nest, known=known)

    for _name in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log", "Abs"):
        locals()[f"_print_{_name}"] = _print_math_func
    del _name

    def _print_re(self, expr) -> str:
        return self._complex_function(expr) or self._print(expr.args[0])

    def _print_im(self, expr) -> str:
        return self._complex_function(expr) or self._print(sp.Integer(0))

    def _print_conjugate(self, expr) -> str:
        return self._complex_function(expr) or self._print(expr.args[0])

    def _print_arg(self, expr) -> str:
        return self.complex_call("arg", [self._print(expr.args[0])])

    def _print_ImaginaryUnit(self, expr) -> str:
        return "I"

    def power(self, expr: sp.Pow) -> str:
        if self.complex_values and not (self.is_real(expr.base) and self.is_real(expr.exp)):
            if expr.exp == sp.S.Half:
                return self.complex_call("sqrt", [self._print(expr.base)])
            return self.complex_call("pow", [self._print(expr.base), self._print(expr.exp)])
        return super().power(expr)

    @property
    def min_function(self) -> str:
        return "fmin" + self._get_func_suffix(real)

    @property
    def max_function(self) -> str:
        return "fmax" + self._get_func_suffix(real)

    def point_indices(self, indices=None) -> list[dict]:
        """The linear index of the point at `indices` (default: the loop point) in every frame:
        the `ix` (and `_ix<k>`) that templates define."""
        return [{"name": n, "value": self._print(v)} for n, v in self.layouts.point_definitions(indices)]

    # arrays whose value at the loop point is held in a local variable instead (name -> variable):
    # the state of a pointwise multi-step driver, which stays in registers through every step
    registers: dict = {}

    def element(self, array: str, indices) -> str:
        offset = point_offset(indices)
        if array in self.registers and offset is not None and not any(offset):
            return self.registers[array]
        if offset is not None and self.region is not None and self.region.interior:
            return f"{array}[{self._print(self.layouts.neighbour(array, offset))}]"
        return f"{array}[{self._print(self.layouts.linear(array, indices))}]"

    def conditional(self, cond: str, then: str, otherwise: str) -> str:
        return f"(({cond}) ? ({then}) : ({otherwise}))"

    def int_extremum(self, function: str, a: str, b: str) -> str:
        return f"(({a}) {'<' if function == 'min' else '>'} ({b}) ? ({a}) : ({b}))"

    def strides(self) -> list[dict]:
        """The stride definitions at the top of a C-like function."""
        return [{"name": n, "value": self._print(v)} for n, v in self.layouts.definitions()]
