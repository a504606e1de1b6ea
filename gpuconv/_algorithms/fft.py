"""FFT convolution: one transform per row at a fast length, kernel spectrum shared.

Real inputs use rfft/irfft and complex inputs fft/ifft, through the
backend's transforms (scipy.fft with worker threads, or cuFFT), which keep
single precision single. Only the requested window of the full convolution
must be free of circular wrap-around, so the transform can be shorter than
``n + k - 1`` for ``'valid'`` and ``'same'`` windows.

The rows and the kernel go through one forward transform, and a call of few
lines is padded with zero lines to whole SIMD batches of the backend's FFT
(`gpuconv._plan.transform_lines`): pocketfft transforms a batch of four
single-precision lines (two double) in 1.1-2 times the time of one line
alone, so one row and its kernel cost less than two transforms forward.
"""

from __future__ import annotations

import array_api_compat

from .._config import config
from .._plan import transform_lines


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


def fft_convolve(backend, x, w, request, *, finite_only=False):
    """``y[:, start:start + out_len]`` of the zero-boundary full convolution.

    With ``finite_only``, None instead when a row or kernel holds a NaN or
    Inf (or sums past the dtype's range): bin 0 of its spectrum is its sum.
    """
    start, out_len = request.start, request.out_len
    rows = x.shape[0]
    nfft = backend.next_fast_len(transform_length(x.shape[1], w.shape[1], start, out_len),
                                 real=not backend.xp.isdtype(x.dtype, "complex floating"))
    forward, inverse = transforms(backend, x.dtype)
    batch, threads = backend.fft_batch_lines(x.dtype), config.effective_threads()
    spectra = forward(_lines(backend.xp, x, w, transform_lines(rows + w.shape[0], batch, threads),
                             nfft), nfft)
    if finite_only and not all_finite(backend.xp, spectra[:rows + w.shape[0], 0]):
        return None
    spectra[:rows] *= spectra[rows:rows + w.shape[0]]
    # The inverse takes the first lines, the rows' among them, in whole batches too.
    return inverse(spectra[:transform_lines(rows, batch, threads)], nfft)[:rows, start:start + out_len]


def all_finite(xp, values) -> bool:
    """Whether ``values`` hold no NaN or Inf (one device sync on a GPU)."""
    return bool(xp.all(xp.isfinite(values)))


def _lines(xp, x, w, count: int, nfft: int):
    """``count`` lines of ``nfft`` samples: the rows of ``x``, then of ``w``,
    zero-padded (cropped where ``nfft`` is shorter: the window needs no
    sample past it), then zero lines.

    >>> import numpy as np
    >>> _lines(np, np.ones((2, 3)), np.full((1, 2), 5.0), 4, 4)
    array([[1., 1., 1., 0.],
           [1., 1., 1., 0.],
           [5., 5., 0., 0.],
           [0., 0., 0., 0.]])
    """
    (rows, n), (kernel_rows, k) = x.shape, w.shape
    lines = xp.zeros((count, nfft), dtype=x.dtype, device=array_api_compat.device(x))
    lines[:rows, :min(n, nfft)] = x[:, :nfft]
    lines[rows:rows + kernel_rows, :min(k, nfft)] = w[:, :nfft]
    return lines
