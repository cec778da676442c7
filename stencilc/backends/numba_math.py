"""Vectorisable maths for the Numba backend: sin, cos, exp, tanh in float64 and float32.

Takes nothing from the pipeline; gives `@numba.njit` functions that the Numba printer calls instead of
`math.sin` & co. (backends/numba.py's `VECTOR_MATH` names them per dtype; only the generated modules
import this one, as it needs Numba). PyPI's llvmlite has no SVML, so a `math.sin` inside a Numba loop
stays a scalar libm call; these are written only with arithmetic, `numpy.rint`, fused multiply-adds
and integer bit tricks, with every branch a select, so that LLVM inlines and vectorises them
(AVX-512 on zmm here).

* sin, cos: x = j*pi/2 + r with j even (sin) or odd (cos), the Cody–Waite reduction in three FMA
  steps (pi/2 split into three doubles, or three floats), then one odd Taylor polynomial of sin on
  [-pi/2, pi/2] (degree 21, or 15) and a sign: a single polynomial and no quadrant selects, which
  costs fewer vector instructions than a sin/cos pair on [-pi/4, pi/4]. The reduction is accurate for |x| < TRIG_LIMIT; `sin64_v`/`cos64_v` (the
  branch-free versions used in vectorised loops) are only valid there, and `sin64`/`cos64` fall back
  to libm beyond it (a branch, so not for vector loops: the generated interior checks the arguments
  and recomputes a row with `sin64` in the rare case one is out of range).
* exp: k = rint(x/ln2), r = x - k*ln2 in two FMA steps, Taylor polynomial (degree 13, or 7), scaled
  by 2^k built from its bits in two halves so that overflow, gradual underflow and 0 come out right.
* tanh: expm1(2|x|)/(expm1(2|x|) + 2) with the same reduction, sign restored, identity for tiny x.

NaN propagates, ±inf gives what libm gives, -0 and subnormals are kept by sin and tanh. Accuracy
(tests/test_numba_math.py, ~1e6 random and edge inputs per function and range): within 4 ulp of the
correctly rounded result over the full range, in practice about 1-2 ulp.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_OPTIONS = dict(error_model="numpy", fastmath=False, boundscheck=False, nogil=True)


@intrinsic
def fma(typingctx, a, b, c):
    """a*b + c with one rounding (llvm.fma: one vfmadd instruction where the CPU has FMA)."""
    if isinstance(a, types.Float) and a == b == c:
        def codegen(context, builder, signature, args):
            return builder.fma(*args)
        return a(a, b, c), codegen
    return None


@intrinsic
def _bits_to_float(typingctx, bits):
    """The float whose IEEE bit pattern is `bits` (int64 -> float64, int32 -> float32)."""
    out = {types.int64: types.float64, types.int32: types.float32}.get(bits)
    if out is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType() if out == types.float64 else ir.FloatType())
    return out(bits), codegen


def _njit(fn):
    return numba.njit(**_OPTIONS)(fn)


# --------------------------------------------------------------------------- float64 constants

TRIG_LIMIT64 = 1.0e9          # |x| below this: the three-step reduction is accurate
_INV_PI = 0.3183098861837907
_PIO2_1 = 1.5707963267948966          # pi/2 = _PIO2_1 + _PIO2_2 + _PIO2_3 to ~160 bits
_PIO2_2 = 6.123233995736766e-17
_PIO2_3 = -1.4973849048591698e-33
_TINY_SIN64 = 2.0 ** -26              # sin(x) and tanh(x) round to x below this
_TINY_TANH64 = 2.0 ** -28

# sin(r) = r + r^3 * P(r^2) on [-pi/2, pi/2]: Taylor to degree 21, truncation < 2^-60 relative
_T1, _T2, _T3, _T4, _T5 = -0.16666666666666666, 0.008333333333333333, -0.0001984126984126984, 2.7557319223985893e-06, -2.505210838544172e-08
_T6, _T7, _T8, _T9, _T10 = 1.6059043836821613e-10, -7.647163731819816e-13, 2.8114572543455206e-15, -8.22063524662433e-18, 1.9572941063391263e-20

_INV_LN2 = 1.4426950408889634
_LN2_1 = 0.6931471805599453                 # ln 2 = _LN2_1 + _LN2_2 to ~106 bits
_LN2_2 = 2.3190468138462996e-17
_EXP_HI64, _EXP_LO64 = 710.0, -746.0        # beyond these exp overflows / underflows anyway
_TANH_CLAMP64 = 40.0                        # tanh(20) == 1.0 in double
# 1/n! for n = 13 .. 2
_F13, _F12, _F11, _F10 = 1.0 / 6227020800, 1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800
_F9, _F8, _F7, _F6 = 1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720
_F5, _F4, _F3, _F2 = 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5
_F14 = 1.0 / 87178291200


@_njit
def _trig64(x, half):
    """sin(x - half*pi/2) for |x| < TRIG_LIMIT64 (half 0 or 1), branch-free.

    x = j*pi/2 + r with j = 2k + half, |r| <= pi/2: one sine polynomial (no sin/cos pair to pick
    from), its sign (-1)^k."""
    k = np.rint(fma(x, _INV_PI, -0.5 * half))
    k = k if abs(k) < 2.0e15 else 0.0         # keep the integer conversion defined for NaN/inf
    j = fma(2.0, k, 1.0 * half)                # exact
    r = fma(-j, _PIO2_1, x)                    # exact
    r = fma(-j, _PIO2_2, r)
    r = fma(-j, _PIO2_3, r)
    z = r * r
    p = fma(z, fma(z, fma(z, fma(z, fma(z, fma(z, fma(z, fma(z, fma(z, _T10, _T9), _T8), _T7), _T6), _T5),
                                   _T4), _T3), _T2), _T1)
    y = fma(r * z, p, r)
    return -y if (np.int64(k) & 1) != 0 else y


@_njit
def sin64_v(x):
    """sin(x) for |x| < TRIG_LIMIT64 (and NaN/inf), vectorisable."""
    y = _trig64(x, 0)
    return x if abs(x) < _TINY_SIN64 else y


@_njit
def cos64_v(x):
    """cos(x) for |x| < TRIG_LIMIT64 (and NaN/inf), vectorisable."""
    return -_trig64(x, 1)


@_njit
def sin64(x):
    if abs(x) < TRIG_LIMIT64:
        return sin64_v(x)
    return math.sin(x)


@_njit
def cos64(x):
    if abs(x) < TRIG_LIMIT64:
        return cos64_v(x)
    return math.cos(x)


@_njit
def exp64(x):
    """exp(x) over the full range, vectorisable."""
    x1 = _EXP_HI64 if x > _EXP_HI64 else x
    x1 = _EXP_LO64 if x1 < _EXP_LO64 else x1
    k = np.rint(x1 * _INV_LN2)
    k = k if abs(k) < 2000.0 else 0.0          # NaN
    r = fma(-k, _LN2_1, x1)
    r = fma(-k, _LN2_2, r)
    p = fma(fma(fma(fma(fma(fma(fma(_F13, r, _F12), r, _F11), r, _F10), r, _F9), r, _F8), r, _F7), r, _F6)
    p = fma(fma(fma(fma(fma(fma(p, r, _F5), r, _F4), r, _F3), r, _F2), r, 1.0), r, 1.0)
    ki = np.int64(k)
    k1 = ki >> 1
    k2 = ki - k1
    y = p * _bits_to_float((k1 + 1023) << 52) * _bits_to_float((k2 + 1023) << 52)
    return x if x != x else y


@_njit
def tanh64(x):
    """tanh(x) over the full range, vectorisable."""
    y = 2.0 * abs(x)
    y = _TANH_CLAMP64 if y > _TANH_CLAMP64 else y
    k = np.rint(y * _INV_LN2)
    k = k if k < 100.0 else 0.0                # NaN
    r = fma(-k, _LN2_1, y)
    r = fma(-k, _LN2_2, r)
    q = fma(fma(fma(fma(fma(fma(fma(_F14, r, _F13), r, _F12), r, _F11), r, _F10), r, _F9), r, _F8), r, _F7)
    q = fma(fma(fma(fma(fma(q, r, _F6), r, _F5), r, _F4), r, _F3), r, _F2)
    em1 = fma(r * r, q, r)                     # expm1(r)
    scale = _bits_to_float((np.int64(k) + 1023) << 52)
    em = fma(scale, em1, scale - 1.0)          # expm1(y) = 2^k expm1(r) + (2^k - 1)
    t = em / (em + 2.0)
    t = t if x > 0.0 else -t
    return x if abs(x) < _TINY_TANH64 else t   # also keeps NaN and -0


# --------------------------------------------------------------------------- float32

_f = np.float32
TRIG_LIMIT32 = _f(32768.0)
_INV_PI_F = _f(0.3183098861837907)
_PIO2_1F, _PIO2_2F, _PIO2_3F = _f(1.5707963705062866), _f(-4.371138828673793e-08), _f(-1.7151245100058819e-15)
_TINY_SIN32, _TINY_TANH32 = _f(2.0 ** -12), _f(2.0 ** -12)
# sin(r) = r + r^3 * P(r^2) on [-pi/2, pi/2]: Taylor to degree 15, truncation < 2^-30 relative
_T1F, _T2F, _T3F, _T4F = _f(-0.16666666666666666), _f(0.008333333333333333), _f(-0.0001984126984126984), _f(2.7557319223985893e-06)
_T5F, _T6F, _T7F = _f(-2.505210838544172e-08), _f(1.6059043836821613e-10), _f(-7.647163731819816e-13)
_INV_LN2_F = _f(1.4426950408889634)
_LN2_1F, _LN2_2F = _f(0.6931471824645996), _f(-1.9046542121259336e-09)
_EXP_HI32, _EXP_LO32, _TANH_CLAMP32 = _f(89.0), _f(-104.0), _f(20.0)
_G9, _G8, _G7, _G6, _G5 = _f(1 / 362880), _f(1 / 40320), _f(1 / 5040), _f(1 / 720), _f(1 / 120)
_G4, _G3, _G2 = _f(1 / 24), _f(1 / 6), _f(0.5)
_ZERO_F, _ONE_F, _HALF_F, _TWO_F = _f(0.0), _f(1.0), _f(0.5), _f(2.0)
_KMAX_F = _f(1.0e6)


@_njit
def _trig32(x, half):
    """sin(x - half*pi/2) for |x| < TRIG_LIMIT32, as _trig64."""
    k = np.rint(fma(x, _INV_PI_F, -_HALF_F * _f(half)))
    k = k if abs(k) < _KMAX_F else _ZERO_F
    j = fma(_TWO_F, k, _f(half))
    r = fma(-j, _PIO2_1F, x)
    r = fma(-j, _PIO2_2F, r)
    r = fma(-j, _PIO2_3F, r)
    z = r * r
    p = fma(z, fma(z, fma(z, fma(z, fma(z, fma(z, _T7F, _T6F), _T5F), _T4F), _T3F), _T2F), _T1F)
    y = fma(r * z, p, r)
    return -y if (np.int32(k) & 1) != 0 else y


@_njit
def sin32_v(x):
    y = _trig32(x, 0)
    return x if abs(x) < _TINY_SIN32 else y


@_njit
def cos32_v(x):
    return -_trig32(x, 1)


@_njit
def sin32(x):
    if abs(x) < TRIG_LIMIT32:
        return sin32_v(x)
    return math.sin(x)


@_njit
def cos32(x):
    if abs(x) < TRIG_LIMIT32:
        return cos32_v(x)
    return math.cos(x)


@_njit
def exp32(x):
    x1 = _EXP_HI32 if x > _EXP_HI32 else x
    x1 = _EXP_LO32 if x1 < _EXP_LO32 else x1
    k = np.rint(x1 * _INV_LN2_F)
    k = k if abs(k) < _f(1000.0) else _ZERO_F
    r = fma(-k, _LN2_1F, x1)
    r = fma(-k, _LN2_2F, r)
    p = fma(fma(fma(fma(fma(fma(fma(_G7, r, _G6), r, _G5), r, _G4), r, _G3), r, _G2), r, _ONE_F), r, _ONE_F)
    ki = np.int32(k)
    k1 = ki >> 1
    k2 = ki - k1
    # numba widens int32 arithmetic to int64: narrow the bit patterns explicitly
    y = p * _bits_to_float(np.int32((k1 + 127) << 23)) * _bits_to_float(np.int32((k2 + 127) << 23))
    return x if x != x else y


@_njit
def tanh32(x):
    y = _TWO_F * abs(x)
    y = _TANH_CLAMP32 if y > _TANH_CLAMP32 else y
    k = np.rint(y * _INV_LN2_F)
    k = k if k < _f(100.0) else _ZERO_F
    r = fma(-k, _LN2_1F, y)
    r = fma(-k, _LN2_2F, r)
    q = fma(fma(fma(fma(fma(fma(fma(_G9, r, _G8), r, _G7), r, _G6), r, _G5), r, _G4), r, _G3), r, _G2)
    em1 = fma(r * r, q, r)
    scale = _bits_to_float(np.int32((np.int32(k) + 127) << 23))
    em = fma(scale, em1, scale - _ONE_F)
    t = em / (em + _TWO_F)
    t = t if x > _ZERO_F else -t
    return x if abs(x) < _TINY_TANH32 else t

