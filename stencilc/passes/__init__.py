"""Optimisation passes over the kernel IR: plain functions `Kernel -> Kernel`, each optional."""
from .cse import eliminate_common_subexpressions

__all__ = ["eliminate_common_subexpressions"]
from .fuse import fuse_euler  # noqa: E402

__all__ += ["fuse_euler"]
