"""Halo sides, layouts and row windows in the kernel IR: the regions of every variant tile exactly
the box they must compute, for every small grid."""
import itertools

import pytest
import sympy as sp

import stencilc as sc
from stencilc import laplace
from stencilc.ir import HALO, PHYSICAL, ROW_START, ROW_STOP, build_kernel, size
from stencilc.symbolic import check_problem

u = sc.Field("u")


def _evaluate(x, values):
    x = sp.sympify(x)
    if x.func.__name__ in ("IntMin", "IntMax"):
        return (min if x.func.__name__ == "IntMin" else max)(_evaluate(a, values) for a in x.args)
    return int(x.subs(values))


def _count(kernel, values):
    count = {}
    for r in kernel.regions:
        ranges = [range(_evaluate(a, values), _evaluate(b, values)) for a, b in r.bounds]
        for p in itertools.product(*ranges):
            count[p] = count.get(p, 0) + 1
    return count


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("sides", [((PHYSICAL, HALO), (HALO, PHYSICAL)), ((HALO, HALO), (PHYSICAL, PHYSICAL)),
                                   ((HALO, HALO), (HALO, HALO)), ((PHYSICAL, PHYSICAL), (HALO, PHYSICAL))])
def test_halo_sides_keep_the_tiling_and_drop_their_strips(sides, split):
    k = build_kernel(check_problem(laplace(laplace(u)), state=u, ndim=2), split_strips=split, sides=sides)
    names = {r.name.split("_")[0] for r in k.regions}
    for a, (lo, hi) in enumerate(sides):
        assert (f"low{a}" in names) == (lo == PHYSICAL)
        assert (f"high{a}" in names) == (hi == PHYSICAL)
    for a in range(1, 7):
        for b in range(1, 7):
            count = _count(k, {size(0): a, size(1): b})
            assert count == {(i, j): 1 for i in range(a) for j in range(b)}, (a, b)
    # inputs are padded by the radius beyond halo sides only; outputs are not padded
    assert k.layout("u").padding == tuple((2 if lo == HALO else 0, 2 if hi == HALO else 0) for lo, hi in sides)
    assert k.layout("out_u").padding == ((0, 0), (0, 0))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_a_row_window_computes_exactly_its_rows(ndim):
    k = build_kernel(check_problem(laplace(laplace(u)), state=u, ndim=ndim), split_strips=True, window=True)
    assert k.index_arguments[-2:] == (ROW_START, ROW_STOP)
    assert k.layout("out_u").origin[0] == ROW_START
    others = [3] * (ndim - 1)
    for n0 in range(1, 8):
        for r0 in range(n0):
            for r1 in range(r0 + 1, n0 + 1):
                values = {size(0): n0, ROW_START: r0, ROW_STOP: r1}
                values.update({size(a + 1): m for a, m in enumerate(others)})
                expected = {p: 1 for p in itertools.product(range(r0, r1), *[range(m) for m in others])}
                assert _count(k, values) == expected, (n0, r0, r1)


def test_window_and_halo_on_axis_0_are_refused():
    with pytest.raises(ValueError, match="row window"):
        build_kernel(check_problem(laplace(u), state=u, ndim=2), sides=((HALO, PHYSICAL), (PHYSICAL, PHYSICAL)),
                     window=True)


# --- halo kernels on every backend, against the ghost-cell oracle -------------------------------
# The inputs are padded beyond the halo sides with the oracle's own ghost values (what a
# neighbouring rank would send): a halo kernel must then give the physical answer everywhere.

import numpy as np  # noqa: E402

import reference as ref  # noqa: E402
from stencilc import api  # noqa: E402
from stencilc.backends import TARGETS  # noqa: E402

c = sc.Field("c")
HALO_BACKENDS = [b for b in TARGETS if b != "cuda"]
CASES = {
    # name: (rhs, oracle(u, c, bcs_u, bcs_c, h), radius)
    "div_c_grad": (sc.div(c * sc.grad(u)), lambda U, C, bu, bc_, h: ref.div_c_grad(U, C, bu, bc_, h), 1),
    "bilaplace_plus_c": (laplace(laplace(u)) + c, lambda U, C, bu, bc_, h: ref.bilaplace(U, bu, h) + C, 2),
    # face values reused along every axis (line and slab buffers), also from a halo side's padding
    "div_sin_grad_plus_c": (sc.div(sp.sin(sc.grad(u))) + c,
                            lambda U, C, bu, bc_, h: ref.div_sin_grad(U, bu, h) + C, 1),
}


def _pad_halo(a, bcs, r, sides, h):
    """`a` padded by `r` oracle ghost cells beyond each halo side (none beyond physical sides)."""
    P = ref.pad(a, bcs, r, h)
    keep = tuple(slice(0 if lo == HALO else r, P.shape[k] - (0 if hi == HALO else r))
                 for k, (lo, hi) in enumerate(sides))
    return np.ascontiguousarray(P[keep])


@pytest.mark.parametrize("backend", HALO_BACKENDS)
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("ndim, sides, shape", [
    (1, ((HALO, PHYSICAL),), (5,)),
    (1, ((HALO, HALO),), (1,)),
    (2, ((HALO, HALO), (PHYSICAL, PHYSICAL)), (6, 5)),
    (2, ((PHYSICAL, HALO), (HALO, PHYSICAL)), (3, 1)),
    (2, ((HALO, HALO), (HALO, HALO)), (2, 7)),
    (3, ((HALO, PHYSICAL), (PHYSICAL, PHYSICAL), (HALO, HALO)), (4, 3, 5)),
])
def test_halo_kernels_read_the_padding_and_match_the_oracle(backend, case, ndim, sides, shape):
    rhs, oracle, r = CASES[case]
    bcs_u = [(ref.dirichlet(0.5), ref.NEUMANN), (ref.PERIODIC, ref.PERIODIC), (ref.neumann(0.25), ref.dirichlet(-1.0))][:ndim]
    bc_api = tuple((sc.Dirichlet(0.5), sc.Neumann()) if k == 0 else (sc.Periodic(), sc.Periodic()) if k == 1
                   else (sc.Neumann(0.25), sc.Dirichlet(-1.0)) for k in range(ndim))
    h = (0.5, 1.0, 2.0)[:ndim]
    problem = check_problem(rhs, state=u, fields=[c], ndim=ndim, bc={"u": bc_api}, spacing=h)
    run, _, radius, _ = api._build(problem, backend, False, "rhs", sides)
    assert radius == r
    rng = np.random.default_rng(4)
    U, C = rng.standard_normal(shape), rng.uniform(0.5, 1.5, shape)
    bcs_c = ref.input_bcs(bcs_u)
    out = np.full(shape, np.nan)
    # c is padded only where the kernel reads it at a neighbour; else it is read as it is
    from stencilc.ir import padded_inputs
    assert padded_inputs(problem) == ({"u", "c"} if case == "div_c_grad" else {"u"})
    Cin = _pad_halo(C, bcs_c, r, sides, h) if case == "div_c_grad" else C
    run([_pad_halo(U, bcs_u, r, sides, h), Cin], [], [out], shape)
    np.testing.assert_allclose(out, oracle(U, C, bcs_u, bcs_c, h), rtol=0, atol=1e-11)


# --- in-place sweeps: no recomputed rows, nothing allocated per step --------------------------

@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_in_place_steps_allocate_nothing_after_the_first(backend, monkeypatch):
    import tracemalloc
    import stencilc.stepping as st
    monkeypatch.setattr(st, "BLOCK_BYTES", 8 * 512 * 7)          # 7 rows per block: 40 blocks
    monkeypatch.setattr(st, "DRIVER_BLOCK_BYTES", 8 * 512 * 7)
    th, om = sc.fields("theta omega")
    k = sc.compile_stencil(om + sp.Symbol("K") * sc.div(sp.sin(sc.grad(th))), state=th, bc="periodic",
                           backend=backend)
    rng = np.random.default_rng(1)
    theta, omega = rng.uniform(0, 6, (280, 512)), rng.normal(size=(280, 512))
    k.euler_step(theta, dt=0.01, out=theta, omega=omega, K=1.0)      # compiles, makes the buffers
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(3):
            k.euler_step(theta, dt=0.01, out=theta, omega=omega, K=1.0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    block = 7 * theta[0].nbytes
    # C: a few Python objects per call, less than a row; the numpy reference backend evaluates a
    # block's expressions in block-sized temporaries: a few blocks, far from a grid (40 blocks)
    assert peak < (10 * block if backend == "numpy" else theta[0].nbytes), peak


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_in_place_sweep_computes_each_row_once(backend, monkeypatch):
    """Count the rows the row-window kernel is asked for: every row exactly once per step."""
    import stencilc.stepping as st
    monkeypatch.setattr(st, "BLOCK_BYTES", 8 * 5 * 3)          # 3 rows per block
    k = sc.compile_stencil(laplace(laplace(u)), state=u, bc="periodic", backend=backend)
    window = k._stepping.variant("euler_window")
    asked = []

    def counting(arrays, params, outs, shape):
        asked.extend(range(shape[-2], shape[-1]))
        return window(arrays, params, outs, shape)
    k._stepping._variants["euler_window"] = counting      # the Python sweep, which calls it per block
    u0 = np.random.default_rng(2).standard_normal((11, 5))
    x = u0.copy()
    k.euler_step(x, dt=0.01, out=x)
    assert sorted(asked) == list(range(11))
    ref_k = sc.compile_stencil(laplace(laplace(u)), state=u, bc="periodic", backend="numpy")
    np.testing.assert_allclose(x, u0 + 0.01 * ref_k(u0), rtol=0, atol=1e-12)
