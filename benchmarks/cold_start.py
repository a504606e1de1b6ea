"""First-call latency: a process with an empty Numba cache, then one with it filled.

Run: ``python -m benchmarks.cold_start``, or ``python benchmarks/cold_start.py
--installed`` with the Python of a venv that installed gpuconv from its
wheel (``pip install .``), from outside the checkout.

Two fresh interpreters share one new, empty ``NUMBA_CACHE_DIR``. Each times
``import gpuconv``, its first float32 direct call (``gpuconv.convolve(...,
method='direct')``) and then its first call of the demo's pipeline (the
multi-channel ``gpuconv.nn`` kernel). The first interpreter compiles both
kernels; the second loads them from the cache, as every later process after
installation does. For the compiling run, Numba's own timers
(``overloads[sig].metadata['timers']``, seconds under its compiler lock,
callees included) show where the direct kernel's compile time goes.

``--installed`` runs one fresh interpreter with no ``NUMBA_CACHE_DIR``, so
Numba looks beside the installed sources, where the wheel put the kernels
it compiled while it was built (``hatch_build.py``), and prints its times,
where gpuconv came from and how many kernel entry points came from the
cache (Numba's counters).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

#: Numba functions of the direct kernel, outermost first.
DIRECT_FUNCTIONS = ("direct_rows", "_run_jobs", "_run_job", "_correlate_window",
                    "_pass", "_last_pass", "_stage", "_skip_missing")


def measure() -> dict:
    """Times of this (fresh) process, and the direct kernel's compile timers."""
    began = time.perf_counter()
    import numpy as np

    import gpuconv

    seconds = {"import gpuconv": time.perf_counter() - began}
    began = time.perf_counter()
    from gpuconv.backends import _numba_kernels  # imports Numba: timed with the call
    from gpuconv.cli.demo import build_pipeline, make_signals

    x = np.random.default_rng(0).standard_normal((4, 5000)).astype(np.float32)
    gpuconv.convolve(x, x[0, :9], "same", method="direct")
    seconds["first direct call (float32)"] = time.perf_counter() - began
    pipeline = build_pipeline(seed=0, device="cpu")
    signals = make_signals(2, 4096, seed=0)
    began = time.perf_counter()
    pipeline(signals)
    seconds["first gpuconv.nn pipeline call"] = time.perf_counter() - began
    # Code loaded from the cache carries no metadata: 0 there.
    timers = {name: sum((result.metadata or {}).get("timers", {}).get("compiler_lock", 0.0)
                        for result in getattr(_numba_kernels, name).overloads.values())
              for name in DIRECT_FUNCTIONS}
    from gpuconv.backends._precompile import ENTRY_POINTS

    cache = {name: {"hits": sum(d.stats.cache_hits.values()),
                    "misses": sum(d.stats.cache_misses.values())}
             for name, d in ENTRY_POINTS.items()}
    return {"seconds": seconds, "timers": timers, "cache": cache, "gpuconv": gpuconv.__file__}


def installed() -> None:
    """One fresh process on the installed package, Numba's cache where the wheel put it."""
    environment = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR"}
    run = json.loads(subprocess.run([sys.executable, __file__, "--child"], env=environment,
                                    check=True, capture_output=True, text=True).stdout)
    print(f"gpuconv from {run['gpuconv']}")
    for what, seconds in run["seconds"].items():
        print(f"{what}: {seconds:.2f} s")
    for name, counts in run["cache"].items():
        print(f"{name}: {counts['hits']} loaded from the cache, {counts['misses']} compiled")


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        environment = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [json.loads(subprocess.run([sys.executable, "-m", "benchmarks.cold_start",
                                           "--child"], env=environment, check=True,
                                          capture_output=True, text=True).stdout)
                for _ in range(2)]
    print("| | empty cache (compiles) | cache filled |")
    print("| --- | --- | --- |")
    for what in runs[0]["seconds"]:
        print(f"| {what} | {runs[0]['seconds'][what]:.2f} s | {runs[1]['seconds'][what]:.2f} s |")
    print("\nCompile of the direct kernel, Numba's timers (callees included):\n")
    print("| function | seconds |")
    print("| --- | --- |")
    for name, seconds in runs[0]["timers"].items():
        print(f"| `{name}` | {seconds:.2f} |")


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(measure()))
    elif sys.argv[1:] == ["--installed"]:
        installed()
    else:
        main()
