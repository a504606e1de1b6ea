"""Timing: medians of repeated runs after a warm-up, on the CPU clock or CUDA events."""

from __future__ import annotations

import statistics
import time

import numpy as np

#: Under glibc's 32 MiB cap on the thresholds it raises (DEFAULT_MMAP_THRESHOLD_MAX).
FREED_BYTES = 24 * 2**20


def keep_temporaries() -> None:
    """Free a block of `FREED_BYTES`, as any program that handles arrays of
    that size does sooner or later: glibc then raises its thresholds and
    stops giving temporaries under that size back to the kernel after each
    call, so a comparison does not time page faults that depend on what
    the process did before (docs/performance.md, "glibc's heap trimming").
    Elsewhere it only allocates and frees a block."""
    np.empty(FREED_BYTES, dtype=np.uint8)


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
    return _warmed_median(_cuda_timer(func), repeats, budget, warmup)


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
    timed = _timer(func)
    warm = _warmed_up(timed, warmups, warmup)
    if budget is not None and warm > 0:
        repeats = max(1, min(repeats, int(budget / warm)))
    return min(timed() for _ in range(repeats))


def fastest_in_turns(funcs: dict, repeats: int = 7, *, warmups: int = 2,
                     budget: float | None = None, warmup: float = 0.0,
                     runs_per_turn: int = 1) -> dict:
    """`fastest_seconds` of each of ``funcs`` (name to callable), timed in turns.

    Each is warmed up on its own as `fastest_seconds` does; then each of
    ``repeats`` rounds gives every one a turn of ``runs_per_turn`` runs. A
    slow spell of a shared machine that outlasts a call (another process, a
    second core that stops helping for tens of milliseconds) then falls on
    all of them alike instead of on whichever was being timed: for comparing
    methods. With two runs a turn, the second is not the first call after
    another function (whose threads may still hold a core). ``budget`` is
    seconds per function, as in `median_seconds`.

    >>> times = fastest_in_turns({"short": lambda: sum(range(10)),
    ...                           "long": lambda: sum(range(10_000))}, repeats=3)
    >>> times["short"] < times["long"]
    True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    timers = {name: _timer(func) for name, func in funcs.items()}
    round_seconds = runs_per_turn * sum(_warmed_up(timed, warmups, warmup)
                                        for timed in timers.values())
    if budget is not None and round_seconds > 0:
        repeats = max(1, min(repeats, int(budget * len(funcs) / round_seconds)))
    return {name: min(min(turn) for turn in turns)
            for name, turns in _turns(timers, repeats, runs_per_turn).items()}


def median_in_turns(funcs: dict, repeats: int = 7, *, warmup: float = 0.0,
                    cuda: bool = False) -> dict:
    """Median time of each of ``funcs`` (name to callable), timed side by side in turns.

    Each is warmed up on its own as `median_seconds` does; then each of
    ``repeats`` rounds gives every one a turn of two runs, and the second
    is timed: the first may share the CPU with the previous function's
    threads, still spinning, which a user repeating one call does not meet.
    A slow spell of a shared machine then falls on all of them alike, so
    their ratios hold better than those of medians taken one function
    after the other. ``cuda``: device time, as `cuda_median_seconds`.

    >>> times = median_in_turns({"short": lambda: sum(range(10)),
    ...                          "long": lambda: sum(range(10_000))}, repeats=3)
    >>> times["short"] < times["long"]
    True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    timers = {name: (_cuda_timer if cuda else _timer)(func) for name, func in funcs.items()}
    for timed in timers.values():
        _warmed_up(timed, 1, warmup)
    return {name: statistics.median(turn[1] for turn in turns)
            for name, turns in _turns(timers, repeats, 2).items()}


def _turns(timers: dict, repeats: int, runs_per_turn: int) -> dict:
    """``{name: [seconds of each run of a turn] for each round}``: ``repeats``
    rounds, each giving every one of ``timers`` a turn of ``runs_per_turn`` runs."""
    turns = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timed in timers.items():
            turns[name].append([timed() for _ in range(runs_per_turn)])
    return turns


def _timer(func):
    """A function that calls ``func()`` and returns the seconds it took."""
    def timed() -> float:
        started = time.perf_counter()
        func()
        return time.perf_counter() - started

    return timed


def _cuda_timer(func):
    """A function that calls ``func()`` and returns its seconds on the GPU:
    CUDA events around it on CuPy's current stream."""
    import cupy

    def timed() -> float:
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        func()
        stop.record()
        stop.synchronize()
        return cupy.cuda.get_elapsed_time(start, stop) / 1e3  # milliseconds

    return timed


def _warmed_up(timed, warmups: int, warmup: float) -> float:
    """Run ``timed`` ``warmups`` times and for ``warmup`` seconds after the
    first run (which may compile or load a kernel); the fastest time seen."""
    warm = timed()
    begin, runs = time.perf_counter(), 1
    while runs < warmups or time.perf_counter() - begin < warmup:
        warm = min(warm, timed())
        runs += 1
    return warm
