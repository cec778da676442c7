"""Numba backend: the kernel IR printed as a Python module of `@numba.njit` functions.

Takes a `Kernel`; gives Python source (through `NumbaPrinter`, a `PythonCodePrinter` subclass, and
`templates/numba/kernel.py.j2`), written into a cache entry and imported from there, so that Numba's
own cache (`cache=True`, in the entry's `__pycache__`) makes a second process load machine code
instead of compiling. The kernel is compiled eagerly for its one exact signature when the module is
imported. The interior runs in chunks of rows along the outermost axis, one `numba.prange`
iteration each (a fixed number of rows, so a result never depends on the thread count); a chunk
allocates the buffers of the carried values (passes/reuse.py, along every axis as in C) once and
calls a per-row `@njit` function (LLVM vectorises that row's loops, not the same loops inlined in
the chunk). Rows read neighbours by direct multi-dimensional indexing, which LLVM turns into
contiguous vector loads, and call the vectorisable maths of `numba_math`. Those are valid for
trigonometric arguments below a limit; each chunk reports whether any argument reached it and is
then recomputed with the full-range functions, by a function compiled on its first call only (it
would otherwise double the interior's compile time for a path that is rarely taken). (The line buffer's fill notes such arguments in a
flag buffer, reduced by a loop of its own: LLVM leaves scalar a loop that both reduces a flag and
reuses a load of the previous iteration.) Boundary strips read through the IR's index maps, like the C template.
Literals carry the kernel dtype, so float32 kernels stay float32 (Numba would widen `2*x` to float64).
Complex kernels use Numba's native complex numbers and `cmath` for functions of complex values; real
literals and real-valued subexpressions (`re`, `im`, `Abs`, `arg`) stay real, of the parts' dtype,
and only they use numba_math's vectorisable (real) functions.
This module does not import Numba: generating the source needs none, building and running do.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from .. import threads
from ..errors import StencilError
from ..ir import Kernel, shift
from .backend import Backend, host_id, no_metadata, no_prototype
from ..symbolic import COMPLEX_DTYPES
from .printing import IndexMode, Layouts, PointPrinter, argument_names, arguments

BACKEND = Backend(name="numba", source_file="kernel.py", passes=("reuse_fluxes:all", "cse"),
                  requires=("numba",))

# numba_math's functions by SymPy name, per dtype: (full-range, vectorisable, the vectorisable
# one's argument limit or None)
VECTOR_MATH = {
    "float64": {"sin": ("sin64", "sin64_v", "TRIG_LIMIT64"), "cos": ("cos64", "cos64_v", "TRIG_LIMIT64"),
                "exp": ("exp64", "exp64", None), "tanh": ("tanh64", "tanh64", None)},
    "float32": {"sin": ("sin32", "sin32_v", "TRIG_LIMIT32"), "cos": ("cos32", "cos32_v", "TRIG_LIMIT32"),
                "exp": ("exp32", "exp32", None), "tanh": ("tanh32", "tanh32", None)},
}


class NumbaPrinter(IndexMode, PointPrinter, PythonCodePrinter):
    """Python printer for kernel IR expressions inside `@njit` code of one dtype.

    `vector=True` prints the branch-free maths of `numba_math` and records, in `limited`, every
    argument that must stay below a function's limit; `vector=False` prints the full-range versions.
    Numbers print as literals of the kernel dtype, except in index arithmetic (accesses, index maps,
    loop bounds, comparisons of integers), where they stay integers.
    """

    def __init__(self, dtype: str, vector: bool = False, constants: dict | None = None):
        super().__init__(settings={"fully_qualified_modules": True, "inline": True})
        self.complex_values = dtype in COMPLEX_DTYPES
        self.dtype = COMPLEX_DTYPES.get(dtype, dtype)   # of real values and literals
        self.complex_dtype = dtype if self.complex_values else None
        self.vector = vector
        # float32 literals become module constants `_c0 = numpy.float32(...)`, which Numba freezes
        # as float32 values (an inline `numpy.float32(2.0)` would leave a float64 2.0 in the IR);
        # keyed by (dtype, text)
        self.constants = {} if constants is None else constants
        self.limited: list[tuple[str, str]] = []

    # ------------------------------------------------------------------ modes and literals

    def index(self, expr) -> str:
        with self.in_index():
            return self._print(sp.sympify(expr))

    def _module_format(self, fqn: str, register: bool = True) -> str:
        # modules are imported under private names, so user field names cannot shadow them
        text = super()._module_format(fqn, register)
        return "_" + text if "." in text else text

    def _literal(self, value: float) -> str:
        text = repr(float(value))
        if text in ("inf", "-inf", "nan"):
            text = f"_math.{text.lstrip('-')}" if text != "-inf" else "-_math.inf"
        if self.dtype == "float64":
            return text
        return self.constants.setdefault((self.dtype, text), f"_c{len(self.constants)}")

    def _print_ImaginaryUnit(self, expr) -> str:
        if self.complex_dtype == "complex128":
            return "1j"
        return self.constants.setdefault(("complex64", "1j"), f"_c{len(self.constants)}")

    def _print_Integer(self, expr) -> str:
        return str(int(expr)) if self._in_index else self._literal(int(expr))

    _print_Zero = _print_One = _print_NegativeOne = _print_Integer

    def _print_Rational(self, expr) -> str:
        if self._in_index:
            raise StencilError(f"non-integer index arithmetic {expr} in the kernel IR")
        return self._literal(float(expr))

    _print_Half = _print_Rational

    def _print_Float(self, expr) -> str:
        return self._literal(float(expr))

    def _print_Infinity(self, expr) -> str:
        return self._literal(float("inf"))

    def _print_NegativeInfinity(self, expr) -> str:
        return self._literal(float("-inf"))

    def _print_NaN(self, expr) -> str:
        return self._literal(float("nan"))

    def _print_BooleanTrue(self, expr) -> str:
        return "True"

    def _print_BooleanFalse(self, expr) -> str:
        return "False"

    # ------------------------------------------------------------------ the target's syntax

    def element(self, array: str, indices) -> str:
        return f"{array}[{', '.join(self.index(i) for i in self.positions(array, indices))}]"

    def conditional(self, cond: str, then: str, otherwise: str) -> str:
        return f"(({then}) if ({cond}) else ({otherwise}))"

    def power(self, expr: sp.Pow) -> str:
        base, e = expr.args
        if e == sp.S.Half:
            return f"_{'c' if not self.is_real(base) else ''}math.sqrt({self._print(base)})"
        return f"(({self._print(base)})**({self._print(e)}))"

    def _print_sign(self, expr) -> str:
        return f"_numpy.sign({self._print(expr.args[0])})"

    def _complex_function(self, expr) -> str | None:
        """`cmath`'s version when `expr` takes a complex value, else None."""
        if not self.complex_values or all(self.is_real(a) for a in expr.args):
            return None
        return f"_cmath.{type(expr).__name__}({', '.join(self._print(a) for a in expr.args)})"

    def _print_math(self, expr) -> str:
        # SymPy attaches its `math.<name>` printing as PythonCodePrinter._print_<name>
        return self._complex_function(expr) or getattr(PythonCodePrinter, f"_print_{type(expr).__name__}")(self, expr)

    _print_tan = _print_asin = _print_acos = _print_atan = _print_sinh = _print_cosh = _print_log = _print_math

    def _print_re(self, expr) -> str:
        return self._print(expr.args[0]) if self.is_real(expr.args[0]) else f"({self._print(expr.args[0])}).real"

    def _print_im(self, expr) -> str:
        return self._print(sp.Integer(0)) if self.is_real(expr.args[0]) else f"({self._print(expr.args[0])}).imag"

    def _print_conjugate(self, expr) -> str:
        a = expr.args[0]
        return self._print(a) if self.is_real(a) else f"({self._print(a)}).conjugate()"

    def _print_arg(self, expr) -> str:
        a = expr.args[0]
        if self.is_real(a):
            return f"_math.atan2({self._print(sp.Integer(0))}, {self._print(a)})"
        return f"_cmath.phase({self._print(a)})"

    def _vector_math(self, expr) -> str:
        text = self._complex_function(expr)
        if text is not None:
            return text
        full, vector, limit = VECTOR_MATH[self.dtype][type(expr).__name__]
        arg = self._print(expr.args[0])
        if self.vector and limit is not None:
            self.limited.append((limit, arg))
        return f"_nm.{vector if self.vector else full}({arg})"

    _print_sin = _print_cos = _print_exp = _print_tanh = _vector_math


def _limited(printer: NumbaPrinter) -> list[dict]:
    return [{"limit": lim, "arg": arg} for lim, arg in printer.limited]


def _variant(region, kernel: Kernel, vector: bool, constants: dict) -> dict:
    """The region printed with the full-range maths or (`vector`) the vectorisable maths: its view,
    its carried values (passes/reuse.py) with the buffers that keep them, and the arguments that
    must stay below the vector maths' limits.

    A value carried along the last axis is kept in a line buffer of n+1 values, filled before the
    row from one point before the region's start (-1 beside a halo side: the value for point i is
    at i + 1). A value carried along an outer axis k is kept in a buffer over the axes after k,
    holding it one step back along k; it is filled (`warm`) with the value at the first index of k
    before the loop over k, then each point reads it and writes its own value back.
    """
    last = kernel.ndim - 1
    layouts = Layouts(kernel.ndim, kernel.layouts)

    def printer():
        p = NumbaPrinter(kernel.dtype, vector=vector, constants=constants)
        p.layouts = layouts
        return p

    carried = []
    for k, c in enumerate(region.carried):
        cp, wp = printer(), printer()
        inner = list(range(c.axis + 1, kernel.ndim))
        entry = {"buffer": f"_buf{k}", "axis": c.axis, "current": c.current.name, "previous": c.previous.name,
                 "dtype": cp.dtype if cp.is_real(c.value) else kernel.dtype,
                 "value": cp.doprint(c.value), "limited": _limited(cp), "flag": None}
        if c.axis == last:
            # the fill loop notes its out-of-range arguments per point (a flag buffer, read by the
            # row loop): LLVM does not vectorise a loop that both reduces them and reuses a load
            flag = " | ".join(f"(abs({lim['arg']}) >= _nm.{lim['limit']})" for lim in entry["limited"])
            entry.update(shape=f"n{last} + 1", index=f"i{last} + 1", back_index=f"i{last}",
                         flag=f"_fl{k}" if flag else None, flag_value=flag)
        else:
            entry.update(shape=", ".join(f"n{b}" for b in inner) + ("," if len(inner) == 1 else ""),
                         index=", ".join(f"i{b}" for b in inner), warm=wp.doprint(shift(c.value, c.axis, -1)),
                         warm_limited=_limited(wp))
        carried.append(entry)
    p = printer()
    view = p.view(region)
    limited = _limited(p)
    checked = bool(limited) or any(c["limited"] or c.get("warm_limited") for c in carried)
    names = [c["buffer"] for c in carried] + [c["flag"] for c in carried if c["flag"]]
    return {**view, "carried": carried, "limited": limited, "checked": checked, "buffer_names": names}


signature, metadata = no_prototype, no_metadata   # a Python module: load needs only its KERNEL


def render(kernel: Kernel, header: list[str], *, fastmath: bool = False,
           steps_driver: bool = False) -> str:
    """The kernel as a Python module whose `KERNEL` takes the C signature's arguments."""
    from ..templates_env import environment
    regions = []
    boundary: dict[str, dict] = {}
    constants: dict[str, str] = {}
    for region in kernel.regions:
        exact = _variant(region, kernel, False, constants)
        entry = {"name": region.name, "interior": region.interior, "loops": exact["loops"], "exact": exact,
                 "vector": _variant(region, kernel, True, constants) if region.interior else None}
        if not region.interior:
            # boundary strips that compute the same thing share one (serial) function: Numba's
            # compile time grows with the code, and a strip is O(n^(d-1)) work
            code = json.dumps([[lp["setup"] for lp in exact["loops"]], exact["body"], exact["stores"]],
                              sort_keys=True)
            fn = boundary.setdefault(code, {"fn": f"_boundary{len(boundary)}", "loops": exact["loops"],
                                            "exact": exact})
            entry["call"] = fn["fn"]
        regions.append(entry)
    return environment().get_template("numba/kernel.py.j2").render(
        header=header, name=kernel.name, dtype=kernel.dtype, ndim=kernel.ndim, fastmath=bool(fastmath),
        signature=[{"input": "_IN", "output": "_OUT", "index": "_numba.int64"}.get(kind) or
                   f"_numba.{kernel.real_dtype if name in kernel.runtime else kernel.dtype}"
                   for kind, name in arguments(kernel)],
        arguments=argument_names(kernel), regions=regions, boundary_functions=list(boundary.values()),
        outer=[f"i{a}" for a in range(kernel.ndim - 1)],
        constants=[{"name": n, "dtype": t, "value": v} for (t, v), n in constants.items()],
    )


# --------------------------------------------------------------------------- building and loading

@functools.lru_cache(maxsize=None)
def toolchain_id(fastmath: bool) -> str:
    """Everything outside the source that changes the machine code: Numba, LLVM, Python, the CPU."""
    BACKEND.require()
    import llvmlite
    import numba
    return (f"numba {numba.__version__}|llvmlite {llvmlite.__version__}|{sys.version.split()[0]}|"
            f"{host_id()}|fastmath={bool(fastmath)}")


def _import(path: Path):
    """Import the generated module at `path`.

    Numba's cached code refers to the module by name and re-imports it when loaded, so the name is
    the same wherever the file lives (a digest of the source: the temporary build directory and the
    final entry agree) and the module is in `sys.modules` while it runs.
    """
    source = path.read_bytes()
    name = f"_stencilc_numba_{hashlib.sha256(source).hexdigest()[:24]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise StencilError(f"Numba failed on the generated kernel {path}:\n{e}\n"
                           "use backend='c' or backend='numpy' meanwhile, and please report this") from e
    return module


def build(source: str, directory: Path, fastmath: bool = False) -> None:
    """Write the module into the entry and import it once: Numba compiles it and writes its cache
    next to it (`directory/__pycache__`), so loading the entry later needs no compilation. (With
    NUMBA_CACHE_DIR set, Numba keys its cache by this temporary path instead: the first load from the
    entry's final place then compiles once more.)"""
    path = directory / BACKEND.source_file
    path.write_text(source)
    _import(path)


def load(directory: Path, meta: dict | None = None):
    """A runner for the kernel of the module in `directory` (machine code from Numba's cache)."""
    fn = _import(directory / BACKEND.source_file).KERNEL
    threads.apply_numba()

    def run(arrays, params, outputs, shape):
        # the kernel's signature takes read-only inputs, so any array of the right type matches
        fn(*arrays, *params, *outputs, *shape)
    return run
