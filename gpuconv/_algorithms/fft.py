"""FFT convolution: one transform per row at a fast length, kernel spectrum shared.

Real inputs use rfft/irfft and complex inputs fft/ifft, through the
backend's transforms (scipy.fft with worker threads, or cuFFT), which keep
single precision single. Only the requested window of the full convolution
must be free of circular wrap-around, so the transform can be shorter than
``n + k - 1`` for ``'valid'`` and ``'same'`` windows.
"""

from __future__ import annotations


def transform_length(n: int, k: int, start: int, out_len: int) -> int:
    """Least circular length whose wrap-around misses ``y[start:start+out_len]``.

    Index ``j`` of a length-``L`` circular convolution holds
    ``y[j] + y[j + L] + ...``; outputs ``j < start + out_len <= L`` are clean
    when ``j + L >= n + k - 1`` for every ``j >= start``.

    >>> transform_length(100, 9, 8, 92)   # 'valid'
    100
    >>> transform_length(100, 9, 0, 108)  # 'full'
    108
    """
    return max(start + out_len, n + k - 1 - start, 1)


def transforms(backend, dtype):
    """The backend's forward and inverse transform for ``dtype``: real or complex."""
    if backend.xp.isdtype(dtype, "complex floating"):
        return backend.fft, backend.ifft
    return backend.rfft, backend.irfft


def fft_convolve(backend, x, w, request):
    """``y[:, start:start + out_len]`` of the zero-boundary full convolution."""
    start, out_len = request.start, request.out_len
    n, k = x.shape[1], w.shape[1]
    nfft = backend.next_fast_len(transform_length(n, k, start, out_len),
                                 real=not backend.xp.isdtype(x.dtype, "complex floating"))
    forward, inverse = transforms(backend, x.dtype)
    x_hat = forward(x, nfft)
    x_hat *= forward(w, nfft)
    return inverse(x_hat, nfft)[:, start:start + out_len]
