"""Smoothing filters against SciPy: uniform_filter1d, gaussian_filter1d, savgol_filter."""

import re

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

import gpuconv.ndimage as gn
import gpuconv.signal as gs
from tolerances import assert_within, direct_bound, fft_bound

MODES = ("reflect", "constant", "nearest", "mirror", "wrap", "grid-wrap", "grid-constant",
         "grid-mirror")
EPS64 = np.finfo(np.float64).eps


def filter_bound(x, weights, mode, cval=0.0, dtype=np.float64):
    """Bound for gpuconv's correlation of the rows of ``x`` with ``weights``
    (``auto``: the direct sum or an FFT, the looser of the two bounds) against
    SciPy's float64 one, from tests/tolerances.py: ``S`` is the correlation of
    the absolute values (``|cval|`` outside the row), the FFT's scale the
    largest extended sample times ``sum |weights|``, over transforms of the
    row extended by the kernel on both sides."""
    n, k = x.shape[-1], len(weights)
    scale = scipy.ndimage.correlate1d(np.abs(x).astype(np.float64), np.abs(weights), mode=mode,
                                      cval=abs(cval))
    direct = direct_bound(scale, k, dtype)
    largest = np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), abs(cval))
    fft = fft_bound(largest * np.sum(np.abs(weights)), n + 2 * k, k, dtype)
    return np.maximum(direct, fft)


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_every_order_and_mode(backend, mode):
    x = np.random.default_rng(0).standard_normal((3, 60))
    for order in range(4):
        for sigma, extra in [(0.7, {}), (2.5, {"truncate": 2.0}), (4.0, {"radius": 3}),
                             (30.0, {})]:  # the last: a kernel longer than the signal
            got = gn.gaussian_filter1d(x, sigma, order=order, mode=mode, cval=0.5, **extra)
            ref = scipy.ndimage.gaussian_filter1d(x, sigma, order=order, mode=mode, cval=0.5,
                                                  **extra)
            radius = extra.get("radius", int(extra.get("truncate", 4.0) * sigma + 0.5))
            weights = gn.gaussian_weights(sigma, order, radius=radius)  # SciPy's own, exactly
            assert_within(got, ref, filter_bound(x, weights, mode, 0.5), dtype=np.float64)


def test_gaussian_axis_and_float32(backend):
    x = np.random.default_rng(1).standard_normal((20, 4, 3)).astype(np.float32)
    got = gn.gaussian_filter1d(x, 1.5, axis=0)
    ref = scipy.ndimage.gaussian_filter1d(x.astype(np.float64), 1.5, axis=0)
    weights = gn.gaussian_weights(1.5, radius=6)
    bound = np.moveaxis(filter_bound(np.moveaxis(x, 0, -1), weights, "reflect",
                                     dtype=np.float32), -1, 0)
    assert_within(got, ref, bound, dtype=np.float32)


@pytest.mark.parametrize("mode", MODES)
def test_uniform_every_size_origin_and_mode(backend, mode):
    x = np.random.default_rng(2).standard_normal((2, 30))
    for size in (1, 2, 3, 4, 7, 45):
        for origin in range(-(size // 2), (size - 1) // 2 + 1):
            got = gn.uniform_filter1d(x, size, mode=mode, cval=-1.0, origin=origin)
            ref = scipy.ndimage.uniform_filter1d(x, size, mode=mode, cval=-1.0, origin=origin)
            weights = np.full(size, 1 / size)
            bound = filter_bound(x, weights, mode, -1.0)
            # SciPy keeps a running sum along the extended row (n + size - 1
            # steps, each adding and removing one sample, at most size * |x|
            # large) and divides it by size: (n + size) eps max|x| more.
            running = (x.shape[-1] + size) * EPS64 * np.maximum(
                np.max(np.abs(x), axis=-1, keepdims=True), 1.0)  # 1.0: |cval|
            assert_within(got, ref, bound + running, dtype=np.float64)


def test_uniform_integers_equal_scipy(backend):
    """Both divide an exact window sum by ``size`` once, so the truncated means
    agree, whole ones included (weights of ``1 / size`` made a mean of 2 come
    out as 1.9999999999999998, truncated to 1)."""
    x = np.random.default_rng(3).integers(-100, 100, (3, 40)).astype(np.int32)
    assert np.array_equal(gn.uniform_filter1d(np.arange(10), 3), [0, 1, 2, 3, 4, 5, 6, 7, 8, 8])
    for size in (1, 2, 3, 4, 5, 7, 8, 10):
        got = gn.uniform_filter1d(x, size)
        np.testing.assert_array_equal(got, scipy.ndimage.uniform_filter1d(x, size))
        assert got.dtype == np.int32


def test_uniform_float_input_into_integers_equals_scipy(backend):
    """An integer ``output`` truncates, so the window sum is divided once
    there too: weights of ``1 / 3`` made the mean 25 of (0, 25, 50) come out
    as 24.999999999999996, truncated to 24."""
    x = np.random.default_rng(4).integers(0, 100, (3, 60)).astype(np.float64)
    assert np.array_equal(gn.uniform_filter1d([0.0, 25, 50], 3, output=np.uint8), [8, 25, 41])
    for size in (3, 5, 7, 10):
        for output in (np.uint8, np.int32, np.int64):
            np.testing.assert_array_equal(gn.uniform_filter1d(x, size, output=output),
                                          scipy.ndimage.uniform_filter1d(x, size, output=output))
    # Sizes where auto's cost model prefers a transform: truncating its rounding was off by one.
    x = np.random.default_rng(7).integers(-100, 100, 20000).astype(np.float64)
    for output in (np.int32, np.bool_):
        np.testing.assert_array_equal(gn.uniform_filter1d(x, 501, output=output),
                                      scipy.ndimage.uniform_filter1d(x, 501, output=output))


SAVGOL_CASES = [(5, 2, 0), (7, 3, 1), (9, 4, 2), (11, 2, 0), (4, 2, 0), (3, 0, 0), (21, 6, 3),
                (40, 5, 1)]


def savgol_bound(x, window, order, deriv, delta, mode, cval=0.0):
    """`filter_bound` for the Savitzky-Golay coefficients (both libraries take
    them from ``scipy.signal.savgol_coeffs``); ``'interp'`` filters the
    inside with a zero boundary and refits each edge: SciPy with ``polyfit``
    on positions ``0 … window - 1``, whose error grows with that Vandermonde
    matrix's condition number, times the largest fitted value."""
    coeffs = scipy.signal.savgol_coeffs(window, order, deriv=deriv, delta=delta)
    weights = coeffs[::-1]  # savgol_filter convolves with them
    bound = filter_bound(x, weights, "constant" if mode == "interp" else mode, cval)
    if mode == "interp":
        condition = np.linalg.cond(np.vander(np.arange(window), order + 1))
        edge_weights = max(np.sum(np.abs(scipy.signal.savgol_coeffs(
            window, order, deriv=deriv, delta=delta, pos=p, use="dot"))) for p in range(window))
        largest = np.max(np.abs(x), axis=-1, keepdims=True) * edge_weights
        bound = bound + EPS64 * condition * largest
    return bound


@pytest.mark.parametrize("mode", ["interp", "mirror", "constant", "nearest", "wrap"])
def test_savgol_every_mode(backend, mode):
    x = np.random.default_rng(4).standard_normal((3, 40))
    for window, order, deriv in SAVGOL_CASES:
        got = gs.savgol_filter(x, window, order, deriv=deriv, delta=0.5, mode=mode, cval=0.2)
        ref = scipy.signal.savgol_filter(x, window, order, deriv=deriv, delta=0.5, mode=mode,
                                         cval=0.2)
        assert_within(got, ref, savgol_bound(x, window, order, deriv, 0.5, mode, 0.2),
                      dtype=np.float64)


@pytest.mark.parametrize("window, order", [(2, 1), (11, 3), (25, 10), (61, 8), (61, 12)])
def test_savgol_interp_edges_reproduce_polynomials(backend, window, order):
    """A polynomial of the fit's order is its own least-squares fit: the
    'interp' edges give it, and its derivatives, back to rounding. (At (61, 8)
    edge fits solving the plain Vandermonde system of the positions lost
    every digit; SciPy's polyfit scales that system.)"""
    polynomial = np.polynomial.polynomial
    t = np.arange(80) * 0.5
    coefficients = np.random.default_rng(order).standard_normal(order + 1)
    x = polynomial.polyval(t, coefficients)
    half = window // 2
    edges = np.r_[0:half, t.size - half:t.size]
    for deriv in range(3):
        want = polynomial.polyval(t, polynomial.polyder(coefficients, deriv))
        got = gs.savgol_filter(x, window, order, deriv=deriv, delta=0.5)
        weights = np.max(np.sum(np.abs(gs._edge_fits(window, order, deriv, 0.5, range(window))),
                                axis=1))
        # a dot product of `window` terms, the weights themselves good to a
        # few eps (the Legendre basis's condition number is under 5 here)
        bound = (window + 5) * EPS64 * weights * np.max(np.abs(x))
        assert np.max(np.abs(got - want)[edges]) <= bound, f"deriv={deriv}"


def test_savgol_window_of_one_is_the_identity(backend):
    x = np.random.default_rng(6).standard_normal(10)
    for mode in ("interp", "mirror"):
        np.testing.assert_array_equal(gs.savgol_filter(x, 1, 0, mode=mode), x)
        np.testing.assert_array_equal(scipy.signal.savgol_filter(x, 1, 0, mode=mode), x)


def test_savgol_axis_dtypes_and_inputs(backend):
    x = np.random.default_rng(5).standard_normal((30, 2))
    bound = savgol_bound(x.T, 7, 2, 0, 1.0, "interp").T
    assert_within(gs.savgol_filter(x, 7, 2, axis=0), scipy.signal.savgol_filter(x, 7, 2, axis=0),
                  bound, dtype=np.float64)
    assert gs.savgol_filter(np.float32([1, 2, 3, 4, 5]), 3, 1).dtype == np.float32
    ints = np.array([2, 2, 5, 2, 1, 0, 1, 4, 9])
    before = ints.copy()
    got = gs.savgol_filter(ints, 5, 2)
    assert_within(got, scipy.signal.savgol_filter(ints, 5, 2),
                  savgol_bound(ints[None], 5, 2, 0, 1.0, "interp")[0], dtype=np.float64)
    np.testing.assert_array_equal(ints, before)


def test_filter_errors():
    with pytest.raises(ValueError, match="window_length must be less than or equal to the size of x"):
        gs.savgol_filter(np.ones(5), 7, 2)
    with pytest.raises(ValueError, match="mode must be 'mirror'"):
        gs.savgol_filter(np.ones(9), 5, 2, mode="reflect")
    with pytest.raises(ValueError, match="polyorder must be less than window_length"):
        gs.savgol_filter(np.ones(9), 5, 5)
    with pytest.raises(ValueError, match="sigma must be positive"):
        gn.gaussian_filter1d(np.ones(5), 0)
    with pytest.raises(ValueError, match="sigma must be positive and finite, got inf"):
        gn.gaussian_filter1d(np.ones(5), np.inf)  # SciPy: OverflowError
    with pytest.raises(ValueError, match=r"sigma must be at least 1.5e-154 .*, got 1e-160"):
        gn.gaussian_filter1d(np.ones(5), 1e-160)  # SciPy: NaN weights, or ZeroDivisionError
    for name, value in [("sigma", "1"), ("truncate", "4"), ("sigma", None), ("truncate", [4])]:
        with pytest.raises(TypeError, match=re.escape(f"{name} must be a real number, got {value!r}")):
            gn.gaussian_filter1d(np.ones(5), **{"sigma": 1.0, name: value})  # SciPy: TypeError
    with pytest.raises(ValueError, match="order must be 0, 1, 2 or 3"):
        gn.gaussian_filter1d(np.ones(5), 1.0, order=4)
    with pytest.raises(ValueError, match="radius must be a nonnegative integer"):
        gn.gaussian_filter1d(np.ones(5), 1.0, radius=-1)
    with pytest.raises(ValueError, match="size must be at least 1"):
        gn.uniform_filter1d(np.ones(5), 0)
