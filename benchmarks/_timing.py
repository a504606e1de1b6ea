"""Timing shared by the benchmark scripts: the package's own (`gpuconv._bench.timing`,
with its heap that keeps the temporaries) and a median with the page faults and
kernel time it cost."""

import resource

from gpuconv._bench.timing import FREED_BYTES, fastest_seconds, keep_temporaries, median_seconds

__all__ = ["FREED_BYTES", "counted", "fastest_seconds", "keep_temporaries", "median_seconds"]


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
