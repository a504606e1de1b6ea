"""Direct (sum-of-products) convolution.

Backends with a native kernel (Numba on the CPU, CUDA on the GPU) supply
``backend.direct``; `shift_and_add` is the same computation written once
against the array namespace, one fused multiply-add per tap over whole rows,
for namespaces without one.
"""

from __future__ import annotations


def direct(backend, x, w, request):
    """``y[:, start:start + out_len]`` of the full convolution of ``request``.

    ``x`` is ``(rows, n)``, ``w`` is ``(1 or rows, k)``, both of the compute
    dtype; the output has that dtype too. The boundary is zero unless the
    backend's kernel applies boundaries itself (``backend.direct_boundaries``).
    """
    if backend.direct is not None:
        return backend.direct(x, w, request)
    return shift_and_add(backend.xp, x, w, request.start, request.out_len)


def shift_and_add(xp, x, w, start: int, out_len: int):
    """Direct convolution as ``k`` whole-row multiply-adds (namespace-generic).

    Tap ``i`` adds ``w[:, i] * x[:, start + t - i]`` to every output ``t`` it
    reaches. ``k`` passes over the output: fine for short kernels, which is
    where a direct method is chosen.
    """
    rows, n = x.shape
    k = w.shape[1]
    device = getattr(x, "device", None)
    out = xp.zeros((rows, out_len), dtype=x.dtype, device=device)
    for i in range(k):
        shift = start - i
        lo, hi = max(0, -shift), min(out_len, n - shift)
        if lo < hi:
            out[:, lo:hi] += w[:, i:i + 1] * x[:, lo + shift:hi + shift]
    return out
