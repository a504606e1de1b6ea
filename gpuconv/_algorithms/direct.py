"""Direct (sum-of-products) convolution: the backend's own kernel.

Every backend supplies one (Numba on the CPU, the CUDA kernel of
``kernels/conv1d_direct.cu`` on a GPU and under the host emulator): a direct
sum is only fast as a fused kernel, never as whole-array operations per tap.
"""

from __future__ import annotations


def direct(backend, x, w, request):
    """``y[:, start:start + out_len]`` of the full convolution of ``request``.

    ``x`` is ``(rows, n)``, ``w`` is ``(1 or rows, k)``, both of the compute
    dtype; the output has that dtype too. The boundary is zero unless the
    backend's kernel applies boundaries itself (``backend.direct_boundaries``).
    """
    return backend.direct(x, w, request)
