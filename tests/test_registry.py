"""The backend registry: every target is one declaration that the pipeline reads, not a branch.

The registry's names are the targets everywhere; the passes a backend declares run by name and
join the cache key; only targets with a C prototype put one in their cache entries; no backend
imports another; every array element is printed through the printers' one `element` method;
generating Numba source needs no Numba, compiling it without Numba says what to install; and every
template lists the variables it reads at its top.
"""
import ast
import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jinja2.meta
import jinja2.nodes
import pytest

import stencilc
from stencilc import StencilError, api
from stencilc.backends import TARGETS, printing, target
from stencilc.symbolic import check_problem
from stencilc.templates_env import environment, templates_dir

KURAMOTO = dict(rhs="omega + K*div(sin(grad(theta)))", state="theta", fields=["omega"])
ROOT = Path(__file__).resolve().parent.parent


def _kuramoto(**options):
    rhs = KURAMOTO["rhs"]
    return rhs, {"state": KURAMOTO["state"], "fields": KURAMOTO["fields"], **options}


def test_targets_are_the_registry_names():
    assert len(set(TARGETS)) == len(TARGETS) >= 4
    for name in TARGETS:
        backend = target(name)
        assert backend.BACKEND.name == name
        assert backend.BACKEND.source_file
        for function in ("render", "build", "load", "toolchain_id", "signature", "metadata"):
            assert callable(getattr(backend, function)), (name, function)


def test_unknown_target_lists_the_registry():
    rhs, options = _kuramoto()
    with pytest.raises(StencilError, match="target 'fortran' is not known; accepted: " + ", ".join(TARGETS)):
        stencilc.generate(rhs, target="fortran", **options)
    with pytest.raises(StencilError, match="backend 'fortran' is not known; accepted: " + ", ".join(TARGETS)):
        stencilc.compile_stencil(rhs, backend="fortran", **options)


def test_declared_passes_exist():
    for name in TARGETS:
        assert set(target(name).BACKEND.passes) <= set(api.PASSES), name
    assert {p for passes in api.VARIANTS.values() for p in passes} <= set(api.PASSES)


@pytest.mark.parametrize("name", TARGETS)
def test_generate_accepts_every_target(name):
    rhs, options = _kuramoto()
    source = stencilc.generate(rhs, target=name, name="kuramoto_rhs", **options)
    assert "kuramoto_rhs" in source


def test_pass_names_join_the_cache_key(monkeypatch):
    rhs, options = "laplace(u)*q_registry + sin(u)**2 + 3*sin(u)", {"state": "u"}
    numpy_backend = target("numpy")
    first = stencilc.compile_stencil(rhs, backend="numpy", **options)
    assert "_t0" in first.source   # the common sin(u) is a temporary
    monkeypatch.setattr(numpy_backend, "BACKEND", dataclasses.replace(numpy_backend.BACKEND, passes=()))
    plain = stencilc.compile_stencil(rhs, backend="numpy", **options)
    assert not plain.from_cache and "_t0" not in plain.source
    monkeypatch.undo()
    assert stencilc.compile_stencil(rhs, backend="numpy", **options).from_cache


def test_only_targets_with_a_prototype_store_one(private_stencilc_cache):
    rhs, options = _kuramoto()
    problem = check_problem(rhs, **options)
    prototypes = {}
    for name in TARGETS:
        backend = target(name)
        prototypes[name] = backend.signature(api._kernel(problem, "stencil_rhs", backend))
    assert prototypes["numpy"] is None and prototypes["numba"] is None
    assert prototypes["c"] == prototypes["cuda"] and prototypes["c"].startswith("void stencil_rhs(const double")
    stencilc.compile_stencil(rhs, backend="numpy", **options)
    metas = [json.loads(p.read_text()) for p in Path(private_stencilc_cache).glob("*/meta.json")]
    numpy_metas = [m for m in metas if m["backend"] == "numpy"]
    assert numpy_metas and all("signature" not in m and "passes" in m for m in numpy_metas)


def test_no_backend_imports_another():
    for name in TARGETS:
        path = ROOT / "stencilc" / "backends" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported = [node.module] if node.module else [a.name for a in node.names]
                assert not set(imported) & set(TARGETS), f"{path.name} imports {imported}"


def _printer_classes(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _printer_classes(sub)


@pytest.mark.parametrize("name", TARGETS)
def test_every_array_element_goes_through_element(name, monkeypatch):
    """So that an array layout (padding, strides) is one method to change per target."""
    for cls in {printing.KernelPrinter, *_printer_classes(printing.KernelPrinter)}:
        if "element" in vars(cls):
            monkeypatch.setattr(cls, "element", lambda self, array, indices: f"ELEMENT({array})")
    for ndim in (1, 2, 3):
        rhs, options = _kuramoto(ndim=ndim, bc="dirichlet")
        source = stencilc.generate(rhs, target=name, **options)
        problem = check_problem(rhs, **options)
        backend = target(name)
        source += backend.render(api._kernel(problem, "step", backend, "euler"), ["x"],
                                 steps_driver=backend.BACKEND.steps_driver)
        for array in ("theta", "omega", "out_theta"):
            assert f"ELEMENT({array})" in source
            assert not re.search(rf"\b{array}\[", source), (name, ndim, array)


def test_numba_backend_without_numba(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.modules["numba"] = None      # `import numba` now fails, as where it is not installed
        sys.modules["llvmlite"] = None
        import stencilc
        source = stencilc.generate("omega + K*div(sin(grad(theta)))", state="theta", fields=["omega"],
                                   target="numba")
        assert "@_numba.njit" in source
        try:
            stencilc.compile_stencil("laplace(u)", state="u", backend="numba")
        except stencilc.StencilError as e:
            print(e)
        else:
            raise SystemExit("compiled without numba")
    """)
    env = {**os.environ, "STENCILC_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    message = res.stdout.strip()
    assert "\n" not in message, message
    assert 'pip install "stencilc[numba]"' in message and "backend='numba'" in message


def _listed(source: str) -> set[str]:
    """The names in the template's leading comment: lines `  name   description`."""
    match = re.match(r"\{#(.*?)#\}", source, re.S)
    assert match, "the template starts with a comment listing its variables"
    return {m.group(1) for line in match.group(1).splitlines() if (m := re.match(r" {2}(\w+) {2,}\S", line))}


@pytest.mark.parametrize("path", sorted(templates_dir().rglob("*.j2")), ids=lambda p: p.parent.name + "/" + p.name)
def test_templates_list_their_variables(path):
    source = path.read_text()
    tree = environment().parse(source)
    # a `{% set %}` inside a branch looks undeclared to jinja2.meta, but it is the template's own
    own = {n.name for a in tree.find_all(jinja2.nodes.Assign)
           for n in (a.target, *a.target.find_all(jinja2.nodes.Name)) if isinstance(n, jinja2.nodes.Name)}
    assert _listed(source) == jinja2.meta.find_undeclared_variables(tree) - own


def test_numba_printer_names_functions_numba_math_has():
    pytest.importorskip("numba")
    from stencilc.backends import numba as numba_backend, numba_math
    for functions in numba_backend.VECTOR_MATH.values():
        for names in functions.values():
            for n in names:
                assert n is None or hasattr(numba_math, n), n
