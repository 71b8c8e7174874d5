"""Work shared out as it is claimed: a counter that the threads of a compiled parallel loop each take the next
item from (an atomic add), for the kernels whose items cost the same but whose cores may not run at the same
pace.

A core that another process or the hypervisor slows then takes fewer items, and the others more, instead of
the whole loop waiting on the slow core's fixed share. Which thread trains an item never changes what the item
computes.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def claim(typingctx, counter):
    """The value of ``counter[0]`` (an int64 array), incremented by one in the same atomic step: every call,
    on any thread, gets a different value."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.atomic_rmw("add", array.data, ir.Constant(ir.IntType(64), 1), "monotonic")

    return types.int64(counter), codegen
