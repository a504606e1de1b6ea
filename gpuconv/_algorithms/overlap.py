"""Blocked FFT convolution (method ``'oa'``): long signals, medium kernels.

The output is cut into blocks of ``step`` samples, and each block is the
clean part of one circular convolution at ``nfft = step + k - 1`` points
(overlap-save): its frame holds the ``k - 1`` input samples before the
block and the block's own, so every output is written once and blocks
never depend on each other. Work per output grows with ``log(k)`` instead
of ``log(n)``. SciPy's ``oaconvolve`` adds block tails instead (overlap-add);
the transforms are the same and the results agree to rounding.

Frames go in groups (`gpuconv._plan.frame_groups`, about
``backend.block_group_bytes`` each), each framed, transformed, multiplied,
transformed back and stored by one task of `backend.run_tasks`, which
spreads them over the CPU's threads. On the CPU a group stays in one core's
cache and every temporary is small and reused, where one batch of all
frames would allocate (and page-fault) a few times the output on every call
(docs/performance.md, "The blocked FFT on W3"). On a GPU a group is the
whole slab: one batched transform each way. A group of one row's frames
is transformed in whole SIMD batches of the backend's FFT (frames past the
row's end are zeros and are not stored): pocketfft does a line left over
at about four times the cost of a line in a batch.
"""

from __future__ import annotations

import contextlib
import functools
import math

import array_api_compat
import numpy as np

from .._plan import fft_block, frame_groups, transformed_frames
from .fft import all_finite, transforms


def oa_convolve(backend, x, w, request, *, finite_only=False):
    """``y[:, start:start + out_len]`` of the zero-boundary full convolution.

    With ``finite_only``, None instead when a frame or kernel holds a NaN or
    Inf (or sums past the dtype's range): bin 0 of its spectrum is its sum.
    """
    xp = backend.xp
    start, out_len = request.start, request.out_len
    rows, n = x.shape
    k = w.shape[1]
    real = not xp.isdtype(x.dtype, "complex floating")
    device = array_api_compat.device(x)
    if out_len == 0:
        return xp.empty((rows, 0), dtype=x.dtype, device=device)
    step, nfft = block_length(backend, out_len, k, real, backend.block_fft_points)
    blocks = math.ceil(out_len / step)
    forward, inverse = transforms(backend, x.dtype)
    w_hat = forward(w, nfft)[:, None, :]  # (1 or rows, 1, bins) against (rows, blocks, bins)
    if finite_only and not all_finite(xp, w_hat[..., 0]):
        return None
    # Wider than out_len by less than one block, so every group stores whole blocks.
    out = xp.empty((rows, blocks * step), dtype=x.dtype, device=device)
    # The frames' sums, checked once after the tasks (one device sync). A
    # frame with a NaN or Inf makes Inf * 0 in the product; its result is
    # then dropped, so NumPy's warning about that would only mislead.
    sums = xp.empty((rows, blocks), dtype=w_hat.dtype, device=device) if finite_only else None
    quiet = functools.partial(np.errstate, invalid="ignore") if finite_only else contextlib.nullcontext

    groups = frame_groups(rows, blocks, nfft * x.dtype.itemsize, backend.block_group_bytes,
                          backend.task_threads())
    batch = backend.fft_batch_lines(x.dtype)

    def convolve_group(index):
        (r0, r1), (b0, b1) = groups[index]
        count = b1 - b0
        frames = _frames(xp, x[r0:r1], start + b0 * step - (k - 1),
                         transformed_frames(r1 - r0, count, batch), step, nfft)
        spectrum = forward(frames, nfft)
        if sums is not None:
            sums[r0:r1, b0:b1] = spectrum[..., :count, 0]
        with quiet():
            spectrum *= w_hat if w_hat.shape[0] == 1 else w_hat[r0:r1]
        clean = inverse(spectrum, nfft)[..., :count, k - 1:]  # (rows, blocks, step)
        stored = xp.reshape(out[r0:r1, b0 * step:b1 * step], (r1 - r0, count, step),
                            copy=False)  # a view
        stored[...] = clean

    backend.run_tasks(convolve_group, len(groups))
    if sums is not None and not all_finite(xp, sums):
        return None
    return out[:, :out_len]


@functools.lru_cache(maxsize=256)
def block_length(backend, outputs: int, k: int, real: bool,
                 largest: int | None) -> tuple[int, int]:
    """`gpuconv._plan.fft_block` with ``backend``'s fast lengths, remembered:
    it costs up to some 40 us, and the blocked FFT asks on every call."""
    return fft_block(outputs, k, lambda m: backend.next_fast_len(m, real=real), largest)


def _frames(xp, x, first: int, count: int, step: int, nfft: int):
    """``count`` frames of ``nfft`` samples of each row of ``x``, the first
    starting at sample ``first`` and each ``step`` after the last; samples
    outside the row are zero. Shape (rows, count, nfft).

    Frame ``b`` is the ``k - 1 = nfft - step`` samples the previous frame
    ends with, then ``step`` new ones: one copy of the span they cover, then
    one of each frame, since the array API has no overlapping views.

    >>> import numpy as np
    >>> _frames(np, np.arange(1, 8)[None], -2, 3, 3, 5)[0]
    array([[0, 0, 1, 2, 3],
           [2, 3, 4, 5, 6],
           [5, 6, 7, 0, 0]])
    """
    rows, n = x.shape
    overlap = nfft - step
    device = array_api_compat.device(x)
    span = xp.zeros((rows, count * step + overlap), dtype=x.dtype, device=device)
    lo, hi = max(first, 0), min(first + span.shape[1], n)
    if hi > lo:
        span[:, lo - first:hi - first] = x[:, lo:hi]
    frames = xp.empty((rows, count, nfft), dtype=x.dtype, device=device)
    frames[:, :, overlap:] = xp.reshape(span[:, overlap:], (rows, count, step))
    frames[:, 0, :overlap] = span[:, :overlap]
    frames[:, 1:, :overlap] = frames[:, :-1, step:]  # overlap <= step: already filled
    return frames
