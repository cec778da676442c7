"""IR passes on their own: flux reuse (calls per point), inlining it back, CSE keeps values."""
import re

import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import div, grad, laplace
from stencilc.ir import build_kernel, inline_carried
from stencilc.passes import eliminate_common_subexpressions, reuse_fluxes
from stencilc.symbolic import check_problem

theta, omega, u, c = sc.fields("theta omega u c")
K = sp.Symbol("K")


def sin_calls_per_point(kernel):
    """sin calls evaluated once per interior point: in the stores, temporaries and carried values."""
    (interior,) = [r for r in kernel.regions if r.interior]
    exprs = [s.value for s in interior.stores] + [a.value for a in interior.body]
    exprs += [cv.value for cv in interior.carried]
    return sum(sp.count_ops(e, visual=True).coeff(sp.Symbol("SIN")) for e in exprs)


@pytest.mark.parametrize("ndim,before,after", [(2, 4, 2), (3, 6, 3)])
def test_kuramoto_sin_calls_per_point(ndim, before, after):
    p = check_problem(omega + K * div(sp.sin(grad(theta))), ndim=ndim)
    plain = eliminate_common_subexpressions(build_kernel(p))
    reused = eliminate_common_subexpressions(reuse_fluxes(build_kernel(p)))
    assert sin_calls_per_point(plain) == before
    assert sin_calls_per_point(reused) == after
    (interior,) = [r for r in reused.regions if r.interior]
    assert sorted(cv.axis for cv in interior.carried) == list(range(ndim))


def test_reuse_leaves_cheap_and_one_dimensional_kernels_alone():
    p = check_problem(div(c * grad(u)), state=u)
    k = build_kernel(p)
    assert reuse_fluxes(k) == k            # no math function: nothing worth a buffer
    p1 = check_problem(omega + K * div(sp.sin(grad(theta))), ndim=1)
    assert reuse_fluxes(build_kernel(p1)) == build_kernel(p1)


@pytest.mark.parametrize("rhs", [omega + K * div(sp.sin(grad(theta))),
                                 div(sp.exp(theta) * grad(theta)) + laplace(theta) * omega])
def test_inlined_carried_values_equal_the_plain_kernel(rhs):
    """Printing carried values back as temporaries gives the plain kernel's numbers (NumPy)."""
    from stencilc.backends import numpy as npb
    p = check_problem(rhs, state=theta, ndim=2, bc="periodic")
    plain = eliminate_common_subexpressions(build_kernel(p))
    inlined = eliminate_common_subexpressions(inline_carried(reuse_fluxes(build_kernel(p))))
    rng = np.random.default_rng(0)
    t, w = rng.uniform(0, 1, (9, 11)), rng.uniform(0, 1, (9, 11))
    outs = []
    for kern in (plain, inlined):
        f = npb.load_source(npb.render(kern, ["test"]), kern.name)
        o = np.empty_like(t)
        f(t, w, *([2.0] if "K" in kern.params else []), o, *t.shape)
        outs.append(o)
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-13, atol=1e-13)


def test_c_kernel_carries_fluxes_in_buffers():
    k = sc.compile_stencil(omega + K * div(sp.sin(grad(theta))), backend="c")
    assert "_buf0" in k.source and "_buf1" in k.source and "free(_buf0)" in k.source


@pytest.mark.parametrize("shape", [(300, 130), (130, 300), (3, 40000), (40, 31, 33), (5, 3, 4000)])
def test_c_reuse_across_thread_chunks(shape):
    """Grids big enough for the OpenMP team: every thread's first row warms its buffer up."""
    rhs = omega + K * div(sp.sin(grad(theta)))
    ref = sc.compile_stencil(rhs, backend="numpy", ndim=len(shape))
    k = sc.compile_stencil(rhs, backend="c", ndim=len(shape))
    rng = np.random.default_rng(3)
    t, w = rng.uniform(0, 6, shape), rng.normal(size=shape)
    np.testing.assert_allclose(k(t, omega=w, K=1.5), ref(t, omega=w, K=1.5), rtol=0, atol=1e-12)


def test_innermost_only_reuse_for_row_buffers():
    p = check_problem(omega + K * div(sp.sin(grad(theta))), ndim=3)
    k = eliminate_common_subexpressions(reuse_fluxes(build_kernel(p), innermost_only=True))
    (interior,) = [r for r in k.regions if r.interior]
    assert [cv.axis for cv in interior.carried] == [2]
    assert sin_calls_per_point(k) == 5


def test_numba_kernel_carries_fluxes_along_rows():
    src = sc.generate(omega + K * div(sp.sin(grad(theta))), target="numba")
    # the face value along the contiguous axis is written once into a row buffer and read back as the
    # next point's backward face, instead of being recomputed
    assert re.search(r"_buf0\[i1 \+ 1\] = ", src)
    assert re.search(r"_f0_back = _buf0\[i1\]", src)
