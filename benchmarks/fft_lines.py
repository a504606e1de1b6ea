"""What a transform line costs alone against one in a full SIMD batch (scipy.fft).

Run with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.fft_lines``.
pocketfft transforms ``FFT_SIMD_LINES`` lines per thread together in SIMD
registers and the lines left over one at a time; the CPU cost model
(`gpuconv._algorithms.choose.batched_lines`) counts a leftover line as
``FFT_LEFTOVER_COST`` lines of a batch, the threads sharing the leftovers.
This prints, per dtype, the time of one call over 1, 2, ... lines of 65536
points with the library's threads, per line, against a line of a call of
many whole batches, and what the model says.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

import gpuconv
from gpuconv._algorithms.choose import FFT_SIMD_LINES, batched_lines
from gpuconv._bench.timing import fastest_seconds

POINTS = 65536


def main() -> None:
    threads = gpuconv.config.effective_threads()
    rng = np.random.default_rng(0)
    print(f"{threads} threads, {POINTS} points a line; fastest of 9 calls")
    print("| dtype | lines | time per line | against a batched line | model |")
    print("| --- | --- | --- | --- | --- |")
    for dtype, width in FFT_SIMD_LINES.items():
        batch = width * threads
        transform = scipy.fft.fft if dtype.startswith("complex") else scipy.fft.rfft

        def per_line(lines: int) -> float:
            x = rng.standard_normal((lines, POINTS)).astype(dtype)
            return fastest_seconds(lambda: transform(x, axis=-1, workers=threads), repeats=9) / lines

        batched = per_line(8 * batch)
        for lines in sorted({1, width, batch, 8 * batch}):
            model = batched_lines(lines, threads, dtype) / lines
            seconds = per_line(lines)
            print(f"| {dtype} | {lines} | {seconds * 1e6:.0f} µs | {seconds / batched:.2f} | {model:.2f} |")


if __name__ == "__main__":
    main()
