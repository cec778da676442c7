"""The C backend's toolchain errors: a missing compiler or OpenMP is reported with the backends that work."""
import os
import stat

import pytest
import sympy as sp

import stencilc as sc
from stencilc.backends import c as cbackend


@pytest.fixture
def fresh_toolchain(monkeypatch):
    cbackend.toolchain_id.cache_clear()
    yield monkeypatch
    cbackend.toolchain_id.cache_clear()


def test_missing_compiler_names_the_other_backends(fresh_toolchain, tmp_path):
    fresh_toolchain.setenv("CC", str(tmp_path / "no-such-cc"))
    fresh_toolchain.setenv("PATH", str(tmp_path))
    with pytest.raises(sc.StencilError, match=r"no C compiler found.*backend='numpy'"):
        sc.compile_stencil(sc.laplace(sc.Field("u")) * sp.Symbol("q1"), backend="c", cache=False)


def test_compiler_without_openmp_is_reported_as_such(fresh_toolchain, tmp_path):
    fake = tmp_path / "cc"
    fake.write_text("#!/bin/sh\n"
                    "case \"$*\" in *--version*) echo 'fakecc 1.0'; exit 0;; esac\n"
                    "echo \"fakecc: error: unsupported option '-fopenmp'\" >&2; exit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    fresh_toolchain.setenv("CC", str(fake))
    with pytest.raises(sc.StencilError, match=r"no OpenMP support.*backend='numpy'"):
        sc.compile_stencil(sc.laplace(sc.Field("u")) * sp.Symbol("q2"), backend="c", cache=False)
    assert os.environ["CC"] == str(fake)
