"""Direct calls on all threads when another process keeps one core busy.

Run with ``python -m benchmarks.busy_core``. The Numba kernel runs its jobs
in a parallel region whose end waits for every thread of the team; with
another process spinning on one of the two cores, the thread that shares
its core is scheduled late. This times ``gpuconv.convolve(method='direct')``
on both threads and on one (``gpuconv.config.threads``), first on a quiet
machine and then beside a spinning process that the script starts itself.
Calls are 2 ms apart, as between a program's calls, so the pool's threads
go to sleep between them. Medians of 41 calls.
"""

from __future__ import annotations

import multiprocessing
import time

import numba
import numpy as np

import gpuconv

#: (rows, n, k, dtype)
CASES = [(1, 1000, 16, "float64"), (1, 1024, 255, "float32"), (1, 1024, 511, "float64"),
         (64, 1000, 31, "float64"), (16, 4096, 63, "float32"), (64, 4096, 31, "float32"),
         (64, 16384, 31, "float32")]


def spin() -> None:
    while True:
        pass


def median_call(a, v, threads: int) -> float:
    gpuconv.config.threads = threads
    gpuconv.convolve(a, v, method="direct")
    times = []
    for _ in range(41):
        began = time.perf_counter()
        gpuconv.convolve(a, v, method="direct")
        times.append(time.perf_counter() - began)
        time.sleep(0.002)
    return float(np.median(times))


def table(rng) -> list[str]:
    rows = ["| case | multiply-adds | both threads | one thread |", "| --- | --- | --- | --- |"]
    for batch, n, k, dtype in CASES:
        a = rng.standard_normal((batch, n)).astype(dtype)
        v = rng.standard_normal(k).astype(dtype)
        both, one = (median_call(a, v, threads) for threads in (2, 1))
        rows.append(f"| {batch} × {n} {dtype}, K={k} | {a.size * k:.2g} | {1e6 * both:.0f} µs "
                    f"| {1e6 * one:.0f} µs |")
    return rows


def main() -> None:
    saved = gpuconv.config.threads
    rng = np.random.default_rng(0)
    try:
        print("Quiet:\n")
        print("\n".join(table(rng)))
        spinner = multiprocessing.Process(target=spin, daemon=True)
        spinner.start()
        try:
            time.sleep(0.5)
            print("\nOne core busy (a spinning process):\n")
            print("\n".join(table(rng)))
        finally:
            spinner.terminate()
            spinner.join()
    finally:
        gpuconv.config.threads = saved
    print(f"\nNumba threading layer: {numba.threading_layer()}")


if __name__ == "__main__":
    main()
