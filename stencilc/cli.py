"""The `stencilc` command line: a thin shell over `generate()` and the cache.

Takes command-line arguments; gives generated source on stdout or in files (`emit`), or the cache's
state (`cache info`, `cache clear`). Every user mistake, in the options or in the expression, exits
with status 2 and one line on stderr naming the offending token or option and what is accepted.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

from . import __version__
from .backends import TARGETS
from .errors import StencilError
from .symbolic import BC_WORDS, BoundaryCondition, parse_bc

DTYPES = ("float32", "float64", "complex64", "complex128")

DESCRIPTION = "stencilc: compile the right-hand side of a PDE, written like SymPy, into stencil code."

EXAMPLE = r"""
example: the Kuramoto model of coupled phase oscillators on a 2-D grid with zero-flux walls,
  dtheta/dt = omega + K * sum over the 4 neighbours of sin(theta_neighbour - theta):

  stencilc emit 'omega + K*div(sin(grad(theta)))' --state theta --field omega \
      --ndim 2 --bc neumann -o kuramoto.c --header kuramoto.h
  cc -std=c99 -O2 -fopenmp -c kuramoto.c

  kuramoto.h declares
    void stencil_rhs(const double * theta, const double * omega, const double K,
                     double * out_theta, const int64_t n0, const int64_t n1);
  (state arrays, input fields, scalar parameters, outputs, grid sizes; row-major n0 x n1).

  A system has one right-hand side per --state, separated by ';':
  stencilc emit 'laplace(u) - u*v; laplace(v) + u*v' --state u --state v --bc periodic

Operators: grad, div, laplace, D(e, axis), dot(a, b); functions: sin cos tan exp log sqrt tanh abs
min max sign ...; other names are scalar parameters. See `stencilc emit --help` for the options.
"""

EMIT_EXAMPLE = r"""
example (the Kuramoto model; writes kuramoto.c and kuramoto.h):
  stencilc emit 'omega + K*div(sin(grad(theta)))' --state theta --field omega \
      --ndim 2 --bc neumann -o kuramoto.c --header kuramoto.h
An EXPR that starts with '-' goes after '--':  stencilc emit --state u -- '-laplace(u)'
"""


class UsageError(Exception):
    """A mistake on the command line, reported as one line and exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (no usage block) and exit status 2."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: error: {message}")

    def options(self) -> list[str]:
        return sorted({s for a in self._actions for s in a.option_strings})


def _parse(parser: Parser, commands: dict[str, Parser], argv: list[str]) -> argparse.Namespace:
    """Parse `argv`; an unknown token is reported by the subcommand it was given to."""
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            where = commands.get(args.command, parser)
            where.error(f"unrecognized argument(s) {' '.join(extra)}; accepted options: "
                        f"{', '.join(where.options())}")
    except UsageError as e:
        # a token such as '-laplace(u)' is an expression that argparse took for an option
        stray = [t for t in argv if t.startswith("-") and not re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?|--|-[\d.].*", t)]
        if argv[:1] == ["emit"] and stray and "--" not in argv:
            raise UsageError(f"{e} (an EXPR that starts with '-' goes after '--', as in "
                             f"stencilc emit --state u -- '-laplace(u)')") from None
        raise
    return args


# --------------------------------------------------------------------------- option values

def _ndim(text: str) -> int:
    if text not in ("1", "2", "3"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of dimensions; accepted: 1, 2, 3")
    return int(text)


def _order(text: str) -> int:
    if text not in ("2", "4", "6"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an accuracy order; accepted: 2, 4, 6")
    return int(text)


def _bc(text: str) -> tuple[BoundaryCondition, ...]:
    try:
        return tuple(parse_bc(word) for word in _top_level_split(text))
    except StencilError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _top_level_split(text: str) -> list[str]:
    """`text` split at the commas outside parentheses (a value such as `Max(x, 1)` keeps its own)."""
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    return parts + [text[start:]]


def _origin(text: str) -> tuple[float, ...]:
    values = []
    for word in text.split(","):
        try:
            o = float(word)
        except ValueError:
            o = math.nan
        if not math.isfinite(o):
            raise argparse.ArgumentTypeError(f"{word!r} is not a grid origin; accepted: a finite "
                                             "number, or a comma-separated list with one per axis")
        values.append(o)
    return tuple(values)


def _spacing(text: str) -> tuple[float, ...]:
    values = []
    for word in text.split(","):
        try:
            h = float(word)
        except ValueError:
            h = math.nan
        if not (math.isfinite(h) and h > 0):
            raise argparse.ArgumentTypeError(f"{word!r} is not a grid spacing; accepted: a positive "
                                             "number, or a comma-separated list with one per axis")
        values.append(h)
    return tuple(values)


def _per_axis(option: str, values: tuple, ndim: int):
    """One value for every axis, or one per axis."""
    if len(values) == 1:
        return values[0]
    if len(values) != ndim:
        raise UsageError(f"stencilc emit: error: argument {option}: {len(values)} comma-separated "
                         f"entries for --ndim {ndim}; give one for all axes or exactly {ndim}")
    return values


# --------------------------------------------------------------------------- the parser

def build_parser() -> tuple[Parser, dict[str, Parser]]:
    """The top-level parser and its subcommands' parsers by name."""
    parser = Parser(prog="stencilc", description=DESCRIPTION, epilog=EXAMPLE, allow_abbrev=False,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"stencilc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{emit,cache}", parser_class=Parser)

    emit = commands.add_parser(
        "emit", help="write the generated source of a right-hand side", allow_abbrev=False,
        description="Write the source that stencilc.generate() produces for EXPR.",
        epilog=EMIT_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    emit.add_argument("expr", metavar="EXPR",
                      help="the right-hand side, e.g. 'omega + K*div(sin(grad(theta)))'; for a system, "
                           "one right-hand side per --state separated by ';'")
    emit.add_argument("--state", action="append", default=[], metavar="NAME",
                      help="an evolving field (repeat for a system, in the order of EXPR's parts)")
    emit.add_argument("--field", action="append", default=[], metavar="NAME",
                      help="an input field (repeatable); other names are scalar parameters")
    emit.add_argument("--ndim", type=_ndim, default=2, metavar="N", help="1, 2 or 3 (default 2)")
    emit.add_argument("--bc", type=_bc, default="neumann", metavar="SPEC",
                      help=f"{BC_WORDS} (values: numbers or expressions of parameters, t and x, y, z), "
                           "or a comma-separated list, one per axis (default neumann)")
    emit.add_argument("--dtype", choices=DTYPES, default="float64", help="default float64")
    emit.add_argument("--spacing", type=_spacing, default=(1.0,), metavar="H",
                      help="grid spacing: one value or a comma-separated list, one per axis (default 1)")
    emit.add_argument("--order", type=_order, default=2, metavar="P",
                      help="accuracy order of the differences: 2, 4 or 6 (default 2)")
    emit.add_argument("--origin", type=_origin, default=(0.0,), metavar="X0",
                      help="the grid's low corner for the coordinates x, y, z: one value or a "
                           "comma-separated list, one per axis (default 0)")
    emit.add_argument("--target", choices=TARGETS, default="c", help="default c")
    emit.add_argument("--name", default="stencil_rhs", help="function name (default stencil_rhs)")
    emit.add_argument("-o", "--output", metavar="FILE", help="write the source here (default: stdout)")
    emit.add_argument("--header", metavar="FILE",
                      help="also write a C header declaring the function (targets c and cuda)")
    emit.add_argument("--fastmath", action="store_true",
                      help="allow reassociation, contraction and cheaper math functions")

    cache = commands.add_parser("cache", help="inspect or empty the kernel cache", allow_abbrev=False,
                                description="The on-disk cache of compiled kernels: $STENCILC_CACHE_DIR, "
                                            "else $XDG_CACHE_HOME/stencilc, else ~/.cache/stencilc.")
    actions = cache.add_subparsers(dest="action", metavar="{info,clear}", parser_class=Parser)
    actions.add_parser("info", help="print the directory, number of entries and size")
    actions.add_parser("clear", help="remove every entry")
    return parser, {"emit": emit, "cache": cache}


# --------------------------------------------------------------------------- commands

def _rhs(args) -> tuple[object, object]:
    """(rhs, state) for generate(): a string, or for a system a dict state -> string."""
    parts = [p.strip() for p in args.expr.split(";")]
    for k, p in enumerate(parts):
        if not p:
            raise UsageError(f"stencilc emit: error: EXPR part {k + 1} (between ';') is empty")
    if len(parts) == 1 and len(args.state) > 1:
        raise UsageError(f"stencilc emit: error: {len(args.state)} --state options but EXPR has one "
                         "right-hand side; for a system give one per --state, separated by ';'")
    if len(parts) == 1:
        return parts[0], (args.state[0] if args.state else None)
    if len(parts) != len(args.state):
        raise UsageError(f"stencilc emit: error: EXPR has {len(parts)} right-hand sides separated by "
                         f"';' but {len(args.state)} --state option(s) were given; give one --state per "
                         "right-hand side, in the same order")
    if len(set(args.state)) != len(args.state):
        raise UsageError(f"stencilc emit: error: --state names a field twice ({', '.join(args.state)})")
    return dict(zip(args.state, parts)), list(args.state)


def _write(option: str, path: str, text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as e:
        raise UsageError(f"stencilc emit: error: argument {option}: cannot write {path!r}: "
                         f"{e.strerror or e}") from None


def emit(args) -> None:
    from .api import generate, generate_header
    if args.header and args.target not in ("c", "cuda"):
        raise UsageError(f"stencilc emit: error: argument --header: a C header declares the function of "
                         f"--target c or cuda, not {args.target}")
    rhs, state = _rhs(args)
    options = dict(state=state, fields=args.field or None, ndim=args.ndim,
                   bc=_per_axis("--bc", args.bc, args.ndim),
                   dtype=args.dtype, spacing=_per_axis("--spacing", args.spacing, args.ndim),
                   origin=_per_axis("--origin", args.origin, args.ndim), order=args.order,
                   fastmath=args.fastmath)
    source = generate(rhs, target=args.target, name=args.name, **options)
    header = generate_header(rhs, target=args.target, name=args.name, **options) if args.header else None
    if args.output:
        _write("-o", args.output, source)
    else:
        sys.stdout.write(source)
        sys.stdout.flush()
    if header is not None:
        _write("--header", args.header, header)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit} ({n} bytes)"


def cache_command(args) -> None:
    from . import cache
    if args.action == "info":
        info = cache.info()
        print(f"directory: {info['directory']}")
        print(f"entries:   {info['entries']}")
        print(f"size:      {_size(info['bytes'])}")
    elif args.action == "clear":
        directory = cache.cache_dir()
        print(f"removed {cache.clear()} entries from {directory}")
    else:
        raise UsageError("stencilc cache: error: no action given; accepted: info, clear")


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0, or 2 for a user mistake)."""
    parser, commands = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parse(parser, commands, argv)
        if args.command == "emit":
            emit(args)
        elif args.command == "cache":
            cache_command(args)
        else:
            raise UsageError("stencilc: error: no command given; accepted: emit, cache, --version, --help")
    except UsageError as e:
        print(_one_line(str(e)), file=sys.stderr)
        return 2
    except StencilError as e:
        # the front end speaks of keyword arguments; on the command line they are options
        message = str(e).replace("pass state=", "pass --state NAME").replace("in fields=", "with --field")
        print(_one_line(f"stencilc emit: error: {message}"), file=sys.stderr)
        return 2
    except BrokenPipeError:   # `stencilc emit ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
