"""Self-checks of the oracles in reference.py: hand-worked ghost cells and operators, and the seed's
two right-hand sides against each other and against the padded Kuramoto operator."""

import numpy as np
import pytest

import reference as ref
from reference import NEUMANN as N, PERIODIC as P, dirichlet as Dir


def pad1(u, low, high, r):
    return ref.pad(np.array(u, dtype=float), [(low, high)], r)


@pytest.mark.parametrize("low, high, u, r, expected", [
    # n = 1: every rule maps back to the single cell, Dirichlet alternating with 2g - a
    (N, N, [0.5], 2, [0.5, 0.5, 0.5, 0.5, 0.5]),
    (P, P, [0.5], 2, [0.5, 0.5, 0.5, 0.5, 0.5]),
    (Dir(1.0), Dir(1.0), [0.5], 2, [0.5, 1.5, 0.5, 1.5, 0.5]),
    # u[-1] = 2*1 - .5; u[-2] = 2*1 - u[1] = 2 - (2*3 - .5); u[1] = 6 - .5; u[2] = 6 - u[-1]
    (Dir(1.0), Dir(3.0), [0.5], 2, [-3.5, 1.5, 0.5, 5.5, 4.5]),
    # u[-1] = u[0]; u[-2] = u[1] = 2g - a; u[-3] = u[2] = 2g - u[-1]; u[3] = 2g - u[-2] = a
    (N, Dir(2.0), [0.5], 3, [3.5, 3.5, 0.5, 0.5, 3.5, 3.5, 0.5]),
    # n = 2, r = 2
    (N, N, [1.0, 2.0], 2, [2.0, 1.0, 1.0, 2.0, 2.0, 1.0]),
    (P, P, [1.0, 2.0], 2, [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]),
    (Dir(0.0), Dir(0.0), [1.0, 2.0], 2, [-2.0, -1.0, 1.0, 2.0, -2.0, -1.0]),
    (Dir(1.0), N, [1.0, 2.0], 2, [0.0, 1.0, 1.0, 2.0, 2.0, 1.0]),
    # n = 3, r = 4 with periodic: wraps more than once
    (P, P, [1.0, 2.0, 3.0], 4, [3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]),
    # n = 2, r = 3, Neumann: reflections about both walls
    (N, N, [1.0, 2.0], 3, [2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0]),
], ids=["n1-neumann", "n1-periodic", "n1-dirichlet", "n1-dirichlet-two-values", "n1-neumann-dirichlet-r3",
        "n2-neumann", "n2-periodic", "n2-dirichlet0", "n2-dirichlet-neumann", "n3-periodic-r4", "n2-neumann-r3"])
def test_pad_1d_by_hand(low, high, u, r, expected):
    np.testing.assert_array_equal(pad1(u, low, high, r), expected)


def test_pad_2d_corners_are_filled_axis_0_first():
    # axis 0 first: column [2*1 - a, a, 2*1 - a]; then axis 1 on every row, ghosts included
    a = 0.5
    got = ref.pad([[a]], [(Dir(1.0), Dir(1.0)), (Dir(10.0), Dir(10.0))], 1)
    expected = [[18.5, 1.5, 18.5],
                [19.5, 0.5, 19.5],
                [18.5, 1.5, 18.5]]
    np.testing.assert_array_equal(got, expected)


def test_pad_2d_periodic_neumann():
    got = ref.pad([[1.0], [2.0]], [(P, P), (N, N)], 1)
    np.testing.assert_array_equal(got, [[2.0] * 3, [1.0] * 3, [2.0] * 3, [1.0] * 3])


def test_pad_rejects_one_sided_periodic():
    with pytest.raises(ValueError):
        ref.pad([1.0, 2.0], [(P, N)], 1)


def test_input_bcs():
    state = [(P, P), (Dir(1.0), N)]
    assert ref.input_bcs(state) == [(P, P), (N, N)]
    assert ref.input_bcs(state, [(P, P), (Dir(2.0), Dir(2.0))]) == [(P, P), (Dir(2.0), Dir(2.0))]


def test_operators_1d_by_hand():
    u = [1.0, 2.0, 4.0]
    bc = [(N, N)]                                  # padded by 2: [2, 1 | 1, 2, 4 | 4, 2]
    np.testing.assert_allclose(ref.laplace(u, bc), [1.0, 1.0, -2.0])
    np.testing.assert_allclose(ref.laplace(u, bc, 0.5), [4.0, 4.0, -8.0])
    np.testing.assert_allclose(ref.centred_diff(u, 0, bc), [0.5, 1.5, 1.0])
    np.testing.assert_allclose(ref.centred_diff([1.0, 2.0], 0, [(Dir(0.0), Dir(0.0))]), [1.5, -1.5])
    np.testing.assert_allclose(ref.grad_dot_grad(u, bc, 2.0), [0.0625, 0.5625, 0.25])
    # faces: c = 1*0 | 2*1 | 4*2 | 5*0
    np.testing.assert_allclose(ref.div_c_grad(u, [1.0, 3.0, 5.0], bc, bc), [2.0, 6.0, -8.0])
    np.testing.assert_allclose(ref.bilaplace(u, bc), [0.0, -3.0, 3.0])
    # Dirichlet(1), padded by 2: [0, 1 | 1, 2, 4 | -2, 0]; laplace(u) one ghost deep, from ghosts of
    # u: [-1 | 1, 1, -8 | 8]. Ghosts of laplace(u) instead, [1 | 1, 1, -8 | 10], would give [0, -9, 27].
    np.testing.assert_allclose(ref.bilaplace(u, [(Dir(1.0), Dir(1.0))]), [-2.0, -9.0, 25.0])
    np.testing.assert_allclose(ref.div_sin_grad(u, bc), [np.sin(1.0), np.sin(2.0) - np.sin(1.0), -np.sin(2.0)])


def test_operators_2d_by_hand():
    u = np.array([[0.0, 1.0], [2.0, 5.0]])
    bc = [(N, N), (Dir(1.0), Dir(1.0))]
    # padded: axis 0 neumann, then axis 1 dirichlet 1
    # [[2, 0, 1, 1], [2, 0, 1, 1], [0, 2, 5, -3], [0, 2, 5, -3]]
    lap = [[(2 - 0) + (2 - 0 + 1 - 0) - 0, (5 - 1) + (0 - 1 + 1 - 1) - 0],
           [(0 - 2) + (0 - 2 + 5 - 2), (1 - 5) + (2 - 5 - 3 - 5)]]
    np.testing.assert_allclose(ref.laplace(u, bc), lap)
    np.testing.assert_allclose(ref.d0_d1(u, bc, (1.0, 0.5)),
                               [[1.0 * (-1.0), 2.0 * 1.0], [1.0 * 5.0, 2.0 * (-5.0)]])


def test_seed_numpy_equals_seed_naive():
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (1, 5), (4, 1), (2, 2), (5, 7), (16, 9)]:
        u = rng.uniform(0, 2 * np.pi, shape)
        omega = rng.normal(size=shape)
        np.testing.assert_allclose(ref.seed_numpy_dudt(u, omega, 2.0), ref.seed_naive_dudt(u, omega, 2.0),
                                   rtol=1e-13, atol=1e-13, err_msg=str(shape))


def test_seed_keeps_dtype_and_inputs():
    rng = np.random.default_rng(1)
    u = rng.uniform(0, 2 * np.pi, (6, 5)).astype(np.float32)
    omega = rng.normal(size=(6, 5)).astype(np.float32)
    u0, omega0 = u.copy(), omega.copy()
    for f in (ref.seed_numpy_dudt, ref.seed_naive_dudt):
        out = f(u, omega, 2.0)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(u, u0)
        np.testing.assert_array_equal(omega, omega0)
    np.testing.assert_allclose(ref.seed_numpy_dudt(u, omega, 2.0), ref.seed_naive_dudt(u, omega, 2.0),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (3, 1), (2, 2), (7, 5), (32, 17)])
def test_padded_kuramoto_equals_seed(shape):
    rng = np.random.default_rng(2)
    u = rng.uniform(0, 2 * np.pi, shape)
    omega = rng.normal(size=shape)
    K = 1.7
    expected = ref.seed_numpy_dudt(u, omega, K) - omega
    got = K * ref.div_sin_grad(u, [(N, N), (N, N)], 1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_bilaplace_is_laplace_twice_when_periodic():
    # periodic ghosts of laplace(u) coincide with laplace(u) of periodic ghosts
    rng = np.random.default_rng(3)
    u = rng.normal(size=(5, 3, 4))
    bc = [(P, P)] * 3
    h = (0.5, 1.0, 2.0)
    np.testing.assert_allclose(ref.bilaplace(u, bc, h), ref.laplace(ref.laplace(u, bc, h), bc, h), rtol=1e-12)


def test_operators_converge_to_derivatives():
    # a smooth periodic function on a cell-centred grid: second order in h
    L = 3.0
    errs = []
    for n in (16, 32, 64):
        h = L / n
        x = (np.arange(n) + 0.5) * h
        u = np.cos(2 * np.pi * x / L)
        lap = ref.laplace(u, [(P, P)], h)
        errs.append(np.abs(lap + (2 * np.pi / L) ** 2 * u).max())
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all((orders > 1.9) & (orders < 2.1)), orders
