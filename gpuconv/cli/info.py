"""``gpuconv info``: versions, backends and why each is (not) usable."""

from __future__ import annotations

import platform

HELP = "show versions, backends and why each is or isn't usable"


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
    print(f"threads: {gpuconv.config.threads}    kernels: {backends.kernels_dir()}")
    for status in backends.available():
        mark = "usable" if status.usable else "not usable"
        print(f"  {status.name:6s} {mark:10s} {status.reason}")
    return 0
