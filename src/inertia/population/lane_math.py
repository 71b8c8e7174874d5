"""``exp`` and ``log`` of vectors of members (:mod:`inertia.population.lanes`), for the lanes kernel's softmax
and sigmoid.

float32: :func:`inertia.population.vecmath.exp32` and :func:`~inertia.population.vecmath.log32` (Cephes'
``expf`` and ``logf``) written on vectors, step for step, with two bit-level steps as intrinsics (a power of two
made from its exponent bits, and a float split into mantissa and exponent): 16 members' values in a few dozen
vector instructions, none of them a call. float64: the C library's ``exp`` and ``log`` lane by lane (LLVM's
vector intrinsics), so that float64 results keep the library's accuracy as in every other kernel.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from inertia.population.lanes import Vec, llvm_call, splat, where_equal, where_greater


def _is_float32(x) -> bool:
    return isinstance(x, Vec) and x.dtype.bitwidth == 32


def _ints(builder, vec: Vec, value):
    return ir.Constant(ir.VectorType(ir.IntType(32), vec.count), [value] * vec.count)


@intrinsic
def _scaled(typingctx, y, n):
    """``y·2^h·2^(n−h)`` with ``h = n >> 1``, the two powers built from their exponent bits (float32, whole
    ``n`` from −150 to 128), as ``exp32`` ends."""
    if not (_is_float32(y) and y == n):
        return None

    def codegen(context, builder, signature, args):
        vector_type = context.get_value_type(y)
        whole = builder.fptosi(args[1], ir.VectorType(ir.IntType(32), y.count))
        half = builder.ashr(whole, _ints(builder, y, 1))
        bias = _ints(builder, y, 127)
        low = builder.shl(builder.add(half, bias), _ints(builder, y, 23))
        high = builder.shl(builder.add(builder.sub(whole, half), bias), _ints(builder, y, 23))
        scaled = builder.fmul(args[0], builder.bitcast(low, vector_type))
        return builder.fmul(scaled, builder.bitcast(high, vector_type))

    return y(y, n), codegen


@intrinsic
def _split(typingctx, x):
    """``(m, e)`` with ``x = m·2^e``, ``m`` in [½, 1), for positive normal float32 ``x``, as ``log32`` begins."""
    if not _is_float32(x):
        return None

    def codegen(context, builder, signature, args):
        vector_type = context.get_value_type(x)
        bits = builder.bitcast(args[0], ir.VectorType(ir.IntType(32), x.count))
        exponent = builder.sub(builder.ashr(bits, _ints(builder, x, 23)), _ints(builder, x, 126))
        e = builder.sitofp(exponent, vector_type)
        mantissa = builder.or_(builder.and_(bits, _ints(builder, x, 0x807FFFFF - (1 << 32))),
                               _ints(builder, x, 0x3F000000))
        m = builder.bitcast(mantissa, vector_type)
        return context.make_tuple(builder, signature.return_type, (m, e))

    return types.UniTuple(x, 2)(x), codegen


def _library(name):
    @intrinsic
    def operation(typingctx, a):
        if not (isinstance(a, Vec) and a.dtype.bitwidth == 64):
            return None

        def codegen(context, builder, signature, args):
            return llvm_call(builder, context, name, a, args)

        return a(a), codegen

    return operation


_exp64, _log64 = _library("exp"), _library("log")


def _exp32(x):
    c = splat(x, 0.0)
    x = where_greater(splat(x, -104.0), x, splat(x, -104.0), x)
    x = where_greater(x, splat(x, 89.0), splat(x, 89.0), x)
    n = np.floor(x * splat(x, 1.44269504088896341) + splat(x, 0.5))
    n = where_equal(n, n, n, c)  # NaN: keep the integer conversion defined (y below stays NaN)
    r = x - n * splat(x, 0.693359375) - n * splat(x, -2.12194440e-4)
    y = splat(x, 1.9875691500e-4)
    y = y * r + splat(x, 1.3981999507e-3)
    y = y * r + splat(x, 8.3334519073e-3)
    y = y * r + splat(x, 4.1665795894e-2)
    y = y * r + splat(x, 1.6666665459e-1)
    y = y * r + splat(x, 5.0000001201e-1)
    y = y * r * r + r + splat(x, 1.0)
    return _scaled(y, n)


def _log32(x):
    m, e = _split(x)
    one = splat(x, 1.0)
    low = splat(x, 0.707106781186547524)
    e = where_greater(low, m, e - one, e)
    m = where_greater(low, m, m + m - one, m - one)
    z = m * m
    y = splat(x, 7.0376836292e-2)
    y = y * m - splat(x, 1.1514610310e-1)
    y = y * m + splat(x, 1.1676998740e-1)
    y = y * m - splat(x, 1.2420140846e-1)
    y = y * m + splat(x, 1.4249322787e-1)
    y = y * m - splat(x, 1.6668057665e-1)
    y = y * m + splat(x, 2.0000714765e-1)
    y = y * m - splat(x, 2.4999993993e-1)
    y = y * m + splat(x, 3.3333331174e-1)
    y = y * m * z + e * splat(x, -2.12194440e-4) - splat(x, 0.5) * z
    out = m + y + e * splat(x, 0.693359375)
    return where_greater(splat(x, np.inf), x, out, x)


def exp(x):
    """``exp`` of a vector: within 1 ulp in float32 (subnormal results and 0 included, inf above the largest
    float32, NaN stays NaN), the library's in float64."""


def log(x):
    """``log`` of a vector of positive normal numbers (NaN and +inf pass through): within 1 ulp in float32,
    the library's in float64."""


@overload(exp, inline="always")
def _exp(x):
    if _is_float32(x):
        return _exp32
    if isinstance(x, Vec):
        return lambda x: _exp64(x)


@overload(log, inline="always")
def _log(x):
    if _is_float32(x):
        return _log32
    if isinstance(x, Vec):
        return lambda x: _log64(x)
