"""The direct kernel's tile length: 2048 outputs (the kernel's) against 4096.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.tile_size``

`gpuconv._plan.DIRECT_JOB_OUTPUTS` sets how many outputs a job of the CPU
direct kernel sums; its running sums and input window should stay in L1.
For the direct workloads of ``gpuconv bench`` (W1, W2, W4, W5) the script
times the kernel into one reused output (as ``benchmarks.first_touch``
does) with each tile length in turn, medians of 9, three rounds. The tile
changes no result: every output's sum is formed tap by tap in the same
order (asserted).
"""

from __future__ import annotations

import numpy as np

from gpuconv import _plan
from gpuconv._bench.timing import median_seconds
from gpuconv._bench.workloads import workload
from gpuconv.backends import _numba_kernels

TILES = (2048, 4096)
ROUNDS = 3


def main() -> None:
    default = _plan.DIRECT_JOB_OUTPUTS
    print("| workload | " + " | ".join(f"{tile} outputs (ms)" for tile in TILES) + " |")
    print("| --- |" + " --- |" * len(TILES))
    try:
        for name in ("W1", "W2", "W4", "W5"):
            chosen = workload(name)
            inputs = chosen.inputs()
            x, w = inputs["x"], inputs["w"][None]
            request = chosen.request()
            # One output for both: where it lies against the input changes the
            # kernel's speed ("Where the output lies" in docs/performance.md).
            out = np.zeros((request.rows, request.out_len), x.dtype)
            times, results = {tile: [] for tile in TILES}, {}

            def kernel():
                _numba_kernels.direct(x, w, request.start, request.out_len, request.boundary,
                                      request.cval, out=out)

            for _ in range(ROUNDS):
                for tile in TILES:
                    _plan.DIRECT_JOB_OUTPUTS = tile  # read by direct_jobs at each call
                    times[tile].append(median_seconds(kernel, 9))
                    results[tile] = out.copy()
            np.testing.assert_array_equal(results[TILES[0]], results[TILES[1]])
            print(f"| {name} | " + " | ".join(
                ", ".join(f"{1e3 * t:.1f}" for t in times[tile]) for tile in TILES) + " |")
    finally:
        _plan.DIRECT_JOB_OUTPUTS = default


if __name__ == "__main__":
    main()
