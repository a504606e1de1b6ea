"""``scipy.signal``-compatible fronts for convolution along one axis.

`convolve`, `correlate`, `fftconvolve`, `oaconvolve` and
`choose_conv_method` take SciPy's arguments and give SciPy's results for
1-D inputs and for N-D inputs convolved along a single axis: at most one of
the convolved axes (all axes, or those named by ``axes=``) may be longer than
1 in both inputs. Along the others one input has length 1, so the
convolution there is a broadcast product, which is how SciPy's FFT functions
treat such axes too. Anything else is a genuinely multi-dimensional
convolution, which gpuconv does not do: it raises `NotImplementedError`
naming the supported form.
"""

from __future__ import annotations

import functools
import operator
import timeit
import warnings

import array_api_compat
import numpy as np

from . import _front
from ._algorithms import choose_method, dtype_name, execute
from ._algorithms.choose import estimate
from ._plan import Request, check_choice, normalize_axis, scipy_window

__all__ = ["choose_conv_method", "convolve", "correlate", "fftconvolve", "oaconvolve",
           "savgol_filter"]

MODES = ("valid", "same", "full")
SCIPY_METHODS = ("auto", "direct", "fft")


def convolve(in1, in2, mode="full", method="auto"):
    """Convolve two arrays along one axis, as ``scipy.signal.convolve``.

    Parameters
    ----------
    in1, in2 : array_like
        Inputs of equal dimensionality. In N-D, at most one axis may be
        longer than 1 in both; that axis is convolved, and every other is a
        batch axis that broadcasts.
    mode : {'full', 'valid', 'same'}, optional
        SciPy's modes: ``'same'`` is centred on `in1`; ``'valid'`` needs one
        input at least as large as the other in every dimension.
    method : {'auto', 'direct', 'fft'}, optional
        As SciPy's; ``'fft'`` here lets gpuconv pick plain or blocked FFT.

    Returns
    -------
    out : array
        dtype ``result_type(in1, in2)`` (integer FFT results are rounded, as
        SciPy does).

    Raises
    ------
    NotImplementedError
        More than one axis along which both inputs are longer than 1.
    ValueError
        Unequal dimensionality, empty inputs, unknown mode or method, a
        ``'valid'`` call where neither input is the larger everywhere.

    See Also
    --------
    scipy.signal.convolve, gpuconv.convolve

    Examples
    --------
    >>> import numpy as np, gpuconv.signal
    >>> gpuconv.signal.convolve([1.0, 2, 3], [1, 1], mode="same")
    array([1., 3., 5.])
    >>> batch = np.ones((2, 5))
    >>> gpuconv.signal.convolve(batch, [[1, 2, 1]], mode="valid")
    array([[4., 4., 4.],
           [4., 4., 4.]])
    """
    check_choice(method, SCIPY_METHODS, "method")
    return _one_axis("convolve", in1, in2, mode, None, method, correlate=False)


def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlate two arrays along one axis, as ``scipy.signal.correlate``.

    ``z[k] = sum_l in1[l + k - K] * conj(in2[l])``, ``K = in2.shape[axis] - 1``,
    with SciPy's ``'full'``, ``'valid'`` and ``'same'`` windows; arguments as
    in `convolve`.

    Returns
    -------
    out : array
        dtype ``result_type(in1, in2)``.

    See Also
    --------
    scipy.signal.correlate, gpuconv.correlate

    Examples
    --------
    >>> import gpuconv.signal
    >>> gpuconv.signal.correlate([1, 2, 3], [0, 1, 0.5])
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    check_choice(method, SCIPY_METHODS, "method")
    return _one_axis("correlate", in1, in2, mode, None, method, correlate=True)


def fftconvolve(in1, in2, mode="full", axes=None):
    """FFT convolution along one axis, as ``scipy.signal.fftconvolve``.

    Parameters
    ----------
    in1, in2 : array_like
        Inputs of equal dimensionality.
    mode : {'full', 'valid', 'same'}, optional
    axes : int or sequence of int, optional
        The axes to convolve over (default: all). At most one of them may be
        longer than 1 in both inputs; every other axis broadcasts (SciPy's
        rule: equal lengths, or 1).

    Returns
    -------
    out : array
        Floating dtype, each input made floating first as SciPy does:
        float32 stays float32, integers give float64. Where no axis is longer
        than 1 in both inputs SciPy just multiplies, and so does this.

    See Also
    --------
    scipy.signal.fftconvolve, oaconvolve

    Examples
    --------
    >>> import numpy as np, gpuconv.signal
    >>> x = np.float32([[1, 2, 3], [4, 5, 6]])
    >>> gpuconv.signal.fftconvolve(x, np.float32([[1], [1]]), axes=1).dtype
    dtype('float32')
    """
    return _one_axis("fftconvolve", in1, in2, mode, axes, "fft", correlate=False)


def oaconvolve(in1, in2, mode="full", axes=None):
    """Blocked FFT convolution along one axis, as ``scipy.signal.oaconvolve``.

    Arguments and results as in `fftconvolve`; the output is computed in
    blocks sized by a cost formula, which pays off for long signals with
    medium kernels. SciPy adds overlapping block tails (overlap-add);
    gpuconv frames the input instead (overlap-save): the same transforms,
    results equal to rounding.

    See Also
    --------
    scipy.signal.oaconvolve, fftconvolve

    Examples
    --------
    >>> import numpy as np, gpuconv.signal
    >>> y = gpuconv.signal.oaconvolve(np.ones(1000), np.ones(10), mode="valid")
    >>> y.shape, bool(np.allclose(y, 10))
    ((991,), True)
    """
    return _one_axis("oaconvolve", in1, in2, mode, axes, "oa", correlate=False)


def choose_conv_method(in1, in2, mode="full", measure=False):
    """The method `convolve` would use, ``'direct'`` or ``'fft'``, as SciPy's.

    Without `measure`, gpuconv's cost model for the inputs' backend decides
    (blocked FFT counts as ``'fft'``); integer inputs always give
    ``'direct'``. With ``measure=True`` both methods run, once to compile
    the kernel and plan the transforms and then three times, and the one
    with the faster best run is returned with those times, like SciPy.

    Returns
    -------
    method : str
    times : dict, only with ``measure=True``
        Seconds per method.

    See Also
    --------
    scipy.signal.choose_conv_method

    Examples
    --------
    >>> import numpy as np, gpuconv.signal
    >>> gpuconv.signal.choose_conv_method(np.ones(10), np.ones(3))
    'direct'
    >>> gpuconv.signal.choose_conv_method(np.ones(10**6), np.ones(10**4))
    'fft'
    """
    if measure:
        times = {}
        for method in ("fft", "direct"):
            run = functools.partial(convolve, in1, in2, mode=mode, method=method)
            run()  # a first call compiles or loads the kernel: not the method's speed
            times[method] = min(timeit.repeat(run, number=1, repeat=3))
        return min(times, key=times.get), times
    call = _Call.build("choose_conv_method", in1, in2, mode, None)
    if call.empty:
        return "direct"
    chosen = choose_method(call.backend, call.request, dtype_name(call.xp, call.dtype))
    return "direct" if chosen == "direct" else "fft"


class _Call:
    """A SciPy-style call resolved to rows, a request and its output shape."""

    @classmethod
    def build(cls, func, in1, in2, mode, axes, *, correlate=False):
        self = cls()
        check_choice(mode, MODES, "mode")
        fft_only = func in FFT_FUNCS
        backend, xp, (in1, in2), self.restore = _front.prepare(in1=in1, in2=in2)
        self.backend, self.xp = backend, xp
        if in1.ndim != in2.ndim:
            raise ValueError("in1 and in2 should have the same dimensionality")
        self.scalar = in1.ndim == 0
        if self.scalar:
            in1, in2 = xp.reshape(in1, (1,)), xp.reshape(in2, (1,))
        self.empty = in1.size == 0 or in2.size == 0
        self.dtype = _fft_result_dtype(xp, in1, in2) if fft_only else xp.result_type(in1, in2)
        if self.empty:
            return self
        axis, self.product = _convolved_axis(func, mode, in1.shape, in2.shape, axes)
        if fft_only and self.product:  # SciPy multiplies, keeping the dtype
            self.dtype = xp.result_type(in1, in2)
        if correlate:  # N-D correlation reverses in2 along every axis
            in2 = _front.conj_flip(xp, in2, None)
        rows = _front.as_rows(xp, in1, in2, axis, names=("in1", "in2"))
        n, k = rows.x.shape[-1], rows.w.shape[-1]
        start, out_len = scipy_window(n, k, mode)
        self.func, self.rows, self.mode, self.in1_shape = func, rows, mode, tuple(in1.shape)
        self.request = Request(rows=rows.x.shape[0], n=n, k=k, kernel_rows=rows.w.shape[0],
                               start=start, out_len=out_len)
        return self

    def run(self, method):
        xp = self.xp
        out = execute(self.backend, self.rows.x, self.rows.w, self.request, method, self.dtype)
        if method != "direct" and self.func in ("convolve", "correlate"):
            _warn_if_not_finite(xp, out)
        out = _front.from_rows(xp, out, self.rows)
        if self.scalar:  # SciPy returns in1 * in2: a scalar, not a 0-d array
            out = xp.reshape(out, ())[()]
        elif self.mode == "same" and tuple(out.shape) != self.in1_shape:
            out = out[_centred(out.shape, self.in1_shape)]
        return self.restore(out)


FFT_FUNCS = ("fftconvolve", "oaconvolve")


def _one_axis(func, in1, in2, mode, axes, method, *, correlate):
    call = _Call.build(func, in1, in2, mode, axes, correlate=correlate)
    if call.empty:
        if func not in FFT_FUNCS:
            raise ValueError(f"{func}: in1 and in2 cannot be empty")
        return call.restore(call.xp.zeros((0,), dtype=call.dtype))
    if call.product:  # nothing longer than 1 to convolve: a broadcast product
        return call.run("direct")
    if func not in FFT_FUNCS:
        if method == "auto":
            method = choose_method(call.backend, call.request, dtype_name(call.xp, call.dtype))
        if method == "fft":
            method = _cheaper_fft(call)
    return call.run(method)


def _warn_if_not_finite(xp, out) -> None:
    """SciPy's warning (``scipy.signal.convolve``): a NaN or Inf input spreads
    through a whole FFT row; like SciPy, look at the first output only."""
    first = out[:1, :1]
    if first.shape[0] and first.shape[1] and not bool(xp.all(xp.isfinite(first))):
        warnings.warn("Use of fft convolution on input with NAN or inf results in NAN or inf "
                      "output. Consider using method='direct' instead.",
                      category=RuntimeWarning, stacklevel=4)


def _cheaper_fft(call) -> str:
    """Plain or blocked FFT, whichever the cost model prefers."""
    name = dtype_name(call.xp, call.dtype)
    # Integers and booleans are transformed in float64 (`compute_dtype`).
    times = estimate(call.backend, call.request, "float64" if name == "exact" else name)
    return "oa" if times["oa"] < times["fft"] else "fft"


def _fft_result_dtype(xp, in1, in2):
    """SciPy's FFT functions make each input floating first, then combine."""
    def floating(dtype):
        if xp.isdtype(dtype, ("real floating", "complex floating")):
            return xp.float32 if dtype == xp.float16 else dtype
        return xp.float64
    return xp.result_type(floating(in1.dtype), floating(in2.dtype))


def _convolved_axis(func, mode, shape1, shape2, axes):
    """The axis to convolve, and whether no axis is longer than 1 in both
    inputs (then the call is a plain product).

    An axis where either input has length 1 is a broadcast axis (the
    convolution along it is a product); SciPy's FFT functions treat it so, and
    for the others it is the same arithmetic. More than one axis where both
    inputs are longer than 1 is a multi-dimensional convolution.
    """
    ndim = len(shape1)
    if axes is None:
        listed = list(range(ndim))
    else:
        listed = _axes_list(axes, ndim)
        for a in range(ndim):
            if a not in listed and shape1[a] != shape2[a] and 1 not in (shape1[a], shape2[a]):
                raise ValueError("incompatible shapes for in1 and in2: "
                                 f"{tuple(shape1)} and {tuple(shape2)}")
    long_axes = [a for a in listed if shape1[a] != 1 and shape2[a] != 1]
    # SciPy's FFT functions apply the 'valid' size rule only along axes where
    # both inputs are longer than 1; convolve/correlate along all. An invalid
    # call is reported as such, whatever its number of axes.
    _check_valid_mode(mode, shape1, shape2, long_axes if func in FFT_FUNCS else listed)
    if len(long_axes) > 1:
        raise NotImplementedError(
            f"gpuconv.signal.{func} convolves along one axis only: give 1-D inputs, "
            "inputs where all axes but one have length 1 in in1 or in2, or axes=<one axis> "
            f"(got in1 {tuple(shape1)}, in2 {tuple(shape2)}, axes={axes!r})")
    axis = long_axes[0] if long_axes else listed[-1]
    return axis, not long_axes


def _axes_list(axes, ndim: int) -> list:
    """``axes`` as a list of non-negative ints, checked with SciPy's messages."""
    items = list(axes) if isinstance(axes, (tuple, list)) else [axes]
    if not items:
        raise ValueError("when provided, axes cannot be empty")
    try:
        items = [operator.index(a) for a in items]
    except TypeError:
        raise ValueError("axes must be a scalar or iterable of integers") from None
    if any(not -ndim <= a < ndim for a in items):
        raise ValueError(f"axes exceeds dimensionality of input: axes={axes!r}, ndim={ndim}")
    listed = [a % ndim for a in items]
    if len(set(listed)) != len(listed):
        raise ValueError("all axes must be unique")
    return listed


def _check_valid_mode(mode, shape1, shape2, axes):
    """SciPy's rule: in 'valid' mode one input must be the larger along ``axes``."""
    if mode != "valid":
        return
    bigger1 = all(shape1[a] >= shape2[a] for a in axes)
    bigger2 = all(shape2[a] >= shape1[a] for a in axes)
    if not (bigger1 or bigger2):
        raise ValueError("For 'valid' mode, one must be at least as large "
                         "as the other in every dimension")


def _centred(shape, target):
    """Index of the centred ``target``-sized block of ``shape`` (SciPy's ``_centered``)."""
    return tuple(slice((size - want) // 2, (size - want) // 2 + want)
                 for size, want in zip(shape, target))


def savgol_filter(x, window_length, polyorder, deriv=0, delta=1.0, axis=-1, mode="interp",
                  cval=0.0):
    """Savitzky-Golay filter along one axis, as ``scipy.signal.savgol_filter``.

    Parameters
    ----------
    x : array_like
        Data; integer data is filtered as float64, as SciPy does.
    window_length : int
        Length of the filter window, greater than `polyorder`.
    polyorder : int
        Order of the fitted polynomials.
    deriv : int, optional
        Order of the derivative to compute (0: smooth).
    delta : float, optional
        Sample spacing, for derivatives.
    axis : int, optional
    mode : {'interp', 'mirror', 'constant', 'nearest', 'wrap'}, optional
        ``'interp'`` (default) fits a polynomial to the first and last
        `window_length` samples for the edges; the others extend the signal
        as `gpuconv.ndimage.convolve1d` does.
    cval : float, optional
        Fill value for ``'constant'``.

    Returns
    -------
    y : array

    See Also
    --------
    scipy.signal.savgol_filter

    Notes
    -----
    The coefficients come from ``scipy.signal.savgol_coeffs`` on the host; the
    filtering is `gpuconv.ndimage.convolve1d` and, for ``'interp'``, the edge
    fits are the same least-squares fits written as two small matrix products
    (one row of weights per edge position), so everything runs on the data's
    device. SciPy fits the edges with ``numpy.polyfit`` on positions ``0 …
    window_length - 1``; here the fit is computed in a Legendre basis of the
    window scaled to [-1, 1], which is better conditioned: the edges agree
    with SciPy's to about ``eps * cond`` of polyfit's scaled Vandermonde
    matrix (1e-9 relative for a 61-sample window of order 8), the interior
    to rounding.

    Examples
    --------
    >>> import numpy as np, gpuconv.signal
    >>> x = np.array([2, 2, 5, 2, 1, 0, 1, 4, 9])
    >>> gpuconv.signal.savgol_filter(x, 5, 2)
    array([1.65714286, 3.17142857, 3.54285714, 2.85714286, 0.65714286,
           0.17142857, 1.        , 4.        , 9.        ])
    """
    import scipy.signal

    from . import ndimage

    modes = ("mirror", "constant", "nearest", "wrap", "interp")
    if mode not in modes:
        raise ValueError("mode must be 'mirror', 'constant', 'nearest' 'wrap' or 'interp'.")
    backend, xp, (x,), restore = _front.prepare(x=x)
    if x.dtype not in (xp.float32, xp.float64):
        x = xp.astype(x, xp.float64)
    coeffs = scipy.signal.savgol_coeffs(window_length, polyorder, deriv=deriv, delta=delta)
    if mode != "interp":
        return restore(ndimage.convolve1d(x, coeffs, axis=axis, mode=mode, cval=cval))
    length = x.shape[normalize_axis(axis, x.ndim)]
    if window_length > length:
        raise ValueError("If mode is 'interp', window_length must be less than or equal "
                         "to the size of x.")
    y = xp.moveaxis(ndimage.convolve1d(x, coeffs, axis=axis, mode="constant"), axis, -1)
    rows = xp.moveaxis(x, axis, -1)
    half = window_length // 2
    for positions, window in ((range(half), slice(0, window_length)),
                              (range(window_length - half, window_length),
                               slice(length - window_length, length))):
        if not positions:  # a window of 1: no edge
            continue
        fits = _edge_fits(window_length, polyorder, deriv, delta, positions)
        fits = xp.asarray(fits.T, dtype=x.dtype, device=array_api_compat.device(x))
        edge = slice(0, half) if positions.start == 0 else slice(length - half, length)
        y[..., edge] = xp.matmul(rows[..., window], fits)
    return restore(xp.moveaxis(y, -1, axis))


def _edge_fits(window_length: int, polyorder: int, deriv: int, delta: float, positions):
    """``fits[j] @ window``: the `deriv`-th derivative at ``positions[j]`` of
    the least-squares polynomial of `polyorder` through a window's samples at
    ``0 ... window_length - 1`` (what SciPy's ``polyfit`` edge fit computes).

    In a Legendre basis of the window scaled to [-1, 1], whose Vandermonde
    matrix is well conditioned: the plain one of the positions (that of
    ``savgol_coeffs(..., pos=p)``) lost every digit at order 8 over 61 samples.
    """
    from numpy.polynomial import legendre

    centre = (window_length - 1) / 2  # also the half-width: u = t / centre - 1
    fit = np.linalg.pinv(legendre.legvander(np.arange(window_length) / centre - 1, polyorder))
    at = np.asarray(positions) / centre - 1
    basis = np.eye(polyorder + 1)
    derivatives = np.stack([legendre.legval(at, legendre.legder(basis[k], deriv))
                            for k in range(polyorder + 1)], axis=1)
    return derivatives @ fit / (centre * delta) ** deriv
