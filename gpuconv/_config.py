"""Run-time settings: threads and the workspace budget.

>>> import gpuconv
>>> gpuconv.config.threads >= 1
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _default_threads() -> int:
    for name in ("GPUCONV_NUM_THREADS", "NUMBA_NUM_THREADS"):
        if os.environ.get(name, "").isdigit() and int(os.environ[name]) > 0:
            return int(os.environ[name])
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Config:
    """Settings read by every call; change the attributes of ``gpuconv.config``.

    Attributes
    ----------
    threads : int
        Worker threads for scipy.fft and the Numba kernels (default: the
        ``GPUCONV_NUM_THREADS`` or ``NUMBA_NUM_THREADS`` environment variable,
        else the CPUs this process may run on).
    max_workspace_bytes : int or None
        Cap on the temporaries one call holds at a time (FFT spectra, padded
        rows); batches are processed in slabs of rows under it, with results
        identical to one piece. The output, and a converted copy of an input
        that needs one, are not workspace. A single row that needs more than
        the cap still runs, as a slab of one. ``None`` (default): the
        backend's default, read at each call: on the CPU an eighth of the
        memory available to new allocations (Linux ``MemAvailable``) between
        16 and 256 MiB (256 MiB where it cannot be read); on the GPU a
        quarter of the free device memory (CuPy's pool's unused blocks
        included).
    """

    threads: int = field(default_factory=_default_threads)
    max_workspace_bytes: int | None = None


config = Config()
