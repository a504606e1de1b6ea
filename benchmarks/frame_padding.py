"""The blocked FFT with one row's frames in whole SIMD batches, against without.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.frame_padding``

pocketfft transforms 4 single- or 2 double-precision lines at once and
the lines left over one at a time, each at about four times the cost of a
line in a batch. So the blocked FFT pads a group of one row's frames to a
whole number of batches with frames past the row's end
(``NumpyBackend.fft_batch_lines``). W3's rows are 22 blocks each, in groups
of 12 and 10 frames; without padding the 10 are two batches and two lines
left over, about the work of 16 frames in batches. Without is
the backend answering 1 for the batch, as before the padding. The two run
in turns in one process (`median_in_turns`, 15 turns, three times a case),
on W3 and on cases of the auto-regret grid that `auto` gives the blocked
FFT; the script also checks that both give the same result.
"""

from __future__ import annotations

from unittest import mock

import numpy as np

from gpuconv._algorithms import execute
from gpuconv._bench.regret import Case
from gpuconv._bench.timing import median_in_turns
from gpuconv.backends import backend_named
from gpuconv.backends.numpy_backend import NumpyBackend

CASES = [Case(16, 262144, 4095, "float32"), Case(1, 262144, 1023, "float32"),
         Case(16, 65536, 511, "float32"), Case(64, 16384, 255, "float32"),
         Case(1, 2097152, 255, "float64"), Case(1, 16384, 511, "float64")]
PADDED = NumpyBackend.__dict__["fft_batch_lines"]


def blocked(backend, case: Case, x, w, padded: bool):
    """The blocked FFT on ``case``, its frames padded or not."""
    def call():
        lines = PADDED if padded else staticmethod(lambda dtype: 1)
        with mock.patch.object(NumpyBackend, "fft_batch_lines", lines):
            return execute(backend, x, w, case.request(), "oa", np.dtype(case.dtype))
    return call


def main() -> None:
    backend = backend_named("numpy")
    print("| case | padded | not padded | not padded / padded | same result |")
    print("| --- | --- | --- | --- | --- |")
    for case in CASES:
        x, w = case.inputs()
        calls = {padded: blocked(backend, case, x, w, padded) for padded in (True, False)}
        same = bool(np.array_equal(calls[True](), calls[False]()))
        runs = [median_in_turns(calls, repeats=15, warmup=0.5) for _ in range(3)]
        print(f"| {case} | " + ", ".join(f"{run[True] * 1e3:.2f}" for run in runs) + " ms | "
              + ", ".join(f"{run[False] * 1e3:.2f}" for run in runs) + " ms | "
              + ", ".join(f"{run[False] / run[True]:.2f}" for run in runs) + f" | {same} |",
              flush=True)


if __name__ == "__main__":
    main()
