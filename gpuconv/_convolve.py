"""NumPy-compatible fronts: `convolve`, `correlate` and `circular_convolve`."""

from __future__ import annotations

import math
import operator

from . import _front
from ._algorithms import compute_dtype, execute
from ._plan import METHODS, Request, check_choice, circular_window, numpy_mode, numpy_window


def convolve(a, v, mode="full", *, axis=-1, method="auto"):
    """Discrete linear convolution, ``numpy.convolve`` batched along one axis.

    Parameters
    ----------
    a : array_like
        Signal. 1-D, or N-D to convolve every 1-D slice along `axis`.
    v : array_like
        Kernel. 1-D (one kernel for every slice), or N-D aligned with `a`
        from the right: its length along `axis` is the kernel length and its
        other axes broadcast against `a`'s (one kernel per slice).
    mode : {'full', 'same', 'valid'} or {2, 1, 0}, optional
        Which part of the full convolution to return, as in `numpy.convolve`.
        Lengths depend only on ``min(len(a), len(v))`` and the longer length,
        since NumPy swaps the inputs when `v` is longer.
    axis : int, optional
        Axis of `a` (and of an N-D `v`) to convolve along. Default -1.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        ``'direct'`` sums products (exact for integers); ``'fft'`` multiplies
        spectra; ``'oa'`` multiplies them in cache-sized blocks (overlap-save,
        SciPy's ``oaconvolve`` family); ``'auto'`` picks the fastest from the
        backend's cost model and always picks ``'direct'`` for integer and
        boolean inputs.

    Returns
    -------
    out : array
        Convolution of `a` and `v`, of dtype ``result_type(a, v)``, on the
        device and of the array type of the inputs.

    Raises
    ------
    ValueError
        Empty input, unknown `mode` or `method`, `axis` out of range, batch
        shapes that do not broadcast, arrays on different devices.
    TypeError
        Non-numeric dtypes (object arrays included: gpuconv computes in
        machine arithmetic only), a `mode` that is neither a name nor an
        integer, arrays from two different libraries.

    See Also
    --------
    numpy.convolve : the 1-D function this matches exactly.
    correlate, circular_convolve, gpuconv.signal.convolve

    Notes
    -----
    Integer results of ``'direct'`` (which ``'auto'`` always picks for them)
    wrap like NumPy's: exact accumulation in 64 bits, then the cast;
    ``'fft'``/``'oa'`` compute integers in float64 and round. Floating
    results of ``'fft'``/``'oa'`` differ from the direct sum by rounding
    (relative to the largest output, about ``eps * log2(n)``), and a NaN or
    Inf spreads to every output of its row with ``'fft'`` (as with
    `scipy.signal.fftconvolve`), to the outputs of the blocks that read it
    with ``'oa'``. ``'auto'`` may choose FFT for floating inputs, but takes
    the direct sum when `a` or `v` holds a NaN or Inf.

    Examples
    --------
    >>> import numpy as np, gpuconv
    >>> gpuconv.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> gpuconv.convolve([1, 2, 3], [0, 1, 0.5], "same")
    array([1. , 2.5, 4. ])
    >>> x = np.arange(8.0).reshape(2, 4)                # two signals
    >>> gpuconv.convolve(x, [[1, -1], [1, 1]], "valid")  # one kernel each
    array([[ 1.,  1.,  1.],
           [ 9., 11., 13.]])
    """
    return _linear(a, v, mode, axis, method, correlate=False)


def correlate(a, v, mode="valid", *, axis=-1, method="auto"):
    """Cross-correlation, ``numpy.correlate`` batched along one axis.

    ``c[k] = sum_n a[n + k] * conj(v[n])``, with `mode` as in
    `numpy.correlate` (default ``'valid'``). Arguments, dtypes, batching
    and errors are as in `convolve`.

    Returns
    -------
    out : array
        Correlation of `a` and `v`.

    See Also
    --------
    numpy.correlate : the 1-D function this matches exactly.
    convolve, gpuconv.signal.correlate

    Examples
    --------
    >>> import gpuconv
    >>> gpuconv.correlate([1, 2, 3], [0, 1, 0.5])
    array([3.5])
    >>> gpuconv.correlate([1, 2, 3], [0, 1, 0.5], "full")
    array([0.5, 2. , 3.5, 3. , 0. ])
    >>> gpuconv.correlate([1, 2j, 3], [0, 1, 0.5j], "same")
    array([2.+0.j , 0.+0.5j, 3.+0.j ])
    """
    return _linear(a, v, mode, axis, method, correlate=True)


def _rows_of(a, v, axis, method):
    """The shared start of the NumPy fronts: inputs as rows, NumPy's rules."""
    check_choice(method, METHODS, "method")
    backend, xp, (a, v), restore = _front.prepare(a=a, v=v)
    a = xp.reshape(a, (1,)) if a.ndim == 0 else a  # numpy.convolve's ndmin=1
    v = xp.reshape(v, (1,)) if v.ndim == 0 else v
    rows = _front.as_rows(xp, a, v, axis)
    _front.check_not_empty(rows.x.shape[-1], rows.w.shape[-1])
    return backend, xp, rows, xp.result_type(a, v), restore


def _linear(a, v, mode, axis, method, *, correlate):
    mode = numpy_mode(mode)
    backend, xp, rows, dtype, restore = _rows_of(a, v, axis, method)
    n, k = rows.x.shape[-1], rows.w.shape[-1]
    w = _front.conj_flip(xp, rows.w, -1) if correlate else rows.w
    start, out_len = numpy_window(n, k, mode, correlate=correlate)
    request = Request(rows=rows.x.shape[0], n=n, k=k, kernel_rows=w.shape[0],
                      start=start, out_len=out_len)
    out = execute(backend, rows.x, w, request, method, dtype)
    return restore(_front.from_rows(xp, out, rows))


def circular_convolve(a, v, n=None, *, axis=-1, method="auto"):
    """Circular convolution of period `n`, as MATLAB's ``cconv(a, v, n)``.

    The linear convolution of `a` and `v` wrapped (aliased) onto `n` points:
    ``out[t] = sum_j full[t + j * n]``. With the default ``n = len(a) +
    len(v) - 1`` it equals the linear convolution (of finite values: the
    zeros that pad `a` to ``n`` are samples of the periodic signal, so an Inf
    weight that meets them gives NaN where ``numpy.convolve`` forms no
    product); with ``n = len(a)`` it is the periodic convolution of a signal
    of period ``len(a)``.

    Parameters
    ----------
    a, v : array_like
        Signal and kernel, batched as in `convolve`.
    n : int, optional
        Period (output length), a positive integer.
    axis : int, optional
        Axis to convolve along. Default -1.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        As in `convolve`.

    Returns
    -------
    out : array
        Length `n` along `axis`, dtype ``result_type(a, v)``.

    See Also
    --------
    convolve, gpuconv.ndimage.convolve1d : ``mode='wrap'`` is the periodic case,
        centred: the same values rolled by ``(len(v) - 1) // 2``.

    Examples
    --------
    >>> import gpuconv
    >>> gpuconv.circular_convolve([1, 2, 3, 4], [1, 1, 1])
    array([1, 3, 6, 9, 7, 4])
    >>> gpuconv.circular_convolve([1, 2, 3, 4], [1, 1, 1], 4)
    array([8, 7, 6, 9])
    >>> gpuconv.circular_convolve([1, 2, 3, 4], [1, 1, 1], 3)
    array([10, 10, 10])
    """
    backend, xp, rows, dtype, restore = _rows_of(a, v, axis, method)
    length, k = rows.x.shape[-1], rows.w.shape[-1]
    if n is None:
        n = length + k - 1
    if isinstance(n, bool):
        raise TypeError(f"n must be an integer, got {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an integer, got {n!r}") from None
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    x = _fold(xp, rows.x, n, compute_dtype(xp, dtype, "direct"))
    start, out_len = circular_window(n)
    request = Request(rows=x.shape[0], n=n, k=k, kernel_rows=rows.w.shape[0],
                      start=start, out_len=out_len, boundary="wrap")
    out = execute(backend, x, rows.w, request, method, dtype)
    return restore(_front.from_rows(xp, out, rows))


def _fold(xp, x, n: int, dtype):
    """Rows of ``x`` zero-padded to ``n``, or aliased onto ``n`` points if
    longer, the periods summed in ``dtype``: the arithmetic's, not the
    signal's (int8 periods add up past 127, bool ones past True)."""
    rows, length = x.shape
    periods = math.ceil(length / n)
    padded = xp.zeros((rows, periods * n), dtype=x.dtype if periods == 1 else dtype,
                      device=x.device)
    padded[:, :length] = x
    if periods == 1:
        return padded
    return xp.sum(xp.reshape(padded, (rows, periods, n)), axis=1, dtype=dtype)
