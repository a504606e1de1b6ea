"""Where the direct workloads' time goes: the kernel, or the first touch of a fresh output.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.first_touch``
(OpenBLAS variables unset so the GEMM rate of the floor is the machine's).

For the direct workloads of ``gpuconv bench`` (W1, W2, W4, W5) it times, in
one process, medians of 7 runs after a warm-up:

* the call ``gpuconv bench`` times, which returns a freshly allocated output;
* the same Numba kernel with the same arguments writing into one output array
  that earlier runs already touched.

Each row also gives the page faults (``ru_minflt``) and kernel-mode CPU time
(``ru_stime``) per run from ``getrusage``: counters, not guesses, for what
the fresh output costs. The floor is ``gpuconv bench``'s (copy bandwidth and
GEMM rate measured in this run).
"""

from __future__ import annotations

import numpy as np

import gpuconv
from benchmarks._timing import counted
from gpuconv._bench.roofline import measure_cpu
from gpuconv._bench.workloads import workload
from gpuconv.backends import _numba_kernels

WORKLOADS = ("W1", "W2", "W4", "W5")
REPEATS = 7


def main() -> None:
    threads = gpuconv.config.effective_threads()
    machine = measure_cpu(threads)
    print(f"Machine: {machine.describe()}\n")
    print("| workload | floor | call (fresh output) | faults / sys per call | kernel into a "
          "reused output | faults / sys per run | call / floor | kernel / floor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in WORKLOADS:
        chosen = workload(name)
        inputs = chosen.inputs()
        x, w = inputs["x"], inputs["w"]
        request = chosen.request()
        memory = chosen.bytes_moved() / machine.copy_bandwidth
        floor = max(memory, chosen.flops() / machine.flop_rate[chosen.dtype])
        call = chosen.gpuconv_call(w)
        kernel_weights = w[None]  # convolve1d, like convolve, takes the weights unflipped
        out = np.zeros((request.rows, request.out_len), dtype=x.dtype)  # touched once here

        def kernel():
            _numba_kernels.direct(x, kernel_weights, request.start, request.out_len,
                                  request.boundary, request.cval, out=out)

        fresh, fresh_faults, fresh_sys = counted(lambda: call(x), REPEATS)
        reused, reused_faults, reused_sys = counted(kernel, REPEATS)
        np.testing.assert_array_equal(out, call(x))  # the same numbers
        print(f"| {name} | {floor * 1e3:.2f} ms | {fresh * 1e3:.1f} ms | "
              f"{fresh_faults:.0f} / {fresh_sys * 1e3:.1f} ms | {reused * 1e3:.1f} ms | "
              f"{reused_faults:.0f} / {reused_sys * 1e3:.1f} ms | {fresh / floor:.1f}× | "
              f"{reused / floor:.1f}× |")


if __name__ == "__main__":
    main()
