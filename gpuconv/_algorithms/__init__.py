"""Algorithms written once against an array namespace: direct, FFT, blocked FFT.

`execute` is the single entry point the fronts call with a canonical
`~gpuconv._plan.Request`: it picks the method, the dtype to compute in, and
slabs of rows small enough for the workspace budget, applies the boundary
rule, and casts the result to the caller's dtype.
"""

from __future__ import annotations

import cmath
import functools
from dataclasses import replace

import array_api_compat

from .._plan import Request
from .boundary import extend
from .choose import choose_method
from .direct import direct
from .fft import fft_convolve, transform_length
from .overlap import oa_convolve

__all__ = ["choose_method", "compute_dtype", "dtype_name", "execute"]

METHODS = {"direct": direct, "fft": fft_convolve, "oa": oa_convolve}


def compute_dtype(xp, result_dtype, method: str):
    """The dtype the arithmetic runs in for a ``result_dtype`` and method.

    Integers and booleans accumulate exactly in int64 on the direct path (and
    wrap to the result dtype like NumPy), or go through float64 on the FFT
    paths (and are rounded, as ``scipy.signal.convolve`` does). float16 is
    computed in float32. Every other dtype computes in itself.
    """
    if xp.isdtype(result_dtype, ("bool", "integral")):
        return xp.int64 if method == "direct" else xp.float64
    if result_dtype == xp.float16:
        return xp.float32
    return result_dtype


def workspace_per_row(request: Request, method: str, itemsize: int) -> int:
    """Bytes of temporaries one row needs, beyond its output."""
    n, k = request.n, request.k
    extended = n + 2 * k if request.boundary != "zero" else 0
    if method == "direct":
        per_row = extended
    elif method == "fft":  # padded line and spectrum (and the row's kernel's), then the output
        lines = 2 if request.kernel_rows > 1 else 1
        per_row = (2 * lines + 1) * transform_length(n + extended, k, request.start,
                                                     request.out_len)
    else:
        per_row = 6 * (n + extended + 2 * k)
    return per_row * itemsize


def execute(backend, x, w, request: Request, method: str, result_dtype, *, chosen=None):
    """Convolve rows of ``x`` (rows, n) with ``w`` (1 or rows, k) per ``request``.

    Returns a ``(rows, out_len)`` array of ``result_dtype`` on the backend's
    device. ``method`` is ``'auto'``, ``'direct'``, ``'fft'`` or ``'oa'``;
    for ``'auto'``, ``chosen`` is the cost model's choice when the caller
    has it already (a stream remembers its choices).
    """
    xp = backend.xp
    # A transform spreads a NaN or Inf over its whole row or block; the direct
    # sum leaves it in the outputs that read it, as NumPy and scipy.ndimage
    # do. So a transform `auto` chose gives way to the direct sum when a line
    # it transforms is not finite (its bin 0, the line's sum, tells at no
    # cost), or the constant boundary's value. Integers: auto goes direct.
    finite_only = False
    if method == "auto":
        method = chosen or choose_method(backend, request, dtype_name(xp, result_dtype))
        finite_only = method != "direct"
        if finite_only and request.boundary == "constant" and not cmath.isfinite(request.cval):
            method, finite_only = "direct", False
    dtype = compute_dtype(xp, result_dtype, method)
    x = xp.astype(x, dtype, copy=False)
    w = xp.astype(w, dtype, copy=False)
    compute = functools.partial(METHODS[method], finite_only=True) if finite_only else METHODS[method]

    rows = request.rows
    staged = method == "direct" and backend.direct_boundaries
    per_row = 0 if staged else workspace_per_row(request, method, x.dtype.itemsize)
    slab = max(1, backend.workspace_bytes() // per_row) if per_row else max(rows, 1)
    out = None
    for lo in range(0, rows, slab):
        hi = min(lo + slab, rows)
        part = request if hi - lo == rows else replace(
            request, rows=hi - lo, kernel_rows=1 if request.kernel_rows == 1 else hi - lo)
        if staged:  # the kernel applies the boundary while staging its tile
            x_part = x[lo:hi]
        else:
            x_part, part = extend(xp, x[lo:hi], part)
        w_part = w if request.kernel_rows == 1 else w[lo:hi]
        piece = compute(backend, x_part, w_part, part)
        if piece is None:  # the transform met a NaN or Inf (finite_only)
            piece = direct(backend, x_part, w_part, part)
        if hi - lo == rows:
            out = piece
        else:
            if out is None:
                out = xp.empty((rows, request.out_len), dtype=dtype, device=array_api_compat.device(x))
            out[lo:hi, ...] = piece
    if out is None:  # no rows at all
        out = xp.zeros((0, request.out_len), dtype=dtype, device=array_api_compat.device(x))
    return _finish(xp, out, result_dtype, method)


def _finish(xp, out, result_dtype, method: str):
    """Cast the computed result to the caller's dtype, NumPy's way."""
    if out.dtype == result_dtype:
        return out
    if xp.isdtype(result_dtype, ("bool", "integral")) and method != "direct":
        out = xp.round(out)  # FFT rounding noise: 2.9999999 is 3, 1e-17 is 0
    if xp.isdtype(result_dtype, "bool"):
        return out != 0
    return xp.astype(out, result_dtype)


def dtype_name(xp, dtype) -> str:
    """The cost model's name for ``dtype``; ``'exact'`` for integers and bools."""
    for name in ("float32", "float64", "complex64", "complex128"):
        if dtype == getattr(xp, name):
            return name
    return "float32" if dtype == xp.float16 else "exact"
