"""The GPU backend: CuPy arrays, cuFFT through ``cupyx.scipy.fft``.

Imported only once the registry has found CuPy and a CUDA device. Until the
raw CUDA kernels of ``kernels/*.cu`` are wired in (the GPU backend issue),
``direct`` is ``None`` and the direct method runs as the namespace-generic
shift-and-add of `gpuconv._algorithms.direct`.
"""

from __future__ import annotations

import array_api_compat.cupy as xp
import cupy
import cupyx.scipy.fft as cufft

from .._config import config

#: Share of free device memory one call's temporaries may take.
WORKSPACE_FRACTION = 0.25


class CupyBackend:
    """Computes on CuPy arrays on the current CUDA device."""

    name = "cupy"
    device = "cuda"
    xp = xp
    direct = None

    def __init__(self):
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
