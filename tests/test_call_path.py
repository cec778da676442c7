"""The lean call path of a Stencil (stencil.py `_bind_plain`, backends.backend `data_address`).

A call in the plain form of a loop (state positional, inputs by name, `out=` given, arrays of the
stencil's dtype) skips the general binding; these tests check that it still answers like the seed's
NumPy code (reference.py) when arrays are mutated, replaced, freed and reallocated between calls,
and that whatever is not plain goes through the full checks with their errors.
"""
import gc

import numpy as np
import pytest

import stencilc

import reference as ref

KURAMOTO = "omega + K*div(sin(grad(theta)))"


@pytest.fixture(scope="module")
def kernel():
    return stencilc.compile_stencil(KURAMOTO, state="theta", fields=["omega"], backend="c")


def _inputs(seed, shape=(12, 9)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 2 * np.pi, shape), rng.normal(size=shape)


def test_plain_calls_skip_the_general_binding(kernel, monkeypatch):
    theta, omega = _inputs(0)
    out = np.empty_like(theta)

    def unused(*args, **kwargs):
        raise AssertionError("the general binding ran for a plain call")
    monkeypatch.setattr(kernel, "_bind", unused)
    assert kernel(theta, omega=omega, K=0.5, out=out) is out
    np.testing.assert_allclose(out, ref.seed_numpy_dudt(theta, omega, 0.5), rtol=1e-12, atol=1e-12)


def test_mutated_replaced_and_reallocated_arrays(kernel):
    theta, omega = _inputs(1)
    out = np.empty_like(theta)
    kernel(theta, omega=omega, K=1.0, out=out)
    theta[3, 4] += 1.0                       # mutated in place
    omega *= -1.0
    kernel(theta, omega=omega, K=1.0, out=out)
    np.testing.assert_allclose(out, ref.seed_numpy_dudt(theta, omega, 1.0), rtol=1e-12, atol=1e-12)
    for seed in range(2, 6):                 # new objects, freed ones' memory likely reused
        del theta, omega, out
        gc.collect()
        theta, omega = _inputs(seed)
        out = np.empty_like(theta)
        kernel(theta, omega=omega, K=0.3 * seed, out=out)
        np.testing.assert_allclose(out, ref.seed_numpy_dudt(theta, omega, 0.3 * seed), rtol=1e-12, atol=1e-12)
    # another shape through the same stencil
    theta, omega = _inputs(7, (5, 16))
    out = np.empty_like(theta)
    kernel(theta, omega=omega, K=2, out=out)
    np.testing.assert_allclose(out, ref.seed_numpy_dudt(theta, omega, 2.0), rtol=1e-12, atol=1e-12)


def test_views_and_other_forms_take_the_full_checks(kernel):
    theta, omega = _inputs(8, (12, 18))
    out = np.empty((12, 9))
    view = theta[:, ::2]                     # not contiguous: copied, never read wrongly
    kernel(view, omega=omega[:, ::2], K=np.float64(0.7), out=out)
    np.testing.assert_allclose(out, ref.seed_numpy_dudt(view, omega[:, ::2], 0.7), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="overlaps input 'omega'"):
        kernel(theta, omega=omega, K=1.0, out=omega)
    block = np.zeros((24, 18))
    with pytest.raises(ValueError, match="overlaps input 'theta'"):
        kernel(block[:12], omega=omega, K=1.0, out=block[6:18])
    with pytest.raises(ValueError, match="has dtype float32"):
        kernel(theta, omega=omega, K=1.0, out=np.empty((12, 18), np.float32))
    with pytest.raises(ValueError, match="parameter 'K' must be a real number"):
        kernel(theta, omega=omega, K=True, out=np.empty_like(theta))
    with pytest.raises(TypeError, match="unknown argument"):
        kernel(theta, omega=omega, K=1.0, k=2.0, out=np.empty_like(theta))
    out = np.empty_like(theta)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable C-contiguous"):
        kernel(theta, omega=omega, K=1.0, out=out)
