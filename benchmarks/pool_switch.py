"""Calls that switch between thread pools: direct, FFT and blocked FFT in turns.

Run: ``python -m benchmarks.pool_switch`` (then again with
``OMP_WAIT_POLICY=passive`` set, to compare)

Each method has its own threads: the direct sum Numba's (OpenMP here),
the whole-row FFT pocketfft's, the blocked FFT gpuconv's task pool. After a
parallel region OpenMP's threads spin for a while before they sleep; on a
machine with two cores a spinning thread holds the core that the next
call's helper thread wants, and now and then that call waits milliseconds
for the scheduler, ten times its own time (docs/performance.md, "Switching
thread pools"). The script
times 16 x 4096 float32, K=255, 'same' (a regret-grid case where the three
methods take about the same time) for ``ROUNDS`` rounds, each method once a
round, then each method alone for as many calls, and prints the fastest,
the median and the number of calls over 2 ms. Then each method again,
``IDLE_CALLS`` calls each after the process slept for a while: a call that
finds the machine idle pays for waking its cores up.
"""

from __future__ import annotations

import os
import time

import numba
import numpy as np

from gpuconv._bench.regret import METHODS, Case
from gpuconv._bench.timing import _timer
from gpuconv.backends import backend_named

CASE = Case(16, 4096, 255, "float32")
ROUNDS = 200
SLOW = 2e-3  # seconds: several times any method's time on CASE
#: Seconds slept before each call of the idle table, and calls per cell.
IDLE_GAPS = (0.0, 1e-3, 4e-3, 16e-3, 50e-3, 200e-3)
IDLE_CALLS = 30


def summary(seconds: list) -> str:
    seconds = np.array(seconds)
    return (f"{seconds.min() * 1e6:.0f} µs | {np.median(seconds) * 1e6:.0f} µs | "
            f"{int((seconds > SLOW).sum())}")


def main() -> None:
    timers = {method: _timer(call)
              for method, call in CASE.calls(backend_named("numpy"), *CASE.inputs()).items()}
    for timed in timers.values():  # compile, plan, start every pool
        for _ in range(20):
            timed()
    in_turns = {method: [] for method in METHODS}
    for _ in range(ROUNDS):
        for method, timed in timers.items():
            in_turns[method].append(timed())
    alone = {method: [timed() for _ in range(ROUNDS)] for method, timed in timers.items()}

    print(f"{CASE}; Numba threading layer {numba.threading_layer()!r}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; {ROUNDS} calls each")
    print()
    print("| method | calls | fastest | median | calls over 2 ms |")
    print("| --- | --- | --- | --- | --- |")
    for method in METHODS:
        print(f"| {method} | in turns | {summary(in_turns[method])} |")
        print(f"| {method} | alone | {summary(alone[method])} |")

    print()
    print(f"Median of {IDLE_CALLS} calls, each after sleeping:")
    print()
    print("| method | " + " | ".join(f"{gap * 1e3:g} ms" for gap in IDLE_GAPS) + " |")
    print("| --- |" + " --- |" * len(IDLE_GAPS))
    for method, timed in timers.items():
        cells = []
        for gap in IDLE_GAPS:
            seconds = []
            for _ in range(IDLE_CALLS):
                time.sleep(gap)
                seconds.append(timed())
            cells.append(f"{np.median(seconds) * 1e6:.0f} µs")
        print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
