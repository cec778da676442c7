"""What a backend declares about itself, and what compiled backends share outside printing.

Takes nothing from the pipeline; gives `Backend`, the record at the top of every backend module that
the pipeline (api.py), the command line and the tests read instead of branching on target names, the
`signature`/`metadata` of targets that have none, and `host_id()`, the part of a toolchain id that
says which machine the code was compiled for.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import platform
import weakref
from dataclasses import dataclass
from pathlib import Path

from ..errors import StencilError


@dataclass(frozen=True)
class Backend:
    """A backend's capabilities.

    `passes` are IR passes by name (api.PASSES), run in order after those of the kernel variant; a
    pass name joins the cache key. `split_strips` asks for boundary strips cut so that their middles
    read the contiguous axis directly (ir.build_kernel), for targets that vectorise them.
    `steps_driver`: an update kernel's source also has a multi-step driver (`run.steps`).
    `tiled_driver`: its tile kernels (ir.py) have the temporally blocked one (`run.tiled`).
    `requires`: modules that building and running need (installed by the package extra named like
    the backend, `pip install "stencilc[<name>]"`); generating source needs none of them.
    """
    name: str
    source_file: str            # the source's name in a cache entry
    passes: tuple[str, ...]
    split_strips: bool = False
    steps_driver: bool = False
    tiled_driver: bool = False
    requires: tuple[str, ...] = ()

    def require(self) -> None:
        """A StencilError, one line, naming what to install when a required module is missing."""
        for module in self.requires:
            try:
                importlib.import_module(module)
            except ImportError as e:
                why = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise StencilError(
                    f"backend={self.name!r} needs {module}, which is not installed ({why}): "
                    f'pip install "stencilc[{self.name}]", or use backend=\'c\' or backend=\'numpy\'') from None


def no_prototype(kernel) -> None:
    """`signature` for a target whose source defines no C function."""
    return None


def no_metadata(kernel, steps_driver: bool) -> dict:
    """`metadata` for a target whose `load` needs no more than the entry's common fields."""
    return {}


def _cpu_identity() -> str:
    """What `-march=native` (and LLVM's host CPU) depends on: the CPU model and feature flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    keep = [ln for ln in text.splitlines() if ln.startswith(("model name", "flags", "Features", "CPU part"))]
    return "\n".join(sorted(set(keep)))


@functools.lru_cache(maxsize=None)
def host_id() -> str:
    """The machine code's target: the architecture and a digest of the CPU's model and features."""
    return f"{platform.machine()}|{hashlib.sha256(_cpu_identity().encode()).hexdigest()[:16]}"


_ADDRESSES: dict[int, tuple] = {}


def data_address(array) -> int:
    """The address of a NumPy array's first element, looked up once per array object.

    `ndarray.ctypes.data` costs microseconds, more than a small grid's whole kernel; the address is
    kept beside a weak reference to the array, and an entry counts only while that reference still
    gives the very same object (a new array that reuses a freed one's id is looked up afresh). It
    cannot go stale: an array's data never moves (`ndarray.data` is read-only) and NumPy refuses to
    resize in place an array that is weakly referenced.
    """
    entry = _ADDRESSES.get(id(array))
    if entry is not None and entry[0]() is array:
        return entry[1]
    if len(_ADDRESSES) >= 256:
        _ADDRESSES.clear()
    address = array.ctypes.data
    _ADDRESSES[id(array)] = (weakref.ref(array), address)
    return address
