"""Timing: medians of repeated runs after a warm-up, on the CPU clock or CUDA events."""

from __future__ import annotations

import statistics
import time


def median_seconds(func, repeats: int = 7, *, budget: float | None = None,
                   warmup: float = 0.0) -> float:
    """Median wall time of ``func()`` over ``repeats`` runs, after warming up.

    The warm-up runs ``func()`` once, and again until ``warmup`` seconds
    have passed: it absorbs JIT compilation, FFT plans, cold caches and, in
    a young process, the slow first page faults of large fresh arrays. With
    ``budget`` (seconds), a call whose warm-up shows that ``repeats`` runs
    would exceed it is repeated fewer times (at least once): a method ten
    times slower than the best needs no precise figure.

    >>> median_seconds(lambda: sum(range(100)), repeats=3, warmup=0.01) > 0
    True
    """
    def timed() -> float:
        start = time.perf_counter()
        func()
        return time.perf_counter() - start

    return _warmed_median(timed, repeats, budget, warmup)


def _warmed_median(timed, repeats: int, budget: float | None, warmup: float) -> float:
    """Median of ``repeats`` calls of ``timed()`` (seconds a run) after the
    warm-up and within the budget `median_seconds` describes."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    begin = time.perf_counter()
    warm = timed()
    while time.perf_counter() - begin < warmup:
        warm = timed()
    if budget is not None and warm > 0:
        repeats = max(1, min(repeats, int(budget / warm)))
    return statistics.median(timed() for _ in range(repeats))


def cuda_median_seconds(func, repeats: int = 7, *, budget: float | None = None,
                        warmup: float = 0.0) -> float:
    """`median_seconds` on the GPU: CUDA events around each run on the current stream.

    Each run is bracketed by two events recorded on CuPy's current stream
    (the legacy default stream unless the caller changed it, which is also
    PyTorch's), so the figure is device time from the first kernel to the
    last, launch latency included, host synchronisation excluded. The
    warm-up as in `median_seconds`.
    """
    import cupy

    def timed() -> float:
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        func()
        stop.record()
        stop.synchronize()
        return cupy.cuda.get_elapsed_time(start, stop) / 1e3  # milliseconds

    return _warmed_median(timed, repeats, budget, warmup)


def fastest_seconds(func, repeats: int = 7, *, warmups: int = 2,
                    budget: float | None = None, warmup: float = 0.0) -> float:
    """Shortest wall time of ``func()`` over ``repeats`` runs, after warming up.

    For fitting and comparing methods on a shared machine: other work only
    ever adds time, so the fastest run is the least disturbed one. The
    warm-up runs ``func()`` ``warmups`` times, and again until ``warmup``
    seconds have passed since the first run (which may compile or load a
    kernel): under load, the first ten or so parallel calls of a fresh
    process take milliseconds each (docs/performance.md, "Auto regret").
    ``budget`` as in `median_seconds`.

    >>> fastest_seconds(lambda: sum(range(100)), repeats=3, warmup=0.01) > 0
    True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")

    def timed() -> float:
        started = time.perf_counter()
        func()
        return time.perf_counter() - started

    warm = timed()  # may compile or load a kernel: the warm-up clock starts after it
    begin, runs = time.perf_counter(), 1
    while runs < warmups or time.perf_counter() - begin < warmup:
        warm = min(warm, timed())
        runs += 1
    if budget is not None and warm > 0:
        repeats = max(1, min(repeats, int(budget / warm)))
    return min(timed() for _ in range(repeats))
