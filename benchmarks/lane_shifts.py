"""Lane shifts instead of straddling loads in the direct kernel's pass: tried, not kept.

Run: ``python -m benchmarks.lane_shifts``

The kernel's 8-tap pass (`gpuconv.backends._numba_kernels._pass`) loads
the samples of every tap at a new one-element offset, so 7 in 8 of its
float64 loads (15 in 16 for float32) straddle two cache lines. The variant
timed here loads each output vector's samples as two whole vectors and
forms the 8 shifted vectors the taps need with two-input lane shifts
(LLVM ``shufflevector``, emitted through a Numba intrinsic), then the same
fused multiply-adds in the same order: the results are bit for bit the
kernel's (asserted). Both sweep one tile of 2048 outputs in L1 with a
32-tap kernel (four passes), many times, on one thread; samples 64-byte
aligned and 3 elements past that. Fastest of 7 turns, in turns.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from benchmarks.lane_layout import _shuffle_mask
from gpuconv._bench.timing import fastest_in_turns
from gpuconv.backends._numba_kernels import GROUP, _pass, vector_at, vector_fma

TILE = 2048
TAPS = 32
SWEEPS = 400
_FLAGS = dict(nogil=True, fastmath={"contract"})


@intrinsic
def shifted_pass(typingctx, sums, xs, taps, first):
    """`_pass` for whole vectors of ``sums``, ``GROUP`` taps from the array
    ``taps``: per output vector two sample loads and ``GROUP`` lane shifts."""
    if not (isinstance(sums, types.Array) and sums == xs and isinstance(sums.dtype, types.Float)):
        return None

    def codegen(context, builder, sig, args):
        sums_array, xs_array, taps_array = (context.make_array(ty)(context, builder, value)
                                            for ty, value in zip(sig.args[:3], args[:3]))
        scalar = context.get_value_type(sig.args[0].dtype)
        lanes = 64 // context.get_abi_sizeof(scalar)
        vector = ir.VectorType(scalar, lanes)
        fma = vector_fma(builder, vector)
        align = context.get_abi_sizeof(scalar)
        weights = [builder.load(builder.gep(taps_array.data, [ir.Constant(ir.IntType(64), q)]))
                   for q in range(GROUP)]
        broadcast = [builder.shuffle_vector(
            builder.insert_element(ir.Constant(vector, ir.Undefined), w, ir.IntType(32)(0)),
            ir.Constant(vector, ir.Undefined), _shuffle_mask([0] * lanes)) for w in weights]
        count = builder.sdiv(cgutils.unpack_tuple(builder, sums_array.shape)[0],
                             ir.IntType(64)(lanes))
        with cgutils.for_range(builder, count) as loop:
            t = builder.mul(loop.index, ir.IntType(64)(lanes))
            low = builder.load(vector_at(builder, xs_array, t, vector), align=align)
            high = builder.load(vector_at(builder, xs_array, builder.add(t, ir.IntType(64)(lanes)),
                                          vector), align=align)
            target = vector_at(builder, sums_array, t, vector)
            total = builder.select(args[3], ir.Constant(vector, [0.0] * lanes),
                                   builder.load(target, align=align))
            for q in range(GROUP):
                shift = GROUP - 1 - q
                samples = builder.shuffle_vector(low, high,
                                                 _shuffle_mask(range(shift, shift + lanes)))
                total = builder.call(fma, [broadcast[q], samples, total])
            builder.store(total, target, align=align)
        return context.get_dummy_value()

    return types.void(sums, xs, taps, first), codegen


@numba.njit(**_FLAGS)
def sweep_kernel(sums, x, w, sweeps):
    for _ in range(sweeps):
        for i in range(0, w.size, GROUP):
            _pass(sums, x[w.size - i - GROUP:], (w[i], w[i + 1], w[i + 2], w[i + 3],
                                                 w[i + 4], w[i + 5], w[i + 6], w[i + 7]), i == 0)


@numba.njit(**_FLAGS)
def sweep_shifted(sums, x, w, sweeps):
    for _ in range(sweeps):
        for i in range(0, w.size, GROUP):
            shifted_pass(sums, x[w.size - i - GROUP:], w[i:i + GROUP], i == 0)


def main() -> None:
    print("| dtype | samples | kernel | lane shifts | shifts / kernel (speed) |")
    print("| --- | --- | --- | --- | --- |")
    for dtype in (np.float64, np.float32):
        raw = np.random.default_rng(0).standard_normal(TILE + TAPS + 64).astype(dtype)
        w = np.random.default_rng(1).standard_normal(TAPS).astype(dtype)
        aligned = (-raw.ctypes.data % 64) // raw.itemsize
        for offset in (0, 3):
            x = raw[aligned + offset:][:TILE + TAPS + 16]
            sums = {name: np.empty(TILE, dtype) for name in ("kernel", "shifts")}
            sweep_kernel(sums["kernel"], x, w, 1)
            sweep_shifted(sums["shifts"], x, w, 1)
            np.testing.assert_array_equal(sums["shifts"], sums["kernel"])
            seconds = fastest_in_turns({
                "kernel": lambda: sweep_kernel(sums["kernel"], x, w, SWEEPS),
                "shifts": lambda: sweep_shifted(sums["shifts"], x, w, SWEEPS)})
            rates = {name: SWEEPS * TILE * TAPS / s / 1e9 for name, s in seconds.items()}
            where = "64-byte aligned" if offset == 0 else f"{offset} elements past"
            print(f"| {np.dtype(dtype).name} | {where} | {rates['kernel']:.1f} GMAC/s | "
                  f"{rates['shifts']:.1f} GMAC/s | {rates['shifts'] / rates['kernel']:.2f} |")


if __name__ == "__main__":
    main()
