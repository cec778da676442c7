"""Front end: what the user writes, checked into a `Problem`.

Takes a SymPy expression (or a dict of them, or strings) built from `Field`s, scalar `Symbol`s,
SymPy's pointwise functions and the unevaluated operators `grad`, `div`, `laplace`, `D`, `dot` and `shift`, plus
the options of `compile_stencil`; gives a frozen `Problem` (state, input fields, parameters, one
right-hand side per state field, ndim, boundary conditions per field and axis, dtype, spacing) in
which every user mistake has already been reported with the user's own names. Boundary conditions
are one protocol, `BoundaryCondition`: each condition owns its ghost rule and its command-line word.
"""
from __future__ import annotations

import dataclasses
import keyword
import math
import numbers
import re
import tokenize
from dataclasses import dataclass
from typing import Any, ClassVar

import sympy as sp
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

from .errors import StencilError

__all__ = [
    "Field", "fields", "grad", "div", "laplace", "D", "dot", "shift", "x", "y", "z", "t",
    "BoundaryCondition", "Neumann", "Periodic", "Dirichlet", "Robin", "parse_bc",
    "Problem", "check_problem", "COMPLEX_DTYPES", "real_valued",
]


# --------------------------------------------------------------------------- fields and operators

class Field(sp.Symbol):
    """A scalar field on the grid. Compares unequal to a plain `Symbol` of the same name."""


def fields(names: str) -> tuple[Field, ...]:
    """`fields("u v")` -> `(Field("u"), Field("v"))`, like `sympy.symbols`.

    Parameters
    ----------
    names : str
        Field names separated by spaces or commas.

    Returns
    -------
    tuple of Field
    """
    return tuple(Field(n) for n in names.replace(",", " ").split())


class grad(sp.Function):
    """Gradient of a scalar expression: a vector, allowed only inside `div` or `dot`."""
    nargs = 1


class div(sp.Function):
    """Divergence of a vector expression."""
    nargs = 1


class laplace(sp.Function):
    """Laplacian of a scalar expression: exactly `div(grad(e))` at order 2, the compact centred
    second difference (p + 1 points per axis) at orders 4 and 6."""
    nargs = 1


class dot(sp.Function):
    """Sum over axes of the product of two vector expressions."""
    nargs = 2


class D(sp.Function):
    """First partial derivative `D(e, axis)` of a scalar expression along `axis` (0-based)."""
    nargs = 2

    @classmethod
    def eval(cls, expr, axis):
        if not (isinstance(axis, sp.Integer) and int(axis) >= 0):
            raise StencilError(f"D({expr}, {axis}): the axis must be a non-negative integer")
        return None


class shift(sp.Function):
    """`shift(e, offset)`: `e` read at cell ``i + offset``, an explicit neighbour.

    `offset` is a tuple of integers, one per axis (``shift(u, (1, 0))`` is the neighbour along
    axis 0 in 2-D). Reads beyond the grid go through the boundary conditions: the ghost cells of
    every field that `e` reads. `e` may contain operators (``shift(laplace(u), (1, 0))``), and
    shifts compose (``shift(shift(u, (1, 0)), (0, 1)) == shift(u, (1, 1))``).
    """
    nargs = 2

    def __new__(cls, expr, offset, **kwargs):
        if isinstance(offset, (tuple, list)):   # SymPy would not take a list as an argument
            offset = sp.Tuple(*offset)
        return super().__new__(cls, expr, offset, **kwargs)

    @classmethod
    def eval(cls, expr, offset):
        if not isinstance(offset, sp.Tuple) or not offset or not all(
                isinstance(o, sp.Integer) for o in offset):
            raise StencilError(f"shift({expr}, {offset}): the offset must be a tuple of integers, one"
                               " per axis, as in shift(u, (1, 0))")
        if all(o == 0 for o in offset):
            return expr
        if isinstance(expr, shift) and len(expr.args[1]) == len(offset):
            return shift(expr.args[0], sp.Tuple(*[a + b for a, b in zip(expr.args[1], offset)]))
        return None


OPERATORS = (grad, div, laplace, dot, D, shift)

# The coordinates along axes 0, 1, 2 and the time: plain symbols, so that `sympy.Symbol("t")` is
# `t` too. Their names are reserved (no field or parameter may take them).
x, y, z = sp.symbols("x y z")
t = sp.Symbol("t")
COORDINATES = (x, y, z)
RESERVED = {"x": "the coordinate along axis 0", "y": "the coordinate along axis 1",
            "z": "the coordinate along axis 2", "t": "the time"}


def canonical(expr: sp.Basic) -> sp.Basic:
    """`expr` with every non-field symbol named x, y, z or t (whatever its assumptions) replaced
    by stencilc's coordinate or time symbol."""
    if not isinstance(expr, sp.Basic):
        return expr
    repl = {s: sp.Symbol(s.name) for s in expr.free_symbols
            if s.name in RESERVED and not isinstance(s, Field) and s != sp.Symbol(s.name)}
    return expr.xreplace(repl) if repl else expr


def check_coordinates(expr: sp.Basic, ndim: int, where: str) -> None:
    """A `StencilError` if `expr` (in `where`) uses a coordinate of an axis the grid lacks."""
    for a, c in enumerate(COORDINATES):
        if a >= ndim and c in expr.free_symbols:
            have = ", ".join(s.name for s in COORDINATES[:ndim])
            raise StencilError(f"{where} uses {c.name}, {RESERVED[c.name]}, but ndim={ndim}; "
                               f"the coordinates of this grid are {have}")

# SymPy functions every backend can print, applied pointwise.
POINTWISE = (
    sp.sin, sp.cos, sp.tan, sp.asin, sp.acos, sp.atan, sp.atan2, sp.sinh, sp.cosh, sp.tanh,
    sp.exp, sp.log, sp.Abs, sp.sign, sp.Min, sp.Max, sp.floor, sp.ceiling, sp.Piecewise,
    sp.re, sp.im, sp.conjugate, sp.arg,
)

# --------------------------------------------------------------------------- complex values

COMPLEX_DTYPES = {"complex64": "float32", "complex128": "float64"}   # -> the dtype of a part

# functions of a complex value whose value is real
REAL_PARTS = (sp.re, sp.im, sp.Abs, sp.arg)
# functions that take real arguments only (they order values, or are defined on the real line)
REAL_ONLY = (sp.Min, sp.Max, sp.sign, sp.floor, sp.ceiling, sp.atan2)


def real_valued(e: sp.Basic, real=frozenset()) -> bool:
    """Whether `e` has a real value in a complex stencil, where every field, parameter and array
    element is complex: it is built from real numbers, symbols assumed real (indices) or listed in
    `real` (temporaries known to be real), and `re`, `im`, `Abs`, `arg` of anything, with
    arithmetic and functions. Such values are computed in real arithmetic on every backend (so
    `sqrt(re(z))` is NaN where re(z) < 0, as for a real stencil)."""
    if isinstance(e, REAL_PARTS):
        return True
    if isinstance(e, sp.Symbol):
        return bool(e.is_real) or e in real
    if e is sp.I or isinstance(e, sp.Number) or isinstance(e, sp.NumberSymbol):
        return bool(e.is_real)
    if e.is_number:
        return bool(e.is_real)
    if isinstance(e, sp.Piecewise):
        return all(real_valued(v, real) for v, _ in e.args)
    if isinstance(e, (sp.Add, sp.Mul, sp.Pow) + POINTWISE):
        return all(real_valued(a, real) for a in e.args)
    if isinstance(e, (sp.Rel, sp.logic.boolalg.Boolean)):
        return True
    return bool(e.is_integer)   # integer index arithmetic; array elements are complex


def _check_complex(e: sp.Basic, complex_dtype: bool, dtype: str) -> None:
    """In a real stencil, the imaginary unit is an error; in a complex one, a comparison or an
    ordering function of a complex value is."""
    if not complex_dtype:
        if e.has(sp.I):   # SymPy's complex numbers are sums of reals and multiples of I
            raise StencilError(f"{e} contains the imaginary unit I, but dtype={dtype!r} is real; use"
                               " dtype='complex128' (or 'complex64') for complex fields")
        return
    for sub in sp.preorder_traversal(e):
        if isinstance(sub, sp.Rel):
            operands = sub.args
        elif isinstance(sub, REAL_ONLY):
            operands = sub.args
        else:
            continue
        for a in operands:
            if not real_valued(a):
                what = "compares" if isinstance(sub, sp.Rel) else f"{sub.func} takes"
                raise StencilError(f"{sub} {what} the complex value {a}; complex numbers have no order:"
                                   f" use re({a}), im({a}) or Abs({a})")


def _as_real(e: sp.Basic) -> sp.Basic:
    """A real stencil's `re`, `im`, `conjugate` and `arg`, which SymPy keeps unevaluated for
    symbols of unknown kind, with their real values."""
    return e.replace(sp.re, lambda a: a).replace(sp.im, lambda a: sp.Integer(0)).replace(
        sp.conjugate, lambda a: a).replace(sp.arg, lambda a: sp.Piecewise((sp.pi, a < 0), (0, True)))


# --------------------------------------------------------------------------- boundary conditions

class BoundaryCondition:
    """What one side of one axis of one field does beyond the grid: one protocol.

    Ghost cells are defined on the cell-centred grid; layer `k = 1, 2, ...` counts them outward
    from the boundary face and `h` is the spacing along the axis. A *periodic* condition wraps
    (`u[-k] = u[n-k]`); every other condition mirrors, giving the ghost as an affine map of the
    mirrored interior value, `u[-k] = scale * u[k-1] + offset` (the high side alike:
    `u[n-1+k]` from `u[n-k]`). Subclasses are frozen dataclasses whose fields are the condition's
    numbers or expressions; `name` and the fields spell its command-line word (`word()`,
    `parse_bc`). Values may be numbers, parameters (SymPy `Symbol`s, passed at call time) or
    expressions of parameters, the time `t` and the coordinates `x`, `y`, `z`, evaluated on the
    boundary face: the coordinate normal to the face is the face's position, the others are those
    of the cell whose ghost is being filled.
    """

    name: ClassVar[str]              # the command-line word: neumann, periodic, ...
    periodic: ClassVar[bool] = False  # wraps around instead of mirroring; both sides or neither

    def ghost(self, k, h: float, value=None) -> tuple[sp.Expr, sp.Expr]:
        """`(scale, offset)` with `u[-k] = scale*u[k-1] + offset` for ghost layer `k` (an int or a
        SymPy integer expression) on an axis of spacing `h`. The offset is the condition's value
        `data` (or `value`, an expression standing for it) times a weight that depends on `k`."""
        raise NotImplementedError(f"{self!r} wraps around the grid; it has no mirror rule")

    @property
    def data(self) -> sp.Expr:
        """The condition's boundary value (a SymPy number or an expression of parameters, `t` and
        the coordinates, evaluated on the face); zero where it has none."""
        return sp.Integer(0)

    def check(self, radius: int, h: float) -> None:
        """Raise a `StencilError` if the ghost rule is undefined for a layer `k <= radius`."""

    def word(self) -> str:
        """The command-line spelling, which `parse_bc` reads back: `neumann`, `dirichlet:1.5`, ..."""
        values = [getattr(self, f.name) for f in dataclasses.fields(self)]
        defaults = [f.default for f in dataclasses.fields(self)]
        while values and values[-1] == defaults[len(values) - 1]:
            values.pop()
        return ":".join([self.name] + [_text(v) for v in values])

    @classmethod
    def spellings(cls) -> list[str]:
        """The command-line forms of this condition: `neumann`, `neumann:FLUX`, ..."""
        params = [f.name.upper() for f in dataclasses.fields(cls)]
        required = sum(f.default is dataclasses.MISSING for f in dataclasses.fields(cls))
        return [":".join([cls.name] + params[:m]) for m in range(required, len(params) + 1)]


def _real(value: Any, what: str, call: str) -> float:
    """`value` as a finite float, else a `StencilError` naming the condition `call` and `what`."""
    if isinstance(value, sp.Basic) and value.is_number and value.is_extended_real:
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise StencilError(f"{call}: {what} must be a finite real number (an int or a float), "
                           f"got {value!r}")
    return float(value) + 0.0   # -0.0 -> 0.0: equal conditions print and hash alike


def _value(value: Any, what: str, call: str, coordinates: bool = True):
    """A boundary value: a finite float, or a SymPy expression of parameters, `t` and (where
    `coordinates`) the coordinates; else a `StencilError` naming the condition `call` and `what`."""
    if isinstance(value, str):
        value = parse(value, set(), what=f"{what} of {call}")
    if isinstance(value, sp.Basic) and not value.free_symbols:
        value = sp.sympify(value)
        if not value.is_extended_real and value.is_number:
            value = complex(value)
    if not isinstance(value, sp.Basic):
        try:
            return _real(value, what, call)
        except StencilError:
            raise StencilError(f"{call}: {what} must be a finite real number or an expression of"
                               f" parameters, t{' and coordinates' if coordinates else ''} (a SymPy"
                               f" expression or a string), got {value!r}") from None
    if not isinstance(value, sp.Expr):
        raise StencilError(f"{call}: {what} {value} is not a value (numbers, parameters, t and "
                           "coordinates)")
    value = canonical(value)
    fields_in = sorted(f.name for f in value.atoms(Field))
    if fields_in or value.atoms(*OPERATORS):
        raise StencilError(f"{call}: {what} {value} uses {'field ' + fields_in[0] if fields_in else 'an operator'};"
                           " a boundary value may use numbers, parameters, t and coordinates only")
    if not coordinates:
        used = sorted(c.name for c in COORDINATES if c in value.free_symbols)
        if used:
            raise StencilError(f"{call}: {what} {value} uses the coordinate {used[0]}; a and b may be"
                               " numbers, parameters or expressions of parameters and t (put what"
                               " varies along the wall into the value)")
    _is_vector(value, value, 3)
    return value


def _text(value) -> str:
    return repr(value) if isinstance(value, float) else sp.sstr(value)


def _call(cls: type, args: tuple) -> str:
    return f"{cls.__name__}({', '.join(repr(a) for a in args)})"


def _number(value) -> sp.Expr:
    """A float as a 17-digit SymPy Float; an expression as it is."""
    return value if isinstance(value, sp.Basic) else sp.Float(value, 17)


def _symbolic(value) -> bool:
    return isinstance(value, sp.Basic)


@dataclass(frozen=True)
class Neumann(BoundaryCondition):
    """Normal derivative `flux` on the boundary face: u[-k] = u[k-1] + (2k-1)*h*flux (zero flux:
    a plain mirror, and fluxes through the wall are exactly zero).

    Parameters
    ----------
    flux : float, sympy.Expr or str
        The outward normal derivative ``du/dn`` on the face: a number, a parameter (a ``Symbol``,
        passed at call time), or an expression of parameters, ``t`` and the coordinates,
        evaluated on the face; ``bc="neumann:FLUX"`` on the command line.
    """
    flux: Any = 0.0
    name: ClassVar[str] = "neumann"

    def __post_init__(self):
        object.__setattr__(self, "flux", _value(self.flux, "the flux", _call(Neumann, (self.flux,))))

    @property
    def data(self) -> sp.Expr:
        return _number(self.flux)

    def ghost(self, k, h, value=None):
        value = self.data if value is None else value
        return sp.Integer(1), (2 * k - 1) * _number(h) * value

    def __repr__(self) -> str:
        return f"Neumann({_text(self.flux)})" if self.flux != 0 else "Neumann()"


@dataclass(frozen=True)
class Periodic(BoundaryCondition):
    """Wrap around: u[-k] = u[n-k]. Both sides of an axis, or neither."""
    name: ClassVar[str] = "periodic"
    periodic: ClassVar[bool] = True

    def __repr__(self) -> str:
        return "Periodic()"


@dataclass(frozen=True)
class Dirichlet(BoundaryCondition):
    """Value `value` on the boundary face: u[-k] = 2*value - u[k-1].

    Parameters
    ----------
    value : float, sympy.Expr or str
        The value on the face, half a cell outside the last cell centre: a number, a parameter,
        or an expression of parameters, ``t`` and the coordinates, evaluated on the face;
        ``bc="dirichlet:VALUE"`` on the command line.
    """
    value: Any = 0.0
    name: ClassVar[str] = "dirichlet"

    def __post_init__(self):
        object.__setattr__(self, "value", _value(self.value, "the value", _call(Dirichlet, (self.value,))))

    @property
    def data(self) -> sp.Expr:
        return _number(self.value)

    def ghost(self, k, h, value=None):
        value = self.data if value is None else value
        return sp.Integer(-1), 2 * value

    def __repr__(self) -> str:
        return f"Dirichlet({_text(self.value)})"


@dataclass(frozen=True)
class Robin(BoundaryCondition):
    """`a*u + b*du/dn = value` on the boundary face, with the face value `(u[-k] + u[k-1])/2` and
    the outward normal derivative `(u[-k] - u[k-1]) / ((2k-1)*h)`, solved for u[-k]. Robin(1, 0, g)
    is Dirichlet(g) and Robin(0, 1, g) is Neumann(g), rule for rule.

    Parameters
    ----------
    a, b : float, sympy.Expr or str
        The weights of the face value and of the outward normal derivative: numbers (not both
        zero), parameters, or expressions of parameters and ``t`` (not of the coordinates). A
        condition whose ghost equation is singular (``a/2 + b/((2k-1)*h) = 0`` for a layer the
        stencil reaches) is a `StencilError` when the stencil is compiled, if a and b are numbers;
        with a parameter in them the ghost value is computed as written, so a singular choice at
        call time gives inf or nan (which `integrate` reports as a non-finite state).
    value : float, sympy.Expr or str
        The right-hand side ``g``: a number, a parameter, or an expression of parameters, ``t``
        and the coordinates, evaluated on the face; ``bc="robin:A:B:VALUE"`` on the command line.
    """
    a: Any
    b: Any
    value: Any
    name: ClassVar[str] = "robin"

    def __post_init__(self):
        call = _call(Robin, (self.a, self.b, self.value))
        for what in ("a", "b", "value"):
            object.__setattr__(self, what, _value(getattr(self, what), what, call, coordinates=what == "value"))
        if not _symbolic(self.a) and not _symbolic(self.b) and self.a == 0 and self.b == 0:
            raise StencilError(f"{call}: a and b are both zero, so the condition says nothing about u;"
                               " give a nonzero a (value) or b (normal derivative)")

    @property
    def data(self) -> sp.Expr:
        return _number(self.value)

    def ghost(self, k, h, value=None):
        g = self.data if value is None else value
        a, b = _number(self.a), _number(self.b)
        if b == 0:       # a value: the Dirichlet mirror
            return sp.Integer(-1), 2 * g / a
        if a == 0:       # a normal derivative: the Neumann mirror
            return sp.Integer(1), (2 * k - 1) * _number(h) * g / b
        # a*(G + U)/2 + b*(G - U)/q = g with q = (2k-1)*h, times 2q: G*(a*q + 2b) = U*(2b - a*q) + 2gq
        q = (2 * k - 1) * _number(h)
        aq, gq = q * a, 2 * q * g
        denominator = aq + 2 * b
        return (2 * b - aq) / denominator, gq / denominator

    def check(self, radius, h):
        if _symbolic(self.a) or _symbolic(self.b):
            return
        for k in range(1, radius + 1):
            aq, b2 = self.a * (2 * k - 1) * h, 2 * self.b
            if abs(aq + b2) <= 1e-12 * max(abs(aq), abs(b2)):
                raise StencilError(
                    f"{self!r} is singular on an axis of spacing {h!r}: a/2 + b/((2k-1)*h) = 0 for"
                    f" ghost layer k={k} (the stencil reaches {radius} deep), so the ghost value is"
                    " undefined; change a or b")

    def __repr__(self) -> str:
        return f"Robin({_text(self.a)}, {_text(self.b)}, {_text(self.value)})"


Sides = tuple[BoundaryCondition, BoundaryCondition]   # the (low, high) sides of one axis

_BC_KINDS = {kind.name: kind for kind in (Neumann, Periodic, Dirichlet, Robin)}
BC_WORDS = ", ".join(s for kind in _BC_KINDS.values() for s in kind.spellings())


def parse_bc(text: str, where: str = "") -> BoundaryCondition:
    """A condition from its command-line word (`BoundaryCondition.word`): `neumann`,
    `neumann:FLUX`, `periodic`, `dirichlet`, `dirichlet:VALUE`, `robin:A:B:VALUE`, any case; the
    values are numbers or expressions of parameters, `t` and the coordinates (`dirichlet:sin(t)`)."""
    where = f" {where}" if where else ""
    name, *args = [part.strip() for part in str(text).strip().split(":")]
    kind = _BC_KINDS.get(name.lower())
    if kind is None:
        raise StencilError(f"boundary condition {text!r}{where} is not understood; accepted: {BC_WORDS}")
    params = dataclasses.fields(kind)
    required = sum(f.default is dataclasses.MISSING for f in params)
    if not required <= len(args) <= len(params):
        raise StencilError(f"boundary condition {text!r}{where} has {len(args)} value(s) after {name!r};"
                           f" accepted: {' or '.join(kind.spellings())}")
    values = []
    for f, arg in zip(params, args):
        try:
            values.append(float(arg))
        except ValueError:
            values.append(arg)    # an expression of parameters, t and coordinates
    try:
        return kind(*values)
    except StencilError as e:
        raise StencilError(f"boundary condition {text!r}{where}: {e}; accepted: "
                           f"{' or '.join(kind.spellings())} with numbers or expressions") from None


# --------------------------------------------------------------------------- names

_C_KEYWORDS = set("""auto break case char const continue default do double else enum extern float for
goto if inline int long register restrict return short signed sizeof static struct switch typedef
union unsigned void volatile while _Bool _Complex _Imaginary bool true false NULL""".split())
_LIBRARY_NAMES = set("""sin cos tan asin acos atan atan2 sinh cosh tanh exp log sqrt pow fabs floor
ceil fmin fmax copysign sinf cosf tanf expf logf sqrtf powf fabsf int64_t size_t np numpy numba math
prange range len abs min max print slice None True False""".split())
_INTERNAL = re.compile(r"^(n|i|st|m|s)\d+$|^ix$|^_|^out_")


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise StencilError(f"{what} name {name!r} is not a valid identifier")
    if keyword.iskeyword(name) or name in _C_KEYWORDS or name in _LIBRARY_NAMES:
        raise StencilError(f"{what} name {name!r} is a keyword or library name in the generated code;"
                           " rename it")
    if _INTERNAL.match(name):
        raise StencilError(f"{what} name {name!r} clashes with names stencilc generates (n0, i0, st0,"
                           " ix, out_*, names starting with '_'); rename it")


def _name_of(x: Any, what: str) -> str:
    if isinstance(x, sp.Symbol):
        return x.name
    if isinstance(x, str):
        return x
    raise StencilError(f"{what} must be a name or a Field, got {x!r}")


# --------------------------------------------------------------------------- parsing strings

_STRING_FUNCTIONS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos,
    "atan": sp.atan, "atan2": sp.atan2, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "Abs": sp.Abs, "abs": sp.Abs, "sign": sp.sign,
    "Min": sp.Min, "Max": sp.Max, "min": sp.Min, "max": sp.Max, "floor": sp.floor,
    "ceiling": sp.ceiling, "Piecewise": sp.Piecewise,
    "re": sp.re, "im": sp.im, "conjugate": sp.conjugate, "conj": sp.conjugate, "arg": sp.arg,
    "grad": grad, "div": div, "laplace": laplace, "D": D, "dot": dot, "shift": shift,
}
_STRING_CONSTANTS = {"pi": sp.pi}
_PARSER_GLOBALS = {"Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational,
                   "Symbol": sp.Symbol, "Function": sp.Function, "Tuple": sp.Tuple,
                   "True": sp.true, "False": sp.false}


def parse(text: str, field_names: set[str], imaginary_unit: bool = False,
          what: str = "right-hand side") -> sp.Expr:
    """Parse a right-hand side string; `field_names` become `Field`s, other names parameters.

    With `imaginary_unit` (a complex stencil), `I` is the imaginary unit; otherwise it is a
    parameter's name like any other (SymPy's reserved names are ordinary names in strings).
    A function name that is never called is an ordinary name: `D*laplace(u)` has a parameter `D`
    (the diffusivity), while `D(u, 0)` is the derivative operator. `x`, `y`, `z` and `t` are the
    coordinates and the time."""
    if not isinstance(text, str):
        raise StencilError(f"{what} must be a SymPy expression or a string, got {text!r}")
    if not text.strip():
        raise StencilError(f"{what} string is empty")
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    called = set()
    for call in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", text):
        fname = call.group(1)
        if fname not in _STRING_FUNCTIONS:
            raise StencilError(
                f"unknown function {fname!r} in {text!r}; accepted: "
                + ", ".join(sorted(k for k in _STRING_FUNCTIONS if k[0].islower())))
        called.add(fname)
    for n in sorted(names):
        if keyword.iskeyword(n) and n not in ("True", "False", "None"):
            raise StencilError(f"{n!r} in {text!r} is a Python keyword and cannot name a parameter or"
                               f" field (it could not be passed as {n}=...); call it {n[:3]} or {n}_")
        if n in called and re.search(rf"(?<![A-Za-z0-9_]){n}(?![A-Za-z0-9_])(?!\s*\()", text):
            raise StencilError(f"{n!r} in {text!r} is both called, as the function {n}(...), and used as"
                               f" a value; give the value another name (e.g. {n}0 or {n}_c)")
    local: dict[str, Any] = {}
    for n in names:
        if n in field_names:
            if n in RESERVED:
                raise StencilError(f"{n!r} is reserved for {RESERVED[n]} and cannot name a field")
            local[n] = Field(n)
        elif n in called or n in _STRING_CONSTANTS:
            local[n] = _STRING_FUNCTIONS.get(n, _STRING_CONSTANTS.get(n))
        elif n == "I" and imaginary_unit:
            local[n] = sp.I
        elif n not in ("Integer", "Float", "Rational", "Symbol", "Function", "True", "False"):
            local[n] = sp.Symbol(n)
    try:
        expr = parse_expr(text, local_dict=local, global_dict=dict(_PARSER_GLOBALS),
                          transformations=standard_transformations + (convert_xor,), evaluate=True)
    except StencilError:
        raise
    except SyntaxError as e:
        where = f" at column {e.offset}" if e.offset else ""
        raise StencilError(f"could not parse {what} {text!r}: {e.msg}{where}") from None
    except tokenize.TokenError as e:
        message = e.args[0] if e.args else "incomplete expression"
        hint = "; check the parentheses" if "EOF" in str(message) else ""
        raise StencilError(f"could not parse {what} {text!r}: {message}{hint}") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise StencilError(f"could not parse {what} {text!r}: {e}") from None
    if not isinstance(expr, sp.Expr):
        raise StencilError(f"{what} {text!r} is not an expression (got {type(expr).__name__})")
    return expr


# --------------------------------------------------------------------------- validation

def _is_vector(e: sp.Basic, rhs: sp.Basic, ndim: int) -> bool:
    """Whether `e` is vector-valued; raises on shapes that make no sense."""
    if isinstance(e, grad):
        if _is_vector(e.args[0], rhs, ndim):
            raise StencilError(f"grad of a vector in {e}: grad takes a scalar expression")
        return True
    if isinstance(e, (div,)):
        if not _is_vector(e.args[0], rhs, ndim):
            raise StencilError(f"div of a scalar in {e}: div takes a vector such as grad(u) or c*grad(u)")
        return False
    if isinstance(e, dot):
        for a in e.args:
            if not _is_vector(a, rhs, ndim):
                raise StencilError(f"dot of a scalar {a} in {e}: dot takes two vectors")
        return False
    if isinstance(e, laplace):
        if _is_vector(e.args[0], rhs, ndim):
            raise StencilError(f"laplace of a vector in {e}: laplace takes a scalar expression")
        return False
    if isinstance(e, D):
        if _is_vector(e.args[0], rhs, ndim):
            raise StencilError(f"D of a vector in {e}: D takes a scalar expression")
        if int(e.args[1]) >= ndim:
            raise StencilError(f"{e}: axis {e.args[1]} is out of range for ndim={ndim} "
                               f"(axes are 0..{ndim - 1})")
        return False
    if isinstance(e, shift):
        if len(e.args[1]) != ndim:
            raise StencilError(f"{e}: the offset {tuple(int(o) for o in e.args[1])} has {len(e.args[1])}"
                               f" entries but ndim={ndim}; give one integer per axis")
        return _is_vector(e.args[0], rhs, ndim)
    if e in (sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise StencilError(f"{e} in the right-hand side is not a finite number")
    if isinstance(e, (sp.Symbol, sp.Number, sp.NumberSymbol)):
        return False
    if e.is_number and not e.atoms(sp.Symbol, sp.Function) - {sp.I}:
        return False    # e.g. 2 + 3*I
    if e is sp.I:
        return False   # a complex stencil's unit; a real stencil refuses it (_check_complex)
    if isinstance(e, (sp.Add,)):
        kinds = [_is_vector(a, rhs, ndim) for a in e.args]
        if any(kinds) and not all(kinds):
            raise StencilError(f"{e} adds a vector and a scalar")
        return all(kinds)
    if isinstance(e, sp.Mul):
        kinds = [_is_vector(a, rhs, ndim) for a in e.args]
        if sum(kinds) > 1:
            raise StencilError(f"{e} multiplies two vectors; use dot(a, b)")
        return any(kinds)
    if isinstance(e, sp.Pow):
        if _is_vector(e.args[1], rhs, ndim):
            raise StencilError(f"{e} raises to a vector power")
        return _is_vector(e.args[0], rhs, ndim)
    if isinstance(e, sp.Piecewise):
        if e.args[-1].cond != sp.true:
            raise StencilError(f"{e} has no value where none of its conditions holds; add a final"
                               " (value, True) branch, as in Piecewise((u, u > 0), (0, True))")
        kinds = []
        for value, cond in e.args:
            kinds.append(_is_vector(value, rhs, ndim))
            for c in cond.atoms(grad):
                raise StencilError(f"vector {c} in the condition of {e}")
            for sub in cond.atoms(OPERATORS[1:]) if hasattr(cond, "atoms") else ():
                _is_vector(sub, rhs, ndim)
        if any(kinds) and not all(kinds):
            raise StencilError(f"{e} mixes vector and scalar branches")
        return all(kinds)
    if isinstance(e, POINTWISE):
        return any([_is_vector(a, rhs, ndim) for a in e.args])
    if isinstance(e, sp.Derivative):
        raise StencilError(f"{e}: SymPy's Derivative is not supported; use D(expr, axis), grad, div"
                           " or laplace")
    if isinstance(e, sp.Function):
        raise StencilError(f"unknown function {e.func} in {e}; accepted: grad, div, laplace, D, dot, shift and"
                           " sin cos tan asin acos atan atan2 sinh cosh tanh exp log sqrt Abs sign Min"
                           " Max floor ceiling Piecewise")
    if isinstance(e, (sp.Rel, sp.logic.boolalg.Boolean)):
        raise StencilError(f"{e} is a condition, not a value; use it inside Piecewise")
    raise StencilError(f"{e} ({type(e).__name__}) is not supported in a right-hand side")


def _under_operator(expr: sp.Basic) -> set[str]:
    """Names of fields that appear inside a differential operator (or read as neighbours)."""
    found: set[str] = set()
    for op in expr.atoms(grad, div, laplace, D, dot, shift):
        found |= {f.name for f in op.atoms(Field)}
    return found


def _normalise_dtype(dtype: Any) -> str:
    import numpy as np
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("float32", "float64", "complex64", "complex128"):
        raise StencilError(f"dtype {dtype!r} is not supported; use 'float32', 'float64', 'complex64'"
                           " or 'complex128'")
    return name


def _is_kind(spec: Any) -> bool:
    return isinstance(spec, type) and issubclass(spec, BoundaryCondition)


def _normalise_side(spec: Any, where: str) -> BoundaryCondition:
    if isinstance(spec, BoundaryCondition):
        return spec
    if isinstance(spec, str):
        return parse_bc(spec, where)
    if _is_kind(spec):
        try:
            return spec()
        except TypeError:
            raise StencilError(f"boundary condition {spec.__name__} {where} needs its values, as in "
                               f"{spec.__name__}({', '.join(f.name for f in dataclasses.fields(spec))})"
                               ) from None
    raise StencilError(f"boundary condition {spec!r} {where} is not understood; accepted: {BC_WORDS}"
                       " or Neumann(flux), Periodic(), Dirichlet(value), Robin(a, b, value)")


def _is_side(spec: Any) -> bool:
    return isinstance(spec, (str, BoundaryCondition)) or _is_kind(spec)


def _normalise_field_bc(spec: Any, ndim: int, who: str) -> tuple[Sides, ...]:
    """One field's bc spec -> per axis (low, high)."""
    if _is_side(spec):
        side = _normalise_side(spec, f"for {who}")
        axes = [(side, side)] * ndim
    elif isinstance(spec, (tuple, list)):
        if ndim == 1 and len(spec) == 2 and all(_is_side(s) for s in spec):
            spec = (tuple(spec),)  # 1-D: a (low, high) pair
        if len(spec) != ndim:
            raise StencilError(f"bc for {who} has {len(spec)} per-axis entries but ndim={ndim}; give one"
                               f" entry per axis, each a bc or a (low, high) pair")
        axes = []
        for a, ax in enumerate(spec):
            if _is_side(ax):
                s = _normalise_side(ax, f"for {who} on axis {a}")
                axes.append((s, s))
            elif isinstance(ax, (tuple, list)) and len(ax) == 2:
                axes.append((_normalise_side(ax[0], f"for {who} on axis {a} (low side)"),
                             _normalise_side(ax[1], f"for {who} on axis {a} (high side)")))
            else:
                raise StencilError(f"bc for {who} on axis {a} is {ax!r}; give a bc or a (low, high) pair")
    else:
        raise StencilError(f"bc {spec!r} for {who} is not understood; give a condition ({BC_WORDS}, or"
                           " an object such as Neumann()), a tuple with one per axis, or a dict per field")
    for a, (lo, hi) in enumerate(axes):
        if lo.periodic != hi.periodic:
            raise StencilError(f"bc for {who} on axis {a} is periodic on one side only ({lo!r}, {hi!r});"
                               " both sides of an axis must be periodic, or neither")
    return tuple(axes)


def _resolve_bc(bc: Any, state: tuple[str, ...], inputs: tuple[str, ...], ndim: int):
    """-> {field name: per-axis (low, high)} for every state and input field.

    A non-dict `bc` applies to the state fields; input fields are Neumann unless a dict names them,
    except that an axis periodic for the state is periodic for every field.
    """
    neumann = tuple((Neumann(), Neumann()) for _ in range(ndim))
    named: dict[str, Any] = {}
    if isinstance(bc, dict):
        for key, spec in bc.items():
            name = _name_of(key, "a key of the bc dict")
            if name not in state and name not in inputs:
                raise StencilError(f"bc names {name!r}, which is neither a state field ({', '.join(state)})"
                                   f" nor an input field ({', '.join(inputs) or 'none'})")
            named[name] = _normalise_field_bc(spec, ndim, f"field {name!r}")
        out = {n: named.get(n, neumann) for n in state}
    else:
        s = _normalise_field_bc(bc, ndim, "the state")
        out = {n: s for n in state}
    for a in range(ndim):
        periodic = {n for n in state if out[n][a][0].periodic}
        if periodic and len(periodic) != len(state):
            raise StencilError(f"axis {a} is periodic for {sorted(periodic)} but not for "
                               f"{sorted(set(state) - periodic)}; state fields must agree on periodic axes")
    for f in inputs:
        axes = list(named.get(f, neumann))
        for a in range(ndim):
            if out[state[0]][a][0].periodic and not axes[a][0].periodic:
                if f in named:
                    raise StencilError(f"bc for input field {f!r} on axis {a} is {axes[a][0]!r}, but axis"
                                       f" {a} is periodic for the state; it must be periodic too")
                axes[a] = (Periodic(), Periodic())
        out[f] = tuple(axes)
    return out


def _normalise_spacing(spacing: Any, ndim: int) -> tuple[float, ...]:
    vals = spacing if isinstance(spacing, (tuple, list)) else (spacing,) * ndim
    if len(vals) != ndim:
        raise StencilError(f"spacing has {len(vals)} entries but ndim={ndim}; give one value or one per axis")
    out = []
    for a, h in enumerate(vals):
        try:
            h = float(h)
        except (TypeError, ValueError):
            raise StencilError(f"spacing {h!r} on axis {a} is not a number") from None
        if not (math.isfinite(h) and h > 0):
            raise StencilError(f"spacing {h!r} on axis {a} must be a positive finite number")
        out.append(h)
    return tuple(out)


def _normalise_origin(origin: Any, ndim: int) -> tuple[float, ...]:
    vals = origin if isinstance(origin, (tuple, list)) else (origin,) * ndim
    if len(vals) != ndim:
        raise StencilError(f"origin has {len(vals)} entries but ndim={ndim}; give one value or one per axis")
    out = []
    for a, o in enumerate(vals):
        try:
            o = float(o)
        except (TypeError, ValueError):
            raise StencilError(f"origin {o!r} on axis {a} is not a number") from None
        if not math.isfinite(o):
            raise StencilError(f"origin {o!r} on axis {a} must be a finite number")
        out.append(o + 0.0)
    return tuple(out)


def _bc_symbols(bc_of) -> set[sp.Symbol]:
    """The symbols in the values of the boundary conditions."""
    out: set[sp.Symbol] = set()
    for axes in bc_of.values():
        for sides in axes:
            for side in sides:
                for f in dataclasses.fields(side):
                    v = getattr(side, f.name)
                    if isinstance(v, sp.Basic):
                        out |= v.free_symbols
    return out


@dataclass(frozen=True)
class Problem:
    """A checked right-hand side and the options that shape its discretisation."""
    state: tuple[str, ...]
    fields: tuple[str, ...]          # input fields, call order
    params: tuple[str, ...]          # scalar parameters, call order
    rhs: tuple[sp.Expr, ...]         # one per state field, over Field and Symbol atoms
    ndim: int
    bc: tuple[tuple[str, tuple[Sides, ...]], ...]   # (field, per-axis (low, high))
    dtype: str
    spacing: tuple[float, ...]
    fastmath: bool
    order: int = 2                   # accuracy order of differences and interpolations: 2, 4, 6
    origin: tuple[float, ...] = ()   # the low corner of the grid per axis (coordinates)

    @property
    def bc_of(self) -> dict[str, tuple[Sides, ...]]:
        return dict(self.bc)

    @property
    def time_dependent(self) -> bool:
        """Whether the right-hand side or a boundary value uses the time `t`."""
        return any(t in e.free_symbols for e in self.rhs) or t in _bc_symbols(self.bc_of)

    @property
    def uses_coordinates(self) -> bool:
        """Whether the right-hand side or a boundary value uses a coordinate `x`, `y`, `z`."""
        used = set().union(*(e.free_symbols for e in self.rhs)) | _bc_symbols(self.bc_of)
        return bool(used & set(COORDINATES))

    def key(self) -> str:
        """A canonical text that identifies the problem (for the cache key)."""
        return repr((self.state, self.fields, self.params, tuple(sp.srepr(e) for e in self.rhs),
                     self.ndim, self.bc, self.dtype, self.spacing, self.fastmath, self.order,
                     self.origin))


def check_problem(rhs: Any, *, state=None, fields=None, ndim=2, bc="neumann", dtype="float64",
                  spacing=1.0, fastmath=False, order=2, origin=0.0) -> Problem:
    """Validate user input into a `Problem`; every mistake is a `StencilError` naming it."""
    if isinstance(ndim, bool) or not isinstance(ndim, int) or not 1 <= ndim <= 3:
        raise StencilError(f"ndim={ndim!r} is not supported; use 1, 2 or 3")
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order not in (2, 4, 6):
        raise StencilError(f"order={order!r} is not supported; use 2, 4 or 6 (the accuracy order of"
                           " the differences)")
    order = int(order)
    if not isinstance(fastmath, bool):
        raise StencilError(f"fastmath={fastmath!r} must be True or False")
    dtype = _normalise_dtype(dtype)
    is_complex = dtype in COMPLEX_DTYPES
    spacing = _normalise_spacing(spacing, ndim)
    origin = _normalise_origin(origin, ndim)

    declared_fields = []
    if fields is not None:
        if isinstance(fields, (str, sp.Symbol)):
            fields = [fields]
        declared_fields = [_name_of(f, "fields= entry") for f in fields]
    if isinstance(state, (list, tuple)):
        state_names = [_name_of(s, "state") for s in state]
    elif state is not None:
        state_names = [_name_of(state, "state")]
    else:
        state_names = []

    # right-hand sides as expressions, keyed by state name when a dict is given; `undecided`: the
    # names under a differential operator of a string rhs when they do not tell the state
    undecided: set[str] = set()
    if isinstance(rhs, dict):
        keys = [_name_of(k, "a key of the right-hand side dict") for k in rhs]
        if not keys:
            raise StencilError("the right-hand side dict is empty")
        if state_names and sorted(state_names) != sorted(keys):
            raise StencilError(f"state={state_names} does not match the keys of the right-hand side dict"
                               f" {keys}")
        state_names = state_names or keys
        known = set(keys) | set(declared_fields)
        exprs_by_name = {k: (parse(v, known, is_complex) if isinstance(v, str) else v) for k, v in zip(keys, rhs.values())}
        exprs = [exprs_by_name[n] for n in state_names]
    else:
        if len(state_names) > 1:
            raise StencilError(f"state={state_names} names several fields but the right-hand side is a"
                               " single expression; give a dict {field: rhs} for a system")
        known = set(state_names) | set(declared_fields)
        if isinstance(rhs, str) and not state_names:
            # an undeclared name under a differential operator is the state, if it is the only one
            under = {s.name for op in parse(rhs, known, is_complex).atoms(*OPERATORS) for s in op.free_symbols}
            if len(under - known) == 1:
                known |= under - known
            else:
                undecided = under - known
        exprs = [parse(rhs, known, is_complex) if isinstance(rhs, str) else rhs]
    for e in exprs:
        if isinstance(e, (int, float)):
            continue
        if not isinstance(e, sp.Basic):
            raise StencilError(f"right-hand side {e!r} is not a SymPy expression or a string")
    exprs = [canonical(sp.sympify(e)) for e in exprs]
    for name in state_names + declared_fields:
        if name in RESERVED:
            raise StencilError(f"{name!r} is reserved for {RESERVED[name]} and cannot name a field;"
                               " rename the field")
    for e in exprs:
        for f in e.atoms(Field):
            if f.name in RESERVED:
                raise StencilError(f"Field({f.name!r}) uses a name reserved for {RESERVED[f.name]};"
                                   " rename the field")

    # fields named in state=/fields= but written as plain Symbols become Fields
    promote = {s: Field(s.name) for e in exprs for s in e.free_symbols
               if not isinstance(s, Field) and s.name in set(state_names) | set(declared_fields)}
    if promote:
        exprs = [e.xreplace(promote) for e in exprs]

    for e in exprs:
        _check_complex(e, is_complex, dtype)
    if not is_complex:
        exprs = [_as_real(e) for e in exprs]
    for e in exprs:
        if _is_vector(e, e, ndim):
            raise StencilError(f"the right-hand side {e} is vector-valued (it contains grad outside div or"
                               " dot); a right-hand side must be a scalar")

    for e in exprs:
        check_coordinates(e, ndim, f"the right-hand side {e}")
    all_fields = {s.name for e in exprs for s in e.free_symbols if isinstance(s, Field)}
    all_params = {s.name for e in exprs for s in e.free_symbols
                  if not isinstance(s, Field) and s.name not in RESERVED}
    both = all_fields & all_params
    if both:
        raise StencilError(f"{sorted(both)} used both as a Field and as a parameter Symbol")

    if not state_names:
        candidates = set()
        for e in exprs:
            candidates |= _under_operator(e)
        candidates = candidates or undecided
        if len(candidates) != 1:
            which = (f"fields {sorted(candidates)} {'both' if len(candidates) == 2 else 'all'} appear"
                     if candidates else "no field appears")
            raise StencilError(f"cannot tell the state field: {which} under a differential operator;"
                               " pass state=")
        state_names = sorted(candidates)
        if len(exprs) != 1:
            raise StencilError("pass state= for a system")
    if len(set(state_names)) != len(state_names):
        raise StencilError(f"state {state_names} names a field twice")
    for s in state_names:
        _check_name(s, "state field")
    if len(exprs) == 1 and state_names[0] not in all_fields:
        raise StencilError(f"state field {state_names[0]!r} does not appear in the right-hand side {exprs[0]}")
    for f in declared_fields:
        _check_name(f, "field")
        if f in state_names:
            raise StencilError(f"{f!r} is listed both as state and in fields=")
        if f not in all_fields:
            raise StencilError(f"field {f!r} listed in fields= does not appear in the right-hand side")
    if len(set(declared_fields)) != len(declared_fields):
        raise StencilError(f"fields={declared_fields} names a field twice")
    extra = sorted(all_fields - set(state_names) - set(declared_fields))
    input_fields = tuple(declared_fields) + tuple(extra)
    resolved = _resolve_bc(bc, tuple(state_names), input_fields, ndim)
    for n, axes in resolved.items():
        for a, sides in enumerate(axes):
            for side in sides:
                check_coordinates(side.data, ndim, f"the boundary condition {side!r} of {n!r} on axis {a}")
    bc_params = {s.name for s in _bc_symbols(resolved) if s.name not in RESERVED}
    clash = sorted(bc_params & all_fields)
    if clash:
        raise StencilError(f"{clash[0]!r} is a field, but a boundary value uses it as a parameter; "
                           "boundary values may use numbers, parameters, t and coordinates only")
    all_params |= bc_params
    for p in all_params:
        _check_name(p, "parameter")
    params = tuple(sorted(all_params))
    for s in state_names:
        if f"out_{s}" in all_fields | all_params:
            raise StencilError(f"name 'out_{s}' is reserved for the output of state {s!r}")

    return Problem(state=tuple(state_names), fields=input_fields, params=params, rhs=tuple(exprs),
                   ndim=ndim, bc=tuple((n, resolved[n]) for n in tuple(state_names) + input_fields),
                   dtype=dtype, spacing=spacing, fastmath=fastmath, order=order, origin=origin)
