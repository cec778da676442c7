"""The Numba backend's interior loops stay vectorised (read from the LLVM IR Numba generates).

The Kuramoto stencil's interior row function has two loops that call the sine: the fill of the
line buffer along the row and the row itself. Each sine is stencilc's polynomial (numba_math: the
reduction's three FMAs, then nine for the polynomial in float64, six in float32), so each of the two loops, once vectorised, has a
`vector.body` block with at least that many FMAs on vectors (`llvm.fma.v4f64`, `llvm.fma.v8f32`,
...); a scalar loop has only `llvm.fma.f64` calls and no such block. The criterion is checked
against a deliberately scalar kernel too (the same module calling libm's `math.sin`, which LLVM
cannot vectorise without SVML): it must find no vectorised sine there, so a regression of the
vector path cannot pass unnoticed.
"""
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import stencilc  # noqa: E402

import reference as ref  # noqa: E402

KURAMOTO = "omega + K*div(sin(grad(theta)))"
FMAS_PER_SINE = {"float64": 3 + 9, "float32": 3 + 6}     # at least: the reduction, the polynomial


def _fresh_module(source: str, directory: Path):
    """`source` imported as a new module, so that Numba compiles it now and keeps its LLVM IR."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kernel.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"_vector_{abs(hash((source, str(path))))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def vectorised_sine_loops(module, dtype: str) -> int:
    """How many `vector.body` blocks of the interior row function's LLVM IR hold a whole vector sine
    (at least FMAS_PER_SINE FMA calls on vectors)."""
    (ir,) = module._interior_row.inspect_llvm().values()
    blocks = re.split(r"\n(?=[\w.]+:)", ir)
    vector_fma = re.compile(r"call (?:fast )?<\d+ x (?:double|float)> @llvm\.fma\.v\d+f(?:32|64)")
    return sum(1 for b in blocks if b.startswith("vector.body") and len(vector_fma.findall(b)) >= FMAS_PER_SINE[dtype])


def _run_and_check(module, dtype):
    rng = np.random.default_rng(5)
    theta = rng.uniform(0, 2 * np.pi, (13, 17)).astype(dtype)
    omega = rng.normal(size=(13, 17)).astype(dtype)
    out = np.full_like(theta, np.nan)
    module.KERNEL(theta, omega, np.dtype(dtype).type(0.8), out, *theta.shape)
    expected = ref.seed_numpy_dudt(theta.astype(np.float64), omega.astype(np.float64), 0.8)
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_interior_sines_are_vectorised(dtype, tmp_path):
    source = stencilc.generate(KURAMOTO, state="theta", fields=["omega"], target="numba", dtype=dtype)
    module = _fresh_module(source, tmp_path / dtype)
    _run_and_check(module, dtype)
    loops = vectorised_sine_loops(module, dtype)
    assert loops >= 2, f"{dtype}: {loops} of the interior row's 2 loops with a sine are vectorised"


def test_the_criterion_fails_on_a_scalar_kernel(tmp_path):
    source = stencilc.generate(KURAMOTO, state="theta", fields=["omega"], target="numba")
    assert "_nm.sin64_v(" in source
    scalar_source = source.replace("_nm.sin64_v(", "_math.sin(")
    module = _fresh_module(scalar_source, tmp_path / "scalar")
    _run_and_check(module, "float64")
    assert vectorised_sine_loops(module, "float64") == 0, "libm's sin reported as vectorised"
