"""The blocked FFT with its frames in even pieces against first-fit pieces.

Run: ``python -m benchmarks.frame_groups``

`gpuconv._plan.frame_groups` cuts a call's frames into pieces for the
threads, then evens them out: 16 frames at most 12 a piece become 8 + 8.
The first-fit cut it replaced (kept below) gave 12 + 4, one thread three
times as busy as the other. Both are timed on float32 cases of the auto
regret grid, in turns within one process (`fastest_seconds` of 3 runs, 15
turns each); the table gives each one's median and the median and
quartiles of the per-turn ratio even / first-fit, which a slow spell of the
shared machine moves little.
"""

from __future__ import annotations

import numpy as np

from gpuconv._algorithms import execute, overlap
from gpuconv._bench.regret import Case
from gpuconv._bench.timing import fastest_seconds
from gpuconv._plan import frame_groups, largest_piece
from gpuconv.backends import backend_named

#: (rows, n, k): few pieces (where evening matters), then many.
CASES = [(16, 4096, 511), (16, 4096, 255), (1, 65536, 255), (64, 16384, 255),
         (16, 65536, 511), (16, 262144, 4095)]
TURNS = 15


def first_fit_groups(rows: int, blocks: int, frame_bytes: int, group_bytes: int | None,
                     threads: int = 1) -> list:
    """`frame_groups` as it was before the pieces were evened out: the same
    largest piece, cut first-fit."""
    if group_bytes is None:
        return [((0, rows), (0, blocks))]
    per_group = largest_piece(rows, blocks, frame_bytes, group_bytes, threads)
    if per_group >= blocks:
        rows_per_group = per_group // blocks
        return [((r, min(r + rows_per_group, rows)), (0, blocks))
                for r in range(0, rows, rows_per_group)]
    return [((r, r + 1), (b, min(b + per_group, blocks)))
            for r in range(rows) for b in range(0, blocks, per_group)]


def main() -> None:
    backend = backend_named("numpy")
    print("| case | even | first-fit | even / first-fit, per turn: median (quartiles) |")
    print("| --- | --- | --- | --- |")
    for rows, n, k in CASES:
        case = Case(rows, n, k, "float32")
        request = case.request()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((rows, n)).astype(np.float32)
        w = rng.standard_normal((1, k)).astype(np.float32)
        times = {"even": [], "first-fit": []}
        try:
            for _ in range(TURNS):
                for label, groups in (("even", frame_groups), ("first-fit", first_fit_groups)):
                    overlap.frame_groups = groups  # the name the blocked FFT looks up
                    times[label].append(fastest_seconds(
                        lambda: execute(backend, x, w, request, "oa", np.dtype(np.float32)),
                        repeats=3))
        finally:
            overlap.frame_groups = frame_groups
        ratio = np.array(times["even"]) / np.array(times["first-fit"])
        low, high = np.percentile(ratio, [25, 75])
        print(f"| {case} | {np.median(times['even']) * 1e6:.0f} µs | "
              f"{np.median(times['first-fit']) * 1e6:.0f} µs | "
              f"{np.median(ratio):.2f} ({low:.2f}–{high:.2f}) |")


if __name__ == "__main__":
    main()
