"""Optimisation passes over the kernel IR: plain functions `Kernel -> Kernel`, each optional."""
from .cse import eliminate_common_subexpressions

__all__ = ["eliminate_common_subexpressions"]
