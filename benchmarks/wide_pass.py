"""The direct kernel's wide pass against the 8-tap passes it replaces, one tile in L1.

Run: ``python -m benchmarks.wide_pass``

`gpuconv.backends._numba_kernels._wide_pass` adds `WIDE_GROUP` (24) taps to
a tile's running sums, two vectors of outputs at a time where the host has
AVX-512; the same taps as three 8-tap `_pass`es are what the kernel ran
before. Both sweep one tile of 2048 outputs with a 48-tap kernel (two wide
passes, six 8-tap ones), many times, on one thread; the results are bit
for bit the same (asserted). Fastest of 7 turns, in turns. The ratio of
the rates is the per-tap cost the cost model's `DIRECT_WIDE_TAP_COST`
stands for, here in L1 (the whole kernel gains less: docs/performance.md,
"Wide passes").
"""

from __future__ import annotations

import numba
import numpy as np

from benchmarks.lane_shifts import sweep_kernel  # the 8-tap passes, the same sweep
from gpuconv._bench.timing import fastest_in_turns
from gpuconv.backends._numba_kernels import WIDE_GROUP, _wide_pass
from gpuconv.backends.numpy_backend import wide_direct_passes

TILE = 2048
TAPS = 2 * WIDE_GROUP
SWEEPS = 400
_FLAGS = dict(nogil=True, fastmath={"contract"})


@numba.njit(**_FLAGS)
def sweep_wide(sums, x, w, sweeps):
    for _ in range(sweeps):
        for i in range(0, w.size, WIDE_GROUP):
            _wide_pass(sums, x[w.size - i - WIDE_GROUP:], w[i:i + WIDE_GROUP], i == 0)


def main() -> None:
    print(f"wide passes on this host: {wide_direct_passes()}\n")
    print("| dtype | 8-tap passes | wide passes | tap cost (8-tap rate / wide rate) |")
    print("| --- | --- | --- | --- |")
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(TILE + TAPS - 1).astype(dtype)
        w = rng.standard_normal(TAPS).astype(dtype)
        sums = {name: np.empty(TILE, dtype) for name in ("eight", "wide")}
        sweep_kernel(sums["eight"], x, w, 1)
        sweep_wide(sums["wide"], x, w, 1)
        np.testing.assert_array_equal(sums["wide"], sums["eight"])
        seconds = fastest_in_turns({
            "eight": lambda: sweep_kernel(sums["eight"], x, w, SWEEPS),
            "wide": lambda: sweep_wide(sums["wide"], x, w, SWEEPS)})
        rates = {name: SWEEPS * TILE * TAPS / s / 1e9 for name, s in seconds.items()}
        print(f"| {np.dtype(dtype).name} | {rates['eight']:.1f} GMAC/s | {rates['wide']:.1f} GMAC/s "
              f"| {rates['eight'] / rates['wide']:.2f} |")


if __name__ == "__main__":
    main()
