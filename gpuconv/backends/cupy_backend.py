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
import cupyx.scipy.fft as cufft

from .._config import config
from ._launch import CudaDirect, CupyLauncher

#: Share of free device memory one call's temporaries may take.
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
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        self.device_name = props["name"].decode()

    def asarray(self, x):
        """``x`` as a CuPy array on the current device (copied from the host if needed)."""
        return cupy.asarray(x)

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

    def workspace_bytes(self) -> int:
        if config.max_workspace_bytes is not None:
            return config.max_workspace_bytes
        free, _total = cupy.cuda.Device().mem_info
        return int(free * WORKSPACE_FRACTION)
