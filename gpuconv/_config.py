"""Run-time settings: threads and the workspace budget.

>>> import gpuconv
>>> gpuconv.config.threads >= 1
True
"""

from __future__ import annotations

import os
import sys
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
        else the CPUs this process may run on). A call uses
        `effective_threads`, within threadpoolctl's limits; the Numba kernels
        are further capped at the pool Numba started with
        (``NUMBA_NUM_THREADS``).
    max_workspace_bytes : int or None
        Cap on the temporaries one call holds at a time (FFT spectra, padded
        rows); batches are processed in slabs of rows under it, with results
        identical to one piece. The output, and a converted copy of an input
        that needs one, are not workspace. A single row that needs more than
        the cap still runs, as a slab of one. ``None`` (default): the
        backend's default, reread at most once a second: on the CPU an
        eighth of the memory available to new allocations (Linux
        ``MemAvailable``) between 16 and 256 MiB (256 MiB where it cannot
        be read); on the GPU a quarter of the free device memory (CuPy's
        pool's unused blocks included).
    """

    threads: int = field(default_factory=_default_threads)
    max_workspace_bytes: int | None = None

    def effective_threads(self) -> int:
        """Threads a call may use now: `threads`, within threadpoolctl's limits.

        When the program has imported ``threadpoolctl`` (scikit-learn and joblib
        do), a ``threadpool_limits(n)`` in force caps gpuconv too: the smallest
        thread count among the native pools it controls (BLAS, OpenMP, which
        includes Numba's ``omp`` threading layer) is the cap. Without
        threadpoolctl, this is just `threads`.

        >>> import gpuconv
        >>> 1 <= gpuconv.config.effective_threads() <= gpuconv.config.threads
        True
        """
        threads = max(1, int(self.threads))
        limit = _threadpool_limit()
        return threads if limit is None else max(1, min(threads, limit))


config = Config()

#: threadpoolctl's view of the native thread pools, built on first need.
_controller = None


def _threadpool_limit() -> int | None:
    """The least thread count threadpoolctl reports, or None when it is not in use.

    Only looked up when the program imported threadpoolctl itself: gpuconv
    does not import it. Building the controller scans the loaded libraries
    (milliseconds) and is done once; asking each pool its size is microseconds.
    """
    global _controller
    threadpoolctl = sys.modules.get("threadpoolctl")
    if threadpoolctl is None:
        return None
    if _controller is None:
        _controller = threadpoolctl.ThreadpoolController()
    counts = [lib.get_num_threads() for lib in _controller.lib_controllers]
    counts = [count for count in counts if count]
    return min(counts) if counts else None
