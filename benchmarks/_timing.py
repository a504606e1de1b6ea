"""Timing shared by the benchmark scripts: the package's own (`gpuconv._bench.timing`),
a median with the page faults and kernel time it cost, and a heap that keeps
the temporaries."""

import resource

import numpy as np

from gpuconv._bench.timing import fastest_seconds, median_seconds

__all__ = ["FREED_BYTES", "counted", "fastest_seconds", "keep_temporaries", "median_seconds"]

#: Under glibc's 32 MiB cap on the thresholds it raises (DEFAULT_MMAP_THRESHOLD_MAX).
FREED_BYTES = 24 * 2**20


def keep_temporaries() -> None:
    """Free a block of `FREED_BYTES`, as any program that handles arrays of
    that size does sooner or later: glibc then raises its thresholds and
    stops giving the FFT methods' temporaries back to the kernel after each
    call, so a comparison does not time page faults that depend on what
    the process did before (``python -m benchmarks.heap_trim``)."""
    np.empty(FREED_BYTES, dtype=np.uint8)


def counted(func, repeats: int = 7) -> tuple[float, float, float]:
    """Median seconds of ``func`` over ``repeats`` runs, and its minor page
    faults and kernel-mode (``sys``) seconds per run, from ``getrusage``.

    ``func`` runs once before counting starts (compiling, loading a cached
    kernel); the counters then cover `median_seconds`' warm-up run and its
    ``repeats`` runs.
    """
    func()
    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds = median_seconds(func, repeats)
    after = resource.getrusage(resource.RUSAGE_SELF)
    runs = repeats + 1  # median_seconds' warm-up run too
    return (seconds, (after.ru_minflt - before.ru_minflt) / runs,
            (after.ru_stime - before.ru_stime) / runs)
