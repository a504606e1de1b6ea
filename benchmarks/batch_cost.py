"""Auto regret on the grid if a one-thread SIMD batch cost more than one line alone.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.batch_cost``

`gpuconv._algorithms.choose.batched_lines` counts a call of fewer lines
than a batch per thread (the whole-row FFT's padded calls on few rows) on
one thread, each whole SIMD batch at the cost of one line alone
(`FFT_LEFTOVER_COST`). ``python -m benchmarks.fft_lines`` measures such a
batch at 1.1-2.0 lines alone in float32, depending on the length and the
run. This times every method on every case of the full auto-regret grid as
``gpuconv bench --workloads regret`` does (`measure_case`, after freeing a
24 MiB block so no FFT call page-faults its temporaries), then scores the
choices the model makes with a batch at ``b`` lines alone for each ``b`` of
`BATCH_COSTS`, from the same measurement: the median and worst regret per
``b``, and every case whose choice some ``b`` changes.
"""

from __future__ import annotations

import math
import statistics
from unittest import mock

from benchmarks._timing import keep_temporaries
from gpuconv._algorithms import choose
from gpuconv._bench.regret import grid, measure_case
from gpuconv.backends import backend_named

BATCH_COSTS = (1.0, 1.5, 2.0)


def batched_lines_at(batch_cost: float):
    """`choose.batched_lines` with a one-thread batch at ``batch_cost`` lines alone."""
    def batched_lines(lines: int, threads: int, dtype_name: str) -> float:
        width = choose.FFT_SIMD_LINES[dtype_name]
        if lines >= width * threads:
            return MODEL(lines, threads, dtype_name)
        share = math.ceil(lines / max(1, lines // width))
        return (share // width * batch_cost + share % width) * choose.FFT_LEFTOVER_COST[dtype_name]
    return batched_lines


MODEL = choose.batched_lines


def main() -> None:
    backend = backend_named("numpy")
    costs = choose.costs_in_use()[0]
    keep_temporaries()
    cases = grid()
    regrets = {cost: [] for cost in BATCH_COSTS}
    changed = []
    for case in cases:
        times = measure_case(case, backend).times
        best = min(times.values())
        choices = []
        for cost in BATCH_COSTS:  # batched_lines: the name cpu_work looks up
            with mock.patch.object(choose, "batched_lines", batched_lines_at(cost)):
                choices.append(choose.cpu_choice(
                    choose.cpu_estimate(costs, case.request(), case.dtype, backend)))
        for cost, choice in zip(BATCH_COSTS, choices):
            regrets[cost].append(times[choice] / best)
        if len(set(choices)) > 1:
            changed.append((case, choices, times))
    print("| batch cost (lines alone) | median regret | worst regret | worst case |")
    print("| --- | --- | --- | --- |")
    for cost, values in regrets.items():
        worst = max(range(len(values)), key=values.__getitem__)
        print(f"| {cost} | {statistics.median(values):.2f} | {values[worst]:.2f} | {cases[worst]} |")
    print()
    print("| case | direct | fft | oa | " + " | ".join(f"b = {cost}" for cost in BATCH_COSTS) + " |")
    print("| --- | --- | --- | --- |" + " --- |" * len(BATCH_COSTS))
    for case, choices, times in changed:
        best = min(times.values())
        print(f"| {case} | " + " | ".join(f"{times[m] * 1e6:.0f} µs" for m in ("direct", "fft", "oa"))
              + " | " + " | ".join(f"{choice} {times[choice] / best:.2f}" for choice in choices) + " |")


if __name__ == "__main__":
    main()
