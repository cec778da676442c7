"""Numba backend: the kernel IR printed as a Python module of `@numba.njit` functions.

Takes a `Kernel`; gives Python source (through `NumbaPrinter`, a `PythonCodePrinter` subclass, and
`templates/numba/kernel.py.j2`), written into a cache entry and imported from there, so that Numba's
own cache (`cache=True`, in the entry's `__pycache__`) makes a second process load machine code
instead of compiling. The kernel is compiled eagerly for its one exact signature when the module is
imported. The interior is a per-row `@njit` function called from a `numba.prange` loop over the
outermost axis (LLVM vectorises that row loop, not the same loop inlined in the parallel body); it
reads neighbours by direct multi-dimensional indexing, which LLVM turns into contiguous vector loads,
and calls the vectorisable maths of `numba_math`. Those are valid for trigonometric arguments below
a limit; each interior row reports whether any argument reached it and is then recomputed with the
full-range functions. Boundary strips read through the IR's index maps, like the C template.
Literals carry the kernel dtype, so float32 kernels stay float32 (Numba would widen `2*x` to float64).
"""
from __future__ import annotations

import functools
import hashlib
import json
import importlib.util
import platform
import sys
from pathlib import Path

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..errors import StencilError
from ..ir import Access, IntMax, IntMin, Kernel, MappedAccess, index
from . import numba_math
from .printing import nested_call, small_integer_power

MODULE_FILE = SOURCE_FILE = "kernel.py"


class NumbaPrinter(PythonCodePrinter):
    """Python printer for kernel IR expressions inside `@njit` code of one dtype.

    `vector=True` prints the branch-free maths of `numba_math` and records, in `limited`, every
    argument that must stay below a function's limit; `vector=False` prints the full-range versions.
    Numbers print as literals of the kernel dtype, except in index arithmetic (accesses, index maps,
    loop bounds, comparisons of integers), where they stay integers.
    """

    def __init__(self, dtype: str, vector: bool = False, constants: dict | None = None):
        super().__init__(settings={"fully_qualified_modules": True, "inline": True})
        self.dtype = dtype
        self.vector = vector
        # float32 literals become module constants `_c0 = numpy.float32(...)`, which Numba freezes
        # as float32 values (an inline `numpy.float32(2.0)` would leave a float64 2.0 in the IR)
        self.constants = {} if constants is None else constants
        self.limited: list[tuple[str, str]] = []
        self._in_index = False

    # ------------------------------------------------------------------ modes and literals

    def index(self, expr) -> str:
        """Print integer index arithmetic."""
        saved, self._in_index = self._in_index, True
        try:
            return self._print(sp.sympify(expr))
        finally:
            self._in_index = saved

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
        return self.constants.setdefault(text, f"_c{len(self.constants)}")

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

    def _print_Relational(self, expr) -> str:
        if expr.lhs.is_integer and expr.rhs.is_integer:
            saved, self._in_index = self._in_index, True
            try:
                return super()._print_Relational(expr)
            finally:
                self._in_index = saved
        return super()._print_Relational(expr)

    # ------------------------------------------------------------------ IR nodes

    def _print_Access(self, expr: Access) -> str:
        idx = [self.index(index(a) + int(o)) for a, o in enumerate(expr.offset)]
        return f"{expr.field}[{', '.join(idx)}]"

    def _print_MappedAccess(self, expr: MappedAccess) -> str:
        return f"{expr.field}[{', '.join(self.index(m) for m in expr.args[1:])}]"

    def _print_IntMin(self, expr: IntMin) -> str:
        return f"min({self.index(expr.args[0])}, {self.index(expr.args[1])})"

    def _print_IntMax(self, expr: IntMax) -> str:
        return f"max({self.index(expr.args[0])}, {self.index(expr.args[1])})"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        *branches, (last, cond) = expr.args
        if cond != sp.true:
            raise StencilError(f"{expr}: a Piecewise needs a final (value, True) branch")
        text = self._print(last)
        for value, c in reversed(branches):
            text = f"(({self._print(value)}) if ({self._print(c)}) else ({text}))"
        return text

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if self._in_index:
            return super()._print_Pow(expr, rational)
        small = small_integer_power(expr)
        if small is not None:
            base, n = small
            product = "*".join([f"({self._print(base)})"] * abs(n))
            return f"({self._literal(1)}/({product}))" if n < 0 else f"({product})"
        base, e = expr.args
        if e == sp.S.Half:
            return f"_math.sqrt({self._print(base)})"
        return f"(({self._print(base)})**({self._print(e)}))"

    def _print_sign(self, expr) -> str:
        return f"_numpy.sign({self._print(expr.args[0])})"

    def _print_Min(self, expr) -> str:
        return nested_call(self, "min", expr.args)

    def _print_Max(self, expr) -> str:
        return nested_call(self, "max", expr.args)

    def _vector_math(self, expr) -> str:
        full, vector, limit = numba_math.FUNCTIONS[self.dtype][type(expr).__name__]
        arg = self._print(expr.args[0])
        if self.vector and limit is not None:
            self.limited.append((limit, arg))
        return f"_nm.{vector if self.vector else full}({arg})"

    _print_sin = _print_cos = _print_exp = _print_tanh = _vector_math


def _row_function_arguments(kernel: Kernel) -> list[str]:
    return list(kernel.inputs + kernel.scalars + kernel.outputs) + [f"n{a}" for a in range(kernel.ndim)]


def render(kernel: Kernel, header: list[str], *, fastmath: bool = False,
           steps_driver: bool = False) -> str:
    """The kernel as a Python module whose `KERNEL` takes the C signature's arguments."""
    from ..templates_env import environment
    regions = []
    boundary: dict[str, dict] = {}
    constants: dict[str, str] = {}
    for region in kernel.regions:
        printers = {"exact": NumbaPrinter(kernel.dtype, constants=constants)}
        if region.interior:
            printers["vector"] = NumbaPrinter(kernel.dtype, vector=True, constants=constants)
        variants = {}
        for kind, p in printers.items():
            carried = []
            for k, c in enumerate(region.carried):
                if c.axis != kernel.ndim - 1:
                    raise StencilError(f"numba keeps carried values along the last axis only ({c})")
                cp = NumbaPrinter(kernel.dtype, vector=p.vector, constants=constants)
                carried.append({"buffer": f"_line{k}", "current": c.current.name,
                                "previous": c.previous.name, "value": cp.doprint(c.value),
                                "limited": [{"limit": lim, "arg": arg} for lim, arg in cp.limited]})
            variants[kind] = {
                "carried": carried,
                "body": [{"name": b.target.name, "value": p.index(b.value) if b.is_index else p.doprint(b.value)}
                         for b in region.body],
                "stores": [{"array": s.output, "value": p.doprint(s.value)} for s in region.stores],
            }
        p = printers["exact"]
        loops = []
        for a, (start, stop) in enumerate(region.bounds):
            loops.append({
                "depth": a, "var": f"i{a}", "start": p.index(start), "stop": p.index(stop),
                "setup": [{"name": s.target.name,
                           "value": p.index(s.value) if s.is_index else p.doprint(s.value)}
                          for s in region.setup[a]],
            })
        point = ", ".join(f"i{a}" for a in range(kernel.ndim))
        limited = printers["vector"].limited if region.interior else []
        entry = {
            "name": region.name, "interior": region.interior, "loops": loops, "point": point,
            "comment": region.name + (": direct neighbour reads, vectorised row function"
                                      if region.interior else ": reads mapped by the boundary conditions"),
            "exact": variants["exact"], "vector": variants.get("vector"),
            "limited": [{"limit": lim, "arg": arg} for lim, arg in limited],
        }
        if not region.interior:
            # boundary strips that compute the same thing share one (serial) function: Numba's
            # compile time grows with the code, and a strip is O(n^(d-1)) work
            code = json.dumps([[lp["setup"] for lp in loops], variants["exact"]], sort_keys=True)
            fn = boundary.setdefault(code, {"fn": f"_boundary{len(boundary)}", "loops": loops,
                                            "exact": variants["exact"], "point": point})
            entry["call"] = fn["fn"]
        regions.append(entry)
    return environment().get_template("numba/kernel.py.j2").render(
        header=header, name=kernel.name, dtype=kernel.dtype, ndim=kernel.ndim, fastmath=bool(fastmath),
        inputs=list(kernel.inputs), params=list(kernel.scalars), outputs=list(kernel.outputs),
        sizes=[f"n{a}" for a in range(kernel.ndim)], arguments=_row_function_arguments(kernel),
        regions=regions, boundary_functions=list(boundary.values()),
        outer=[f"i{a}" for a in range(kernel.ndim - 1)],
        constants=[{"name": n, "value": v} for v, n in constants.items()],
    )


# --------------------------------------------------------------------------- building and loading

@functools.lru_cache(maxsize=None)
def toolchain_id(fastmath: bool) -> str:
    """Everything outside the source that changes the machine code: Numba, LLVM, Python, the CPU."""
    try:
        import llvmlite
        import numba
    except ImportError as e:
        raise StencilError(f"backend='numba' needs numba ({e}); install it with `pip install numba`, "
                           "or use backend='c' or backend='numpy'")
    from .c import _cpu_identity
    cpu = hashlib.sha256(_cpu_identity().encode()).hexdigest()[:16]
    return (f"numba {numba.__version__}|llvmlite {llvmlite.__version__}|{sys.version.split()[0]}|"
            f"{platform.machine()}|{cpu}|fastmath={bool(fastmath)}")


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
    path = directory / MODULE_FILE
    path.write_text(source)
    _import(path)


def load(directory: Path, meta: dict | None = None):
    """A runner for the kernel of the module in `directory` (machine code from Numba's cache)."""
    fn = _import(directory / MODULE_FILE).KERNEL

    def run(arrays, params, outputs, shape):
        # the kernel's signature takes read-only inputs, so any array of the right type matches
        fn(*arrays, *params, *outputs, *shape)
    return run
