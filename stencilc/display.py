"""How a `Stencil` and a `Solution` show themselves: short text reprs, HTML for notebooks, and the
equations in LaTeX.

Takes the objects' public attributes (the checked equations, boundary conditions, recorded times,
frame shapes and stats); gives text. Nothing here prints a whole array: a `Solution` shows its
times, its frame shape and its stats, a `Stencil` its equations (cut short when long), its
boundary conditions in their command-line words (``bc.word()``), backend, dtype and radius.
"""
from __future__ import annotations

import html
import numbers

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .symbolic import Field

AXES = ("x", "y", "z")

# An equation longer than this is cut short in a text repr (the whole is in `Stencil.expr`).
_EQUATION_CHARS = 160


# --------------------------------------------------------------------------- Stencil

def equations(stencil) -> list[tuple[str, sp.Expr]]:
    """(state name, right-hand side) per state field, in state order."""
    expr = stencil.expr
    if isinstance(expr, dict):
        by_name = {getattr(k, "name", k): e for k, e in expr.items()}
        return [(name, by_name[name]) for name in stencil.state]
    return [(stencil.state[0], expr)]


def _short(text: str, limit: int = _EQUATION_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _sides_words(axes) -> str:
    """One field's conditions: a single word when every side agrees, else per axis (low/high)."""
    words = [(low.word(), high.word()) for low, high in axes]
    if len({w for pair in words for w in pair}) == 1:
        return words[0][0]
    return ", ".join(f"{AXES[a]} {low if low == high else low + '/' + high}"
                     for a, (low, high) in enumerate(words))


def boundary_words(stencil) -> str:
    """The boundary conditions in their command-line words, fields with the same ones together:
    ``neumann``, or ``u, v: periodic; c: x dirichlet:1.0/neumann, y periodic``."""
    groups: dict[str, list[str]] = {}
    for name, axes in stencil.bc.items():
        groups.setdefault(_sides_words(axes), []).append(name)
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{', '.join(names)}: {words}" for words, names in groups.items())


def _inputs(stencil) -> str:
    parts = []
    if stencil.fields:
        parts.append("fields " + ", ".join(stencil.fields))
    if stencil.params:
        parts.append("params " + ", ".join(stencil.params))
    return "; ".join(parts)


def describe_stencil(stencil) -> str:
    """A few lines: backend, dtype, dimensions, radius and inputs; one line per equation; the
    boundary conditions."""
    head = f"<Stencil {stencil.backend} {stencil.dtype} {stencil.ndim}-D radius={stencil.radius}"
    inputs = _inputs(stencil)
    lines = [head + (f" ({inputs})" if inputs else "")]
    lines += [f"  d{name}/dt = {_short(sp.sstr(rhs))}" for name, rhs in equations(stencil)]
    lines.append(f"  bc: {boundary_words(stencil)}>")
    return "\n".join(lines)


def stencil_html(stencil) -> str:
    rows = [("equation" if len(stencil.state) == 1 else "equations",
             "<br>".join(f"<code>d{html.escape(n)}/dt = {html.escape(sp.sstr(e))}</code>"
                         for n, e in equations(stencil))),
            ("boundary conditions", f"<code>{html.escape(boundary_words(stencil))}</code>"),
            ("backend", html.escape(stencil.backend)),
            ("dtype", html.escape(stencil.dtype)),
            ("grid", f"{stencil.ndim}-D, spacing {html.escape(_numbers(stencil.spacing))}"),
            ("radius", str(stencil.radius))]
    if _inputs(stencil):
        rows.append(("inputs", html.escape(_inputs(stencil))))
    return _table("Stencil", rows)


class _OperatorLatex(LatexPrinter):
    """LaTeX with the operators in their usual notation: ∇, ∇·, ∇², ∂_x, a·b."""

    def _operand(self, e) -> str:
        text = self._print(e)
        return text if isinstance(e, (sp.Symbol, sp.Number)) else rf"\left({text}\right)"

    def _print_grad(self, e):
        return r"\nabla " + self._operand(e.args[0])

    def _print_div(self, e):
        return r"\nabla\cdot " + self._operand(e.args[0])

    def _print_laplace(self, e):
        return r"\nabla^{2} " + self._operand(e.args[0])

    def _print_dot(self, e):
        return self._operand(e.args[0]) + r" \cdot " + self._operand(e.args[1])

    def _print_D(self, e):
        axis = int(e.args[1])
        name = AXES[axis] if axis < len(AXES) else f"x_{{{axis}}}"
        return rf"\partial_{{{name}}} " + self._operand(e.args[0])


def stencil_latex(stencil) -> str:
    """The equation(s) ``∂u/∂t = ...`` as display LaTeX (aligned for a system)."""
    printer = _OperatorLatex()
    lines = [(rf"\frac{{\partial {printer.doprint(Field(n))}}}{{\partial t}}", printer.doprint(e))
             for n, e in equations(stencil)]
    if len(lines) == 1:
        return f"$\\displaystyle {lines[0][0]} = {lines[0][1]}$"
    body = r" \\ ".join(f"{lhs} &= {rhs}" for lhs, rhs in lines)
    return f"$\\begin{{aligned}} {body} \\end{{aligned}}$"


# --------------------------------------------------------------------------- Solution

def _names(solution) -> tuple[str, ...] | None:
    if isinstance(solution.frames, dict):
        return tuple(solution.frames)
    return tuple(solution.state) if solution.state else None


def _first_stack(solution):
    frames = solution.frames
    return next(iter(frames.values())) if isinstance(frames, dict) else frames


def _numbers(values) -> str:
    values = list(values)
    return f"{values[0]:g}" if len(set(values)) == 1 else "(" + ", ".join(f"{v:g}" for v in values) + ")"


def _times(t) -> str:
    t = [float(s) for s in t]
    if len(t) <= 4:
        return ", ".join(f"{s:g}" for s in t)
    return f"{t[0]:g}, {t[1]:g}, …, {t[-1]:g}"


def _stat(value) -> str:
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.3g}"
    return str(value)


def _frames(solution) -> str:
    """``21 frames of 128x128 float64`` (and the array type when it is not NumPy's)."""
    stack = _first_stack(solution)
    shape = "x".join(map(str, stack.shape[1:]))
    kind = type(stack).__module__.split(".")[0]
    where = "" if kind == "numpy" else f" ({kind})"
    count = stack.shape[0]
    return f"{count} frame{'s' if count != 1 else ''} of {shape} {stack.dtype}{where}"


def describe_solution(solution) -> str:
    """One line: the state, how many frames of which shape, the recorded times and the stats."""
    names = _names(solution)
    of = f" {', '.join(names)}:" if names else ""
    stats = " ".join(f"{k}={_stat(v)}" for k, v in solution.stats.items())
    return f"<Solution{of} {_frames(solution)} at t = {_times(solution.t)}; {stats}>"


def solution_html(solution) -> str:
    names = _names(solution)
    rows = []
    if names:
        rows.append(("state", html.escape(", ".join(names))))
    rows += [("frames", html.escape(_frames(solution))),
             ("t", html.escape(_times(solution.t)))]
    if solution.spacing:
        rows.append(("spacing", html.escape(_numbers(solution.spacing))))
    rows += [(html.escape(str(k)), html.escape(_stat(v))) for k, v in solution.stats.items()]
    return _table("Solution", rows)


def _table(title: str, rows) -> str:
    """A small two-column table (the values are already escaped HTML)."""
    cells = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
                    for k, v in rows)
    return f"<table><caption style='text-align:left'><b>{title}</b></caption>{cells}</table>"
