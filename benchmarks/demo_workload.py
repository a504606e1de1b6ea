"""The demo's smoothing layer against its peers, as a Markdown table.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.demo_workload``
(no BLAS call is timed, but the variables are unset as for every benchmark).
Workload: 64 float32 signals of 65536 samples, a 31-tap Gaussian, 'same'
output with zero padding. Medians of 7 runs after a warm-up, in one process.
The roofline floor is the larger of the memory floor (each input read and each
output written once at the 2-core copy bandwidth, about 66 GB/s on this machine
class) and the FMA floor (2 flops per tap per output at about 460 GFLOP/s
float32), the figures of the CPU-performance issue.
"""

from __future__ import annotations


import numpy as np
import scipy.ndimage
import scipy.signal

from benchmarks._timing import median_seconds
import gpuconv
from gpuconv.cli.demo import SMOOTHING_TAPS, gaussian_taps, make_signals

COPY_BANDWIDTH = 66e9
FMA_PEAK_FLOAT32 = 460e9



def main() -> None:
    x = make_signals(64, 65536, seed=0)
    g = gaussian_taps(SMOOTHING_TAPS)
    threads = gpuconv.config.threads
    calls = {
        "gpuconv.convolve (auto)": lambda: gpuconv.convolve(x, g, "same"),
        "scipy.ndimage.convolve1d (constant)": lambda: scipy.ndimage.convolve1d(x, g, mode="constant"),
        f"scipy.signal.fftconvolve (workers={threads})": lambda: _with_workers(
            threads, lambda: scipy.signal.fftconvolve(x, g[None, :], "same", axes=1)),
        f"scipy.signal.oaconvolve (workers={threads})": lambda: _with_workers(
            threads, lambda: scipy.signal.oaconvolve(x, g[None, :], "same", axes=1)),
        "numpy.convolve, row by row": lambda: [np.convolve(row, g, "same") for row in x],
    }
    floor = max(2 * x.nbytes / COPY_BANDWIDTH, 2 * SMOOTHING_TAPS * x.size / FMA_PEAK_FLOAT32)
    times = {name: median_seconds(call) for name, call in calls.items()}
    ours = times["gpuconv.convolve (auto)"]
    print(f"| call | median | time / gpuconv's | roofline fraction (floor {floor * 1e3:.2f} ms) |")
    print("| --- | --- | --- | --- |")
    for name, seconds in times.items():
        print(f"| {name} | {seconds * 1e3:.2f} ms | {seconds / ours:.2f} | {floor / seconds:.2f} |")


def _with_workers(workers: int, call):
    import scipy.fft

    with scipy.fft.set_workers(workers):
        return call()


if __name__ == "__main__":
    main()
