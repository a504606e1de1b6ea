"""Numba implicit-GEMM kernel for multi-channel 1-D convolution on the CPU.

Computes ``out[n, co, t] = bias[co] + sum_{ci, k} w[co, ci, k] *
x_pad[n, ci, t * stride + k * dilation]`` for every channel group without
unfolding the input (im2col would stream ``C_in * K`` copies of it through
memory; here each input sample is staged once per tile and read from L1).

Jobs are (signal, group, tile of `TILE` outputs); the split never depends on
the thread count, and each output's sum is formed in one fixed order (bias,
then the ``(ci, k)`` rows in order), so every thread count gives
bit-identical results.

A job first stages, for each input channel of its group, the samples its
outputs read, de-interleaved by stride phase: ``xs[ci, p, j] =
x_pad[t0 * stride + p + j * stride]``. The zero padding is written here (no
padded copy of the input), and a tap ``k`` of output ``t`` reads
``xs[ci, d % stride, t + d // stride]`` with ``d = k * dilation``: unit
stride in ``t`` for every stride and dilation, so the inner loop is plain
vector loads.

The register block is `CHANNEL_BLOCK` output channels x one SIMD vector of
outputs: the inner loop runs over outputs (LLVM vectorises it, one lane per
output) and its body adds up to `ROW_GROUP` rows ``(ci, k)`` to the eight
accumulators, each loaded input vector multiplied by eight broadcast weights.
The accumulators stay in registers for the group's rows and go through an
L1-resident tile between groups. Output channels past the last full block are
computed with zero weights into rows that are never copied out.

Floating point as in `gpuconv.backends._numba_kernels`: only ``contract`` is
allowed (fused multiply-adds, one rounding each), no reassociation, so NaN
and Inf propagate as in a textbook loop. Products with staged padding zeros
are formed (as PyTorch does), so an infinite weight meets ``0 * inf = nan``
at the padded ends exactly as there.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._numba_kernels import read_only

#: Outputs per job. The staged window (C_in/groups * (TILE + span) samples)
#: and the accumulator tile (CHANNEL_BLOCK * TILE) stay in L1/L2.
TILE = 512
#: Output channels per register block (accumulators per vector of outputs).
CHANNEL_BLOCK = 8
#: Rows (input channel, tap) added per pass over the accumulator tile.
ROW_GROUP = 8

# IEEE semantics kept; multiply-adds fused (see the module docstring).
_FLAGS = dict(nogil=True, cache=True, fastmath={"contract"})


@intrinsic
def _load_tuple(typingctx, array, start, length):
    """``tuple(array[start:start + length])`` for a C-contiguous 1-D array and
    a literal ``length``: straight-line loads, no bounds check.

    ``numba.np.unsafe.ndarray.to_fixed_tuple`` builds its tuple one dynamic
    ``tuple_setitem`` at a time (quadratic: 2 us for 64 float32, as long as
    a whole pass over a tile).
    """
    if not isinstance(length, types.IntegerLiteral):
        raise numba.core.errors.RequireLiteralValue("length must be a literal int")
    count = int(length.literal_value)
    tuple_type = types.UniTuple(array.dtype, count)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        first = builder.gep(data, [args[1]])
        values = [builder.load(builder.gep(first, [ir.Constant(cgutils.intp_t, i)]))
                  for i in range(count)]
        return context.make_tuple(builder, tuple_type, values)

    return tuple_type(array, types.intp, length), codegen


@numba.njit(**_FLAGS)
def _add_rows(acc, xs, w, count):
    """``acc[c, t] += sum_g w[8 g + c] * xs[g][t]`` for ``t < count``, g in order.

    ``xs`` is a tuple of ``G <= ROW_GROUP`` staged rows and ``w`` a tuple of
    their ``8 G`` weights, so ``G`` is a compile-time constant: LLVM unrolls
    the row loop, broadcasts the weights once before the loop over outputs,
    and keeps the eight accumulators of one vector of outputs in registers
    across the rows (one vector load of ``xs[g]`` feeds eight fused
    multiply-adds).
    """
    g_rows = len(xs)
    for t in range(count):
        a0 = acc[0 * TILE + t]
        a1 = acc[1 * TILE + t]
        a2 = acc[2 * TILE + t]
        a3 = acc[3 * TILE + t]
        a4 = acc[4 * TILE + t]
        a5 = acc[5 * TILE + t]
        a6 = acc[6 * TILE + t]
        a7 = acc[7 * TILE + t]
        for g in range(g_rows):
            v = xs[g][t]
            a0 += w[8 * g] * v
            a1 += w[8 * g + 1] * v
            a2 += w[8 * g + 2] * v
            a3 += w[8 * g + 3] * v
            a4 += w[8 * g + 4] * v
            a5 += w[8 * g + 5] * v
            a6 += w[8 * g + 6] * v
            a7 += w[8 * g + 7] * v
        acc[0 * TILE + t] = a0
        acc[1 * TILE + t] = a1
        acc[2 * TILE + t] = a2
        acc[3 * TILE + t] = a3
        acc[4 * TILE + t] = a4
        acc[5 * TILE + t] = a5
        acc[6 * TILE + t] = a6
        acc[7 * TILE + t] = a7


@numba.njit(**_FLAGS)
def _add_all_rows(acc, xs, offsets, w, count):
    """Every row into ``acc``: ``w`` holds ``CHANNEL_BLOCK`` weights per row,
    row ``r`` reads ``xs[offsets[r]:]``. Passes of 8 rows, then 4, 2, 1 (four
    specialisations of `_add_rows`)."""
    rows = offsets.size
    o = offsets
    r = 0
    while r < rows:
        left = rows - r
        if left >= 8:
            _add_rows(acc, (xs[o[r]:], xs[o[r + 1]:], xs[o[r + 2]:], xs[o[r + 3]:],
                            xs[o[r + 4]:], xs[o[r + 5]:], xs[o[r + 6]:], xs[o[r + 7]:]),
                      _load_tuple(w, 8 * r, 64), count)
            r += 8
        elif left >= 4:
            _add_rows(acc, (xs[o[r]:], xs[o[r + 1]:], xs[o[r + 2]:], xs[o[r + 3]:]),
                      _load_tuple(w, 8 * r, 32), count)
            r += 4
        elif left >= 2:
            _add_rows(acc, (xs[o[r]:], xs[o[r + 1]:]), _load_tuple(w, 8 * r, 16),
                      count)
            r += 2
        else:
            _add_rows(acc, (xs[o[r]:],), _load_tuple(w, 8 * r, 8), count)
            r += 1


@numba.njit(**_FLAGS)
def _stage(xs, xc, t0, width, stride, left, window):
    """``xs[p * window + j] = x_pad[(t0 + j) * stride + p]`` for ``j < width``,
    zero outside the signal ``xc`` (one input channel)."""
    length = xc.size
    for p in range(stride):
        row = xs[p * window:p * window + width]
        first = t0 * stride + p - left  # sample of j = 0
        # j with 0 <= first + j * stride < length
        lo = min(max(0, (-first + stride - 1) // stride), width)
        hi = max(min(width, (length - 1 - first) // stride + 1), lo)
        row[:lo] = 0
        if hi > lo:
            source = xc[first + lo * stride:first + (hi - 1) * stride + 1:stride]
            target = row[lo:hi]
            for j in range(hi - lo):  # a plain loop: Numba's slice copy checks overlap
                target[j] = source[j]
        row[hi:] = 0


@numba.njit(**_FLAGS)
def _job_count(batch, groups, out_len):
    """Jobs of `conv_channels_rows`: (signal, group, tile of `TILE` outputs)."""
    return batch * groups * ((out_len + TILE - 1) // TILE)


@numba.njit(parallel=True, **_FLAGS)
def conv_channels_rows(x, w, bias, out, stride, dilation, left, kernel_size, chunks):
    """The kernel: ``out`` (N, C_out, L_out) filled in place.

    Parameters
    ----------
    x : (N, C_in, L) C-contiguous array
    w : (groups, blocks, C_in/groups * K * CHANNEL_BLOCK) C-contiguous array
        Weights packed per group and block of output channels, row by row
        (row ``ci * K + k``, then the block's channels); zero past the last
        output channel of a group.
    bias : (groups, blocks, CHANNEL_BLOCK) array, same dtype (zeros if none)
    out : (N, C_out, L_out) C-contiguous array
    stride, dilation, left, kernel_size : int
        ``left`` is the zero padding before the signal.
    chunks : int
        Parallel chunks of consecutive jobs (a few per thread); only the
        schedule depends on it, never a result.
    """
    jobs = _job_count(x.shape[0], w.shape[0], out.shape[2])
    chunks = max(1, min(chunks, jobs))
    for chunk in numba.prange(chunks):
        _run_jobs(x, w, bias, out, stride, dilation, left, kernel_size,
                 chunk * jobs // chunks, (chunk + 1) * jobs // chunks)


@numba.njit(**_FLAGS)
def _run_jobs(x, w, bias, out, stride, dilation, left, kernel_size, first, end):
    """Jobs ``first`` to ``end - 1`` of `conv_channels_rows`, one after another,
    sharing one staging window and one accumulator tile. `conv_channels`
    calls it alone, on the calling thread, for a call that is one job, as
    `gpuconv.backends._numba_kernels` does: a parallel region wakes the
    pool's threads, milliseconds once libgomp has put them to sleep."""
    in_channels = x.shape[1]
    groups, blocks = w.shape[0], w.shape[1]
    rows = w.shape[2] // CHANNEL_BLOCK
    out_channels, out_len = out.shape[1], out.shape[2]
    group_in = in_channels // groups
    group_out = out_channels // groups
    reach = ((kernel_size - 1) * dilation) // stride  # staged samples past the tile
    window = TILE + reach
    # Row (ci, k) reads xs[offsets[r] + t]: its channel, stride phase and shift.
    offsets = np.empty(rows, dtype=np.int64)
    for r in range(rows):
        ci, d = r // kernel_size, (r % kernel_size) * dilation
        offsets[r] = (ci * stride + d % stride) * window + d // stride
    tiles = (out_len + TILE - 1) // TILE
    xs = np.empty(group_in * stride * window, dtype=x.dtype)
    acc = np.empty(CHANNEL_BLOCK * TILE, dtype=x.dtype)  # row c at c * TILE
    for job in range(first, end):
        n, rest = job // (groups * tiles), job % (groups * tiles)
        group, tile = rest // tiles, rest % tiles
        t0 = tile * TILE
        count = min(TILE, out_len - t0)
        for ci in range(group_in):
            _stage(xs[ci * stride * window:(ci + 1) * stride * window],
                   x[n, group * group_in + ci], t0, count + reach, stride, left, window)
        for block in range(blocks):
            for c in range(CHANNEL_BLOCK):
                acc[c * TILE:c * TILE + count] = bias[group, block, c]
            _add_all_rows(acc, xs, offsets, w[group, block], count)
            c0 = block * CHANNEL_BLOCK
            for c in range(min(CHANNEL_BLOCK, group_out - c0)):
                target = out[n, group * group_out + c0 + c, t0:t0 + count]
                source = acc[c * TILE:]
                for t in range(count):
                    target[t] = source[t]


def pack_weights(weight: np.ndarray, bias, groups: int):
    """``weight`` (C_out, C_in/groups, K) and ``bias`` (C_out,) or None in the
    kernel's layout: (groups, blocks, C_in/groups * K * CHANNEL_BLOCK) and
    (groups, blocks, CHANNEL_BLOCK), zero-filled past each group's channels."""
    out_channels, group_in, k = weight.shape
    group_out = out_channels // groups
    blocks = -(-group_out // CHANNEL_BLOCK)
    packed = np.zeros((groups, blocks * CHANNEL_BLOCK, group_in * k), dtype=weight.dtype)
    packed[:, :group_out] = weight.reshape(groups, group_out, group_in * k)
    packed = np.ascontiguousarray(
        packed.reshape(groups, blocks, CHANNEL_BLOCK, group_in * k).transpose(0, 1, 3, 2))
    packed = packed.reshape(groups, blocks, group_in * k * CHANNEL_BLOCK)
    packed_bias = np.zeros((groups, blocks * CHANNEL_BLOCK), dtype=weight.dtype)
    if bias is not None:
        packed_bias[:, :group_out] = np.reshape(bias, (groups, group_out))
    return packed, packed_bias.reshape(groups, blocks, CHANNEL_BLOCK)


def conv_channels(x: np.ndarray, weight: np.ndarray, bias, *, stride: int, dilation: int,
                  groups: int, left: int, out_len: int) -> np.ndarray:
    """Allocate the output and run `conv_channels_rows`.

    ``x`` (N, C_in, L), ``weight`` (C_out, C_in/groups, K), ``bias`` (C_out,)
    or None, all one float dtype; ``left`` zeros before the signal (and as
    many after as ``out_len`` needs).

    >>> x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    >>> conv_channels(x, np.array([[[1.0, 0, -1]], [[1.0, 1, 1]]]), np.array([0.0, 10]),
    ...               stride=2, dilation=1, groups=1, left=1, out_len=3)
    array([[[-2., -2.,  4.],
            [13., 19., 19.]]])
    """
    x = np.ascontiguousarray(x)
    packed, packed_bias = pack_weights(np.asarray(weight), bias, groups)
    out = np.empty((x.shape[0], weight.shape[0], out_len), dtype=x.dtype)
    if out.size:
        args = (read_only(x), read_only(packed), read_only(packed_bias), out, np.int64(stride),
                np.int64(dilation), np.int64(left), np.int64(weight.shape[2]))
        # Its Python function: the wheel carries no compiled copy of it.
        if _job_count.py_func(x.shape[0], groups, out_len) == 1:
            _run_jobs(*args, np.int64(0), np.int64(1))
        else:
            conv_channels_rows(*args, np.int64(4 * numba.get_num_threads()))
    return out
