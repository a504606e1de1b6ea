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

    # Blocks laid out at the transform length already: one copy of the input,
    # where padding each block to nfft in the transform would be a second.
    padded = xp.empty((rows, blocks, nfft), dtype=x.dtype, device=device)
    whole = (blocks - 1) * block
    padded[:, :blocks - 1, :block] = xp.reshape(x[:, :whole], (rows, blocks - 1, block))
    padded[:, blocks - 1, :n - whole] = x[:, whole:]
    padded[:, blocks - 1, n - whole:] = 0
    padded[:, :blocks - 1, block:] = 0
    x_hat, w_hat, inverse = spectra(backend, padded, w[:, None, :], nfft)
    x_hat *= w_hat
    pieces = inverse(x_hat, nfft)  # (rows, blocks, nfft); block + k - 1 <= nfft

    full = xp.empty((rows, blocks * block + k - 1), dtype=x.dtype, device=device)
    body = xp.reshape(full[:, :blocks * block], (rows, blocks, block), copy=False)  # a view
    body[...] = pieces[..., :block]
    full[:, blocks * block:] = pieces[:, -1, block:block + k - 1]
    if k > 1 and blocks > 1:
        # Block b's tail (k - 1 <= block samples) lands on the head of block b + 1:
        # added in place, without a zero-padded copy of every tail.
        body[:, 1:, :k - 1] += pieces[:, :-1, block:block + k - 1]
    return full[:, start:start + out_len]
