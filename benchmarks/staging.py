"""What staging a row's ends costs the direct kernel on short rows.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.staging``.

A 'same' convolution of 256-sample rows with a long kernel reads past both
ends of every row, so `gpuconv.backends._numba_kernels` stages each row in a
window with its boundary applied before summing. This times the kernel, in
one process, on 1024 such rows (zero boundary, as ``convolve``'s 'same';
and 'reflect', as ``ndimage``'s default), beside the same multiply-adds
read in place (rows of ``256 + k - 1`` samples, every output inside) and on
one row of ``1024 * 256`` outputs. Medians of 21 runs into an output
touched beforehand, the calls in turns (`median_in_turns`: two runs a turn,
the second timed; the first figures in docs/performance.md were timed one
run a turn), in µs.
"""

from __future__ import annotations

import numpy as np

from gpuconv._bench.timing import median_in_turns
from gpuconv.backends import _numba_kernels

ROWS, OUTPUTS = 1024, 256
CASES = [("float32", 31), ("float32", 127), ("float32", 255), ("float64", 127)]
REPEATS = 21


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{ROWS} rows of {OUTPUTS} outputs; medians of {REPEATS}, µs")
    print("| dtype, K | staged, zero | staged, reflect | read in place | one long row "
          "| zero / in place |")
    print("| --- | --- | --- | --- | --- | --- |")
    for dtype, k in CASES:
        w = rng.standard_normal((1, k)).astype(dtype)
        short = rng.standard_normal((ROWS, OUTPUTS)).astype(dtype)
        inside = rng.standard_normal((ROWS, OUTPUTS + k - 1)).astype(dtype)
        long_row = rng.standard_normal((1, ROWS * OUTPUTS + k - 1)).astype(dtype)
        out, long_out = np.zeros((ROWS, OUTPUTS), dtype), np.zeros((1, ROWS * OUTPUTS), dtype)
        calls = [lambda: _numba_kernels.direct(short, w, k // 2, OUTPUTS, "zero", out=out),
                 lambda: _numba_kernels.direct(short, w, k // 2, OUTPUTS, "reflect", out=out),
                 lambda: _numba_kernels.direct(inside, w, k - 1, OUTPUTS, out=out),
                 lambda: _numba_kernels.direct(long_row, w, k - 1, ROWS * OUTPUTS, out=long_out)]
        times = median_in_turns(dict(enumerate(calls)), repeats=REPEATS)
        medians = [times[index] * 1e6 for index in range(len(calls))]
        print(f"| {dtype}, K={k} | " + " | ".join(f"{m:.0f}" for m in medians)
              + f" | {medians[0] / medians[2]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
