"""``gpuconv info``: versions, backends and why each is (not) usable, the GPU, threads, caches."""

from __future__ import annotations

import os
import platform
from pathlib import Path

HELP = "show versions, backends and why each is or isn't usable, the GPU, threads and caches"


def add_arguments(parser) -> None:
    del parser  # no options


def run(args) -> int:
    del args
    import numba
    import numpy
    import scipy

    import gpuconv
    from gpuconv import backends

    print(f"gpuconv {gpuconv.__version__}  (Python {platform.python_version()}, "
          f"NumPy {numpy.__version__}, SciPy {scipy.__version__}, Numba {numba.__version__})")
    print(f"threads: {gpuconv.config.effective_threads()} "
          f"(gpuconv.config.threads {gpuconv.config.threads}, "
          f"Numba's pool {numba.config.NUMBA_NUM_THREADS})")
    print(f"kernels: {backends.kernels_dir()}")
    print("backends:")
    statuses = backends.available()
    for status in statuses:
        mark = "usable" if status.usable else "not usable"
        print(f"  {status.name:6s} {mark:10s} {status.reason}")
    if any(status.name == "cupy" and status.usable for status in statuses):
        for line in gpu_lines():
            print(f"  {line}")
    print("caches:")
    for name, path in cache_locations().items():
        print(f"  {name:28s} {path}")
    return 0


def gpu_lines() -> list[str]:
    """One line per CUDA device: name, memory, compute capability (CuPy is usable)."""
    import cupy

    lines = []
    current = cupy.cuda.Device().id
    for index in range(cupy.cuda.runtime.getDeviceCount()):
        props = cupy.cuda.runtime.getDeviceProperties(index)
        mark = " (current)" if index == current else ""
        lines.append(f"GPU {index}{mark}: {props['name'].decode()}, "
                     f"{props['totalGlobalMem'] / 2**30:.1f} GiB, "
                     f"compute capability {props['major']}.{props['minor']}")
    return lines


def cache_locations() -> dict[str, str]:
    """Where the Numba kernels, the ``gpuconv tune`` table and CuPy's kernels are cached.

    >>> sorted(cache_locations())
    ['CUDA kernels (CuPy)', 'Numba kernels', 'cost table (gpuconv tune)']
    """
    import numba

    from gpuconv._algorithms import choose
    from gpuconv.backends import _numba_kernels

    numba_cache = numba.config.CACHE_DIR or str(Path(_numba_kernels.__file__).parent / "__pycache__")
    costs = choose.costs_path()
    cupy_cache = os.environ.get("CUPY_CACHE_DIR", str(Path.home() / ".cupy" / "kernel_cache"))
    return {
        "Numba kernels": numba_cache,
        "cost table (gpuconv tune)": f"{costs} ({'present' if costs.exists() else 'not measured'})",
        "CUDA kernels (CuPy)": cupy_cache,
    }
