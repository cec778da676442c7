"""stencilc's vectorisable maths for the Numba backend (backends/numba_math.py): accuracy and vectorisation.

Every function is run inside an @njit loop (as the generated kernels use it) over ~1e6 random inputs
per range plus edge cases, and compared with the float64 libm result (NumPy): the error, in units of
the spacing of the result's dtype at the exact value, must be at most 4 ulp.
"""
import numba
import numpy as np
import pytest

from stencilc.backends import numba_math as nm

MAX_ULP = 4.0
REFERENCE = {"sin": np.sin, "cos": np.cos, "exp": np.exp, "tanh": np.tanh}


def _loop(fn):
    @numba.njit(error_model="numpy")
    def apply(a, out):
        for i in range(a.size):
            out[i] = fn(a[i])
    return apply


_LOOPS = {}


def evaluate(name, x):
    if name not in _LOOPS:
        _LOOPS[name] = _loop(getattr(nm, name))
    out = np.empty_like(x)
    _LOOPS[name](x, out)
    return out


def ulp_error(y, x, func):
    """Error of y = func(x) in ulp of y's dtype, measured against the float64 reference."""
    with np.errstate(all="ignore"):
        ref = REFERENCE[func](x.astype(np.float64))
    y64 = y.astype(np.float64)
    nan_ok = np.isnan(ref) & np.isnan(y64)
    assert not np.any(np.isnan(y64) != np.isnan(ref)), x[np.isnan(y64) != np.isnan(ref)][:5]
    with np.errstate(all="ignore"):
        rounded = ref.astype(y.dtype)        # beyond the dtype's range: inf, which y must be too
        exact = (y64 == ref) | (y == rounded) | nan_ok
        spacing = np.spacing(np.abs(rounded)).astype(np.float64)
        err = np.where(exact, 0.0, np.abs(y64 - ref) / spacing)
    assert not np.isnan(err).any(), x[np.isnan(err)][:5]
    return err


def edge_cases(dtype, func):
    info = np.finfo(dtype)
    pi = np.pi
    k = np.arange(-2000, 2001)
    multiples = np.concatenate([k * pi / 2, k * pi / 4, [1e5 * pi, 1e6 * pi / 2, 12345678 * pi / 2]]).astype(dtype)
    near = np.concatenate([np.nextafter(multiples, dtype(np.inf)), np.nextafter(multiples, dtype(-np.inf))])
    special = np.array([0.0, -0.0, 1e5, -1e5, 1e22, -1e22, 1e300 if dtype == np.float64 else 3e38,
                        info.max, -info.max, info.tiny, -info.tiny, info.tiny * 0.5, info.smallest_subnormal,
                        -info.smallest_subnormal, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, 20.0, -20.0,
                        88.0, 89.0, 709.7, 709.79, 710.0, -708.0, -745.0, -745.2, -746.0, -103.0, -104.0,
                        2 ** -26, 2 ** -27, 2 ** -12, 2 ** -13, 1e-300, 1e-40], dtype=np.float64)
    with np.errstate(over="ignore"):
        special = special.astype(dtype)
    if func == "exp":
        near = near[np.abs(near) < 800]
    return np.concatenate([multiples, near, special])


RANGES = [1.0, 10.0, 100.0, 1e5, 1e9, 1e22, 750.0, 1e-6]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("func", ["sin", "cos", "exp", "tanh"])
def test_full_range_accuracy(func, dtype):
    name = f"{func}{64 if dtype == np.float64 else 32}"
    rng = np.random.default_rng(1234)
    worst = 0.0
    for hi in RANGES:
        x = rng.uniform(-hi, hi, 1_000_000 if hi in (10.0, 1e5) else 200_000).astype(dtype)
        worst = max(worst, ulp_error(evaluate(name, x), x, func).max())
    # log-uniform magnitudes over the whole exponent range, both signs
    lo = np.log2(np.finfo(dtype).smallest_subnormal)
    mags = 2.0 ** rng.uniform(lo, np.log2(np.finfo(dtype).max), 300_000)
    x = (mags * rng.choice([-1.0, 1.0], mags.size)).astype(dtype)
    worst = max(worst, ulp_error(evaluate(name, x), x, func).max())
    x = edge_cases(dtype, func)
    worst = max(worst, ulp_error(evaluate(name, x), x, func).max())
    assert worst <= MAX_ULP, f"{name}: {worst} ulp"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("func", ["sin", "cos"])
def test_vector_versions_within_their_limit(func, dtype):
    bits = 64 if dtype == np.float64 else 32
    limit = float(getattr(nm, f"TRIG_LIMIT{bits}"))
    rng = np.random.default_rng(7)
    x = rng.uniform(-limit, limit, 500_000).astype(dtype)
    k = np.arange(0, int(min(limit / (np.pi / 2), 2e6)), 97)
    x = np.concatenate([x, (k * (np.pi / 2)).astype(dtype), edge_cases(dtype, func)])
    x = x[~(np.abs(x) >= limit)]
    err = ulp_error(evaluate(f"{func}{bits}_v", x), x, func)
    assert err.max() <= MAX_ULP


def test_signs_and_specials_are_kept():
    for name, dtype in (("sin64", np.float64), ("tanh64", np.float64), ("sin32", np.float32), ("tanh32", np.float32)):
        x = np.array([-0.0, 0.0, -np.finfo(dtype).smallest_subnormal], dtype=dtype)
        y = evaluate(name, x)
        assert np.array_equal(np.signbit(y), np.signbit(x)) and np.array_equal(y, x)
    for name, dtype in (("exp64", np.float64), ("exp32", np.float32)):
        y = evaluate(name, np.array([np.inf, -np.inf, np.nan, 1000.0, -1000.0], dtype=dtype))
        assert y[0] == np.inf and y[1] == 0.0 and np.isnan(y[2]) and y[3] == np.inf and y[4] == 0.0


def test_float32_stays_float32():
    for name in ("sin32", "cos32", "exp32", "tanh32", "sin32_v", "cos32_v"):
        out = evaluate(name, np.linspace(-3, 3, 11, dtype=np.float32))
        (sig,) = _LOOPS[name].signatures
        assert out.dtype == np.float32
        fn = getattr(nm, name)
        assert all(s.return_type == numba.float32 for s in fn.nopython_signatures), fn.nopython_signatures


@pytest.mark.parametrize("name, width", [("sin64_v", "pd"), ("exp64", "pd"), ("tanh64", "pd"), ("sin32_v", "ps")])
def test_vectorised(name, width):
    """The loop over an array compiles to packed FMA instructions (ymm or zmm registers)."""
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        flags = []
    if "fma" not in flags or "avx2" not in flags:
        pytest.skip("no x86 CPU with AVX2 and FMA here")
    evaluate(name, np.linspace(-1, 1, 8, dtype=np.float64 if width == "pd" else np.float32))
    loop = _LOOPS[name]
    asm = loop.inspect_asm(loop.signatures[0])
    packed = [ln for ln in asm.splitlines()
              if "vfmadd" in ln and width in ln and ("%ymm" in ln or "%zmm" in ln)]
    assert packed, "no packed FMA in the loop: the maths did not vectorise"
