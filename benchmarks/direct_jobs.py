"""The direct kernel's jobs: a short row in one job, or cut for every thread.

Run with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.direct_jobs``.
A batch of one short row (or a few) is one job of the Numba kernel, which
leaves all threads but one idle however long the kernel. `gpuconv._plan.direct_jobs`
halves the tiles while there are fewer jobs than threads, down to 256 outputs
and `DIRECT_MIN_JOB_TAPS` multiply-adds a job. For batches of a few short
rows this times the kernel (``_numba_kernels.direct``, 'same') on all threads
with the batch in as few jobs as one thread gets and cut as far as the
threads ask without the floor of multiply-adds, in turns, and says which of
the two the rule picks.
"""

from __future__ import annotations

import numpy as np

import gpuconv
from gpuconv import _plan
from gpuconv._bench.timing import fastest_in_turns
from gpuconv.backends import _numba_kernels

#: (rows, n, k, dtype): long kernels, where the cut pays, and short ones at
#: the floor of multiply-adds a job.
CASES = [(1, 1024, 1023, "float32"), (1, 1024, 511, "float64"), (1, 1024, 255, "float32"),
         (1, 1024, 127, "float64"), (2, 1024, 255, "float64"), (1, 512, 511, "float32"),
         (1, 2048, 31, "float32"), (1, 2048, 31, "float64"), (1, 1024, 63, "float64"),
         (1, 2048, 15, "float64"), (1, 1024, 15, "float32"), (3, 512, 31, "float32"),
         (1, 1024, 7, "float64"), (1, 512, 15, "float32")]


def run(x, w, jobs_for):
    """The kernel on ``x``, ``w`` ('same') with the cut ``jobs_for(rows, out_len, k, threads)``."""
    k = w.shape[1]

    def call():
        original = _numba_kernels.direct_jobs
        _numba_kernels.direct_jobs = jobs_for
        try:
            return _numba_kernels.direct(x, w, (k - 1) // 2, x.shape[1])
        finally:
            _numba_kernels.direct_jobs = original
    return call


def unfloored(rows, out_len, k, threads):
    """`direct_jobs` without its floor of multiply-adds a job."""
    floor = _plan.DIRECT_MIN_JOB_TAPS
    _plan.DIRECT_MIN_JOB_TAPS = 0
    try:
        return _plan.direct_jobs(rows, out_len, k, threads)
    finally:
        _plan.DIRECT_MIN_JOB_TAPS = floor


def main() -> None:
    threads = gpuconv.config.effective_threads()
    _numba_kernels.set_threads(threads)
    rng = np.random.default_rng(0)
    print(f"_numba_kernels.direct ('same') on {threads} threads, fastest of 9 turns of 5 runs; "
          f"DIRECT_MIN_JOB_TAPS = {_plan.DIRECT_MIN_JOB_TAPS}")
    print("| batch | one thread's jobs | cut for the threads, no floor | cut / uncut | rule |")
    print("| --- | --- | --- | --- | --- |")
    for rows, n, k, dtype in CASES:
        x = rng.standard_normal((rows, n)).astype(dtype)
        w = rng.standard_normal((1, k)).astype(dtype)
        uncut = _plan.direct_jobs(rows, n, k, 1)
        cut = unfloored(rows, n, k, threads)
        calls = {"uncut": run(x, w, lambda *shape: _plan.direct_jobs(*shape[:3], 1)),
                 "cut": run(x, w, unfloored)}
        assert np.array_equal(calls["uncut"](), calls["cut"]())
        times = fastest_in_turns(calls, repeats=9, warmup=0.1, runs_per_turn=5)
        rule = _plan.direct_jobs(rows, n, k, threads)
        picks = "cut" if rule.count > uncut.count else "uncut"
        print(f"| {rows} × {n} {dtype}, K={k} | {uncut.count} of {uncut.outputs}: "
              f"{times['uncut'] * 1e6:.1f} µs | {cut.count} of {cut.outputs}: "
              f"{times['cut'] * 1e6:.1f} µs | {times['cut'] / times['uncut']:.2f} | {picks} |",
              flush=True)


if __name__ == "__main__":
    main()
