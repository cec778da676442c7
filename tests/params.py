"""Backend parameters shared by the test modules: each backend that needs a tool is skipped, with
its reason, where the tool is missing."""
import os
import shutil

import pytest

HAS_CC = any(c and shutil.which(c) for c in (os.environ.get("CC"), "cc", "gcc"))
try:
    import numba  # noqa: F401
    HAS_NUMBA = True
except ImportError:
    HAS_NUMBA = False
C = pytest.param("c", marks=pytest.mark.skipif(not HAS_CC, reason="no C compiler"))
NUMBA = pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="no numba"))
# numba compiles for seconds: a case marked so runs with STENCILC_ALL_NUMBA=1 (tests/conftest.py)
NUMBA_SAMPLED = pytest.param("numba", marks=[pytest.mark.skipif(not HAS_NUMBA, reason="no numba"),
                                             pytest.mark.sampled_backend])
