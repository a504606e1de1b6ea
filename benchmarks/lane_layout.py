"""A transposed ("lane") layout for the direct kernel: tried, not kept.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.lane_layout``.

The direct kernel (`gpuconv.backends._numba_kernels`) vectorises across
consecutive outputs, so every tap reads its SIMD vector of samples at a new
one-element offset: all but one in 8 (float64) or 16 (float32) of these
64-byte loads straddle two cache lines. W5
(one 2^24 float64 row, K=31) takes about as long in cache as from memory:
its time is the arithmetic's, not the memory's.

The layout timed here removes the straddling loads. A tile of ``L * S``
outputs is cut into ``L = 16`` segments of ``S`` consecutive outputs, one per
SIMD lane: the window is transposed so that row ``m`` holds sample ``m`` of
every segment (``z[m, l] = xs[l * S + m]``), each tap then reads whole
aligned rows, and the sums are transposed back into the output. The
transposes are 8 x 8 (float64) or 16 x 16 (float32) blocks of vector loads,
shuffles and stores, emitted through a Numba intrinsic because LLVM turns
the plain loops into element-by-element copies.
Each output's sum is formed tap by tap in the same order as in the kernel,
so the results are bit-for-bit the same (asserted).

For interior tiles (no boundary), in one process, medians of 9 runs with an
output touched beforehand, it prints the kernel, the lane layout, and the
lane layout with its input transpose, its output transpose or both left out
(wrong results, timed only to show where the time goes), from memory and
for the same count of outputs in cache (rows short enough to stay in L2,
repeated).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from gpuconv._bench.timing import median_seconds
from gpuconv.backends import _numba_kernels

LANES = 16
TILE = 4096
REPEATS = 9
_FLAGS = dict(nogil=True, fastmath={"contract"})


def _shuffle_mask(indices):
    i32 = ir.IntType(32)
    return ir.Constant(ir.VectorType(i32, len(indices)), [ir.Constant(i32, i) for i in indices])


@intrinsic
def transpose_block(typingctx, dst, dst_start, dst_stride, src, src_start, src_stride):
    """``dst[dst_start + i * dst_stride + j] = src[src_start + j * src_stride + i]`` for
    ``i, j < B``, ``B = 64 / itemsize``: B vector loads, ``B log2 B`` two-input
    shuffles (each stage swaps one bit of the row index with the same bit of
    the column index), B vector stores."""
    if not (isinstance(dst, types.Array) and dst == src and isinstance(dst.dtype, types.Float)):
        return None
    itemsize = dst.dtype.bitwidth // 8
    block = 64 // itemsize
    signature = types.void(dst, types.intp, types.intp, src, types.intp, types.intp)

    def codegen(context, builder, sig, args):
        vector = ir.VectorType(context.get_data_type(dst.dtype), block)
        intp = context.get_value_type(types.intp)

        def row_pointer(array, start, stride, i):
            data = context.make_array(dst)(context, builder, array).data
            offset = builder.add(start, builder.mul(ir.Constant(intp, i), stride))
            return builder.bitcast(builder.gep(data, [offset]), vector.as_pointer())

        rows = [builder.load(row_pointer(args[3], args[4], args[5], i), align=itemsize)
                for i in range(block)]
        bit = block // 2
        while bit:
            for r in range(block):
                if r & bit:
                    continue
                a, b = rows[r], rows[r + bit]
                rows[r] = builder.shuffle_vector(a, b, _shuffle_mask(
                    [c if not c & bit else block + c - bit for c in range(block)]))
                rows[r + bit] = builder.shuffle_vector(a, b, _shuffle_mask(
                    [block + c if c & bit else c + bit for c in range(block)]))
            bit //= 2
        for i, row in enumerate(rows):
            builder.store(row, row_pointer(args[0], args[1], args[2], i), align=itemsize)
        return context.get_dummy_value()

    return signature, codegen


def lane_kernel(read_input: bool = True, write_output: bool = True):
    """``run(x, w, out)``: ``out[r, t] = sum_i w[i] * x[r, t + k - 1 - i]``, ``x`` with at
    least ``out_len + k - 1 + 64 / itemsize`` samples a row, ``out_len`` a
    multiple of `TILE`. The flags leave a transpose out (for timing only)."""

    @numba.njit(**_FLAGS)
    def lane_pass(sums, zs, taps, first):
        zero = sums.dtype.type(0)
        g = len(taps)
        for u in range(sums.size // LANES):
            for lane in range(LANES):  # one or two SIMD vectors: no remainder
                a = zero if first else sums[u * LANES + lane]
                for q in range(g):
                    a += taps[q] * zs[(u + g - 1 - q) * LANES + lane]
                sums[u * LANES + lane] = a

    @numba.njit(**_FLAGS)
    def lane_tile(out, xs, wr, z, sums):
        k = wr.size
        block = 64 // xs.itemsize
        segment = out.size // LANES
        rows = (segment + k - 1 + block - 1) // block * block
        if read_input:
            for m0 in range(0, rows, block):
                for l0 in range(0, LANES, block):
                    transpose_block(z, m0 * LANES + l0, LANES, xs, l0 * segment + m0, segment)
        i = 0
        while k - i >= 8:
            lane_pass(sums, z[(k - i - 8) * LANES:], (wr[i], wr[i + 1], wr[i + 2], wr[i + 3],
                                                     wr[i + 4], wr[i + 5], wr[i + 6], wr[i + 7]),
                      i == 0)
            i += 8
        while k - i > 0:  # the workloads' kernels leave 7 (K=15, 31, 127)
            if k - i >= 7:
                lane_pass(sums, z[(k - i - 7) * LANES:], (wr[i], wr[i + 1], wr[i + 2], wr[i + 3],
                                                         wr[i + 4], wr[i + 5], wr[i + 6]),
                          i == 0)
                i += 7
            else:
                lane_pass(sums, z[(k - i - 1) * LANES:], (wr[i],), i == 0)
                i += 1
        if write_output:
            for u0 in range(0, segment, block):
                for l0 in range(0, LANES, block):
                    transpose_block(out, l0 * segment + u0, segment, sums, u0 * LANES + l0, LANES)

    @numba.njit(parallel=True, **_FLAGS)
    def run(x, w, out):
        k = w.size
        batch, out_len = out.shape
        tiles = out_len // TILE
        jobs = batch * tiles
        block = 64 // x.itemsize
        chunks = 4 * numba.get_num_threads()
        for chunk in numba.prange(chunks):
            z = np.zeros(((TILE // LANES + k - 1 + block - 1) // block * block) * LANES, x.dtype)
            sums = np.zeros(TILE, x.dtype)
            for job in range(chunk * jobs // chunks, (chunk + 1) * jobs // chunks):
                r, t0 = job // tiles, (job % tiles) * TILE
                lane_tile(out[r, t0:t0 + TILE], x[r, t0:], w, z, sums)

    return run


#: (name, rows, samples a row, K, dtype, rows for the in-cache run, its repeats)
CASES = [("W5", 1, 1 << 24, 31, np.float64, 1, 256),
         ("W2", 64, 262144, 127, np.float32, 8, 256),
         ("W1", 64, 262144, 15, np.float32, 8, 256)]


def median_ms(call) -> float:
    """Median of `REPEATS` runs after one warm-up run, in ms."""
    return median_seconds(call, REPEATS) * 1e3


def main() -> None:
    variants = {"lane layout": lane_kernel(),
                "without the input transpose": lane_kernel(read_input=False),
                "without the output transpose": lane_kernel(write_output=False),
                "passes only": lane_kernel(read_input=False, write_output=False)}
    rng = np.random.default_rng(0)
    print(f"{numba.get_num_threads()} threads; tiles of {TILE} outputs, {LANES} lanes; "
          f"median of {REPEATS}, ms")
    print("| workload | where | kernel | " + " | ".join(variants) + " | kernel / lane layout |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in variants) + " | --- |")
    for name, rows, n, k, dtype, cache_rows, repeats in CASES:
        for where, batch, length, times in (("memory", rows, n, 1),
                                            ("cache", cache_rows, n * rows // (cache_rows * repeats),
                                             repeats)):
            padded = rng.standard_normal((batch, length + k - 1 + 64)).astype(dtype)
            x = np.ascontiguousarray(padded[:, :length + k - 1])
            w = rng.standard_normal(k).astype(dtype)
            expected, got = np.zeros((batch, length), dtype), np.zeros((batch, length), dtype)

            def kernel():
                for _ in range(times):
                    _numba_kernels.direct(x, w[None], k - 1, length, out=expected)

            cells = [median_ms(kernel)]
            for label, run in variants.items():
                cells.append(median_ms(lambda: [run(padded, w, got) for _ in range(times)]))
                if label == "lane layout":
                    assert got.tobytes() == expected.tobytes(), name
            print(f"| {name} | {where} | " + " | ".join(f"{c:.1f}" for c in cells)
                  + f" | {cells[0] / cells[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
