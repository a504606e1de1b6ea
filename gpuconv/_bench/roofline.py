"""The roofline floor: a copy bandwidth and FMA rates measured in the same run.

A workload's floor is the larger of its memory floor (each input read once
and each output written once, at the copy bandwidth) and its FMA floor (its
flops at the GEMM rate of its dtype). Both rates are measured by the run that
reports against them, with the thread count the library uses, because a
shared or throttled machine moves both. Each rate is the best of several
runs (a peak: other work only slows a run down).
"""

from __future__ import annotations

import contextlib
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .timing import cuda_median_seconds, fastest_seconds

#: Variables that make OpenBLAS pick slower kernels; the bench warns when set.
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True)
class Machine:
    """What one run measured of the machine it ran on."""

    device: str                      # "cpu" or "cuda"
    name: str                        # CPU model or GPU name
    threads: int                     # threads the library and the peers use
    copy_bandwidth: float            # bytes/s, read + write
    flop_rate: dict = field(default_factory=dict)  # dtype name -> FLOP/s (GEMM)

    def describe(self) -> str:
        """One line: device, bandwidth and FLOP rates.

        >>> Machine("cpu", "Xeon", 2, 66e9, {"float32": 460e9}).describe()
        'Xeon, 2 threads: copy 66.0 GB/s, GEMM float32 460 GFLOP/s'
        """
        rates = ", ".join(f"GEMM {dtype} {rate / 1e9:.0f} GFLOP/s"
                          for dtype, rate in self.flop_rate.items())
        unit = "threads" if self.device == "cpu" else "device"
        head = f"{self.name}, {self.threads} {unit}" if self.device == "cpu" else self.name
        return f"{head}: copy {self.copy_bandwidth / 1e9:.1f} GB/s" + (f", {rates}" if rates else "")


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what `platform` knows."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def blas_threads(threads: int):
    """A context limiting BLAS threads to ``threads`` (threadpoolctl when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # BLAS keeps its own default: one thread per core
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def measure_cpu(threads: int, *, quick: bool = False) -> Machine:
    """Copy bandwidth (``threads`` threads copying halves) and float32/float64 GEMM rates."""
    copy_bytes = (32 if quick else 256) * 2**20
    source = np.ones(copy_bytes // 8)
    target = np.empty_like(source)
    parts = np.array_split(np.arange(source.size), threads)
    bounds = [(part[0], part[-1] + 1) for part in parts if part.size]

    def copy_part(bound):  # np.copyto releases the GIL: the threads copy in parallel
        np.copyto(target[bound[0]:bound[1]], source[bound[0]:bound[1]])

    with ThreadPoolExecutor(threads) as pool:
        seconds = fastest_seconds(lambda: list(pool.map(copy_part, bounds)),
                                  repeats=3 if quick else 7)
    bandwidth = 2 * source.nbytes / seconds

    size = 512 if quick else 2048
    rates = {}
    with blas_threads(threads):
        for dtype in ("float32", "float64"):
            a = np.ones((size, size), dtype)
            seconds = fastest_seconds(lambda: a @ a, repeats=3 if quick else 5)
            rates[dtype] = 2 * size**3 / seconds
    return Machine("cpu", cpu_name(), threads, bandwidth, rates)


def measure_cuda(*, quick: bool = False) -> Machine:
    """Device-to-device copy bandwidth of the current CUDA device (median, CUDA events)."""
    import cupy

    copy_bytes = (64 if quick else 1024) * 2**20
    source = cupy.ones(copy_bytes // 8)
    target = cupy.empty_like(source)
    seconds = cuda_median_seconds(lambda: cupy.copyto(target, source), repeats=5 if quick else 20)
    properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = properties["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return Machine("cuda", name, 1, 2 * source.nbytes / seconds)


def openblas_warning(environ=os.environ) -> str | None:
    """The warning line the bench prints when an OpenBLAS variable is set, else None.

    >>> print(openblas_warning({"OPENBLAS_CORETYPE": "Haswell"}))
    warning: OPENBLAS_CORETYPE=Haswell is set: BLAS (the GEMM rate of the floor, PyTorch) may run slower kernels; run `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE gpuconv bench`
    >>> openblas_warning({}) is None
    True
    """
    found = [f"{name}={environ[name]}" for name in OPENBLAS_VARIABLES if name in environ]
    if not found:
        return None
    unset = " ".join(f"-u {name}" for name in OPENBLAS_VARIABLES)
    return (f"warning: {' and '.join(found)} {'is' if len(found) == 1 else 'are'} set: BLAS "
            "(the GEMM rate of the floor, PyTorch) may run slower kernels; "
            f"run `env {unset} gpuconv bench`")
