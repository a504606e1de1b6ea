"""Does the direct kernel's speed depend on where its output lies relative to its input?

Run: ``python -m benchmarks.output_distance``

The Numba kernel is timed on the direct workloads of ``gpuconv bench`` (W1,
W2, W4, W5), writing into outputs placed at several distances before (−)
and after (+) the input inside one buffer: the same input bytes and
weights, every output touched before timing. The placements take turns,
and each one's median of 7 turns after a warm-up turn is printed in ms.

``− (size + 4 KiB)`` is where glibc's allocator puts the next large array of
the same size, so a caller that allocates its output right after its input
gets that placement.
"""

from __future__ import annotations

import time

import numpy as np

from gpuconv._bench.workloads import workload
from gpuconv.backends import _numba_kernels

KIB = 1024
MIB = 1024 * KIB
#: Distances of the output's start from the input's start, in bytes past the input's size.
EXTRA = {"0": 0, "4 KiB": 4 * KIB, "8 KiB": 8 * KIB, "64 KiB": 64 * KIB, "256 KiB": 256 * KIB,
         "1 MiB": MIB}
REPEATS = 7
WORKLOADS = ("W1", "W2", "W4", "W5")  # those `auto` runs direct


def kernel_seconds(name: str) -> dict:
    """Median kernel seconds of workload ``name`` for each placement of its output."""
    chosen = workload(name)
    inputs = chosen.inputs()
    request = chosen.request()
    itemsize = np.dtype(chosen.dtype).itemsize
    size = request.rows * request.out_len  # the output, as many items as the input
    gap = (max(EXTRA.values()) + size * itemsize) // itemsize  # room on each side
    buffer = np.zeros(2 * gap + size, dtype=chosen.dtype)
    x = buffer[gap:gap + size].reshape(request.rows, request.out_len)
    x[...] = inputs["x"]
    weights = inputs["w"][None]
    outputs = {}
    for label, extra in EXTRA.items():
        for sign in ("−", "+"):
            offset = gap + (-1 if sign == "−" else 1) * (size + extra // itemsize)
            outputs[f"{sign} (size + {label})"] = buffer[offset:offset + size].reshape(x.shape)
    times = {label: [] for label in outputs}
    # Round-robin, so a slow spell of this shared machine hits every placement alike.
    for _ in range(1 + REPEATS):  # the first round warms up and is dropped
        for label, out in outputs.items():
            started = time.perf_counter()
            _numba_kernels.direct(x, weights, request.start, request.out_len,
                                  request.boundary, request.cval, out=out)
            times[label].append(time.perf_counter() - started)
    return {label: float(np.median(runs[1:])) for label, runs in times.items()}


def main() -> None:
    results = {name: kernel_seconds(name) for name in WORKLOADS}
    print("| output starts at the input's start ... bytes | "
          + " | ".join(f"{name} kernel" for name in WORKLOADS) + " |")
    print("| --- " * (1 + len(WORKLOADS)) + "|")
    for label in results[WORKLOADS[0]]:
        print(f"| {label} | "
              + " | ".join(f"{results[name][label] * 1e3:.1f} ms" for name in WORKLOADS) + " |")


if __name__ == "__main__":
    main()
