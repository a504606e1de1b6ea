"""Page faults of one method called again and again in a fresh process.

Run: ``python -m benchmarks.heap_trim [METHOD]`` (``oa`` by default), then
again with ``MALLOC_TOP_PAD_=16777216`` set, to compare.

A call's temporaries that glibc serves from the top of its heap are given
back to the kernel when they are freed, once the free space at the top
exceeds the trim threshold (128 KiB, raised only when the process frees a
larger block that glibc had mapped on its own); the next call then faults
the same pages in again and the kernel zeroes them. Whether that happens
depends on what the process allocated before, so the script times one
case, 16 x 4096 float32, K=255 ('same'), in a process that does nothing
else: 50 calls to settle, then 200 timed calls, with the minor page faults
and kernel time (``getrusage``) per call.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import numpy as np

from gpuconv._algorithms import execute
from gpuconv._bench.regret import Case
from gpuconv.backends import backend_named

CASE = Case(16, 4096, 255, "float32")
SETTLE, CALLS = 50, 200


def main() -> None:
    method = sys.argv[1] if len(sys.argv) > 1 else "oa"
    backend = backend_named("numpy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((CASE.rows, CASE.n)).astype(CASE.dtype)
    w = rng.standard_normal((1, CASE.k)).astype(CASE.dtype)
    request, dtype = CASE.request(), np.dtype(CASE.dtype)
    for _ in range(SETTLE):
        execute(backend, x, w, request, method, dtype)
    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds = []
    for _ in range(CALLS):
        started = time.perf_counter()
        execute(backend, x, w, request, method, dtype)
        seconds.append(time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{CASE}, method {method!r}, MALLOC_TOP_PAD_="
          f"{os.environ.get('MALLOC_TOP_PAD_', '(unset)')}: fastest "
          f"{min(seconds) * 1e6:.0f} µs, median {np.median(seconds) * 1e6:.0f} µs, "
          f"{(after.ru_minflt - before.ru_minflt) / CALLS:.0f} page faults and "
          f"{(after.ru_stime - before.ru_stime) / CALLS * 1e6:.0f} µs of kernel time a call")


if __name__ == "__main__":
    main()
