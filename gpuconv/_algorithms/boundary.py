"""Boundary rules: extend each row so a request becomes a zero-boundary one.

The extension is materialised once per slab of rows, written against the
array namespace ``xp``; the direct kernel and the FFT methods then only ever
see signals that are zero outside their ends.
"""

from __future__ import annotations

from dataclasses import replace

import array_api_compat
import numpy as np

from .._plan import Request, extension


def source_index(m: np.ndarray, n: int, rule: str) -> np.ndarray:
    """Index into a length-``n`` signal that position ``m`` reads under ``rule``.

    Periodic formulas, so kernels far longer than the signal extend correctly
    (``scipy.ndimage`` semantics):

    * reflect ``d c b a | a b c d | d c b a`` (period ``2n``)
    * mirror  ``d c b | a b c d | c b a`` (period ``2n - 2``)
    * nearest ``a a a | a b c d | d d d``
    * wrap    ``a b c d | a b c d | a b c d`` (period ``n``)

    >>> source_index(np.arange(-3, 7), 4, "reflect")
    array([2, 1, 0, 0, 1, 2, 3, 3, 2, 1])
    >>> source_index(np.arange(-3, 7), 4, "mirror")
    array([3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
    """
    if rule == "reflect":
        r = m % (2 * n)
        return np.where(r < n, r, 2 * n - 1 - r)
    if rule == "mirror":
        if n == 1:
            return np.zeros_like(m)
        r = m % (2 * n - 2)
        return np.where(r < n, r, 2 * n - 2 - r)
    if rule == "nearest":
        return np.clip(m, 0, n - 1)
    if rule == "wrap":
        return m % n
    raise ValueError(f"unknown boundary rule {rule!r}")


def extend(xp, x, request: Request):
    """Return ``(x_ext, request_ext)``: ``x`` padded by its boundary rule.

    ``x`` is the ``(rows, n)`` slab; ``request_ext`` asks for the same outputs
    from the padded rows with a zero boundary. A zero-boundary request comes
    back unchanged.
    """
    if request.boundary == "zero":
        return x, request
    left, right = extension(request.n, request.k, request.start, request.out_len)
    rows = x.shape[0]
    if request.boundary == "constant":
        def pad(width):
            return xp.full((rows, width), request.cval, dtype=x.dtype)
        x_ext = xp.concat([pad(left), x, pad(right)], axis=1)
    else:
        index = source_index(np.arange(-left, request.n + right), request.n,
                             request.boundary)
        x_ext = xp.take(x, xp.asarray(index, device=array_api_compat.device(x)), axis=1)
    return x_ext, replace(request, n=request.n + left + right,
                          start=request.start + left, boundary="zero", cval=0.0)
