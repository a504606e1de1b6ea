"""Numba JIT direct convolution for the CPU backend.

One kernel body serves every dtype the backend computes in (float32/64,
complex64/128, int64). Work is split into (row, output tile) jobs so a batch
of short rows and one very long row both spread over all threads. Inside a
tile the taps form the outer loop and the outputs the inner one, so the inner
loop is a contiguous ``out[t] += w_i * x[t + shift]`` that LLVM vectorises;
the tile stays in L1 while every tap streams over it. No ``fastmath``: results
stay IEEE, and NaN/Inf propagate exactly as in a textbook loop.
"""

from __future__ import annotations

import numba
import numpy as np

#: Outputs per job: 2048 float64 accumulators (16 KiB) fit L1 next to the input.
TILE = 2048


@numba.njit(parallel=True, cache=True, nogil=True)
def direct_rows(x, w, start, out):
    """``out[r, t] = sum_i w[r or 0, i] * x[r, start + t - i]``, zero outside x.

    Parameters
    ----------
    x : (rows, n) C-contiguous array
    w : (1 or rows, k) C-contiguous array, same dtype as ``x``
    start : int
        Index of ``out[:, 0]`` in the full convolution.
    out : (rows, out_len) C-contiguous array, same dtype, filled in place.
    """
    rows, n = x.shape
    kernel_rows, k = w.shape
    out_len = out.shape[1]
    tiles = (out_len + TILE - 1) // TILE
    zero = out.dtype.type(0)
    for job in numba.prange(rows * tiles):
        r = job // tiles
        t0 = (job % tiles) * TILE
        t1 = min(t0 + TILE, out_len)
        xr = x[r]
        wr = w[r if kernel_rows > 1 else 0]
        acc = out[r, t0:t1]
        acc[:] = zero
        # Only taps that meet the signal somewhere in this tile:
        # 0 <= start + t - i < n for some t in [t0, t1).
        i_lo = max(0, start + t0 - n + 1)
        i_hi = min(k, start + t1)
        for i in range(i_lo, i_hi):
            shift = start - i
            lo = max(t0, -shift)
            hi = min(t1, n - shift)
            wi = wr[i]
            # Slices indexed from 0: the index is provably non-negative, so
            # Numba emits no wraparound check and LLVM vectorises the loop.
            acc_part = acc[lo - t0:hi - t0]
            x_part = xr[lo + shift:hi + shift]
            for j in range(hi - lo):
                acc_part[j] += wi * x_part[j]


def direct(x: np.ndarray, w: np.ndarray, start: int, out_len: int) -> np.ndarray:
    """Allocate the output and run `direct_rows` (arguments as there)."""
    out = np.empty((x.shape[0], out_len), dtype=x.dtype)
    if out.size:
        direct_rows(x, w, np.int64(start), out)
    return out


def set_threads(threads: int) -> None:
    """Use ``threads`` Numba threads, within the pool Numba started with."""
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
