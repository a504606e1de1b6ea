"""The blocked FFT's frames in one task against two, on two threads.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.task_split``

`gpuconv._plan.frame_groups` hands frames to the threads only in pieces of
at least `MIN_TASK_BYTES` each, also once the pieces are evened out. This
times the blocked FFT with its frames in one group and cut in two (whole
rows each, or one row's blocks in two runs), in turns in one process
(`fastest_in_turns`, 15 turns, after freeing 24 MiB so that no call
page-faults its temporaries), with the library's own cut beside them.
"""

from __future__ import annotations

from unittest import mock

import numpy as np

from benchmarks._timing import keep_temporaries
from gpuconv._algorithms import execute, overlap
from gpuconv._bench.regret import Case
from gpuconv._bench.timing import fastest_in_turns
from gpuconv._plan import frame_groups
from gpuconv.backends import backend_named

CASES = [Case(16, 4096, 255, "float32"), Case(16, 4096, 511, "float32"),
         Case(32, 4096, 255, "float32"), Case(16, 16384, 255, "float32"),
         Case(1, 262144, 1023, "float32"), Case(16, 4096, 255, "float64")]


def in_pieces(pieces: int):
    """A stand-in for `frame_groups`: all frames in ``pieces`` even pieces."""
    def groups(rows, blocks, frame_bytes, group_bytes, threads=1):
        if pieces == 1:
            return [((0, rows), (0, blocks))]
        if rows >= pieces:
            cut = rows // pieces
            return [((r, min(r + cut, rows)), (0, blocks)) for r in range(0, rows, cut)]
        cut = -(-blocks // pieces)
        return [((r, r + 1), (b, min(b + cut, blocks)))
                for r in range(rows) for b in range(0, blocks, cut)]
    return groups


def main() -> None:
    backend = backend_named("numpy")
    keep_temporaries()
    print("| case | frames (KiB) | library's groups | one piece | two pieces |")
    print("| --- | --- | --- | --- | --- |")
    for case in CASES:
        x, w = case.inputs()
        request = case.request()
        step, nfft = overlap.block_length(backend, request.out_len, case.k, True,
                                          backend.block_fft_points)
        blocks = -(-request.out_len // step)
        frame_bytes = nfft * np.dtype(case.dtype).itemsize
        library = frame_groups(case.rows, blocks, frame_bytes, backend.block_group_bytes,
                               backend.task_threads())

        def blocked(pieces):
            def call():  # frame_groups: the name the blocked FFT looks up
                with mock.patch.object(overlap, "frame_groups", in_pieces(pieces)):
                    return execute(backend, x, w, request, "oa", np.dtype(case.dtype))
            return call

        times = fastest_in_turns({pieces: blocked(pieces) for pieces in (1, 2)}, repeats=15)
        print(f"| {case} | {case.rows * blocks * frame_bytes / 1024:.0f} | {len(library)} | "
              f"{times[1] * 1e6:.0f} µs | {times[2] * 1e6:.0f} µs |", flush=True)


if __name__ == "__main__":
    main()
