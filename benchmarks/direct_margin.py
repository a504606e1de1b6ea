"""Auto regret on the grid under several direct-sum margins, from one measurement.

Run: ``python -m benchmarks.direct_margin``

Every method is timed on every case of the full auto-regret grid as
``gpuconv bench --workloads regret`` times them (`measure_case`); then, for
each margin of `MARGINS`, the choice `cpu_choice` makes with that margin
from the same estimates, and its regret against the fastest method. Margin
1.0 is the plain cheapest estimate. One table: the median and worst regret
per margin, and every case whose choice some margin changes, with its
regret under each.
"""

from __future__ import annotations

import statistics

from gpuconv._algorithms.choose import cpu_choice, estimate
from gpuconv._bench.regret import grid, measure_case
from gpuconv.backends import backend_named

MARGINS = (1.0, 1.05, 1.1, 1.2, 1.3)


def main() -> None:
    backend = backend_named("numpy")
    regrets = {margin: [] for margin in MARGINS}
    changed = []
    for case in grid():
        times = measure_case(case, backend).times
        estimates = estimate(backend, case.request(), case.dtype)
        best = min(times.values())
        row = {margin: times[cpu_choice(estimates, margin)] / best for margin in MARGINS}
        for margin, regret in row.items():
            regrets[margin].append(regret)
        choices = [cpu_choice(estimates, margin) for margin in MARGINS]
        if len(set(choices)) > 1:
            changed.append((case, choices, row))
    print("| margin | median regret | worst regret | worst case |")
    print("| --- | --- | --- | --- |")
    cases = grid()
    for margin, values in regrets.items():
        worst = max(range(len(values)), key=values.__getitem__)
        print(f"| {margin} | {statistics.median(values):.2f} | {values[worst]:.2f} | "
              f"{cases[worst]} |")
    print()
    print("| case | " + " | ".join(f"margin {margin}" for margin in MARGINS) + " |")
    print("| --- |" + " --- |" * len(MARGINS))
    for case, choices, row in changed:
        print(f"| {case} | " + " | ".join(f"{choice} {row[margin]:.2f}"
                                          for choice, margin in zip(choices, MARGINS)) + " |")


if __name__ == "__main__":
    main()
