"""Vectors of members for the compiled kernels: one value of each of a group of members in one SIMD register.

numba's compiler vectorizes loops, but it keeps a loop's running sums in memory whenever the loop is not the
innermost one, so a kernel that vectorizes over a hidden width of 50 loads and stores a row for every
multiply-add. Here a value is a :class:`Vec`, one 512-bit register (16 float32 or 8 float64, one lane per
member), and the kernels name their vectors as variables, which the compiler keeps in registers: a block of
multiply-adds then reads each operand once. Written as LLVM vector operations (numba intrinsics):

- :func:`width` — lanes per vector for an array's dtype (a compile-time constant);
- :func:`load` / :func:`store` — the vector at an element index of a 1-D array (unaligned, 4- or 8-byte);
- :func:`fma`, :func:`splat`, the selects :func:`where_positive`, :func:`where_greater` and :func:`where_equal`,
  and ``+ − × ÷``, ``np.sqrt`` and ``np.floor`` on vectors (``exp`` and ``log``: :mod:`~inertia.population.lane_math`);
- :func:`lanes` — an array seen as a sequence of vectors (``a[i]`` is the vector at ``i·width``, ``a.shape``
  counts vectors; a 2-D array gives rows of them), so that code written for scalars one member at a time
  (:func:`inertia.population.kernels.apply_update`) runs unchanged on a group of members at once.
"""

from __future__ import annotations

import operator

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import (
    intrinsic,
    make_attribute_wrapper,
    models,
    overload,
    overload_attribute,
    register_model,
)

from inertia import jit  # noqa: F401 - the target and cache of inertia's compiled code, set before any compiles
from inertia.population.layout import VECTOR_BYTES as BYTES  # one 512-bit register

CONTRACT = ("contract",)  # a product and a sum may fuse into one multiply-add, as in the kernels' fastmath


class Vec(types.Type):
    """A vector of :data:`BYTES` bytes of one float dtype."""

    def __init__(self, dtype: types.Float):
        self.dtype, self.count = dtype, BYTES * 8 // dtype.bitwidth
        super().__init__(name=f"Vec({dtype} x {self.count})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), fe_type.count))


class LaneArray(types.Type):
    """An array read and written a :class:`Vec` at a time (see :func:`lanes`)."""

    def __init__(self, array: types.Array):
        self.array = array
        super().__init__(name=f"LaneArray({array})")


@register_model(LaneArray)
class _LaneArrayModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("data", fe_type.array)])


make_attribute_wrapper(LaneArray, "data", "data")


def _pointer(context, builder, array_type, array, index, vec: Vec):
    ary = context.make_array(array_type)(context, builder, array)
    item = cgutils.get_item_pointer(context, builder, array_type, ary, [index], wraparound=False)
    return builder.bitcast(item, context.get_value_type(vec).as_pointer())


@intrinsic
def width(typingctx, array):
    """Lanes per vector of ``array``'s dtype."""
    count = Vec(array.dtype).count

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, count)

    return types.intp(array), codegen


@intrinsic
def load(typingctx, array, index):
    """The vector at element ``index`` of the 1-D ``array``."""
    vec = Vec(array.dtype)

    def codegen(context, builder, signature, args):
        return builder.load(_pointer(context, builder, array, args[0], args[1], vec), align=array.dtype.bitwidth // 8)

    return vec(array, index), codegen


@intrinsic
def store(typingctx, array, index, value):
    """``value`` written at element ``index`` of the 1-D ``array``."""

    def codegen(context, builder, signature, args):
        pointer = _pointer(context, builder, array, args[0], args[1], value)
        builder.store(args[2], pointer, align=array.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.void(array, index, value), codegen


@intrinsic
def splat(typingctx, like, value):
    """A vector of ``like``'s dtype with ``value`` in every lane (``like`` an array or a vector)."""
    vec = like if isinstance(like, Vec) else Vec(like.dtype)

    def codegen(context, builder, signature, args):
        element = context.cast(builder, args[1], signature.args[1], vec.dtype)
        vector_type = context.get_value_type(vec)
        one = builder.insert_element(ir.Constant(vector_type, ir.Undefined), element, ir.Constant(ir.IntType(32), 0))
        mask = ir.Constant(ir.VectorType(ir.IntType(32), vec.count), [0] * vec.count)
        return builder.shuffle_vector(one, one, mask)

    return vec(like, value), codegen


def llvm_call(builder, context, name, vec: Vec, args):
    vector_type = context.get_value_type(vec)
    suffix = f"v{vec.count}f{vec.dtype.bitwidth}"
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector_type, [vector_type] * len(args)), f"llvm.{name}.{suffix}")
    return builder.call(function, args)


@intrinsic
def fma(typingctx, a, b, c):
    """``a·b + c`` lane by lane, one rounding."""
    if not (isinstance(a, Vec) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        return llvm_call(builder, context, "fma", a, args)

    return a(a, b, c), codegen


@intrinsic
def where_positive(typingctx, a, x, y):
    """Lane by lane, ``x`` where ``a > 0`` and ``y`` elsewhere (NaN included)."""
    if not (isinstance(a, Vec) and a == x == y):
        return None

    def codegen(context, builder, signature, args):
        positive = builder.fcmp_ordered(">", args[0], ir.Constant(context.get_value_type(a), None))
        return builder.select(positive, args[1], args[2])

    return a(a, x, y), codegen


def _where(relation):
    @intrinsic
    def select(typingctx, a, b, x, y):
        if not (isinstance(a, Vec) and a == b == x == y):
            return None

        def codegen(context, builder, signature, args):
            return builder.select(builder.fcmp_ordered(relation, args[0], args[1]), args[2], args[3])

        return a(a, b, x, y), codegen

    return select


where_greater = _where(">")
where_greater.__doc__ = "Lane by lane, ``x`` where ``a > b`` and ``y`` elsewhere (where either is NaN too)."
where_equal = _where("==")
where_equal.__doc__ = "Lane by lane, ``x`` where ``a == b`` and ``y`` elsewhere (where either is NaN too)."


def _binary(name):
    @intrinsic
    def operation(typingctx, a, b):
        if not (isinstance(a, Vec) and a == b):
            return None

        def codegen(context, builder, signature, args):
            return getattr(builder, name)(args[0], args[1], flags=CONTRACT)

        return a(a, b), codegen

    return operation


_add, _sub, _mul, _div = (_binary(name) for name in ("fadd", "fsub", "fmul", "fdiv"))


def _unary(name):
    @intrinsic
    def operation(typingctx, a):
        def codegen(context, builder, signature, args):
            return llvm_call(builder, context, name, a, args)

        return a(a), codegen

    return operation


_sqrt, _floor = _unary("sqrt"), _unary("floor")


def _vector_operator(python_operator, implementation):
    @overload(python_operator, inline="always")
    def _overload(a, b):
        if isinstance(a, Vec) and a == b:
            return lambda a, b: implementation(a, b)


for _operator, _implementation in ((operator.add, _add), (operator.sub, _sub), (operator.mul, _mul),
                                   (operator.truediv, _div)):
    _vector_operator(_operator, _implementation)


@overload(np.sqrt, inline="always")
def _np_sqrt(a):
    if isinstance(a, Vec):
        return lambda a: _sqrt(a)


@overload(np.floor, inline="always")
def _np_floor(a):
    if isinstance(a, Vec):
        return lambda a: _floor(a)


@intrinsic
def lanes(typingctx, array):
    """``array`` (1-D or 2-D, C-contiguous) seen a vector at a time: :class:`LaneArray`."""
    if not (isinstance(array, types.Array) and array.ndim in (1, 2) and array.layout == "C"):
        return None
    lane_type = LaneArray(array)

    def codegen(context, builder, signature, args):
        out = cgutils.create_struct_proxy(lane_type)(context, builder)
        out.data = args[0]
        context.nrt.incref(builder, array, args[0])
        return out._getvalue()

    return lane_type(array), codegen


@overload(operator.getitem)
def _getitem(a, i):
    if not (isinstance(a, LaneArray) and isinstance(i, types.Integer)):
        return None
    if a.array.ndim == 1:
        return lambda a, i: load(a.data, i * width(a.data))
    return lambda a, i: lanes(a.data[i])


@overload(operator.setitem)
def _setitem(a, i, value):
    if isinstance(a, LaneArray) and a.array.ndim == 1 and isinstance(value, Vec):
        return lambda a, i, value: store(a.data, i * width(a.data), value)


@overload_attribute(LaneArray, "shape")
def _shape(a):
    if a.array.ndim == 1:
        return lambda a: (a.data.shape[0] // width(a.data),)
