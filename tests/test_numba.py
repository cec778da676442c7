"""The Numba backend beyond the shared suite: dtype preservation, generated source, cross-process cache."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import stencilc

KURAMOTO = "omega + K*div(sin(grad(theta)))"


def _kernel_module(stencil):
    """The generated module behind a numba Stencil (found through its runner)."""
    dispatcher = next(c.cell_contents for c in stencil._run.__closure__
                      if isinstance(c.cell_contents, numba.core.registry.CPUDispatcher))
    return sys.modules[dispatcher.py_func.__module__], dispatcher


@pytest.mark.parametrize("expr", [KURAMOTO, "laplace(u) + 2*u**3 - u/3 + exp(-u) * tanh(u) + cos(u)",
                                  "div(c*grad(u)) + sqrt(abs(u) + 1) + u**5"])
def test_float32_stays_float32(expr, tmp_path, monkeypatch):
    monkeypatch.setenv("STENCILC_CACHE_DIR", str(tmp_path))
    k = stencilc.compile_stencil(expr, backend="numba", dtype="float32",
                                 state="theta" if "theta" in expr else "u")
    _, dispatcher = _kernel_module(k)
    (sig,) = dispatcher.nopython_signatures
    assert all(getattr(a, "dtype", a) == numba.float32 for a in sig.args if a != numba.int64)
    # compile the source afresh (the Stencil's module came from Numba's cache: no typing kept) and
    # check that no value anywhere in the kernel or its row functions is typed float64
    path = tmp_path / "fresh" / "kernel.py"
    path.parent.mkdir()
    path.write_text(k.source)
    spec = importlib.util.spec_from_file_location(f"_fresh_{abs(hash(expr))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    functions = [module.KERNEL] + [getattr(module, n) for n in dir(module) if n.endswith(("_row", "_row_exact"))]
    for fn in functions:
        for s in fn.signatures:
            typemap = fn.overloads[s].type_annotation.typemap
            wide = {n: t for n, t in typemap.items() if "float64" in str(t)}
            assert not wide, f"{fn.py_func.__name__}: float64 values {wide}"
    args = {n: np.random.default_rng(0).random((6, 7), dtype=np.float32) for n in k.fields}
    args.update({p: 0.5 for p in k.params})
    state = np.random.default_rng(1).random((6, 7), dtype=np.float32)
    out = k(state, **args)
    assert out.dtype == np.float32
    ref = stencilc.compile_stencil(expr, backend="numpy", dtype="float32",
                                   state="theta" if "theta" in expr else "u")(state, **args)
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=2e-5)


def test_source_is_python_with_njit_and_prange(tmp_path, monkeypatch):
    monkeypatch.setenv("STENCILC_CACHE_DIR", str(tmp_path))
    k = stencilc.compile_stencil(KURAMOTO, state="theta", fields=["omega"], backend="numba")
    compile(k.source, "<numba kernel>", "exec")
    assert "@_numba.njit(" in k.source and "_numba.prange(" in k.source and "parallel=True" in k.source
    assert "cache=True" in k.source and "get_num_threads" not in k.source
    assert "sin64_v(" in k.source          # the vectorisable sine in the interior
    assert k.source == stencilc.generate(KURAMOTO, state="theta", fields=["omega"], target="numba")
    fast = stencilc.generate(KURAMOTO, state="theta", fields=["omega"], target="numba", fastmath=True)
    assert "fastmath=True" in fast and "fastmath=False" in k.source


def test_huge_arguments_take_the_exact_path(tmp_path, monkeypatch):
    monkeypatch.setenv("STENCILC_CACHE_DIR", str(tmp_path))
    kn = stencilc.compile_stencil(KURAMOTO, state="theta", fields=["omega"], backend="numba")
    kr = stencilc.compile_stencil(KURAMOTO, state="theta", fields=["omega"], backend="numpy")
    theta = np.random.default_rng(2).random((9, 11))
    theta[4, 5] = 3e15
    theta[2, 2] = np.nan
    omega = np.zeros_like(theta)
    np.testing.assert_allclose(kn(theta, omega=omega, K=1.0), kr(theta, omega=omega, K=1.0), rtol=1e-12,
                               atol=1e-12, equal_nan=True)


_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import stencilc
    t = time.perf_counter()
    k = stencilc.compile_stencil("omega + K*div(sin(grad(theta)))", state="theta", fields=["omega"],
                                 backend="numba")
    compile_s = time.perf_counter() - t
    theta = np.random.default_rng(0).random((64, 64))
    t = time.perf_counter()
    out = k(theta, omega=np.zeros_like(theta), K=1.0)
    first_call_s = time.perf_counter() - t
    dispatcher = next(c.cell_contents for c in k._run.__closure__ if hasattr(c.cell_contents, "stats"))
    module = sys.modules[dispatcher.py_func.__module__]
    print(json.dumps({
        "from_cache": k.from_cache, "compile_s": compile_s, "first_call_s": first_call_s,
        "cache_hits": sum(dispatcher.stats.cache_hits.values()),
        "cache_misses": sum(dispatcher.stats.cache_misses.values()),
        "rows_compiled": len(module._interior_row.signatures),
        "module_file": module.__file__, "checksum": float(out.sum()),
    }))
""")


def test_second_process_loads_without_compiling(tmp_path):
    env = dict(os.environ, STENCILC_CACHE_DIR=str(tmp_path))
    env.pop("NUMBA_CACHE_DIR", None)
    runs = []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                             timeout=600)
        assert res.returncode == 0, res.stderr
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert not first["from_cache"] and second["from_cache"]
    # Numba's own cache (inside the stencilc entry) supplied the machine code: nothing was compiled
    assert second["cache_hits"] == 1 and second["cache_misses"] == 0
    assert second["rows_compiled"] == 0
    assert second["module_file"].startswith(str(tmp_path))
    entry = os.path.dirname(second["module_file"])
    assert any(f.endswith(".nbi") for f in os.listdir(os.path.join(entry, "__pycache__")))
    assert second["checksum"] == first["checksum"]
    assert second["compile_s"] < first["compile_s"] / 2, runs
