"""What a transform line costs alone against one in a full SIMD batch (scipy.fft).

Run with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.fft_lines``.
pocketfft transforms ``FFT_SIMD_LINES`` lines per thread together in SIMD
registers and the lines left over one at a time; the CPU cost model
(`gpuconv._algorithms.choose.batched_lines`) counts a leftover line as
``FFT_LEFTOVER_COST`` lines of a batch, the threads sharing the leftovers.
This prints, per dtype, the time of one call over 1, 2, ... lines of 65536
points with the library's threads, per line, against a line of a call of
many whole batches, and what the model says.

Then, for `gpuconv._plan.transform_lines`, which pads a call of few lines
with zero lines to whole batches: the time of one call on one thread over
1 to 2 batches of lines, real transforms both ways at three lengths, the
calls of a row timed in turns (`fastest_in_turns`), against one line alone.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

import gpuconv
from gpuconv._algorithms.choose import FFT_SIMD_LINES, batched_lines
from gpuconv._bench.timing import fastest_in_turns, fastest_seconds

POINTS = 65536
#: Lengths of the one-thread table: in L1-L2, L2 and beyond.
FEW_LINES_POINTS = (4096, 17496, 65536)


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
    few_lines(rng)


def few_lines(rng) -> None:
    """One call over 1 to 2 batches of lines on one thread, against one line."""
    print("\nOne thread; time of a call over L lines against a call over one line")
    print("| dtype | points | transform | " + " | ".join(f"L={lines}" for lines in range(1, 9)) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in range(8)) + " |")
    for dtype in ("float32", "float64"):
        width = FFT_SIMD_LINES[dtype]
        for points in FEW_LINES_POINTS:
            signals = {lines: rng.standard_normal((lines, points)).astype(dtype)
                       for lines in range(1, 2 * width + 1)}
            spectra = {lines: scipy.fft.rfft(x, axis=-1) for lines, x in signals.items()}
            for name, calls in (
                    ("rfft", {lines: lambda x=x: scipy.fft.rfft(x, axis=-1, workers=1)
                              for lines, x in signals.items()}),
                    ("irfft", {lines: lambda s=s: scipy.fft.irfft(s, points, axis=-1, workers=1)
                               for lines, s in spectra.items()})):
                times = fastest_in_turns(calls, repeats=15)
                cells = [f"{times[lines] / times[1]:.2f}" if lines in times else ""
                         for lines in range(1, 9)]
                print(f"| {dtype} | {points} | {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
