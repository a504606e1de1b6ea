"""The blocked FFT's transform length: least work for whole frames, against least work per output.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.block_length``

`gpuconv._plan.fft_block` picks the transform length with the least
transform work for a row, its whole frames at ``nfft log2 nfft`` each,
where that saves more than `LENGTH_TIE` over the least work per output,
``nfft log2 nfft / step``, and the CPU backend caps the length at 20480
points (`NumpyBackend.block_fft_points`). Before, it always took the least
work per output (kept below as `per_output_block`), as
``scipy.signal.oaconvolve`` does, which ignores that a row of 22.02 blocks
is 23 frames, under a cap of 16384. The two, and the new rule under a cap
of 32768, are timed on W3 and on cases of the auto-regret grid that `auto`
gives the blocked FFT, in turns in one process (`median_in_turns`, 15
turns, three times a case, after freeing 24 MiB so that no call
page-faults its temporaries). A case where the rules pick the same length
is not timed.
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np

from benchmarks._timing import keep_temporaries
from gpuconv._algorithms import execute, overlap
from gpuconv._bench.regret import Case
from gpuconv._bench.timing import median_in_turns
from gpuconv.backends import backend_named

CASES = [Case(16, 262144, 4095, "float32"), Case(16, 65536, 4095, "float32"),
         Case(1, 262144, 1023, "float32"), Case(16, 65536, 511, "float32"),
         Case(64, 16384, 255, "float32"), Case(64, 16384, 1023, "float32"),
         Case(1, 65536, 255, "float32"), Case(1, 16384, 1023, "float32"),
         Case(1, 2097152, 255, "float64"), Case(1, 262144, 127, "float64")]
#: (name, cap): before (the least work per output), now, and now under a higher cap.
VARIANTS = [("before", 16384), ("now", 20480), ("cap 32768", 32768)]
BLOCK_LENGTH = overlap.block_length


def per_output_block(outputs: int, k: int, next_fast_len, largest: int) -> tuple[int, int]:
    """`fft_block` before: least ``nfft log2 nfft`` per output."""
    best = None
    target = max(2 * k, 64)
    while target < 64 * k and target < 4 * (outputs + k):
        nfft = next_fast_len(target)
        if best is not None and nfft > largest:
            break
        cost = nfft * math.log2(nfft) / (nfft - k + 1)
        if best is None or cost < best[0]:
            best = (cost, nfft - k + 1, nfft)
        target = int(target * 1.25) + 1
    if best is None:
        nfft = next_fast_len(max(outputs + k - 1, 2 * k))
        return nfft - k + 1, nfft
    return best[1], best[2]


def block_length(name: str, cap: int):
    """A stand-in for `overlap.block_length`: the rule of variant ``name`` under ``cap``."""
    def length(backend, outputs, k, real, largest):
        if name == "before":
            return per_output_block(outputs, k, lambda m: backend.next_fast_len(m, real), cap)
        return BLOCK_LENGTH(backend, outputs, k, real, cap)
    return length


def blocked(backend, case: Case, x, w, name: str, cap: int):
    """The blocked FFT on ``case`` with the length variant ``name`` picks."""
    def call():  # block_length: the name the blocked FFT looks up
        with mock.patch.object(overlap, "block_length", block_length(name, cap)):
            return execute(backend, x, w, case.request(), "oa", np.dtype(case.dtype))
    return call


def main() -> None:
    backend = backend_named("numpy")
    keep_temporaries()
    print("| case | " + " | ".join(name for name, _ in VARIANTS) + " | before / now |")
    print("| --- |" + " --- |" * (len(VARIANTS) + 1))
    for case in CASES:
        request = case.request()
        lengths = {name: block_length(name, cap)(backend, request.out_len, request.k, True,
                                                 cap)[1]
                   for name, cap in VARIANTS}
        if lengths["before"] == lengths["now"]:
            print(f"| {case} | {lengths['before']} | {lengths['now']} | {lengths['cap 32768']} "
                  "| same length |", flush=True)
            continue
        x, w = case.inputs()
        calls = {name: blocked(backend, case, x, w, name, cap) for name, cap in VARIANTS}
        runs = [median_in_turns(calls, repeats=15, warmup=0.5) for _ in range(3)]
        print(f"| {case} | " + " | ".join(
            f"{lengths[name]}: " + ", ".join(f"{run[name] * 1e3:.2f}" for run in runs) + " ms"
            for name, _ in VARIANTS) + " | "
            + ", ".join(f"{run['before'] / run['now']:.2f}" for run in runs) + " |", flush=True)


if __name__ == "__main__":
    main()
