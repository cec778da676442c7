"""Shared test setup: the oracles in reference.py are importable, and compiled kernels go to a cache
directory private to this test session (so a run never reads or pollutes the user's cache)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(scope="session", autouse=True)
def private_stencilc_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STENCILC_CACHE_DIR", str(tmp_path_factory.mktemp("stencilc-cache")))
        yield os.environ["STENCILC_CACHE_DIR"]


def pytest_collection_modifyitems(config, items):
    """Run only the numba cases a module lists in NUMBA_CASES (numba compiles for seconds each)."""
    import re
    keep, drop = [], []
    for item in items:
        patterns = getattr(item.module, "NUMBA_CASES", None)
        name = item.nodeid.split("::")[-1]
        if patterns is not None and "[numba" in name and not any(re.match(p, name) for p in patterns):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
