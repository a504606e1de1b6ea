"""Overlap-add: long signals with medium kernels, in blocks of one FFT size each.

Every row is cut into blocks of ``block`` samples; each block is convolved at
``nfft = block + k - 1`` (rounded to a fast length) in one batched transform,
and the tails that run past a block are added onto the next one. Work per
output grows with ``log(k)`` instead of ``log(n)``, and the transforms stay
cache-sized.
"""

from __future__ import annotations

import math

import array_api_compat

from .._plan import overlap_add_block
from .fft import spectra


def oa_convolve(backend, x, w, request):
    """``y[:, start:start + out_len]`` of the zero-boundary full convolution."""
    start, out_len = request.start, request.out_len
    xp = backend.xp
    rows, n = x.shape
    k = w.shape[1]
    real = not xp.isdtype(x.dtype, "complex floating")
    block, nfft = overlap_add_block(n, k, lambda m: backend.next_fast_len(m, real=real))
    blocks = math.ceil(n / block)
    device = array_api_compat.device(x)

    padded = xp.zeros((rows, blocks * block), dtype=x.dtype, device=device)
    padded[:, :n] = x
    padded = xp.reshape(padded, (rows, blocks, block))
    x_hat, w_hat, inverse = spectra(backend, padded, w[:, None, :], nfft)
    x_hat *= w_hat
    pieces = inverse(x_hat, nfft)  # (rows, blocks, nfft); block + k - 1 <= nfft

    full = xp.zeros((rows, blocks * block + k - 1), dtype=x.dtype, device=device)
    full[:, :blocks * block] = xp.reshape(pieces[..., :block], (rows, blocks * block))
    if k > 1:
        # Block b's tail (k - 1 <= block samples) lands at the head of block b + 1.
        tails = xp.zeros((rows, blocks, block), dtype=x.dtype, device=device)
        tails[..., :k - 1] = pieces[..., block:block + k - 1]
        tails = xp.reshape(tails, (rows, blocks * block))
        full[:, block:] += tails[:, :full.shape[1] - block]
    return full[:, start:start + out_len]
