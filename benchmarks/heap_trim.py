"""Page faults of one method called again and again in a fresh process.

Run: ``python -m benchmarks.heap_trim [METHOD [ROWS N K DTYPE]]`` (``oa`` on
16 x 4096 float32, K=255 by default), then again with
``MALLOC_TOP_PAD_=16777216`` set, to compare.

A call's temporaries that glibc serves from the top of its heap are given
back to the kernel when they are freed, once the free space at the top
exceeds the trim threshold (128 KiB, raised only when the process frees a
larger block that glibc had mapped on its own); the next call then faults
the same pages in again and the kernel zeroes them. Whether that happens
depends on what the process allocated before, so the script times one
case in a process that does nothing else: 50 calls to settle, then the
median of 200 calls, with the minor page faults and kernel time
(``getrusage``) per call. Then it frees a 24 MiB array, as any program
that handles arrays of that size does sooner or later, and times the
same calls again.
"""

from __future__ import annotations

import os
import sys

from benchmarks._timing import FREED_BYTES, counted, keep_temporaries
from gpuconv._bench.regret import Case
from gpuconv.backends import backend_named

CASE = Case(16, 4096, 255, "float32")
SETTLE, CALLS = 50, 200


def main() -> None:
    method = sys.argv[1] if len(sys.argv) > 1 else "oa"
    case = (Case(*map(int, sys.argv[2:5]), sys.argv[5]) if len(sys.argv) > 5 else CASE)
    call = case.calls(backend_named("numpy"), *case.inputs())[method]
    print(f"{case}, method {method!r}, MALLOC_TOP_PAD_="
          f"{os.environ.get('MALLOC_TOP_PAD_', '(unset)')}")
    for when in ("fresh process", f"after freeing {FREED_BYTES >> 20} MiB"):
        if when != "fresh process":
            keep_temporaries()  # glibc maps it itself; freeing it raises both thresholds
        for _ in range(SETTLE):
            call()
        seconds, faults, system = counted(call, CALLS)
        print(f"  {when}: median {seconds * 1e6:.0f} µs, {faults:.0f} page faults and "
              f"{system * 1e6:.0f} µs of kernel time a call")


if __name__ == "__main__":
    main()
