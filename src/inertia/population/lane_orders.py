"""A group's data orders for the lanes kernel (:mod:`~inertia.population.lane_kernels`), held lane-interleaved,
and its samples read through them with the CPU's vector gathers.

Position ``i`` of lane ``l``'s order is at ``i·L + l`` (``L`` members to a vector), so a block's samples are
read for every member at once: one gather of ``L`` indices per label and per input value, each gather's result
one vector store, where element by element they were ``L`` loads and ``L`` stores a cache line apart. The
orders are :mod:`inertia.shuffle`'s, position for position (tested against it): the shuffle's swaps at a
position ``i`` are independent across the lanes (each lane keeps to its own column), so they run as one gather,
one store and one scatter, and the hash that chooses each lane's partner runs on a vector of lanes. Its modulo
takes the quotient from a product by the reciprocal (the hash is below 2³², so the product is within 2⁻²⁰ of
the true quotient and its integer part at most 1 off) and corrects the remainder in integers: exact whatever
floating-point liberties the kernel that inlines it is compiled with (a division written as such becomes that
same product under fastmath, and an exact multiple's quotient can then round down).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from inertia.population.lanes import Vec, store, width

LANES_AT_MOST = 16  # members to a vector (float32); float64 has 8


def fits(samples: int, features: int) -> bool:
    """Whether a data set's indices fit the 32-bit offsets of the gathers: every value's (``samples × features``)
    and every position of the lane-interleaved orders (``samples ×`` :data:`LANES_AT_MOST`)."""
    return samples * max(features, LANES_AT_MOST) < 2**31


def _masked(builder, name, result, args):
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(result, [arg.type for arg in args]), name)
    return builder.call(function, args)


def _addresses(context, builder, array_type, array, indices, count, stride=None, offset=None):
    """A vector of pointers into ``array``'s data at element ``indices`` × ``stride`` + ``offset`` (int32
    vectors and values, the products below 2³¹: :func:`fits`), one base and 32-bit offsets, as the CPU's
    gathers take them."""
    if stride is not None:
        indices = builder.add(builder.mul(indices, _broadcast(builder, stride, count), flags=["nsw"]),
                              _broadcast(builder, offset, count), flags=["nsw"])
    data = context.make_array(array_type)(context, builder, array).data
    element = context.get_data_type(array_type.dtype)
    pointers = ir.instructions.GEPInstr(builder.block, data, [indices], inbounds=True, name="",
                                        source_etype=element)
    pointers.type = ir.VectorType(data.type, count)
    builder._insert(pointers)
    return pointers


def _broadcast(builder, value, count):
    vector = ir.VectorType(value.type, count)
    one = builder.insert_element(ir.Constant(vector, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(ir.IntType(32), count), [0] * count))


def _index_vector(context, builder, array_type, array, at, count):
    """The ``count`` int32 values of ``array`` from element ``at``."""
    ary = context.make_array(array_type)(context, builder, array)
    item = cgutils.get_item_pointer(context, builder, array_type, ary, [at], wraparound=False)
    pointer = builder.bitcast(item, ir.VectorType(ir.IntType(32), count).as_pointer())
    return builder.load(pointer, align=4)


def _gather_call(builder, pointers, element, count, align):
    vector = ir.VectorType(element, count)
    mask = ir.Constant(ir.VectorType(ir.IntType(1), count), [1] * count)
    return _masked(builder, f"llvm.masked.gather.v{count}{_suffix(element)}.v{count}p0", vector,
                   [pointers, ir.Constant(ir.IntType(32), align), mask, ir.Constant(vector, ir.Undefined)])


def _suffix(element):
    return {"float": "f32", "double": "f64", "i32": "i32"}[str(element)]


@intrinsic
def gather(typingctx, source, order, at, stride, offset):
    """A vector of ``source``'s dtype whose lane ``l`` is ``source[order[at + l]·stride + offset]`` (``order``
    int32)."""
    if not (isinstance(source, types.Array) and isinstance(order, types.Array) and order.dtype == types.int32):
        return None
    vec = Vec(source.dtype)

    def codegen(context, builder, signature, args):
        src, idx, start, step, shift = args
        step = context.cast(builder, step, signature.args[3], types.int32)
        shift = context.cast(builder, shift, signature.args[4], types.int32)
        indices = _index_vector(context, builder, signature.args[1], idx, start, vec.count)
        pointers = _addresses(context, builder, signature.args[0], src, indices, vec.count, step, shift)
        element = context.get_value_type(source.dtype)
        return _gather_call(builder, pointers, element, vec.count, source.dtype.bitwidth // 8)

    return vec(source, order, at, stride, offset), codegen


@intrinsic
def swap(typingctx, order, at, targets, like):
    """For each of ``like``'s lanes ``l``, ``order[at + l]`` and ``order[targets[l]]`` exchanged (``order`` and
    ``targets`` int32; no two lanes' targets the same element, ``targets[l]`` may be ``at + l``)."""
    if not (isinstance(order, types.Array) and order.dtype == types.int32 and targets.dtype == types.int32):
        return None
    count = Vec(like.dtype).count

    def codegen(context, builder, signature, args):
        array, start, chosen, _ = args
        int32 = ir.IntType(32)
        here = _index_vector(context, builder, signature.args[0], array, start, count)
        indices = _index_vector(context, builder, signature.args[2], chosen, context.get_constant(types.intp, 0),
                                count)
        pointers = _addresses(context, builder, signature.args[0], array, indices, count)
        there = _gather_call(builder, pointers, int32, count, 4)
        ary = context.make_array(signature.args[0])(context, builder, array)
        item = cgutils.get_item_pointer(context, builder, signature.args[0], ary, [start], wraparound=False)
        builder.store(there, builder.bitcast(item, ir.VectorType(int32, count).as_pointer()), align=4)
        mask = ir.Constant(ir.VectorType(ir.IntType(1), count), [1] * count)
        _masked(builder, f"llvm.masked.scatter.v{count}i32.v{count}p0", ir.VoidType(),
                [here, pointers, ir.Constant(int32, 4), mask])
        return context.get_dummy_value()

    return types.void(order, at, targets, like), codegen


@njit(cache=True)
def _hash(x):
    """:func:`inertia.shuffle._hash` on 32-bit words."""
    x = np.uint32((x ^ (x >> np.uint32(16))) * np.uint32(0x7FEB352D))
    x = np.uint32((x ^ (x >> np.uint32(15))) * np.uint32(0x846CA68B))
    return np.uint32(x ^ (x >> np.uint32(16)))


@njit(cache=True)
def fill(orders, keys, mixed, targets, n, like):
    """``orders`` (int32, ``n·L``) filled with each lane's order: lane ``l`` shuffled by the key ``keys[l]``
    (:func:`key`) where ``mixed[l]``, else ``0, 1, …, n − 1``. ``targets`` (int32, ``L``) is scratch."""
    L = width(like)
    for i in range(n):
        for lane in range(L):
            orders[i * L + lane] = i
    for i in range(n - 1, 0, -1):
        d = i + 1
        inverse = 1 / np.float64(d)
        for lane in range(L):  # every lane's partner, on a vector of lanes
            x = np.int64(_hash(np.uint32(keys[lane] + np.uint32(i))))
            j = x - np.int64(np.float64(x) * inverse) * d  # x mod d, or d away from it
            j = j + d if j < 0 else (j - d if j >= d else j)
            targets[lane] = np.int32((j if mixed[lane] else i) * L + lane)
        swap(orders, i * L, targets, like)


@njit(cache=True)
def key(seed, epoch):
    """The word that drives a member's shuffle in an epoch (:func:`inertia.shuffle._fill`'s ``state``)."""
    return _hash(np.uint32(_hash(np.uint32(seed)) + np.uint32(epoch)))


@njit(cache=True, inline="always")
def read(x, labels_as_values, orders, pos, s, inputs, labels, d):
    """Sample position ``pos`` of every lane's order into row ``s`` of a block: its class (a number in the
    members' dtype) into ``labels``, its ``d`` inputs into ``inputs`` ((samples, d, L))."""
    L = width(inputs)
    at = pos * L
    store(labels, s * L, gather(labels_as_values, orders, at, 1, 0))
    for k in range(d):
        store(inputs, (s * d + k) * L, gather(x, orders, at, d, k))
