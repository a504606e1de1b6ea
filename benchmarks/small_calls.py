"""Small calls: what a call costs beyond its arithmetic.

Run with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.small_calls``.
A user filtering many short signals one call at a time pays the front's
checks, the ``auto`` choice and the kernel launch on every call. For a few
small cases this prints the fastest of 7 repeats of a loop of calls, per
call, of ``gpuconv.convolve`` ('same', ``auto`` and ``direct``) beside
``numpy.convolve`` (a row at a time) and ``scipy.signal.convolve``. A
second table gives the median and the longest of 40 calls, each made after
the process slept a while, as calls in a notebook are, with
``gpuconv.nn.functional.conv1d`` on the same 64 samples (one channel in,
four out) beside them.
"""

from __future__ import annotations

import statistics
import time
import timeit

import numpy as np
import scipy.signal

import gpuconv
import gpuconv.nn.functional

#: (rows, n, k, dtype)
CASES = [(1, 64, 3, "float64"), (1, 1024, 31, "float32"), (1, 1024, 511, "float64"),
         (1, 1024, 1023, "float32"), (4, 4096, 31, "float32")]


def per_call(func) -> float:
    """Fastest of 7 repeats of a loop of at least 0.2 s, per call, after
    `timeit.Timer.autorange` has sized the loop (its calibration loops are
    the warm-up: the first call may load a kernel)."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=7, number=number)) / number


def main() -> None:
    rng = np.random.default_rng(0)
    print("Per call, fastest of 7 loops of at least 0.2 s ('same')")
    print("| batch | gpuconv auto | gpuconv direct | numpy.convolve | scipy.signal.convolve |")
    print("| --- | --- | --- | --- | --- |")
    for rows, n, k, dtype in CASES:
        x = rng.standard_normal((rows, n)).astype(dtype)
        w = rng.standard_normal(k).astype(dtype)
        signal = x[0] if rows == 1 else x
        kernel = w if rows == 1 else w[None]
        times = [per_call(lambda: gpuconv.convolve(signal, w, "same")),
                 per_call(lambda: gpuconv.convolve(signal, w, "same", method="direct")),
                 per_call(lambda: [np.convolve(row, w, "same") for row in x]),
                 per_call(lambda: scipy.signal.convolve(signal, kernel, "same"))]
        print(f"| {rows} × {n} {dtype}, K={k} | "
              + " | ".join(f"{t * 1e6:.1f} µs" for t in times) + " |", flush=True)

    print()
    print("gpuconv.convolve(x, w, 'same'), 64 float64 samples, K=3: median and longest of 40 "
          "calls, each after a sleep")
    print("| sleep before each call | auto | direct | nn.functional.conv1d, 1 → 4 channels "
          "| numpy.convolve |")
    print("| --- | --- | --- | --- | --- |")
    x, w = rng.standard_normal(64), rng.standard_normal(3)
    layer_weight = rng.standard_normal((4, 1, 3))
    calls = [lambda: gpuconv.convolve(x, w, "same"),
             lambda: gpuconv.convolve(x, w, "same", method="direct"),
             lambda: gpuconv.nn.functional.conv1d(x[None, None], layer_weight, padding=1),
             lambda: np.convolve(x, w, "same")]
    for call in calls:  # the first call of a process may load a kernel
        call()
    for pause in (0.0, 0.002, 0.02, 0.1):
        cells = []
        for call in calls:
            times = []
            for _ in range(40):
                time.sleep(pause)
                began = time.perf_counter()
                call()
                times.append(time.perf_counter() - began)
            cells.append(f"{statistics.median(times) * 1e6:.0f} µs, {max(times) * 1e6:.0f} µs")
        print(f"| {pause * 1e3:g} ms | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
