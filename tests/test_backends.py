"""The shared correctness suite: every backend against the independent oracles in reference.py.

Every backend of the registry (stencilc.backends.TARGETS) joins; cuda is skipped without CuPy and a
GPU. Kernels are compiled once per distinct stencil and reused across grid sizes (sizes are call-time
arguments), so most tests loop over shapes inside one case.

Numba compiles each stencil for seconds, so its cases are sampled (tests/conftest.py): the ones that
run by default carry the in_sample marker, on their backend parameter (`backends(in_sample=True)`:
every case of that test) or on another parameter (that case only). Numba prints the same kernel IR as
c, so the share covers its printer and template: every test at least once, on mixed boundary
conditions, 1-D to 3-D. The other backends run all of it.
"""

import re

import numpy as np
import pytest
import sympy as sp

import stencilc
from stencilc import D, Dirichlet, Field, Neumann, Periodic, StencilError, div, dot, grad, laplace
from stencilc.backends import TARGETS, cuda

import reference as ref

IN_SAMPLE = pytest.mark.in_sample


def _gpu_available() -> bool:
    try:
        cuda.cupy()
    except StencilError:
        return False
    return True


_NO_GPU = pytest.mark.skipif(not _gpu_available(), reason="backend='cuda' needs CuPy and a CUDA GPU")


def backends(*, in_sample=False):
    """The registry's backends as parameters: numba's case is sampled, and in the share that runs by
    default if `in_sample`; cuda's is skipped without CuPy and a GPU."""
    marks = {"numba": [pytest.mark.sampled_backend] + ([IN_SAMPLE] if in_sample else []),
             "cuda": [_NO_GPU]}
    return [pytest.param(name, marks=marks.get(name, [])) for name in TARGETS]


u, v, c, theta, omega = (Field(name) for name in ("u", "v", "c", "theta", "omega"))
K = sp.Symbol("K")

KURAMOTO = omega + K * div(sp.sin(grad(theta)))


# --------------------------------------------------------------------------------------------------
# Boundary conditions in a small spec language that maps both to the API and to the oracle:
# a side is a string ("neumann", "periodic", "dirichlet"), passed to the API as is, or one of
# NEU / PER / DIR(g), passed as Neumann() / Periodic() / Dirichlet(g); a list has one entry per axis,
# each a side or a [low, high] list; a dict maps a field name (or Field) to such a spec.

NEU, PER = ("N",), ("P",)


def DIR(g):
    return ("D", float(g))


def to_api(spec):
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        return {k: to_api(s) for k, s in spec.items()}
    if isinstance(spec, list):
        return tuple(to_api(s) for s in spec)
    return {"N": Neumann, "P": Periodic}[spec[0]]() if spec[0] != "D" else Dirichlet(spec[1])


def _oracle_side(side):
    if isinstance(side, str):
        return {"neumann": ref.NEUMANN, "periodic": ref.PERIODIC, "dirichlet": ref.dirichlet(0.0)}[side]
    return {"N": ref.NEUMANN, "P": ref.PERIODIC}[side[0]] if side[0] != "D" else ref.dirichlet(side[1])


def _oracle_axes(spec, ndim):
    if not isinstance(spec, list):
        return [(_oracle_side(spec), _oracle_side(spec))] * ndim
    assert len(spec) == ndim
    return [(_oracle_side(a[0]), _oracle_side(a[1])) if isinstance(a, list) else
            (_oracle_side(a), _oracle_side(a)) for a in spec]


def oracle_bcs(spec, ndim, state=("u",), inputs=()):
    """Per-axis (low, high) bcs for every field, resolved by the boundary-condition rules (state vs input fields)."""
    named = {str(k): s for k, s in spec.items()} if isinstance(spec, dict) else {}
    out = {}
    for name in state:
        if isinstance(spec, dict):
            out[name] = _oracle_axes(named.get(name, "neumann"), ndim)
        else:
            out[name] = _oracle_axes(spec, ndim)
    for name in inputs:
        given = _oracle_axes(named[name], ndim) if name in named else None
        out[name] = ref.input_bcs(out[state[0]], given)
    return out


# --------------------------------------------------------------------------------------------------
# Helpers

# what a backend says when its toolchain is missing here (stencilc/backends/c.py, numba.py)
_UNAVAILABLE = re.compile(r"no C compiler found|the C compiler .* does not run|has no OpenMP support"
                          r"|needs numba")
_kernels = {}


def build(backend, rhs, *, ndim, bc="neumann", dtype="float64", spacing=1.0, state=None, **options):
    """compile_stencil, memoised per distinct stencil; a backend that says it is unavailable is
    skipped with its own message."""
    key = (backend, str(rhs), ndim, repr(bc), dtype, repr(spacing), repr(state), repr(sorted(options.items())))
    if key not in _kernels:
        try:
            _kernels[key] = stencilc.compile_stencil(rhs, state=state, ndim=ndim, bc=to_api(bc), backend=backend,
                                                     dtype=dtype, spacing=spacing, **options)
        except StencilError as e:
            if backend == "numpy" or not _UNAVAILABLE.search(str(e)):
                raise
            _kernels[key] = e
    k = _kernels[key]
    if isinstance(k, StencilError):
        pytest.skip(f"backend {backend!r}: {k}")
    return k


def assert_close(got, expected, rtol, what=""):
    """max |got - expected| <= rtol * max(1, max |expected|), with the worst cell in the message."""
    got = np.asarray(got)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    err = np.abs(got.astype(np.float64) - expected)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else ()
    assert np.all(np.isfinite(got)), f"{what}: non-finite values in the result"
    assert err.max(initial=0.0) <= rtol * scale, (
        f"{what}: max abs error {err.max():.3e} (scale {scale:.3e}) at {worst}: got {got[worst]!r},"
        f" expected {expected[worst]!r}")


def random_field(rng, shape, dtype="float64", low=-1.0, high=1.0):
    return rng.uniform(low, high, shape).astype(dtype)


def shape_id(shape):
    return "x".join(map(str, shape))


def spacing_per_axis(spacing, ndim):
    return tuple(spacing) if isinstance(spacing, tuple) else (float(spacing),) * ndim


# --------------------------------------------------------------------------------------------------
# 1. The seed's Kuramoto right-hand side

SEED_SHAPES = [(1, 1), (1, 7), (2, 2), (3, 5), (64, 48), (257, 129)]
SEED_TOL = {"float64": 1e-12, "float32": 2e-5}


def rel_err(got, expected):
    return float(np.abs(got.astype(np.float64) - expected.astype(np.float64)).max()
                 / np.abs(expected.astype(np.float64)).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SEED_SHAPES, ids=shape_id)
@pytest.mark.parametrize("backend", backends(in_sample=True))
def test_kuramoto_matches_seed(backend, shape, dtype):
    k = build(backend, KURAMOTO, ndim=2, bc="neumann", dtype=dtype, state=theta)
    rng = np.random.default_rng(sum(shape))
    th = random_field(rng, shape, dtype, 0.0, 2 * np.pi)
    om = rng.normal(size=shape).astype(dtype)
    got = k(th, omega=om, K=2.0)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == shape
    expected = ref.seed_numpy_dudt(th, om, 2.0)
    assert rel_err(got, expected) <= SEED_TOL[dtype], f"vs seed NumpySolver.dudt: {rel_err(got, expected):.3e}"
    if th.size <= 64 * 48:
        naive = ref.seed_naive_dudt(th, om, 2.0)
        assert rel_err(got, naive) <= SEED_TOL[dtype], f"vs seed NaiveSolver.dudt: {rel_err(got, naive):.3e}"


@pytest.mark.parametrize("backend", backends(in_sample=True))
def test_kuramoto_matches_seed_1024(backend):
    k = build(backend, KURAMOTO, ndim=2, bc="neumann", state=theta)
    rng = np.random.default_rng(1024)
    th = rng.uniform(0, 2 * np.pi, (1024, 1024))
    om = rng.normal(size=(1024, 1024))
    got = k(th, omega=om, K=2.0)
    assert rel_err(got, ref.seed_numpy_dudt(th, om, 2.0)) <= 1e-12


@pytest.mark.parametrize("backend", backends(in_sample=True))
def test_kuramoto_from_string(backend):
    k = build(backend, "omega + K*div(sin(grad(theta)))", ndim=2, state="theta", fields=["omega"])
    rng = np.random.default_rng(5)
    th, om = rng.uniform(0, 2 * np.pi, (9, 11)), rng.normal(size=(9, 11))
    assert rel_err(k(th, omega=om, K=0.7), ref.seed_numpy_dudt(th, om, 0.7)) <= 1e-12


# --------------------------------------------------------------------------------------------------
# 2. Every operator under every boundary condition of §3, against the padded ghost-cell oracle

OPS = {
    # name: (rhs, oracle(u, c, bcs, h), input fields, smallest ndim, radius)
    "laplace": (laplace(u), lambda uu, cc, b, h: ref.laplace(uu, b["u"], h), (), 1, 1),
    "div_c_grad": (div(c * grad(u)), lambda uu, cc, b, h: ref.div_c_grad(uu, cc, b["u"], b["c"], h), ("c",), 1, 1),
    "D0_D1": (D(u, 0) * D(u, 1), lambda uu, cc, b, h: ref.d0_d1(uu, b["u"], h), (), 2, 1),
    "grad_dot_grad": (dot(grad(u), grad(u)), lambda uu, cc, b, h: ref.grad_dot_grad(uu, b["u"], h), (), 1, 1),
    "bilaplace": (laplace(laplace(u)), lambda uu, cc, b, h: ref.bilaplace(uu, b["u"], h), (), 1, 2),
}

SHAPES = {   # sizes below, at and above the stencil width, and one big enough for threads to split
    1: [(1,), (2,), (3,), (4,), (7,), (12,), (50,)],
    2: [(1, 1), (1, 5), (2, 3), (3, 2), (4, 7), (9, 6), (33, 40)],
    3: [(1, 1, 1), (2, 3, 1), (1, 2, 3), (3, 2, 5), (5, 4, 3), (6, 7, 5), (12, 9, 14)],
}

BC_CASES = {   # ndim: [(id, bc spec, spacing)]
    1: [
        ("neumann", "neumann", 1.0),
        ("periodic-h0.5", "periodic", 0.5),
        ("dirichlet", "dirichlet", 1.0),
        ("Dirichlet(1.5)-h2", DIR(1.5), 2.0),
        ("(Dirichlet(2),Neumann)", [[DIR(2.0), NEU]], 1.0),
        ("(Neumann,Dirichlet(-1))-h0.25", [[NEU, DIR(-1.0)]], 0.25),
    ],
    2: [
        ("neumann-h(0.5,2)", "neumann", (0.5, 2.0)),
        ("periodic", "periodic", 1.0),
        ("dirichlet-h(1,0.5)", "dirichlet", (1.0, 0.5)),
        ("Dirichlet(1.5)-h0.5", DIR(1.5), 0.5),
        ("periodic,neumann-h(1,0.5)", ["periodic", "neumann"], (1.0, 0.5)),
        ("(Dirichlet(2),Neumann),Periodic", [[DIR(2.0), NEU], PER], 1.0),
        ("dirichlet,(Neumann,Dirichlet(-0.5))-h(2,1)", ["dirichlet", [NEU, DIR(-0.5)]], (2.0, 1.0)),
        ("Dirichlet(1),Dirichlet(-2)", [DIR(1.0), DIR(-2.0)], 1.0),
    ],
    3: [
        ("neumann", "neumann", 1.0),
        ("periodic-h(0.5,1,2)", "periodic", (0.5, 1.0, 2.0)),
        ("Dirichlet(1.5)", DIR(1.5), 1.0),
        ("periodic,dirichlet,neumann-h(1,0.5,1)", ["periodic", "dirichlet", "neumann"], (1.0, 0.5, 1.0)),
        ("(Dirichlet(2),Neumann),Periodic,(Neumann,Dirichlet(0.5))-h(1,0.5,2)",
         [[DIR(2.0), NEU], PER, [NEU, DIR(0.5)]], (1.0, 0.5, 2.0)),
        ("Dirichlet(1),Dirichlet(-2),Dirichlet(0.5)", [DIR(1.0), DIR(-2.0), DIR(0.5)], 1.0),
    ],
}

# numba's share of the bc matrix: every operator on its mixed-condition case, but the 3-D one only
# for radius 1 (the 3-D bilaplace is numba's slowest compile)
NUMBA_BC_CASES = {1: {"(Dirichlet(2),Neumann)"},
                  2: {"dirichlet,(Neumann,Dirichlet(-0.5))-h(2,1)"},
                  3: {"(Dirichlet(2),Neumann),Periodic,(Neumann,Dirichlet(0.5))-h(1,0.5,2)"}}

OPERATOR_CASES = [
    pytest.param(op, ndim, bc, spacing, id=f"{op}-{ndim}d-{bc_id}",
                 marks=[IN_SAMPLE] if bc_id in NUMBA_BC_CASES[ndim] and (ndim < 3 or radius == 1) else [])
    for op, (_, _, _, min_ndim, radius) in OPS.items()
    for ndim in (1, 2, 3) if ndim >= min_ndim
    for bc_id, bc, spacing in BC_CASES[ndim]
]


def check_operator(backend, op, ndim, bc, spacing, seed=0):
    rhs, oracle, inputs, _, _ = OPS[op]
    k = build(backend, rhs, ndim=ndim, bc=bc, spacing=spacing, state=u)
    bcs = oracle_bcs(bc, ndim, ("u",), inputs)
    h = spacing_per_axis(spacing, ndim)
    rng = np.random.default_rng(seed)
    for shape in SHAPES[ndim]:
        uu = random_field(rng, shape)
        cc = random_field(rng, shape, low=0.5, high=2.0)
        kwargs = {"c": cc} if "c" in inputs else {}
        got = k(uu, **kwargs)
        assert got.dtype == np.float64
        assert_close(got, oracle(uu, cc, bcs, h), 1e-12, f"{op} bc={bc} h={spacing} shape={shape}")


@pytest.mark.parametrize("op, ndim, bc, spacing", OPERATOR_CASES)
@pytest.mark.parametrize("backend", backends())
def test_operator_vs_padded_oracle(backend, op, ndim, bc, spacing):
    check_operator(backend, op, ndim, bc, spacing)


FIELD_DICT_CASES = [   # div(c*grad(u)) with a bc dict per field
    pytest.param(1, {"u": [[DIR(1.0), NEU]], "c": [[NEU, DIR(2.0)]]}, 0.5, id="1d-u(D1,N)-c(N,D2)"),
    pytest.param(2, {"u": "dirichlet", "c": PER}, (1.0, 2.0), id="2d-u:dirichlet-c:Periodic"),
    pytest.param(2, {"u": PER}, 1.0, id="2d-u:Periodic-c:follows"),
    pytest.param(2, {"u": ["periodic", "neumann"], "c": ["periodic", DIR(1.0)]}, 1.0,
                 id="2d-u:periodic,neumann-c:periodic,Dirichlet(1)"),
    pytest.param(2, {"u": [NEU, "periodic"], "c": [DIR(-1.0), PER]}, (0.5, 0.5), id="2d-u:Neumann,periodic-c:D(-1),P",
                 marks=IN_SAMPLE),
    pytest.param(2, {u: "neumann", c: DIR(0.5)}, 1.0, id="2d-Field-keys"),
    pytest.param(3, {"u": ["periodic", DIR(1.0), "neumann"], "c": ["periodic", "dirichlet", DIR(3.0)]},
                 (0.5, 1.0, 2.0), id="3d-mixed", marks=IN_SAMPLE),
]


@pytest.mark.parametrize("ndim, bc, spacing", FIELD_DICT_CASES)
@pytest.mark.parametrize("backend", backends())
def test_div_c_grad_with_bc_per_field(backend, ndim, bc, spacing):
    check_operator(backend, "div_c_grad", ndim, bc, spacing, seed=1)


KURAMOTO_BC_CASES = [
    pytest.param(1, [[DIR(0.5), NEU]], 0.5, id="1d-(Dirichlet(0.5),Neumann)-h0.5"),
    pytest.param(2, "periodic", (0.5, 2.0), id="2d-periodic-h(0.5,2)"),
    pytest.param(2, ["dirichlet", "neumann"], 1.0, id="2d-dirichlet,neumann", marks=IN_SAMPLE),
    pytest.param(3, DIR(1.5), (1.0, 0.5, 2.0), id="3d-Dirichlet(1.5)-h(1,0.5,2)", marks=IN_SAMPLE),
]


@pytest.mark.parametrize("ndim, bc, spacing", KURAMOTO_BC_CASES)
@pytest.mark.parametrize("backend", backends())
def test_kuramoto_operator_vs_padded_oracle(backend, ndim, bc, spacing):
    k = build(backend, KURAMOTO, ndim=ndim, bc=bc, spacing=spacing, state=theta)
    bcs = oracle_bcs(bc, ndim, ("theta",), ("omega",))
    h = spacing_per_axis(spacing, ndim)
    rng = np.random.default_rng(3)
    for shape in SHAPES[ndim]:
        th = random_field(rng, shape, low=0.0, high=2 * np.pi)
        om = rng.normal(size=shape)
        got = k(th, omega=om, K=1.5)
        assert_close(got, om + 1.5 * ref.div_sin_grad(th, bcs["theta"], h), 1e-12, f"bc={bc} shape={shape}")


# --------------------------------------------------------------------------------------------------
# 3. Calling conventions: dtype, inputs untouched, out=, non-contiguous arrays

@pytest.mark.parametrize("op", ["laplace", "div_c_grad", pytest.param("bilaplace", marks=IN_SAMPLE)])
@pytest.mark.parametrize("backend", backends())
def test_float32_preserved(backend, op):
    rhs, oracle, inputs, _, _ = OPS[op]
    bc, spacing = ["periodic", DIR(1.0)], (1.0, 0.5)
    k = build(backend, rhs, ndim=2, bc=bc, spacing=spacing, dtype="float32", state=u)
    assert k.dtype == "float32"
    bcs = oracle_bcs(bc, 2, ("u",), inputs)
    rng = np.random.default_rng(4)
    for shape in [(1, 1), (3, 2), (17, 12)]:
        uu = random_field(rng, shape, "float32")
        cc = random_field(rng, shape, "float32", 0.5, 2.0)
        got = k(uu, **({"c": cc} if inputs else {}))
        assert got.dtype == np.float32, f"shape={shape}: got dtype {got.dtype}"
        assert_close(got, oracle(uu.astype(np.float64), cc.astype(np.float64), bcs, spacing), 1e-5,
                     f"{op} float32 shape={shape}")


@pytest.mark.parametrize("dtype", [pytest.param("float64", marks=IN_SAMPLE), "float32"])
@pytest.mark.parametrize("backend", backends())
def test_inputs_never_modified(backend, dtype):
    rhs = div(c * grad(u)) + K * sp.sin(u) * c
    rng = np.random.default_rng(6)
    for bc in ["neumann", "periodic", DIR(2.0)]:
        k = build(backend, rhs, ndim=2, bc=bc, dtype=dtype, state=u)
        uu, cc = random_field(rng, (6, 5), dtype), random_field(rng, (6, 5), dtype, 0.5, 2.0)
        u0, c0 = uu.copy(), cc.copy()
        k(uu, c=cc, K=0.5)
        k(uu, c=cc, K=0.5, out=np.empty_like(uu))
        np.testing.assert_array_equal(uu, u0, err_msg=f"state modified, bc={bc}")
        np.testing.assert_array_equal(cc, c0, err_msg=f"input field modified, bc={bc}")


@pytest.mark.parametrize("backend", backends(in_sample=True))
def test_out_is_written_in_place_and_returned(backend):
    k = build(backend, KURAMOTO, ndim=2, bc="neumann", state=theta)
    rng = np.random.default_rng(7)
    th, om = rng.uniform(0, 2 * np.pi, (13, 8)), rng.normal(size=(13, 8))
    out = np.full((13, 8), np.nan)
    result = k(th, omega=om, K=2.0, out=out)
    assert result is out
    assert rel_err(out, ref.seed_numpy_dudt(th, om, 2.0)) <= 1e-12
    np.testing.assert_array_equal(out, k(th, omega=om, K=2.0))


def _noncontiguous_views(rng, shape):
    big = rng.uniform(-1, 1, (2 * shape[0] + 1, 3 * shape[1] + 2))
    return {
        "transposed": rng.uniform(-1, 1, shape[::-1]).T,
        "strided": big[1::2, ::3][:shape[0], :shape[1]],
        "reversed": rng.uniform(-1, 1, shape)[::-1, ::-1],
    }


@pytest.mark.parametrize("which", ["state", "field"])
@pytest.mark.parametrize("view", ["transposed", "strided", "reversed"])
@pytest.mark.parametrize("backend", backends(in_sample=True))
def test_noncontiguous_inputs_read_right(backend, view, which):
    bc = ["periodic", DIR(0.5)]
    k = build(backend, div(c * grad(u)), ndim=2, bc=bc, state=u)
    bcs = oracle_bcs(bc, 2, ("u",), ("c",))
    rng = np.random.default_rng(8)
    shape = (7, 5)
    uu, cc = rng.uniform(-1, 1, shape), rng.uniform(0.5, 2.0, shape)
    if which == "state":
        uu = _noncontiguous_views(rng, shape)[view]
    else:
        cc = _noncontiguous_views(rng, shape)[view]
        cc += 2.0                       # in place: still the same non-contiguous view
    assert not (uu.flags.c_contiguous and cc.flags.c_contiguous)
    expected = ref.div_c_grad(np.ascontiguousarray(uu), np.ascontiguousarray(cc), bcs["u"], bcs["c"], 1.0)
    u0, c0 = uu.copy(), cc.copy()
    assert_close(k(uu, c=cc), expected, 1e-12, f"{view} {which}")
    np.testing.assert_array_equal(uu, u0)
    np.testing.assert_array_equal(cc, c0)


@pytest.mark.parametrize("view", ["transposed", "strided", "reversed"])
@pytest.mark.parametrize("backend", backends(in_sample=True))
def test_noncontiguous_out_is_refused(backend, view):
    """The kernel writes out= in place, so a view it cannot write directly is an error, not a copy."""
    k = build(backend, div(c * grad(u)), ndim=2, bc=["periodic", DIR(0.5)], state=u)
    rng = np.random.default_rng(8)
    shape = (7, 5)
    uu, cc = rng.uniform(-1, 1, shape), rng.uniform(0.5, 2.0, shape)
    out = _noncontiguous_views(rng, shape)[view]
    before = out.copy()
    with pytest.raises(ValueError, match=r"out for 'u' must be a writeable C-contiguous array"):
        k(uu, c=cc, out=out)
    np.testing.assert_array_equal(out, before)


# --------------------------------------------------------------------------------------------------
# 4. Systems

GRAY_SCOTT = {u: laplace(u) - u * v**2, v: sp.Rational(1, 2) * laplace(v) + u * v**2}


def gray_scott_oracle(uu, vv, bcs, h):
    return (ref.laplace(uu, bcs["u"], h) - uu * vv**2,
            0.5 * ref.laplace(vv, bcs["v"], h) + uu * vv**2)


@pytest.mark.parametrize("ndim, bc, spacing", [
    pytest.param(2, "periodic", 1.0, id="2d-periodic"),
    pytest.param(1, "periodic", 0.5, id="1d-periodic-h0.5"),
    pytest.param(3, "periodic", (1.0, 0.5, 2.0), id="3d-periodic-h(1,0.5,2)", marks=IN_SAMPLE),
    pytest.param(2, ["periodic", DIR(0.5)], (1.0, 2.0), id="2d-periodic,Dirichlet(0.5)"),
    pytest.param(2, {"u": [PER, DIR(1.0)], "v": ["periodic", [NEU, DIR(-0.5)]]}, (0.5, 1.0), id="2d-dict-per-state-field",
                 marks=IN_SAMPLE),
])
@pytest.mark.parametrize("backend", backends())
def test_gray_scott_system(backend, ndim, bc, spacing):
    k = build(backend, GRAY_SCOTT, ndim=ndim, bc=bc, spacing=spacing)
    assert tuple(k.state) == ("u", "v")
    bcs = oracle_bcs(bc, ndim, ("u", "v"))
    h = spacing_per_axis(spacing, ndim)
    rng = np.random.default_rng(9)
    for shape in SHAPES[ndim]:
        uu, vv = random_field(rng, shape), random_field(rng, shape)
        got = k(uu, vv)
        assert isinstance(got, tuple) and len(got) == 2
        eu, ev = gray_scott_oracle(uu, vv, bcs, h)
        assert_close(got[0], eu, 1e-12, f"du/dt shape={shape}")
        assert_close(got[1], ev, 1e-12, f"dv/dt shape={shape}")


@pytest.mark.parametrize("backend", backends(in_sample=True))
def test_system_state_order_and_out(backend):
    rhs = {v: GRAY_SCOTT[v], u: GRAY_SCOTT[u]}          # v first: arrays go and come in that order
    k = build(backend, rhs, ndim=2, bc="periodic")
    assert tuple(k.state) == ("v", "u")
    rng = np.random.default_rng(10)
    uu, vv = random_field(rng, (5, 6)), random_field(rng, (5, 6))
    u0, v0 = uu.copy(), vv.copy()
    eu, ev = gray_scott_oracle(uu, vv, oracle_bcs("periodic", 2, ("u", "v")), 1.0)
    got = k(vv, uu)
    assert isinstance(got, tuple) and len(got) == 2
    assert_close(got[0], ev, 1e-12, "first output is dv/dt")
    assert_close(got[1], eu, 1e-12, "second output is du/dt")
    out = (np.full_like(vv, np.nan), np.full_like(uu, np.nan))
    got = k(vv, uu, out=out)
    assert got[0] is out[0] and got[1] is out[1]
    assert_close(out[0], ev, 1e-12, "out[0]")
    assert_close(out[1], eu, 1e-12, "out[1]")
    np.testing.assert_array_equal(uu, u0)
    np.testing.assert_array_equal(vv, v0)


@pytest.mark.parametrize("backend", backends(in_sample=True))
def test_system_float32(backend):
    k = build(backend, GRAY_SCOTT, ndim=2, bc="neumann", dtype="float32")
    rng = np.random.default_rng(11)
    uu, vv = random_field(rng, (6, 7), "float32"), random_field(rng, (6, 7), "float32")
    got = k(uu, vv)
    assert got[0].dtype == np.float32 and got[1].dtype == np.float32
    eu, ev = gray_scott_oracle(uu.astype(float), vv.astype(float), oracle_bcs("neumann", 2, ("u", "v")), 1.0)
    assert_close(got[0], eu, 1e-5, "du/dt")
    assert_close(got[1], ev, 1e-5, "dv/dt")


# --------------------------------------------------------------------------------------------------
# 5. Second-order convergence on smooth functions, non-unit spacing

def _grid(n, L):
    """Cell centres of n cells on [0, L)."""
    return (np.arange(n) + 0.5) * (L / n)


def _case_1d(kind):
    L = 3.0
    k = 2 * np.pi / L
    if kind == "laplace-periodic":
        return laplace(u), "periodic", L, lambda x: np.cos(k * x), lambda x: -k**2 * np.cos(k * x)
    if kind == "D-periodic":
        return D(u, 0), "periodic", L, lambda x: np.cos(k * x), lambda x: -k * np.sin(k * x)
    if kind == "laplace-neumann":   # cos(pi x / L) has zero flux through both walls
        q = np.pi / L
        return laplace(u), "neumann", L, lambda x: np.cos(q * x), lambda x: -q**2 * np.cos(q * x)
    if kind == "D-neumann":
        q = np.pi / L
        return D(u, 0), "neumann", L, lambda x: np.cos(q * x), lambda x: -q * np.sin(q * x)
    if kind == "laplace-Dirichlet(1.5)":   # 1.5 + sin(pi x / L) is 1.5 on both walls
        q = np.pi / L
        return laplace(u), DIR(1.5), L, lambda x: 1.5 + np.sin(q * x), lambda x: -q**2 * np.sin(q * x)
    raise AssertionError(kind)


def _orders(errors):
    errors = np.array(errors)
    return np.log2(errors[:-1] / errors[1:])


@pytest.mark.parametrize("kind", ["laplace-periodic", "D-periodic", "laplace-neumann", "D-neumann",
                                  pytest.param("laplace-Dirichlet(1.5)", marks=IN_SAMPLE)])
@pytest.mark.parametrize("backend", backends())
def test_second_order_convergence_1d(backend, kind):
    rhs, bc, L, f, exact = _case_1d(kind)
    errors = []
    for n in (16, 32, 64):
        kern = build(backend, rhs, ndim=1, bc=bc, spacing=L / n, state=u)
        x = _grid(n, L)
        errors.append(np.abs(kern(f(x)) - exact(x)).max())
    orders = _orders(errors)
    assert np.all((orders >= 1.8) & (orders <= 2.2)), f"errors {errors}, orders {orders}"


def _case_2d(kind, X, Y, Lx, Ly):
    kx, ky = 2 * np.pi / Lx, 2 * np.pi / Ly
    f = np.cos(kx * X) * np.sin(ky * Y)
    if kind == "laplace":
        return laplace(u), {}, f, -(kx**2 + ky**2) * f
    if kind == "D1":
        return D(u, 1), {}, f, ky * np.cos(kx * X) * np.cos(ky * Y)
    if kind == "div_c_grad":
        cc = 2.0 + np.sin(kx * X) * np.cos(ky * Y)
        cx, cy = kx * np.cos(kx * X) * np.cos(ky * Y), -ky * np.sin(kx * X) * np.sin(ky * Y)
        fx, fy = -kx * np.sin(kx * X) * np.sin(ky * Y), ky * np.cos(kx * X) * np.cos(ky * Y)
        return div(c * grad(u)), {"c": cc}, f, cx * fx + cy * fy + cc * (-(kx**2 + ky**2) * f)
    if kind == "div_sin_grad":   # d/dx sin(f_x) = cos(f_x) f_xx; amplitude 0.3 to be asymptotic at n=16
        f = 0.3 * f
        fx, fy = -0.3 * kx * np.sin(kx * X) * np.sin(ky * Y), 0.3 * ky * np.cos(kx * X) * np.cos(ky * Y)
        return div(sp.sin(grad(u))), {}, f, np.cos(fx) * (-kx**2 * f) + np.cos(fy) * (-ky**2 * f)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["laplace", "D1", "div_c_grad",
                                  pytest.param("div_sin_grad", marks=IN_SAMPLE)])
@pytest.mark.parametrize("backend", backends())
def test_second_order_convergence_2d_periodic(backend, kind):
    Lx, Ly = 3.0, 5.0
    errors = []
    for n in (16, 32, 64):
        X, Y = np.meshgrid(_grid(n, Lx), _grid(n + n // 2, Ly), indexing="ij")
        rhs, inputs, f, exact = _case_2d(kind, X, Y, Lx, Ly)
        kern = build(backend, rhs, ndim=2, bc="periodic", spacing=(Lx / n, Ly / (n + n // 2)), state=u)
        errors.append(np.abs(kern(f, **inputs) - exact).max())
    orders = _orders(errors)
    assert np.all((orders >= 1.8) & (orders <= 2.2)), f"errors {errors}, orders {orders}"


# --------------------------------------------------------------------------------------------------
# 6. Stencil radius

@pytest.mark.parametrize("rhs, ndim, radius", [
    pytest.param(laplace(u), 2, 1, id="laplace"),
    pytest.param(laplace(laplace(u)), 2, 2, id="laplace(laplace)"),
    pytest.param(laplace(laplace(u)), 3, 2, id="laplace(laplace)-3d"),
    pytest.param(D(u, 0) * D(u, 1), 2, 1, id="D0*D1"),
    pytest.param(dot(grad(u), grad(u)), 2, 1, id="grad.grad"),
    pytest.param(div(c * grad(u)), 2, 1, id="div(c*grad)"),
    pytest.param(KURAMOTO, 2, 1, id="kuramoto"),
])
@pytest.mark.parametrize("backend", backends())
def test_radius(backend, rhs, ndim, radius):
    state = theta if rhs is KURAMOTO else u
    assert build(backend, rhs, ndim=ndim, state=state).radius == radius
