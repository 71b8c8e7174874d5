"""Scalar math for the compiled kernels that keeps float32 loops in float32 and lets them vectorize.

Two things stop numba's compiler from vectorizing a float32 loop. A Python ``int`` or ``float`` constant
promotes float32 arithmetic to float64 (``0 * x`` is float64 when ``x`` is float32), so every element is
converted and back; :func:`like` gives a constant the type of a value instead. And ``np.exp`` / ``np.log``
are calls into the C library, one element at a time; :func:`exp` and :func:`log` are, in float32, Cephes'
``expf`` and ``logf`` written out in arithmetic and bit operations, which the compiler turns into vector
instructions. In float64 they are the library's own, so float64 results keep the library's accuracy.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload
from numba.np import numpy_support

from inertia import jit  # noqa: F401 - the target and cache of inertia's compiled code, set before any compiles

# Reassociation and contraction let the compiler vectorize sums; NaN and infinity semantics are kept,
# since divergence must still show up as NaN or inf.
FAST = {"reassoc", "contract", "arcp", "nsz"}
# exp and log split ln 2 in two parts that reassociation would add back together, losing the low bits.
EXACT = {"contract", "nsz"}


def like(x, value):
    """``value`` in the type of the scalar ``x``."""
    return type(x)(value)


@overload(like, inline="always")
def _like(x, value):
    cast = numpy_support.as_dtype(x).type
    return lambda x, value: cast(value)


@njit(cache=True, fastmath=EXACT)
def exp32(x):
    """``exp`` of a float32 within 1 ulp (Cephes' ``expf``), subnormal results and 0 included; inf above
    the largest float32, NaN stays NaN."""
    x = np.float32(-104) if x < np.float32(-104) else x
    x = np.float32(89) if x > np.float32(89) else x
    n = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))
    n = n if n == n else np.float32(0)  # NaN: keep the integer conversion defined (y below stays NaN)
    r = x - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)  # x − n·ln 2, ln 2 in two parts
    y = np.float32(1.9875691500e-4)
    y = y * r + np.float32(1.3981999507e-3)
    y = y * r + np.float32(8.3334519073e-3)
    y = y * r + np.float32(4.1665795894e-2)
    y = y * r + np.float32(1.6666665459e-1)
    y = y * r + np.float32(5.0000001201e-1)
    y = y * r * r + r + np.float32(1)
    # 2ⁿ as two normal powers of two, built from their exponent bits, so n may run from −150 to 128
    half = np.int32(n) >> np.int32(1)
    low = np.int32((half + np.int32(127)) << np.int32(23)).view(np.float32)
    high = np.int32((np.int32(n) - half + np.int32(127)) << np.int32(23)).view(np.float32)
    return y * low * high


@njit(cache=True, fastmath=EXACT)
def log32(x):
    """``log`` of a positive normal float32 within 1 ulp (Cephes' ``logf``); NaN and +inf pass through."""
    bits = np.float32(x).view(np.int32)
    e = np.float32((bits >> np.int32(23)) - np.int32(126))
    m = np.int32((bits & np.int32(0x807FFFFF)) | np.int32(0x3F000000)).view(np.float32)  # x = m·2^e, m in [½, 1)
    low = m < np.float32(0.707106781186547524)
    e = e - np.float32(1) if low else e
    m = m + m - np.float32(1) if low else m - np.float32(1)
    z = m * m
    y = np.float32(7.0376836292e-2)
    y = y * m - np.float32(1.1514610310e-1)
    y = y * m + np.float32(1.1676998740e-1)
    y = y * m - np.float32(1.2420140846e-1)
    y = y * m + np.float32(1.4249322787e-1)
    y = y * m - np.float32(1.6668057665e-1)
    y = y * m + np.float32(2.0000714765e-1)
    y = y * m - np.float32(2.4999993993e-1)
    y = y * m + np.float32(3.3333331174e-1)
    y = y * m * z + e * np.float32(-2.12194440e-4) - np.float32(0.5) * z
    out = m + y + e * np.float32(0.693359375)
    return out if x < np.float32(np.inf) else x


def exp(x):
    """``exp``: :func:`exp32` for float32, the C library's otherwise."""
    return np.exp(x)


def log(x):
    """``log``: :func:`log32` for float32, the C library's otherwise."""
    return np.log(x)


def _is_float32(x) -> bool:
    return isinstance(x, types.Float) and x.bitwidth == 32


@overload(exp, fastmath=FAST)
def _exp(x):
    return (lambda x: exp32(x)) if _is_float32(x) else (lambda x: np.exp(x))


@overload(log, fastmath=FAST)
def _log(x):
    return (lambda x: log32(x)) if _is_float32(x) else (lambda x: np.log(x))
