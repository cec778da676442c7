"""Optimisation passes over the kernel IR: plain functions `Kernel -> Kernel`, each optional."""
from .cse import eliminate_common_subexpressions
from .fuse import fuse_euler
from .reuse import reuse_fluxes

__all__ = ["eliminate_common_subexpressions", "fuse_euler", "reuse_fluxes"]
