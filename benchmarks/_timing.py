"""Timing shared by the benchmark scripts: the package's own (`gpuconv._bench.timing`)."""

from gpuconv._bench.timing import fastest_seconds, median_seconds

__all__ = ["fastest_seconds", "median_seconds"]
