"""Low-level numba intrinsics the CPU Prim kernel needs and numba does not offer.

- Acquire/release atomics on int64 arrays and a CPU yield, for the spin barrier that lets
  several threads share the Prim steps of one point cloud (a parallel region per step costs
  more than a step of a 1000-point cloud).
- Bit casts between non-negative floats and integers: for non-negative IEEE floats the integer
  order of the bit patterns is the float order (+inf included), so keys stored as bits can be
  relaxed and reduced with integer SIMD min, which compilers vectorise without fast-math.
"""

import sys

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_YIELD_SYMBOL = "SwitchToThread" if sys.platform == "win32" else "sched_yield"


def _element_pointer(context, builder, array_type, array, index):
    array = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, array, [index], wraparound=False)


@intrinsic
def atomic_load_acquire(typingctx, array, index):
    """``array[index]`` read with acquire ordering (int64 arrays)."""
    if not (isinstance(array, types.Array) and array.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(pointer, "acquire", 8)

    return types.int64(array, types.intp), codegen


@intrinsic
def atomic_store_release(typingctx, array, index, value):
    """``array[index] = value`` with release ordering (int64 arrays)."""
    if not (isinstance(array, types.Array) and array.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        stored = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(stored, pointer, "release", 8)
        return context.get_dummy_value()

    return types.void(array, types.intp, types.int64), codegen


@intrinsic
def yield_cpu(typingctx):
    """Give the core to another runnable thread (sched_yield / SwitchToThread)."""

    def codegen(context, builder, signature, args):
        function_type = ir.FunctionType(ir.IntType(32), [])
        function = cgutils.get_or_insert_function(builder.module, function_type, _YIELD_SYMBOL)
        builder.call(function, [])
        return context.get_dummy_value()

    return types.void(), codegen


_BITS_OF = {types.float32: types.int32, types.float64: types.int64}
_FLOAT_OF = {types.int32: types.float32, types.int64: types.float64}


@intrinsic
def magnitude_bits(typingctx, value):
    """The bits of ``abs(value)`` as a same-width integer (order-preserving for floats >= 0)."""
    if value not in _BITS_OF:
        return None
    bits_type = _BITS_OF[value]

    def codegen(context, builder, signature, args):
        width = bits_type.bitwidth
        bits = builder.bitcast(args[0], ir.IntType(width))
        return builder.and_(bits, ir.Constant(ir.IntType(width), (1 << (width - 1)) - 1))

    return bits_type(value), codegen


@intrinsic
def float_from_bits(typingctx, bits):
    """Inverse of :func:`magnitude_bits` (for values >= 0)."""
    if bits not in _FLOAT_OF:
        return None
    float_type = _FLOAT_OF[bits]

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(float_type))

    return float_type(bits), codegen


@intrinsic
def atomic_compare_exchange(typingctx, array, index, expected, desired):
    """Atomically set ``array[index] = desired`` if it equals ``expected``; return the old value.

    Sequentially consistent, on int64 arrays. The swap happened iff the result is ``expected``.
    """
    if not (isinstance(array, types.Array) and array.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        expected = context.cast(builder, args[2], signature.args[2], types.int64)
        desired = context.cast(builder, args[3], signature.args[3], types.int64)
        pair = builder.cmpxchg(pointer, expected, desired, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)

    return types.int64(array, types.intp, types.int64, types.int64), codegen
