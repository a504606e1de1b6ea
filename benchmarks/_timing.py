"""Timing shared by the benchmarks: medians of repeated runs after a warm-up."""

from __future__ import annotations

import statistics
import time


def median_seconds(func, repeats: int = 7) -> float:
    """Median wall time of ``func()`` over ``repeats`` runs, after one warm-up
    run (JIT compilation, FFT plans, caches)."""
    func()
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        func()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)
