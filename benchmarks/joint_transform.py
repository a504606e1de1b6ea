"""The whole-row FFT with rows and kernel in one padded transform, against apart.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.joint_transform``

`gpuconv._algorithms.fft.fft_convolve` transforms the rows and the kernel
in one forward call, padded with zero lines to whole SIMD batches of
pocketfft when a call has fewer lines than a batch per thread
(`gpuconv._plan.transform_lines`), and pads the inverse the same way. Before,
it transformed the rows and the kernel in two calls, neither padded (kept
below as `apart`). The two run in turns in one process (`median_in_turns`,
15 turns, three times a case), after freeing a 24 MiB block so that no call
page-faults its temporaries (``python -m benchmarks.heap_trim``); the last
column is the largest difference between their results, relative to the
largest output.
"""

from __future__ import annotations

from unittest import mock

import numpy as np

from benchmarks._timing import keep_temporaries
from gpuconv import _algorithms
from gpuconv._algorithms import execute
from gpuconv._algorithms.fft import fft_convolve, transform_length, transforms
from gpuconv._bench.regret import Case
from gpuconv._bench.timing import median_in_turns
from gpuconv.backends import backend_named

#: Few rows (where the kernel's line and leftover lines weigh most), then the
#: calibration's and the bench's batches.
CASES = [Case(1, 16384, 1023, "float32"), Case(2, 16384, 1023, "float32"),
         Case(3, 16384, 1023, "float32"), Case(5, 16384, 1023, "float32"),
         Case(1, 65536, 4095, "float32"), Case(1, 16384, 1023, "float64"),
         Case(2, 16384, 511, "float64"), Case(1, 4096, 511, "complex64"),
         Case(64, 4096, 31, "float32"), Case(8, 65536, 31, "float64"),
         Case(16, 262144, 31, "float32")]


def apart(backend, x, w, request):
    """`fft_convolve` before the joint transform: rows, then kernel, unpadded."""
    start, out_len = request.start, request.out_len
    n, k = x.shape[1], w.shape[1]
    nfft = backend.next_fast_len(transform_length(n, k, start, out_len),
                                 real=not backend.xp.isdtype(x.dtype, "complex floating"))
    forward, inverse = transforms(backend, x.dtype)
    x_hat = forward(x, nfft)
    x_hat *= forward(w, nfft)
    return inverse(x_hat, nfft)[:, start:start + out_len]


def method(backend, case: Case, x, w, convolve):
    """The FFT method on ``case`` through `execute`, computed by ``convolve``."""
    def call():
        with mock.patch.dict(_algorithms.METHODS, {"fft": convolve}):
            return execute(backend, x, w, case.request(), "fft", np.dtype(case.dtype))
    return call


def main() -> None:
    backend = backend_named("numpy")
    keep_temporaries()
    print("| case | joint | apart | apart / joint | difference |")
    print("| --- | --- | --- | --- | --- |")
    for case in CASES:
        x, w = case.inputs()
        calls = {"joint": method(backend, case, x, w, fft_convolve),
                 "apart": method(backend, case, x, w, apart)}
        joint, separate = calls["joint"](), calls["apart"]()
        difference = float(np.max(np.abs(joint - separate)) / np.max(np.abs(separate)))
        runs = [median_in_turns(calls, repeats=15, warmup=0.5) for _ in range(3)]
        print(f"| {case} | " + ", ".join(f"{run['joint'] * 1e6:.0f}" for run in runs) + " µs | "
              + ", ".join(f"{run['apart'] * 1e6:.0f}" for run in runs) + " µs | "
              + ", ".join(f"{run['apart'] / run['joint']:.2f}" for run in runs)
              + f" | {difference:.1e} |", flush=True)


if __name__ == "__main__":
    main()
