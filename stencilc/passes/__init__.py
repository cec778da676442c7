"""Optimisation passes over the kernel IR: plain functions `Kernel -> Kernel`, each optional."""
from .cse import eliminate_common_subexpressions
from .fuse import fuse_euler
from .hoist import hoist_invariants
from .reuse import reuse_fluxes

__all__ = ["eliminate_common_subexpressions", "fuse_euler", "hoist_invariants", "reuse_fluxes"]
