"""The CPU backend: NumPy arrays, scipy.fft with worker threads, a Numba direct kernel."""

from __future__ import annotations

import array_api_compat
import array_api_compat.numpy as xp
import numpy as np
import scipy.fft

from .._config import config

#: Default cap on one call's temporaries: slabs of this size stay in the
#: last-level cache's neighbourhood and keep a 10 GB batch from needing 30 GB.
DEFAULT_WORKSPACE = 256 * 2**20


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
            return np.asarray(x)
        if hasattr(x, "get"):  # CuPy
            return x.get()
        try:
            return np.from_dlpack(x)
        except (BufferError, RuntimeError, TypeError):  # on a device, or read-only
            return np.asarray(x)

    #: The Numba kernel sees zero-boundary requests (boundaries are padded first).
    direct_boundaries = False

    def direct(self, x, w, request):
        """Numba kernel; see `gpuconv.backends._numba_kernels.direct_rows`."""
        from . import _numba_kernels  # numba loads on first use, not at import

        _numba_kernels.set_threads(config.threads)
        return _numba_kernels.direct(np.ascontiguousarray(x), np.ascontiguousarray(w),
                                     request.start, request.out_len)

    def rfft(self, x, n):
        return scipy.fft.rfft(x, n, axis=-1, workers=config.threads)

    def irfft(self, x, n):
        return scipy.fft.irfft(x, n, axis=-1, workers=config.threads)

    def fft(self, x, n):
        return scipy.fft.fft(x, n, axis=-1, workers=config.threads)

    def ifft(self, x, n):
        return scipy.fft.ifft(x, n, axis=-1, workers=config.threads)

    def next_fast_len(self, n: int, real: bool) -> int:
        return scipy.fft.next_fast_len(n, real)

    def workspace_bytes(self) -> int:
        return config.max_workspace_bytes or DEFAULT_WORKSPACE
