"""Measure the CPU cost-model constants of `gpuconv._algorithms.choose.COSTS`.

Run with ``python -m benchmarks.calibrate`` (OpenBLAS variables do not matter
here: no BLAS call is timed). Prints seconds per direct multiply-add and per
``n log2 n`` unit of a real FFT for float64, from medians of repeated runs of
the backend's own kernels on cache-resident and streaming sizes, in the form
of a `COSTS` row to paste into the table.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from benchmarks._timing import median_seconds
from gpuconv._algorithms.direct import direct
from gpuconv._algorithms.fft import fft_convolve
from gpuconv._plan import Request
from gpuconv.backends import backend_named


def main() -> None:
    backend = backend_named("numpy")
    rng = np.random.default_rng(0)
    mac, fft = [], []
    for rows, n, k in [(64, 65536, 15), (64, 65536, 63), (8, 2**20, 31)]:
        x = rng.standard_normal((rows, n))
        w = rng.standard_normal((1, k))
        valid = Request(rows=rows, n=n, k=k, kernel_rows=1, start=k - 1, out_len=n - k + 1)
        t = median_seconds(lambda: direct(backend, x, w, valid))
        mac.append(t / (rows * (n - k + 1) * k))
        nfft = backend.next_fast_len(n, real=True)
        t = median_seconds(lambda: fft_convolve(backend, x, w, valid))
        fft.append(t / ((2 * rows + 1) * nfft * math.log2(nfft)))
    print(f'"numpy": {{"mac": {statistics.median(mac):.2e}, "fft": {statistics.median(fft):.2e}, ...}}')


if __name__ == "__main__":
    main()
