"""The blocked FFT's two CPU settings on W3, and what one call costs the kernel.

Run with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.blocked_fft``.

1. ``method='oa'`` on W3 (16 x 262144 float32, K=4095, 'same') for caps on
   the transform length (`NumpyBackend.block_fft_points`) and group sizes
   (`NumpyBackend.block_group_bytes`): median of 7, twice each.
2. Each FFT path and ``scipy.signal.fftconvolve`` (workers = the library's
   threads) on W3, with the minor page faults and the kernel (``sys``) time
   per call (``getrusage``): fresh temporaries larger than the allocator
   keeps are faulted in, and zeroed by the kernel, on every call.
3. What handing tasks to the helper threads costs: `NumpyBackend.run_tasks`
   with two empty tasks against one (fastest of 2000 calls).
4. The steps of one group (16 frames of 16384 points of W3's first row) on
   one thread: framing, forward transform, spectral product, inverse, store
   (fastest of 200).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal

import gpuconv
from benchmarks._timing import counted, fastest_seconds, median_seconds
from gpuconv._algorithms.overlap import _frames
from gpuconv._bench.workloads import _with_workers, workload
from gpuconv.backends.numpy_backend import NumpyBackend

CAPS = (16384, 32768, 65536)
GROUP_KIB = (256, 1024, 4096)


def main() -> None:
    inputs = workload("W3").inputs()
    x, w = inputs["x"], inputs["w"]
    threads = gpuconv.config.effective_threads()
    print(f"W3, {threads} threads; method='oa', median of 7 (two measurements)")
    print("| cap (points) | " + " | ".join(f"groups of {kib} KiB" for kib in GROUP_KIB) + " |")
    print("| --- |" + " --- |" * len(GROUP_KIB))
    saved = NumpyBackend.block_fft_points, NumpyBackend.block_group_bytes
    try:
        for cap in CAPS:
            cells = []
            for kib in GROUP_KIB:
                NumpyBackend.block_fft_points, NumpyBackend.block_group_bytes = cap, kib * 1024
                times = [median_seconds(lambda: gpuconv.convolve(x, w, "same", method="oa"))
                         for _ in range(2)]
                cells.append(" / ".join(f"{t * 1e3:.1f}" for t in times) + " ms")
            print(f"| {cap} | " + " | ".join(cells) + " |")
    finally:
        NumpyBackend.block_fft_points, NumpyBackend.block_group_bytes = saved

    calls = {
        "gpuconv method='oa'": lambda: gpuconv.convolve(x, w, "same", method="oa"),
        "gpuconv method='fft'": lambda: gpuconv.convolve(x, w, "same", method="fft"),
        f"scipy.signal.fftconvolve (workers={threads})": lambda: _with_workers(
            threads, scipy.signal.fftconvolve, x, w[None], mode="same", axes=-1),
    }
    print("\n| call | median | minor faults a call | sys a call |")
    print("| --- | --- | --- | --- |")
    for label, call in calls.items():
        seconds, faults, system = counted(call, repeats=8)
        print(f"| {label} | {seconds * 1e3:.1f} ms | {faults:.0f} | {system * 1e3:.1f} ms |")

    backend = NumpyBackend()
    shared = fastest_seconds(lambda: backend.run_tasks(lambda index: None, 2), repeats=2000)
    alone = fastest_seconds(lambda: backend.run_tasks(lambda index: None, 1), repeats=2000)
    print(f"\nrun_tasks: two empty tasks {shared * 1e6:.1f} us, one {alone * 1e6:.1f} us a call")

    nfft, frames_a_group = NumpyBackend.block_fft_points, 16
    k = w.size
    step = nfft - k + 1
    row = x[:1]
    spectrum_w = scipy.fft.rfft(w, nfft)
    frames = _frames(np, row, 0, frames_a_group, step, nfft)
    spectrum = scipy.fft.rfft(frames, nfft, workers=1)
    inverse = scipy.fft.irfft(spectrum, nfft, workers=1)
    out, product = np.empty((1, frames_a_group, step), dtype=x.dtype), np.empty_like(spectrum)
    steps = {
        "framing": lambda: _frames(np, row, 0, frames_a_group, step, nfft),
        "forward": lambda: scipy.fft.rfft(frames, nfft, workers=1),
        "product": lambda: np.multiply(spectrum, spectrum_w, out=product),
        "inverse": lambda: scipy.fft.irfft(spectrum, nfft, workers=1),
        "store": lambda: np.copyto(out, inverse[..., k - 1:]),
    }
    print("\none group of 16 frames, one thread: " + ", ".join(
        f"{name} {fastest_seconds(step_call, repeats=200) * 1e6:.0f} us"
        for name, step_call in steps.items()))


if __name__ == "__main__":
    main()
