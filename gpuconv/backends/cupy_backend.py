"""The GPU backend: CuPy arrays, cuFFT through ``cupyx.scipy.fft``.

Imported only once the registry has found CuPy and a CUDA device. The direct
method is the CUDA kernel of ``kernels/conv1d_direct.cu``, compiled by NVRTC
through ``cupy.RawModule`` and launched from the descriptions of
`gpuconv.backends._launch` (the same ones the host emulator runs in CI).
"""

from __future__ import annotations

import array_api_compat
import array_api_compat.cupy as xp
import cupy
import numpy as np
import cupyx.scipy.fft as cufft

from .._algorithms.choose import figures_from_attributes
from .._config import config
from ._launch import CudaDirect, CupyLauncher
from .numpy_backend import exportable_torch_tensor, host_array, native_byte_order

#: Share of free device memory one call's temporaries may take: the device
#: is not shared with the OS, but the output and the caller's arrays are there.
WORKSPACE_FRACTION = 0.25


class CupyBackend:
    """Computes on CuPy arrays on the current CUDA device."""

    name = "cupy"
    device = "cuda"
    xp = xp
    is_native = staticmethod(array_api_compat.is_cupy_array)
    direct_boundaries = True

    def __init__(self):
        self.direct = CudaDirect(xp, CupyLauncher())
        device = cupy.cuda.Device()
        self.device_name = cupy.cuda.runtime.getDeviceProperties(device.id)["name"].decode()
        capability = (int(device.compute_capability[:-1]), int(device.compute_capability[-1]))
        #: The `auto` cost model's roofline figures, from the device's attributes.
        self.figures = figures_from_attributes(self.device_name, device.attributes, capability)

    def asarray(self, x):
        """``x`` as a CuPy array: shared through DLPack when another library
        holds it on the GPU (a torch CUDA tensor), copied from the host otherwise."""
        if isinstance(x, cupy.ndarray) or not array_api_compat.is_array_api_obj(x):
            return cupy.asarray(x)
        x = exportable_torch_tensor(x)
        try:
            device_type = x.__dlpack_device__()[0]
        except (AttributeError, TypeError):
            device_type = None
        if device_type == 2:  # kDLCUDA
            return cupy.from_dlpack(x)
        return cupy.asarray(native_byte_order(host_array(x)))

    def rfft(self, x, n):
        return cufft.rfft(x, n, axis=-1)

    def irfft(self, x, n):
        return cufft.irfft(x, n, axis=-1)

    def fft(self, x, n):
        return cufft.fft(x, n, axis=-1)

    def ifft(self, x, n):
        return cufft.ifft(x, n, axis=-1)

    def next_fast_len(self, n: int, real: bool) -> int:
        return cufft.next_fast_len(n, real)

    #: The blocked FFT method takes the cost model's transform length and one
    #: batched transform each way over a whole slab (no cache to stay in).
    block_fft_points = None
    block_group_bytes = None

    @staticmethod
    def fft_batch_lines(dtype) -> int:
        """One: cuFFT takes any number of lines alike."""
        return 1

    def task_threads(self) -> int:
        """One: tasks run in order (`run_tasks`)."""
        return 1

    def run_tasks(self, task, count: int) -> None:
        """Call ``task(i)`` for every ``i`` in ``range(count)``, in order: the
        device runs one task's kernels in parallel already."""
        for index in range(count):
            task(index)

    def workspace_bytes(self) -> int:
        """``gpuconv.config.max_workspace_bytes``, else `WORKSPACE_FRACTION` of
        the free device memory, counting blocks CuPy's pool holds but no array uses."""
        if config.max_workspace_bytes is not None:
            return config.max_workspace_bytes
        free, _total = cupy.cuda.Device().mem_info
        return int((free + cupy.get_default_memory_pool().free_bytes()) * WORKSPACE_FRACTION)
