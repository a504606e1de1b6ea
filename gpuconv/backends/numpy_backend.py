"""The CPU backend: NumPy arrays, scipy.fft with worker threads, a Numba direct kernel."""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import array_api_compat
import array_api_compat.numpy as xp
import numpy as np
import scipy.fft

from .._config import config
from .._plan import FFT_SIMD_LINES

#: Share of the host memory available to new allocations that one call's
#: temporaries may take by default. The output is not workspace and the
#: caller's other arrays live there too: an eighth leaves room for an output
#: as large as the input and for other processes (the GPU takes a quarter of
#: a device memory nobody else shares).
WORKSPACE_FRACTION = 1 / 8
#: Floor: a starved machine still gets slabs of a few rows per call.
WORKSPACE_FLOOR = 16 * 2**20
#: Cap: rows are independent, so larger slabs buy no speed, only a larger
#: peak; on the project's machine class slabs of 64 MiB to 2 GiB ran a 256 MB
#: FFT batch equally fast within noise, 2 GiB never the fastest
#: (docs/performance.md, "Out of core"). Machines with more than 2 GiB
#: available get the cap; the fraction protects the smaller ones.
WORKSPACE_CAP = 256 * 2**20
#: The default where the available memory cannot be read (not Linux).
DEFAULT_WORKSPACE = 256 * 2**20
#: Seconds a reading of the available memory is reused (reading costs ~10 us).
_MEMORY_READING_LIFETIME = 1.0
_memory_reading = (-math.inf, None)
#: Longest transform of the blocked FFT method when a shorter one will do
#: (`gpuconv._plan.fft_block`): W3 (16 x 262144 float32, K=4095) ran
#: 1.11-1.17x faster in 16 frames of 20480 points than in 23 of 16000, and
#: 1.07-1.11x slower with a cap of 32768 (12 frames of 26244 points), whose
#: frames spill one core's 1 MiB L2 (``python -m benchmarks.block_length``).
BLOCK_FFT_POINTS = 20480
#: Bytes of frames one task of the blocked FFT method transforms at a time,
#: so that a task's frames stay in L2. On W3, groups of 1 MiB and 4 MiB ran
#: within 5% of each other, and groups of 256 KiB 10% slower.
BLOCK_GROUP_BYTES = 2**20

#: Work (`transform_work`: lines x points x log2(points) x bytes a point)
#: under which a scipy.fft call uses one thread. Waking pocketfft's helper threads costs
#: a small call more than the second core gives back: on the project's
#: machine class a batch of 16 x 4096 float32 lines took 1.3-1.8x, and
#: 16 x 1024 float64 2.6-3.3x, as long on two threads as on one; above
#: this two threads won in most cases (``python -m benchmarks.fft_workers``;
#: docs/performance.md, "One FFT thread for small calls").
FFT_SPLIT_WORK = 1e7


# Set in threads running `NumpyBackend.run_tasks` tasks, whose transforms
# then take one thread each (the tasks already use them all).
_in_task = threading.local()


def available_memory() -> int | None:
    """Bytes of host memory new allocations can get without swapping, or None.

    Linux's ``MemAvailable`` (free memory plus the page cache and slabs the
    kernel can reclaim); ``SC_AVPHYS_PAGES`` would count free pages only and
    call a machine that has just read a large file full.
    """
    global _memory_reading
    now = time.monotonic()
    if now - _memory_reading[0] < _MEMORY_READING_LIFETIME:
        return _memory_reading[1]
    value = None
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    value = int(line.split()[1]) * 1024  # reported in kB
                    break
    except (OSError, ValueError, IndexError):
        value = None
    _memory_reading = (now, value)
    return value


def default_workspace() -> int:
    """The CPU's default workspace: `WORKSPACE_FRACTION` of the available
    memory between `WORKSPACE_FLOOR` and `WORKSPACE_CAP`, or `DEFAULT_WORKSPACE`.

    >>> WORKSPACE_FLOOR <= default_workspace() <= WORKSPACE_CAP
    True
    """
    available = available_memory()
    if available is None:
        return DEFAULT_WORKSPACE
    return int(min(max(available * WORKSPACE_FRACTION, WORKSPACE_FLOOR), WORKSPACE_CAP))


def transform_work(x, n: int, point_bytes: int) -> float:
    """Work of transforming the lines of ``x`` at ``n`` points, as
    `FFT_SPLIT_WORK` counts it: lines x ``n`` x log2(``n``) x ``point_bytes``
    (bytes of a point of the signal side: a complex point's transform costs
    about twice a real one's).

    >>> import numpy as np
    >>> transform_work(np.empty((16, 4096), np.float32), 4096, 4)
    3145728.0
    """
    return math.prod(x.shape[:-1]) * n * math.log2(max(n, 2)) * point_bytes


def _fft_workers(x, n: int, point_bytes: int) -> int:
    """Threads of one scipy.fft call transforming the lines of ``x`` at ``n``
    points: one inside a task of `NumpyBackend.run_tasks` (the tasks already
    use every thread) and for a call whose `transform_work` is under
    `FFT_SPLIT_WORK`; else every thread."""
    if getattr(_in_task, "active", False) or transform_work(x, n, point_bytes) < FFT_SPLIT_WORK:
        return 1
    return config.effective_threads()


@functools.lru_cache(maxsize=1)
def _pool(threads: int) -> ThreadPoolExecutor:
    """The helper threads of `NumpyBackend.run_tasks`, kept between calls."""
    return ThreadPoolExecutor(threads, thread_name_prefix="gpuconv")


# A forked child has none of its parent's threads: it makes its own pool.
os.register_at_fork(after_in_child=_pool.cache_clear)


def native_byte_order(array: np.ndarray) -> np.ndarray:
    """``array``, or a copy in the machine's byte order when it is not
    (``'>f8'`` read from a file): the kernels compute in native order, and
    results come back in it, as NumPy's and SciPy's do."""
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def exportable_torch_tensor(x):
    """A torch tensor with its conjugation or negation applied: ``t.conj()``
    and ``t.conj().imag`` only set a bit, which DLPack does not carry (torch
    refuses the first and exports the second without its sign). One that
    requires grad is refused: gpuconv builds no autograd graph."""
    if array_api_compat.is_torch_array(x):
        if x.requires_grad:
            raise TypeError("a torch tensor that requires grad: gpuconv computes no gradients; "
                            "pass tensor.detach()")
        return x.resolve_conj().resolve_neg()
    return x


def host_array(x) -> np.ndarray:
    """``np.asarray(x)``, with an error that names the array's type and dtype
    when NumPy has no such dtype (torch's bfloat16)."""
    try:
        return np.asarray(x)
    except TypeError as error:
        raise TypeError(f"cannot take a {type(x).__module__}.{type(x).__name__} of dtype "
                        f"{x.dtype}: {error}") from None


@functools.cache
def wide_direct_passes() -> bool:
    """Whether the Numba direct kernel adds float taps in wide passes here
    (`gpuconv.backends._numba_kernels._wide_blocks`): on a host CPU with
    AVX-512, the target Numba compiles for unless ``NUMBA_CPU_NAME`` names
    another. Elsewhere its 24 weights would not stay in registers."""
    import llvmlite.binding as llvm  # loaded with Numba anyway; not at import

    if os.environ.get("NUMBA_CPU_NAME", "host") != "host":
        return False
    features = os.environ.get("NUMBA_CPU_FEATURES") or llvm.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


class NumpyBackend:
    """Computes on NumPy arrays on the CPU."""

    name = "numpy"
    device = "cpu"
    xp = xp
    #: Whether an array is of this backend's own type (else results are moved back).
    is_native = staticmethod(array_api_compat.is_numpy_array)

    def asarray(self, x):
        """``x`` as a NumPy array: copied off a GPU if it lives there, shared
        through DLPack if another library holds it in host memory."""
        if array_api_compat.is_numpy_array(x) or not array_api_compat.is_array_api_obj(x):
            return native_byte_order(np.asarray(x))
        if hasattr(x, "get"):  # CuPy
            return x.get()
        x = exportable_torch_tensor(x)
        try:
            return np.from_dlpack(x)
        except (BufferError, RuntimeError, TypeError):  # on a device, or read-only
            return host_array(x)

    #: The Numba kernel applies boundary rules itself (no padded copy of the batch).
    direct_boundaries = True

    def direct(self, x, w, request):
        """Numba kernel; see `gpuconv.backends._numba_kernels.direct_rows`."""
        from . import _numba_kernels  # numba loads on first use, not at import

        _numba_kernels.set_threads(config.effective_threads())
        return _numba_kernels.direct(np.ascontiguousarray(x), np.ascontiguousarray(w),
                                     request.start, request.out_len,
                                     request.boundary, request.cval)

    def conv_channels(self, x, weight, bias, *, stride, dilation, groups, left, out_len):
        """Multi-channel convolution on the Numba implicit-GEMM kernel; see
        `gpuconv.backends._numba_conv.conv_channels` (``gpuconv.nn`` uses it
        where a backend has it, im2col + matmul elsewhere)."""
        from . import _numba_conv, _numba_kernels  # numba loads on first use

        _numba_kernels.set_threads(config.effective_threads())
        return _numba_conv.conv_channels(x, weight, bias, stride=stride, dilation=dilation,
                                         groups=groups, left=left, out_len=out_len)

    def __init_subclass__(cls, **kwargs):
        """Subclasses stand in for other devices (the CUDA host emulator), so
        they take the device's route through ``gpuconv.nn`` (im2col + matmul,
        as on CuPy) unless they define `conv_channels` themselves."""
        super().__init_subclass__(**kwargs)
        if "conv_channels" not in cls.__dict__:
            cls.conv_channels = None

    def rfft(self, x, n):
        return scipy.fft.rfft(x, n, axis=-1, workers=_fft_workers(x, n, x.itemsize))

    def irfft(self, x, n):
        return scipy.fft.irfft(x, n, axis=-1, workers=_fft_workers(x, n, x.itemsize // 2))

    def fft(self, x, n):
        return scipy.fft.fft(x, n, axis=-1, workers=_fft_workers(x, n, x.itemsize))

    def ifft(self, x, n):
        return scipy.fft.ifft(x, n, axis=-1, workers=_fft_workers(x, n, x.itemsize))

    block_fft_points = BLOCK_FFT_POINTS
    block_group_bytes = BLOCK_GROUP_BYTES
    wide_direct_passes = staticmethod(wide_direct_passes)

    @staticmethod
    def fft_batch_lines(dtype) -> int:
        """Lines scipy.fft transforms at once in SIMD registers for ``dtype``."""
        return FFT_SIMD_LINES.get(np.dtype(dtype).name, 1)

    def task_threads(self) -> int:
        """Threads `run_tasks` spreads tasks over."""
        return config.effective_threads()

    def run_tasks(self, task, count: int) -> None:
        """Call ``task(i)`` for every ``i`` in ``range(count)``, spread over
        `task_threads` threads (this one among them).

        The tasks must be independent. NumPy and scipy.fft release the GIL,
        so they run in parallel; a transform inside a task takes one thread.
        """
        threads = min(self.task_threads(), count)
        tickets = itertools.count()

        def take_tickets():
            _in_task.active = True
            try:
                while (index := next(tickets)) < count:  # next() on a count is atomic
                    task(index)
            finally:
                _in_task.active = False

        pool = _pool(threads - 1) if threads > 1 else None
        helpers = [pool.submit(take_tickets) for _ in range(threads - 1)]
        try:
            take_tickets()
        finally:
            wait(helpers)
        for helper in helpers:
            helper.result()  # re-raises a helper's exception

    def next_fast_len(self, n: int, real: bool) -> int:
        return scipy.fft.next_fast_len(n, real)

    def workspace_bytes(self) -> int:
        """``gpuconv.config.max_workspace_bytes``, else `default_workspace`."""
        if config.max_workspace_bytes is not None:
            return config.max_workspace_bytes
        return default_workspace()
