"""What the GPU cost model predicts, for the docs (no GPU needed, nothing measured).

Run: ``python -m benchmarks.gpu_model``. Prints, for the data-sheet figures of
common GPUs (`gpuconv._algorithms.choose.KNOWN_DEVICES`), the kernel length
from which `auto` prefers an FFT method, and the model's predicted times of
the direct kernel and of the FFT path on the CPU-performance issue's
workloads, next to the same kind of roofline for
``cupyx.scipy.ndimage.convolve1d`` (`ndimage_seconds`). These are
predictions, to be replaced by measurements from ``scripts/gpu-check.sh`` on
a GPU.
"""

from __future__ import annotations

import scipy.fft

from gpuconv._algorithms.choose import ITEMSIZE, KNOWN_DEVICES, crossover_taps, gpu_estimate
from gpuconv._plan import Request

WORKLOADS = {  # name: (rows, n, k, dtype)
    "W1 64 × 262144 f32, K=15": (64, 262144, 15, "float32"),
    "W2 64 × 262144 f32, K=127": (64, 262144, 127, "float32"),
    "W3 16 × 262144 f32, K=4095": (16, 262144, 4095, "float32"),
    "W4 100000 × 256 f32, K=7": (100000, 256, 7, "float32"),
    "W5 1 × 2^24 f64, K=31": (1, 2**24, 31, "float64"),
}


def next_fast_len(n: int, real: bool) -> int:
    return scipy.fft.next_fast_len(n, real)


def ndimage_seconds(figures, rows: int, n: int, k: int, dtype: str) -> float:
    """Roofline of ``cupyx.scipy.ndimage.convolve1d``: one thread per output.

    Its generated kernel loads, for every tap, one input sample and one
    weight through the L1 cache (neighbouring threads share them, so DRAM
    still sees each input once). A streaming multiprocessor moves 128 bytes
    per clock through L1 and does 128 FP32 FMAs (256 FLOP) per clock, so L1
    bandwidth is about ``fp32 / 2`` bytes per second; the time is the larger
    of that traffic and the DRAM floor, boundary index arithmetic ignored
    (which favours cupyx).
    """
    itemsize = ITEMSIZE[dtype]
    outputs = rows * n
    dram = 2 * outputs * itemsize / figures.bandwidth
    l1 = 2 * k * itemsize * outputs / (figures.fp32 / 2)
    return max(dram, l1) + figures.launch


def main() -> None:
    shapes = [(64, 262144, "float32"), (64, 262144, "float64"), (1, 2**24, "float32"),
              (100000, 256, "float32")]
    print("| device | " + " | ".join(f"{r} × {n} {d}" for r, n, d in shapes) + " |")
    print("| --- |" + " --- |" * len(shapes))
    for figures in KNOWN_DEVICES.values():
        row = [crossover_taps(figures, r, n, d, next_fast_len) for r, n, d in shapes]
        print(f"| {figures.name} | " + " | ".join(map(str, row)) + " |")
    print()
    figures = KNOWN_DEVICES["H100"]
    print(f"| workload ({figures.name}, predicted) | direct | fft | oa | auto picks "
          "| cupyx ndimage.convolve1d | its time / auto's |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, (rows, n, k, dtype) in WORKLOADS.items():
        request = Request(rows=rows, n=n, k=k, kernel_rows=1, start=(k - 1) // 2, out_len=n)
        times = gpu_estimate(figures, request, dtype, next_fast_len)
        cells = " | ".join(f"{times[m] * 1e6:.0f} µs" for m in ("direct", "fft", "oa"))
        ndimage = ndimage_seconds(figures, rows, n, k, dtype)
        chosen = min(times, key=times.get)
        print(f"| {name} | {cells} | {chosen} | {ndimage * 1e6:.0f} µs "
              f"| {ndimage / times[chosen]:.1f} |")


if __name__ == "__main__":
    main()
