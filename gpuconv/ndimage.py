"""``scipy.ndimage``-compatible 1-D filters with every boundary mode.

`convolve1d` and `correlate1d` give ``scipy.ndimage``'s results: the output
has the input's length along `axis`, the signal is extended past its ends by
`mode`, and `origin` shifts the filter. `uniform_filter1d` and
`gaussian_filter1d` are built on them, so they run on either device too.
"""

from __future__ import annotations

import cmath
import math
import numbers
import operator
import warnings

import array_api_compat
import numpy as np

from . import _front
from ._algorithms import execute
from ._plan import BOUNDARIES, Request, check_choice, ndimage_window

__all__ = ["NdimageArgumentError", "convolve1d", "correlate1d", "gaussian_filter1d",
           "uniform_filter1d"]


class NdimageArgumentError(ValueError, RuntimeError):
    """A bad ``mode`` or ``weights``: a `ValueError`, and a `RuntimeError` too,
    which is what ``scipy.ndimage`` raises for these, so code written for SciPy
    keeps catching it."""


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0,
               *, method="auto"):
    """Convolve along one axis with boundary handling, as ``scipy.ndimage.convolve1d``.

    Parameters
    ----------
    input : array_like
        The signal(s); every 1-D slice along `axis` is filtered.
    weights : array_like
        1-D filter weights.
    axis : int, optional
        Axis of `input` to filter along. Default -1.
    output : array or dtype, optional
        Where to write the result, or its dtype; of NumPy or of the input's
        library (a tensor or ``torch.float32`` for torch input). Default: the
        input's dtype (complex when the weights are complex).
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-constant', \
'grid-mirror', 'grid-wrap'}, optional
        How the signal extends past its ends (``'grid-*'`` are SciPy's
        synonyms). Kernels longer than the signal are handled as SciPy does
        (the mode's extension repeated as far as needed).
    cval : scalar, optional
        Fill value for ``'constant'``. Default 0. A number; complex only for
        complex `input`, as in SciPy.
    origin : int, optional
        Shift of the filter's centre; ``-(len(weights) // 2) <= origin <=
        (len(weights) - 1) // 2``.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        gpuconv's method choice (keyword only; not in SciPy). ``'auto'``
        takes the direct sum, SciPy's, when `input`, `weights` or `cval`
        holds a NaN or Inf: a transform would spread it over the line.

    Returns
    -------
    out : array
        The filtered input, the `output` array itself when one was given.

    Raises
    ------
    NdimageArgumentError
        Empty or non-1-D weights, unknown mode (also a `RuntimeError`, as
        SciPy), a real `output` array for complex input or weights.
    ValueError
        `origin` or `axis` out of range, an `output` of the wrong shape, an
        unknown `method`, 0-d input.
    TypeError
        A non-integer `origin`.

    See Also
    --------
    scipy.ndimage.convolve1d, correlate1d, gpuconv.convolve

    Notes
    -----
    Floating inputs are computed in their own precision (SciPy computes in
    float64 and rounds at the end), so float32 results agree with SciPy to
    float32 accuracy. Integer inputs are computed in float64 and truncated
    to the integer dtype, as SciPy does. Complex input with real weights
    (or the reverse) gives SciPy's result, which filters each part on its
    own: a NaN or Inf in the real part never reaches the imaginary part.

    Examples
    --------
    >>> import gpuconv.ndimage
    >>> gpuconv.ndimage.convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    >>> gpuconv.ndimage.convolve1d([1.0, 2, 3], [1, 1, 1], mode="wrap")
    array([6., 6., 6.])
    """
    return _filter1d(input, weights, axis, output, mode, cval, origin, method, correlate=False)


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0,
                *, method="auto"):
    """Correlate along one axis with boundary handling, as ``scipy.ndimage.correlate1d``.

    Arguments as in `convolve1d`; the weights are not reversed, and complex
    weights are conjugated, as in SciPy.

    Returns
    -------
    out : array

    See Also
    --------
    scipy.ndimage.correlate1d, convolve1d

    Examples
    --------
    >>> import gpuconv.ndimage
    >>> gpuconv.ndimage.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    """
    return _filter1d(input, weights, axis, output, mode, cval, origin, method, correlate=True)


def check_mode_and_weights(mode, weights) -> None:
    """The boundary mode and the weights' shape, checked with SciPy's exception type."""
    try:
        check_choice(mode, tuple(BOUNDARIES), "mode")
    except ValueError as error:
        raise NdimageArgumentError(str(error)) from None
    if weights.ndim != 1 or weights.shape[0] < 1:
        raise NdimageArgumentError(f"weights must be a non-empty 1-D array, got shape {weights.shape}")


def _filter1d(input, weights, axis, output, mode, cval, origin, method, *, correlate,
              divisor=1):
    """`convolve1d`/`correlate1d` with the weights divided by ``divisor``:
    for an integer input or output the exact sums are divided once, after
    the arithmetic (a mean that is a whole number stays whole when
    truncated); otherwise the division is folded into the weights (no
    extra pass)."""
    check_choice(method, ("auto", "direct", "fft", "oa"), "method")
    backend, xp, (x, weights), restore = _front.prepare(input=input, weights=weights)
    check_mode_and_weights(mode, weights)
    if x.ndim == 0:
        raise ValueError("input must have at least one dimension")
    if _is_array(output) and tuple(output.shape) != tuple(x.shape):
        raise NdimageArgumentError(f"output has shape {tuple(output.shape)}, "
                                   f"expected the input's {tuple(x.shape)}")
    if isinstance(output, np.ndarray) and not output.flags.writeable:  # before the work
        raise ValueError("output is read-only")
    try:
        origin = operator.index(origin)
    except TypeError:
        raise TypeError(f"origin must be an integer, got {origin!r}") from None
    k = weights.shape[0]
    start = ndimage_window(k, origin, correlate=correlate)
    if correlate:  # correlation is convolution with reversed, conjugated weights
        weights = _front.conj_flip(xp, weights, 0)

    complex_input = xp.isdtype(x.dtype, "complex floating")
    complex_weights = xp.isdtype(weights.dtype, "complex floating")
    cval = _check_cval(cval, complex_input=complex_input)
    complex_work = complex_input or complex_weights
    out_dtype = _output_dtype(xp, output, x.dtype, complex_work,
                              lambda array: backend.asarray(array).dtype, like=input)
    if xp.isdtype(x.dtype, ("real floating", "complex floating")):
        work = xp.result_type(x.dtype, xp.complex64) if complex_work else x.dtype
        work = xp.float32 if work == xp.float16 else work
        # convolve1d/correlate1d have no division at all; an integer output truncates,
        # so there the exact window sum is divided once, as for integer input.
        if divisor != 1 and xp.isdtype(out_dtype, ("real floating", "complex floating")):
            weights, divisor = weights / divisor, 1
    else:  # integers and booleans: float64 arithmetic, truncated at the end (SciPy)
        work = xp.complex128 if complex_work else xp.float64
    if method == "auto" and not xp.isdtype(out_dtype, ("real floating", "complex floating")):
        method = "direct"  # truncation turns FFT rounding (2.9999999 for 3) into an off-by-one

    rows = _front.as_rows(xp, x, weights, axis, names=("input", "weights"))
    n = rows.x.shape[-1]
    if n == 0 or rows.x.shape[0] == 0:
        result = xp.astype(xp.reshape(rows.x, x.shape), out_dtype)  # nothing to filter
    else:
        def filter_rows(signal, weights, cval, work):
            request = Request(rows=signal.shape[0], n=n, k=k, kernel_rows=1, start=start,
                              out_len=n, boundary=BOUNDARIES[mode], cval=cval)
            return execute(backend, signal, xp.astype(weights, work), request, method, work)

        out = filter_rows(rows.x, rows.w, cval, work)
        if complex_input != complex_weights and not _sums_to_finite(xp, out):
            # Complex arithmetic may have formed inf * 0j, a NaN in the other
            # part. SciPy filters each part on its own: do so (rare, so only here).
            part_work = xp.float32 if work == xp.complex64 else xp.float64
            if complex_input:
                parts = [filter_rows(xp.real(rows.x), rows.w, cval.real, part_work),
                         filter_rows(xp.imag(rows.x), rows.w, cval.imag, part_work)]
            else:
                parts = [filter_rows(rows.x, xp.real(rows.w), cval, part_work),
                         filter_rows(rows.x, xp.imag(rows.w), cval, part_work)]
            out.real[...], out.imag[...] = parts  # not re + 1j * im: 1j * inf is nan+infj
        if divisor != 1:
            out = out / divisor
        result = _cast(xp, _front.from_rows(xp, out, rows), out_dtype)

    if _is_array(output):
        output[...] = _into_library_of(output, restore(result))
        return output
    return restore(result)


def _sums_to_finite(xp, out) -> bool:
    """Whether ``out`` holds no NaN or Inf (nor values whose sum overflows)."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, the answer
        return cmath.isfinite(complex(xp.sum(out)))


def _check_cval(cval, *, complex_input: bool):
    """``cval`` as a Python number, by SciPy's rule: a number, and real
    unless the input is complex (complex weights alone do not allow one)."""
    if cval is None or isinstance(cval, (str, bytes)):
        raise TypeError(f"cval must be a number, got {cval!r}")
    try:
        value = complex(cval)
    except (TypeError, ValueError):
        raise TypeError(f"cval must be a number, got {cval!r}") from None
    if complex_input:
        return value
    if np.iscomplexobj(cval):
        raise ValueError(f"cval must be real when the input is real, got {cval!r}")
    return value.real


def _output_dtype(xp, output, input_dtype, complex_work, numpy_dtype_of, like):
    """The output dtype by SciPy's rules (``scipy.ndimage._ni_support._get_output``).

    A complex result needs a complex output: a dtype given as a type or
    ``numpy.dtype`` is promoted with a warning, one given as a string or an
    output array is an error. An output array, or a dtype, may be of the
    input's array library (a ``torch.float32``); ``numpy_dtype_of`` gives the
    NumPy dtype of an array of any library.
    """
    if output is None:
        return xp.result_type(input_dtype, xp.complex64) if complex_work else input_dtype
    if _is_array(output):
        empty = output[(slice(0, 0),) * output.ndim]  # its dtype, without moving its data
        try:
            dtype, given = numpy_dtype_of(empty), "an output array"
        except TypeError as error:
            raise TypeError(f"output: {error}") from None
    else:
        dtype = _dtype_named(output, like, numpy_dtype_of)
        given = "a string" if isinstance(output, str) else None
    if complex_work and dtype.kind != "c":
        if given is not None:
            raise NdimageArgumentError(f"output must have a complex dtype for complex input or "
                                       f"weights, got {given} of dtype {dtype}")
        warnings.warn("promoting specified output dtype to complex", UserWarning, stacklevel=4)
        dtype = np.promote_types(dtype, np.complex64)
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise NdimageArgumentError(f"output must have a numeric dtype, got {dtype}")
    return dtype


def _dtype_named(output, like, numpy_dtype_of) -> np.dtype:
    """The NumPy dtype ``output`` names: a NumPy one, or one of ``like``'s library."""
    try:
        return np.dtype(output)
    except (TypeError, ValueError):  # ValueError: a module, such as torch itself
        pass
    if _is_array(like) and not array_api_compat.is_numpy_array(like):
        try:
            return numpy_dtype_of(array_api_compat.array_namespace(like).empty(0, dtype=output))
        except (TypeError, ValueError, RuntimeError):  # not a dtype, or one NumPy lacks
            pass
    raise TypeError(f"output must be an array or a dtype (of NumPy or of the input's library), "
                    f"got {output!r}")


def _into_library_of(output, result):
    """``result`` as an array of ``output``'s library and device, to assign
    to it (torch does not take a NumPy array in ``t[...] = a``)."""
    if isinstance(output, np.ndarray):
        return np.asarray(result)
    return array_api_compat.array_namespace(output).asarray(
        result, device=array_api_compat.device(output))


def _is_array(output) -> bool:
    # Scalar types such as np.float32 carry array attributes on the class;
    # np.matrix is an ndarray that array-api-compat does not count as an array.
    return isinstance(output, np.ndarray) or (
        not isinstance(output, type) and array_api_compat.is_array_api_obj(output))


def _cast(xp, result, dtype):
    """Cast to the output dtype: float to integer truncates toward zero, as
    SciPy's C conversion does; to bool, a value that truncates to non-zero is
    True. Out of range (undefined in C) the value goes through int64 as
    NumPy's cast does, which may differ from SciPy's answer."""
    if xp.isdtype(dtype, ("bool", "integral")) and xp.isdtype(result.dtype, "complex floating"):
        result = xp.real(result)
    if dtype == xp.bool:  # SciPy's bool is a byte: 0.5 truncates to 0, False
        return xp.trunc(result) != 0
    with np.errstate(invalid="ignore"):  # out of range: NumPy's answer, no warning
        if xp.isdtype(dtype, "integral") and np.dtype(dtype).itemsize < 8:
            result = xp.astype(result, xp.int64)  # C converts through a 64-bit integer
        return xp.astype(result, dtype, copy=False)  # the result is ours: no copy if it fits


# --------------------------------------------------------------------------
# Smoothing filters built on correlate1d
# --------------------------------------------------------------------------

def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0,
                     *, method="auto"):
    """Moving average along one axis, as ``scipy.ndimage.uniform_filter1d``.

    `correlate1d` with ``size`` weights of ``1 / size``, so it runs on either
    device and honours every boundary mode. For integer input or output,
    each window's exact sum (below 2**53) is divided by ``size`` instead, as
    SciPy does, so a mean that is a whole number is not truncated one low.

    Parameters
    ----------
    input : array_like
    size : int
        Length of the moving window, at least 1.
    axis, output, mode, cval, origin, method
        As in `correlate1d`.

    Returns
    -------
    out : array

    See Also
    --------
    scipy.ndimage.uniform_filter1d

    Notes
    -----
    SciPy keeps a running sum and divides it by ``size`` for each output;
    this sums each window afresh. Integer input (with a whole-number
    `cval`) gives the same exact sums either way, so integer results equal
    SciPy's; floating results, and a running sum of a fractional `cval`,
    may differ from SciPy's in the last bits, and so by one when truncated.

    Examples
    --------
    >>> import gpuconv.ndimage
    >>> gpuconv.ndimage.uniform_filter1d([2.0, 8, 0, 4, 1, 9, 9, 0], size=3)
    array([4.        , 3.33333333, 4.        , 1.66666667, 4.66666667,
           6.33333333, 6.        , 3.        ])
    """
    size = operator.index(size)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    return _filter1d(input, np.ones(size), axis, output, mode, cval, origin, method,
                     correlate=True, divisor=size)


def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0,
                      truncate=4.0, *, radius=None, method="auto"):
    """Gaussian filter (or its derivatives) along one axis, as ``scipy.ndimage``'s.

    Parameters
    ----------
    input : array_like
    sigma : float
        Standard deviation of the Gaussian, positive.
    axis : int, optional
    order : {0, 1, 2, 3}, optional
        0 smooths; 1, 2, 3 convolve with that derivative of the Gaussian.
    output, mode, cval, method
        As in `correlate1d`.
    truncate : float, optional
        Cut the kernel at this many standard deviations (default 4).
    radius : int, optional
        Kernel radius, overriding `truncate`.

    Returns
    -------
    out : array

    See Also
    --------
    scipy.ndimage.gaussian_filter1d

    Notes
    -----
    The weights are SciPy's own: the impulse response of
    ``scipy.ndimage.gaussian_filter1d``, computed once on the host, so both
    libraries filter with the same numbers.

    Examples
    --------
    >>> import gpuconv.ndimage
    >>> gpuconv.ndimage.gaussian_filter1d([1.0, 2, 3, 4, 5], sigma=1)
    array([1.42704095, 2.06782203, 3.        , 3.93217797, 4.57295905])
    """
    weights = gaussian_weights(sigma, order, truncate, radius)
    return correlate1d(input, weights, axis, output, mode, cval, 0, method=method)


def gaussian_weights(sigma, order=0, truncate=4.0, radius=None) -> np.ndarray:
    """The correlation weights of `gaussian_filter1d`, its arguments checked:
    SciPy's filter's response to a unit impulse, reversed.

    >>> w = gaussian_weights(1.0)
    >>> len(w), round(float(w.sum()), 12)
    (9, 1.0)
    """
    import scipy.ndimage

    for name, value in (("sigma", sigma), ("truncate", truncate)):
        if not isinstance(value, numbers.Real):  # SciPy's arithmetic raises TypeError too
            raise TypeError(f"{name} must be a real number, got {value!r}")
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
    if sigma * sigma < np.finfo(np.float64).tiny:  # SciPy's weights divide by it
        raise ValueError(f"sigma must be at least 1.5e-154 (its square a normal float64), "
                         f"got {sigma!r}")
    if order not in (0, 1, 2, 3):
        raise ValueError(f"order must be 0, 1, 2 or 3, got {order!r}")
    if radius is None:
        radius = int(truncate * sigma + 0.5)
    radius = operator.index(radius)
    if radius < 0:
        raise ValueError(f"radius must be a nonnegative integer, got {radius}")
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    response = scipy.ndimage.gaussian_filter1d(impulse, float(sigma), order=order,
                                               mode="constant", radius=radius)
    return response[::-1].copy()
