"""The on-disk cache across processes: reuse, corruption, concurrent builds."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import sympy as sp
    import stencilc as sc
    theta, omega = sc.fields("theta omega")
    K = sp.Symbol("K")
    t = time.perf_counter()
    k = sc.compile_stencil(omega + K*sc.div(sp.sin(sc.grad(theta))), backend=sys.argv[1])
    elapsed = time.perf_counter() - t
    rng = np.random.default_rng(0)
    u = rng.uniform(0, 2*np.pi, (9, 7)); w = rng.normal(size=(9, 7))
    d = w.copy()
    dx = u[:, 1:] - u[:, :-1]; dy = u[1:, :] - u[:-1, :]
    d[:, :-1] += 2.0*np.sin(dx); d[:, 1:] += 2.0*np.sin(-dx)
    d[:-1, :] += 2.0*np.sin(dy); d[1:, :] += 2.0*np.sin(-dy)
    err = float(np.abs(k(u, omega=w, K=2.0) - d).max())
    print(json.dumps({"from_cache": k.from_cache, "seconds": elapsed, "err": err}))
""")


def run_child(cache_dir: Path, backend: str = "c") -> dict:
    env = dict(os.environ, STENCILC_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", CHILD, backend], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def entries(cache_dir: Path) -> list[Path]:
    return [p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_second_process_loads_from_cache(tmp_path, backend):
    first = run_child(tmp_path, backend)
    second = run_child(tmp_path, backend)
    assert first["from_cache"] is False and second["from_cache"] is True
    assert first["err"] < 1e-12 and second["err"] < 1e-12
    assert len(entries(tmp_path)) == 1


def test_truncated_entry_is_rebuilt(tmp_path):
    run_child(tmp_path)
    (entry,) = entries(tmp_path)
    lib = entry / "kernel.so"
    lib.write_bytes(lib.read_bytes()[:100])
    again = run_child(tmp_path)
    assert again["from_cache"] is False and again["err"] < 1e-12
    (entry,) = entries(tmp_path)
    meta = json.loads((entry / "meta.json").read_text())
    assert (entry / "kernel.so").stat().st_size > 1000 and "kernel.so" in meta["files"]
    assert run_child(tmp_path)["from_cache"] is True


def test_missing_metadata_is_rebuilt(tmp_path):
    run_child(tmp_path)
    (entry,) = entries(tmp_path)
    (entry / "meta.json").write_text("{not json")
    assert run_child(tmp_path)["from_cache"] is False
    assert run_child(tmp_path)["from_cache"] is True


def test_four_processes_compile_the_same_kernel_at_once(tmp_path):
    env = dict(os.environ, STENCILC_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, "c"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["err"] < 1e-12 for r in results)
    assert len(entries(tmp_path)) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary build dirs left"
    assert run_child(tmp_path)["from_cache"] is True


def test_cache_false_and_cache_dir_resolution(tmp_path, monkeypatch):
    import sympy as sp
    import stencilc as sc
    from stencilc import cache
    monkeypatch.setenv("STENCILC_CACHE_DIR", str(tmp_path / "a"))
    assert cache.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("STENCILC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "stencilc"
    u = sc.Field("u")
    k = sc.compile_stencil(sc.laplace(u) + sp.Symbol("a"), backend="c", cache=False)
    assert k.from_cache is False
    assert not (tmp_path / "xdg" / "stencilc").exists()
    with pytest.raises(sc.StencilError, match="cache"):
        sc.compile_stencil(sc.laplace(u), backend="numpy", cache="yes")


def test_info_and_clear(tmp_path, monkeypatch):
    import stencilc as sc
    from stencilc import cache
    monkeypatch.setenv("STENCILC_CACHE_DIR", str(tmp_path))
    sc.compile_stencil(sc.laplace(sc.Field("u")), backend="numpy")
    info = cache.info()
    assert info["entries"] == 1 and info["bytes"] > 0 and info["directory"] == str(tmp_path)
    assert cache.clear() == 1
    assert cache.info()["entries"] == 0
