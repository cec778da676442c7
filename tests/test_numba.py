"""The Numba backend beyond the shared suite: dtype preservation, generated source, cross-process cache.

Results are checked against the independent oracles in reference.py (the seed's Kuramoto right-hand
side, the padded ghost-cell operators)."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest

import stencilc

import reference as ref

KURAMOTO = "omega + K*div(sin(grad(theta)))"
WALLS = [(ref.NEUMANN, ref.NEUMANN)] * 2      # compile_stencil's default: Neumann on every side of 2-D


def _kernel_module(stencil):
    """The generated module behind a numba Stencil (found through its runner's KERNEL) and its
    compiled whole-grid function."""
    kernel = next(c.cell_contents for c in stencil._run.__closure__
                  if getattr(c.cell_contents, "__module__", "").startswith("_stencilc_numba_"))
    module = sys.modules[kernel.__module__]
    return module, module._stencil_rhs_sweep


def _dispatchers(module):
    """The module's own compiled functions."""
    return [f for f in vars(module).values() if isinstance(f, numba.core.registry.CPUDispatcher)
            and f.py_func.__module__ == module.__name__]


def _fresh_module(source, directory):
    """`source` imported as a new module from `directory`, so Numba compiles it here and now."""
    path = Path(directory) / "kernel.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"_fresh_{abs(hash((source, str(path))))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


FLOAT32_CASES = [   # rhs, state, input fields, oracle(state, fields, params) in float64
    pytest.param(KURAMOTO, "theta", ["omega"], lambda s, f, p: ref.seed_numpy_dudt(s, f["omega"], p["K"]),
                 id="kuramoto"),
    pytest.param("laplace(u) + 2*u**3 - u/3 + exp(-u) * tanh(u) + cos(u)", "u", [],
                 lambda s, f, p: ref.laplace(s, WALLS) + 2 * s**3 - s / 3 + np.exp(-s) * np.tanh(s) + np.cos(s),
                 id="laplace+pointwise"),
    pytest.param("div(c*grad(u)) + sqrt(abs(u) + 1) + u**5", "u", ["c"],
                 lambda s, f, p: ref.div_c_grad(s, f["c"], WALLS, ref.input_bcs(WALLS)) + np.sqrt(np.abs(s) + 1)
                 + s**5, id="div_c_grad+pointwise"),
]


@pytest.mark.parametrize("expr, state, fields, oracle", FLOAT32_CASES)
def test_float32_stays_float32(expr, state, fields, oracle, tmp_path):
    k = stencilc.compile_stencil(expr, backend="numba", dtype="float32", state=state, fields=fields)
    _, dispatcher = _kernel_module(k)
    (sig,) = dispatcher.nopython_signatures
    assert all(getattr(a, "dtype", a) == numba.float32 for a in sig.args if a != numba.int64)
    # compile the source afresh (the Stencil's module came from Numba's cache: no typing kept) and
    # check that no value anywhere in the kernel or its row functions is typed float64
    module = _fresh_module(k.source, tmp_path / "fresh")
    functions = _dispatchers(module)
    assert len(functions) >= 4          # row, chunk, boundary box, sweep
    for fn in functions:
        for s in fn.signatures:
            typemap = fn.overloads[s].type_annotation.typemap
            wide = {n: t for n, t in typemap.items() if "float64" in str(t)}
            assert not wide, f"{fn.py_func.__name__}: float64 values {wide}"
    arrays = {n: np.random.default_rng(0).random((6, 7), dtype=np.float32) for n in k.fields}
    params = {p: 0.5 for p in k.params}
    values = np.random.default_rng(1).random((6, 7), dtype=np.float32)
    out = k(values, **arrays, **params)
    assert out.dtype == np.float32
    expected = oracle(values.astype(np.float64), {n: a.astype(np.float64) for n, a in arrays.items()}, params)
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=2e-5)


def test_source_is_python_with_njit_and_prange(tmp_path):
    k = stencilc.compile_stencil(KURAMOTO, state="theta", fields=["omega"], backend="numba")
    compile(k.source, "<numba kernel>", "exec")
    assert "@_numba.njit(" in k.source and "_numba.prange(" in k.source and "parallel=True" in k.source
    assert "cache=True" in k.source
    assert "sin64_v(" in k.source          # the vectorisable sine in the interior
    fast = stencilc.generate(KURAMOTO, state="theta", fields=["omega"], target="numba", fastmath=True)
    assert "fastmath=True" in fast and "fastmath=False" in k.source
    # .source is the module that runs: the file Numba imported from the cache entry
    module, _ = _kernel_module(k)
    assert module.__file__.startswith(os.environ["STENCILC_CACHE_DIR"])
    assert Path(module.__file__).read_text() == k.source
    rng = np.random.default_rng(3)
    theta, omega = rng.uniform(0, 2 * np.pi, (9, 11)), rng.normal(size=(9, 11))
    expected = ref.seed_numpy_dudt(theta, omega, 0.7)
    np.testing.assert_allclose(k(theta, omega=omega, K=0.7), expected, rtol=1e-12, atol=1e-12)
    # what generate() writes (and `stencilc emit --target numba`) runs on its own: KERNEL(arrays,
    # params, outputs, sizes), and gives the seed's result
    emitted = _fresh_module(stencilc.generate(KURAMOTO, state="theta", fields=["omega"], target="numba"),
                            tmp_path / "emitted")
    out = np.full_like(theta, np.nan)
    emitted.KERNEL(theta, omega, 0.7, out, *theta.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_huge_arguments_take_the_exact_path():
    kn = stencilc.compile_stencil(KURAMOTO, state="theta", fields=["omega"], backend="numba")
    theta = np.random.default_rng(2).random((9, 11))
    theta[4, 5] = 3e15
    theta[2, 2] = np.nan
    omega = np.zeros_like(theta)
    np.testing.assert_allclose(kn(theta, omega=omega, K=1.0), ref.seed_numpy_dudt(theta, omega, 1.0), rtol=1e-12,
                               atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("huge", [False, True])
def test_threads_share_the_chunks_and_the_result_is_the_same(huge):
    """1, 2 and 3 threads give the same bits, which are the seed's result; with an argument out
    of the vector maths' range in one chunk, that chunk is recomputed with the full-range maths
    (compiled then)."""
    kn = stencilc.compile_stencil(KURAMOTO, state="theta", fields=["omega"], backend="numba")
    rng = np.random.default_rng(4)
    n0 = 365
    theta, omega = rng.uniform(0, 2 * np.pi, (n0, 200)), rng.normal(size=(n0, 200))
    if huge:
        theta[n0 - 40, 17] = 3e15            # in a late chunk
    expected = ref.seed_numpy_dudt(theta, omega, 0.9)
    before = numba.get_num_threads()
    results = []
    try:
        for team in (1, 2, 3):
            numba.set_num_threads(min(team, numba.config.NUMBA_NUM_THREADS))
            results.append(kn(theta, omega=omega, K=0.9))
    finally:
        numba.set_num_threads(before)
    for r in results:
        np.testing.assert_allclose(r, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
        np.testing.assert_array_equal(r, results[0])


_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import stencilc
    k = stencilc.compile_stencil("omega + K*div(sin(grad(theta)))", state="theta", fields=["omega"],
                                 backend="numba")
    theta = np.random.default_rng(0).random((64, 64))
    np.save(sys.argv[1], k(theta, omega=np.zeros_like(theta), K=1.0))
    kernel = next(c.cell_contents for c in k._run.__closure__
                  if getattr(c.cell_contents, "__module__", "").startswith("_stencilc_numba_"))
    module = sys.modules[kernel.__module__]
    dispatcher = module._stencil_rhs_sweep
    print(json.dumps({
        "from_cache": k.from_cache,
        "cache_hits": sum(dispatcher.stats.cache_hits.values()),
        "cache_misses": sum(dispatcher.stats.cache_misses.values()),
        "rows_compiled": len(module._interior_row.signatures),
        "module_file": module.__file__,
    }))
""")


def test_second_process_loads_without_compiling(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, STENCILC_CACHE_DIR=str(cache))
    env.pop("NUMBA_CACHE_DIR", None)
    runs, outs = [], []
    for i in range(2):
        out_file = tmp_path / f"out{i}.npy"
        res = subprocess.run([sys.executable, "-c", _CHILD, str(out_file)], env=env, capture_output=True,
                             text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
        outs.append(np.load(out_file))
    first, second = runs
    assert not first["from_cache"] and second["from_cache"]
    # Numba's own cache (inside the stencilc entry) supplied the machine code: nothing was compiled
    assert second["cache_hits"] == 1 and second["cache_misses"] == 0
    assert second["rows_compiled"] == 0
    assert second["module_file"].startswith(str(cache))
    entry = os.path.dirname(second["module_file"])
    assert any(f.endswith(".nbi") for f in os.listdir(os.path.join(entry, "__pycache__")))
    theta = np.random.default_rng(0).random((64, 64))
    expected = ref.seed_numpy_dudt(theta, np.zeros_like(theta), 1.0)
    for run, out in zip(runs, outs):
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12,
                                   err_msg=f"from_cache={run['from_cache']}")
    np.testing.assert_array_equal(outs[1], outs[0])   # the cached machine code is the code compiled first


@pytest.mark.parametrize("name", ["tan", "asin", "acos", "atan", "sinh", "cosh", "log"])
def test_real_math_functions_print_as_math_calls(name):
    """The functions that numba_math has no vector version of are Python's `math` ones (they
    failed to print for real values), against NumPy's."""
    k = stencilc.compile_stencil(f"{name}(u/4 + 0.5)", state="u", ndim=2, backend="numba")
    a = np.random.default_rng(0).uniform(0, 1, (5, 6))
    numpy_name = {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}.get(name, name)
    np.testing.assert_allclose(k(a), getattr(np, numpy_name)(a / 4 + 0.5), rtol=1e-15, atol=0)
