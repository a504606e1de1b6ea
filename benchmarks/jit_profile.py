"""Where the direct kernel spends its time, instruction by instruction, under ``perf``.

Run::

    perf record -o perf.data python -m benchmarks.jit_profile W4 --dump jit
    perf report -i perf.data --no-children --sort symbol | head -40
    objdump -D -b binary -mi386:x86-64 --adjust-vma=0xADDRESS jit/0xADDRESS.bin

Numba's machine code lives in anonymous executable memory that ``perf``
cannot name: ``perf report`` lists its samples as bare addresses. The
script runs a workload's direct kernel into one reused output (as
``benchmarks.first_touch`` does) for ``--seconds``, then writes every
anonymous executable mapping of the process to ``DIR/0xSTART.bin``, so the
hot addresses can be disassembled at their own addresses (``objdump``
above, with the mapping's start). NumPy, SciPy and the kernel (``perf
report --sort dso``) are told apart by ``perf``; Numba's code is ``[JIT]``.
"""

from __future__ import annotations

import argparse
import ctypes
import time
from pathlib import Path

import numpy as np

from gpuconv._bench.workloads import workload
from gpuconv.backends import _numba_kernels


def dump_anonymous_code(directory: Path) -> list[Path]:
    """Write each anonymous executable mapping of this process to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if "x" not in fields[1] or len(fields) > 5:  # a sixth field names a file
                continue
            start, end = (int(bound, 16) for bound in fields[0].split("-"))
            path = directory / f"{start:#x}.bin"
            path.write_bytes(ctypes.string_at(start, end - start))
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["W1", "W2", "W4", "W5"])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to run (default 5)")
    parser.add_argument("--dump", type=Path, required=True, help="directory for the code")
    args = parser.parse_args()

    chosen = workload(args.workload)
    inputs = chosen.inputs()
    x, w = inputs["x"], inputs["w"][None]
    request = chosen.request()
    out = np.zeros((request.rows, request.out_len), dtype=x.dtype)

    def kernel():
        _numba_kernels.direct(x, w, request.start, request.out_len, request.boundary,
                              request.cval, out=out)

    kernel()  # compile or load
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < args.seconds:
        kernel()
        calls += 1
    elapsed = time.perf_counter() - began
    print(f"{chosen.title}: {calls} calls, {1e3 * elapsed / calls:.2f} ms each")
    for path in dump_anonymous_code(args.dump):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
