"""One scipy.fft thread against all of them, by the size of the call.

Run with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.fft_workers``.
Waking pocketfft's helper threads costs a fixed time per call, which a small
call does not win back. For batches of lines of several lengths and both
real dtypes this times the pair of transforms of an FFT convolution (``rfft``
then ``irfft``) with one worker and with the library's thread count, in
turns, and prints their ratio beside the call's work (`transform_work`:
lines x points x log2(points) x bytes a point), sorted by work. The CPU backend gives a call
one worker below `gpuconv.backends.numpy_backend.FFT_SPLIT_WORK`. A second
table times ``gpuconv.convolve(..., method='fft')`` on small batches as a
user calls it (the same call again and again, median of 200) with that rule
and with every call on all threads.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

import gpuconv
from gpuconv._bench.timing import fastest_in_turns, median_seconds
from gpuconv.backends import numpy_backend
from gpuconv.backends.numpy_backend import FFT_SPLIT_WORK

LENGTHS = (256, 1024, 4096, 16384, 65536)
ROWS = (4, 16, 64, 256, 1024)
#: Largest batch timed, in points.
MAX_POINTS = 2**21
#: (rows, n, k, dtype) of the second table's convolutions ('same').
CONVOLUTIONS = [(1, 1024, 1023, "float32"), (1, 1024, 511, "float64"), (4, 4096, 31, "float64"),
                (16, 4096, 31, "float64"), (16, 4096, 255, "float32"), (64, 1024, 63, "float32"),
                (1024, 256, 3, "float32")]


def transform_pair(x, workers: int):
    n = x.shape[-1]
    return lambda: scipy.fft.irfft(scipy.fft.rfft(x, axis=-1, workers=workers), n, axis=-1,
                                   workers=workers)


def main() -> None:
    threads = gpuconv.config.effective_threads()
    rng = np.random.default_rng(0)
    results = []
    for dtype in ("float32", "float64"):
        for n in LENGTHS:
            for rows in ROWS:
                if rows * n > MAX_POINTS:
                    continue
                x = rng.standard_normal((rows, n)).astype(dtype)
                times = fastest_in_turns({1: transform_pair(x, 1),
                                          threads: transform_pair(x, threads)},
                                         repeats=7, warmup=0.05, runs_per_turn=2)
                results.append((numpy_backend.transform_work(x, n, x.itemsize),
                                f"{rows} × {n} {dtype}", times[1], times[threads],
                                numpy_backend._fft_workers(x, n, x.itemsize)))
    print(f"rfft + irfft, fastest of 7 turns of two runs; one worker against {threads}; "
          f"FFT_SPLIT_WORK = {FFT_SPLIT_WORK:.3g}")
    print(f"| batch | work | 1 worker | {threads} workers | {threads} / 1 | the backend uses |")
    print("| --- | --- | --- | --- | --- | --- |")
    for work, name, one, many, uses in sorted(results):
        print(f"| {name} | {work:.3g} | {one * 1e6:.0f} µs | {many * 1e6:.0f} µs "
              f"| {many / one:.2f} | {uses} |")
    print()
    print("gpuconv.convolve(x, w, 'same', method='fft'), median of 200 calls in a row")
    print("| batch | one thread under FFT_SPLIT_WORK | every call on all threads | ratio |")
    print("| --- | --- | --- | --- |")
    for rows, n, k, dtype in CONVOLUTIONS:
        x = rng.standard_normal((rows, n)).astype(dtype)
        w = rng.standard_normal(k).astype(dtype)
        times = {}
        for split in (FFT_SPLIT_WORK, 0.0):
            numpy_backend.FFT_SPLIT_WORK = split
            try:
                times[split] = median_seconds(
                    lambda: gpuconv.convolve(x, w, "same", method="fft"), repeats=200)
            finally:
                numpy_backend.FFT_SPLIT_WORK = FFT_SPLIT_WORK
        with_rule, threaded = times[FFT_SPLIT_WORK], times[0.0]
        print(f"| {rows} × {n} {dtype}, K={k} | {with_rule * 1e6:.0f} µs | {threaded * 1e6:.0f} µs "
              f"| {threaded / with_rule:.2f} |")


if __name__ == "__main__":
    main()
