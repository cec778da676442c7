"""Shared test setup: the oracles in reference.py are importable, compiled kernels go to a cache
directory private to this test session (so a run never reads or pollutes the user's cache), and
numba's share of the shared backend suite is chosen by marker.

Numba compiles each stencil for seconds, so its cases of the shared suite (test_backends.py) are
sampled: a case marked `sampled_backend` (numba's backend parameter there) runs only if it is also
marked `in_sample`, on its backend parameter or on one of its other parameters; the others are
deselected, and counted as such. (The markers' names leave out "numba" so that `-k "not numba"`
keeps the other backends' cases of those parameters.) To run every numba case, set
STENCILC_ALL_NUMBA=1, e.g.

    STENCILC_ALL_NUMBA=1 python3 -m pytest tests/test_backends.py -k numba
"""

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
    """Deselect the sampled_backend cases outside in_sample, unless STENCILC_ALL_NUMBA=1."""
    if os.environ.get("STENCILC_ALL_NUMBA") == "1":
        return
    keep, drop = [], []
    for item in items:
        left_out = item.get_closest_marker("sampled_backend") and not item.get_closest_marker("in_sample")
        (drop if left_out else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
