"""stencilc: a stencil compiler for PDE right-hand sides written in SymPy.

Public API: Field, fields, grad, div, laplace, D, dot, shift, x, y, z, t, Neumann, Periodic, Dirichlet,
Robin, compile_stencil, generate, integrate, iterate, movie, Stencil, Solution, StencilError.
"""
__version__ = "0.1.0"

from .errors import StencilError  # noqa: E402
from .symbolic import (D, Dirichlet, Field, Neumann, Periodic, Robin, div, dot, fields, grad,  # noqa: E402
                       laplace, shift, t, x, y, z)
from .stencil import Stencil  # noqa: E402
from .api import compile_stencil, generate  # noqa: E402

from .integrate import Solution, integrate  # noqa: E402
from .maps import iterate  # noqa: E402
from .results import movie  # noqa: E402

__all__ = ["Field", "fields", "grad", "div", "laplace", "D", "dot", "shift", "x", "y", "z", "t", "Neumann",
           "Periodic", "Dirichlet", "Robin", "compile_stencil", "generate", "integrate", "iterate", "movie", "Stencil",
           "Solution", "StencilError"]
