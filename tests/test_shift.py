"""`shift(e, offset)`, explicit neighbours: every backend against hand-written NumPy on arrays
padded with ghost cells by the oracle of reference.py (`ref.pad`), for each kind of boundary
condition, 1-D to 3-D, shifts two cells deep, shifted operators, a 9-point Laplacian, grids smaller
than the shift; and the mistakes a user can make with an offset."""
import numpy as np
import pytest
import sympy as sp

import stencilc as sc
from stencilc import StencilError, laplace, shift
from stencilc.backends import TARGETS

import reference as ref

u, c = sc.fields("u c")

BACKENDS = [pytest.param(b, marks=[pytest.mark.sampled_backend] if b == "numba" else [])
            for b in TARGETS if b != "cuda"]
NUMBA_TOO = [pytest.param(b, marks=[pytest.mark.sampled_backend, pytest.mark.in_sample] if b == "numba" else [])
             for b in TARGETS if b != "cuda"]

# the API's condition and the oracle's for the same side
KINDS = {"neumann": (sc.Neumann(), ref.NEUMANN), "periodic": (sc.Periodic(), ref.PERIODIC),
         "dirichlet": (sc.Dirichlet(0.75), ref.dirichlet(0.75))}


def compiled(rhs, backend, ndim, kind, **kw):
    try:
        return sc.compile_stencil(rhs, state=u, ndim=ndim, bc=KINDS[kind][0], backend=backend, **kw)
    except StencilError as e:   # a backend whose toolchain is missing here says so
        if backend != "numpy" and ("needs numba" in str(e) or "C compiler" in str(e)):
            pytest.skip(str(e))
        raise


def at(P, r, offset, shape):
    """The padded array `P` (`r` ghost cells per side) read at every cell plus `offset`."""
    return P[tuple(slice(r + o, r + o + n) for o, n in zip(offset, shape))]


@pytest.mark.parametrize("backend", NUMBA_TOO)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_nine_point_laplacian(backend, kind):
    """The isotropic 9-point Laplacian written with shift, including the corners' ghosts."""
    neighbours = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    corners = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    rhs = (4 * sum(shift(u, o) for o in neighbours) + sum(shift(u, o) for o in corners) - 20 * u) / 6
    k = compiled(rhs, backend, 2, kind)
    assert k.radius == 1
    rng = np.random.default_rng(1)
    for shape in [(7, 9), (2, 3), (1, 1)]:
        a = rng.normal(size=shape)
        P = ref.pad(a, [(KINDS[kind][1],) * 2] * 2, 1)
        expected = (4 * sum(at(P, 1, o, shape) for o in neighbours)
                    + sum(at(P, 1, o, shape) for o in corners) - 20 * a) / 6
        np.testing.assert_allclose(k(a), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ndim, offsets", [(1, [(2,), (-2,), (1,)]),
                                           (2, [(2, -1), (0, 2), (-2, 0)]),
                                           (3, [(1, -2, 0), (0, 0, 2), (-1, 1, -1)])])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_shifts_two_cells_deep(backend, ndim, offsets, kind):
    """Products of shifted fields read two ghost layers deep, on grids down to one cell (the ghost
    rules applied again until inside)."""
    rhs = shift(u, offsets[0]) * shift(u, offsets[1]) - 3 * shift(u, offsets[2]) + u
    k = compiled(rhs, backend, ndim, kind)
    assert k.radius == 2
    rng = np.random.default_rng(ndim)
    for shape in [(6, 5, 7)[:ndim], (1, 3, 2)[:ndim]]:
        a = rng.normal(size=shape)
        P = ref.pad(a, [(KINDS[kind][1],) * 2] * ndim, 2)
        expected = (at(P, 2, offsets[0], shape) * at(P, 2, offsets[1], shape)
                    - 3 * at(P, 2, offsets[2], shape) + a)
        np.testing.assert_allclose(k(a), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_shifted_operator_reads_the_ghosts_of_its_fields(backend, kind):
    """shift(laplace(u), (1, 0)) at the last row is the Laplacian at the first ghost row, which
    reads the second ghost row."""
    k = compiled(shift(laplace(u), (1, 0)) - shift(u * c, (0, -1)), backend, 2, kind, fields=[c])
    assert k.radius == 2
    rng = np.random.default_rng(3)
    shape = (6, 5)
    a, b = rng.normal(size=shape), rng.normal(size=shape)
    bcs = [(KINDS[kind][1],) * 2] * 2
    P = ref.pad(a, bcs, 2)
    C = ref.pad(b, ref.input_bcs(bcs), 2)
    lap = sum(at(P, 2, o, shape) for o in [(2, 0), (0, 0), (1, 1), (1, -1)]) - 4 * at(P, 2, (1, 0), shape)
    expected = lap - at(P, 2, (0, -1), shape) * at(C, 2, (0, -1), shape)
    np.testing.assert_allclose(k(a, c=b), expected, rtol=1e-12, atol=1e-12)


def test_life_neighbour_count_on_a_periodic_grid():
    """The neighbour count of a cellular automaton, against np.roll."""
    offsets = [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]
    k = sc.compile_stencil(sum(shift(u, o) for o in offsets), state=u, ndim=2, bc="periodic",
                           backend="numpy")
    a = (np.random.default_rng(4).random((8, 6)) < 0.4).astype(float)
    expected = sum(np.roll(a, (-i, -j), axis=(0, 1)) for i, j in offsets)
    np.testing.assert_array_equal(k(a), expected)


def test_strings_and_composition():
    assert shift(shift(u, (1, 0)), (0, -2)) == shift(u, (1, -2))
    assert shift(u, (0, 0)) == u
    assert shift(u, [1, 0]) == shift(u, (1, 0))
    assert sc.compile_stencil("shift(u, (1,)) - u", state="u", ndim=1, backend="numpy").radius == 1
    # the state is the field read as a neighbour
    k = sc.compile_stencil("shift(u, (1, 0)) + w", fields=["w"], ndim=2, backend="numpy")
    assert k.state == ("u",)
    np.testing.assert_array_equal(k(np.arange(3.0)[:, None] * np.ones((3, 2)), w=np.zeros((3, 2))),
                                  [[1, 1], [2, 2], [2, 2]])


@pytest.mark.parametrize("rhs, message", [
    (lambda: shift(u, 1), "must be a tuple of integers"),
    (lambda: shift(u, (1.5, 0)), "must be a tuple of integers"),
    (lambda: shift(u, ()), "must be a tuple of integers"),
    (lambda: shift(u, (sp.Symbol("k"), 0)), "must be a tuple of integers"),
    (lambda: shift(u, (1, 0, 0)), r"has 3 entries but ndim=2"),
    (lambda: "shift(u, (1,))", r"has 1 entries but ndim=2"),
    (lambda: "shift(u, 2)", "must be a tuple of integers"),
])
def test_bad_offsets_are_one_line_errors(rhs, message):
    with pytest.raises(StencilError, match=message) as info:
        sc.compile_stencil(rhs(), state="u", ndim=2, backend="numpy")
    assert "\n" not in str(info.value)
