"""The cost model's estimates beside measured times, on chosen cases of the regret grid.

Run: ``python -m benchmarks.model_check``

For every case of the full auto-regret grid where one block of the blocked
FFT holds a whole row, and for the cases the docs name as the model's
misses, each method's estimate (`gpuconv._algorithms.choose.estimate`)
and its time measured as the grid measures it (`fastest_in_turns`, turns
of two runs), with the blocked FFT's time over the whole-row FFT's.
"""

from __future__ import annotations

from gpuconv._algorithms.choose import estimate
from gpuconv._algorithms.overlap import block_length
from gpuconv._bench.regret import METHODS, WARMUP_SECONDS, Case, grid
from gpuconv._bench.timing import fastest_in_turns, keep_temporaries
from gpuconv.backends import backend_named

#: Cases docs/performance.md ("Auto regret") names as the model's misses.
NAMED = [Case(1024, 256, 127, "float32"), Case(16, 4096, 255, "float32"),
         Case(1, 262144, 127, "float64"), Case(1, 65536, 255, "float32")]


def one_block(case: Case, backend) -> bool:
    """Whether one block of the blocked FFT holds a whole row."""
    step, _ = block_length(backend, case.n, case.k, not case.dtype.startswith("complex"),
                           backend.block_fft_points)
    return step >= case.n


def main() -> None:
    backend = backend_named("numpy")
    keep_temporaries()  # as `gpuconv bench` does before the grid
    cases = list(dict.fromkeys([case for case in grid() if one_block(case, backend)] + NAMED))
    print("| case | one block | estimated direct / fft / oa | measured direct / fft / oa "
          "| oa / fft measured |")
    print("| --- | --- | --- | --- | --- |")
    for case in cases:
        estimates = estimate(backend, case.request(), case.dtype)
        times = fastest_in_turns(case.calls(backend, *case.inputs()), repeats=5,
                                 warmup=WARMUP_SECONDS, runs_per_turn=2)
        print(f"| {case} | {'yes' if one_block(case, backend) else 'no'} | "
              + " / ".join(f"{estimates[m] * 1e6:.0f}" for m in METHODS) + " µs | "
              + " / ".join(f"{times[m] * 1e6:.0f}" for m in METHODS) + " µs | "
              f"{times['oa'] / times['fft']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
