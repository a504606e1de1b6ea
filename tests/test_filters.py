"""Smoothing filters against SciPy: uniform_filter1d, gaussian_filter1d, savgol_filter."""

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

import gpuconv.ndimage as gn
import gpuconv.signal as gs

MODES = ("reflect", "constant", "nearest", "mirror", "wrap", "grid-wrap", "grid-constant",
         "grid-mirror")
EPS64 = np.finfo(np.float64).eps


def close(got, ref, taps):
    """Direct sums of `taps` products of O(1) data: (taps + 2) eps of the scale."""
    assert got.shape == ref.shape and got.dtype == ref.dtype
    scale = max(np.max(np.abs(ref)), 1.0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=(taps + 2) * EPS64 * scale * 4)


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
            close(got, ref, taps=2 * radius + 1)


def test_gaussian_axis_and_float32(backend):
    x = np.random.default_rng(1).standard_normal((20, 4, 3)).astype(np.float32)
    got = gn.gaussian_filter1d(x, 1.5, axis=0)
    ref = scipy.ndimage.gaussian_filter1d(x, 1.5, axis=0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=16 * np.finfo(np.float32).eps * np.abs(ref).max())


@pytest.mark.parametrize("mode", MODES)
def test_uniform_every_size_origin_and_mode(backend, mode):
    x = np.random.default_rng(2).standard_normal((2, 30))
    for size in (1, 2, 3, 4, 7, 45):
        for origin in range(-(size // 2), (size - 1) // 2 + 1):
            got = gn.uniform_filter1d(x, size, mode=mode, cval=-1.0, origin=origin)
            ref = scipy.ndimage.uniform_filter1d(x, size, mode=mode, cval=-1.0, origin=origin)
            close(got, ref, taps=size)


def test_uniform_integers_with_dyadic_sizes_are_exact(backend):
    x = np.random.default_rng(3).integers(-100, 100, (3, 40)).astype(np.int32)
    for size in (1, 2, 4, 8):  # 1/size is exact in binary: no rounding to disagree on
        got = gn.uniform_filter1d(x, size)
        np.testing.assert_array_equal(got, scipy.ndimage.uniform_filter1d(x, size))
        assert got.dtype == np.int32


SAVGOL_CASES = [(5, 2, 0), (7, 3, 1), (9, 4, 2), (11, 2, 0), (4, 2, 0), (3, 0, 0), (21, 6, 3),
                (40, 5, 1)]


@pytest.mark.parametrize("mode", ["interp", "mirror", "constant", "nearest", "wrap"])
def test_savgol_every_mode(backend, mode):
    x = np.random.default_rng(4).standard_normal((3, 40))
    for window, order, deriv in SAVGOL_CASES:
        got = gs.savgol_filter(x, window, order, deriv=deriv, delta=0.5, mode=mode, cval=0.2)
        ref = scipy.signal.savgol_filter(x, window, order, deriv=deriv, delta=0.5, mode=mode,
                                         cval=0.2)
        assert got.shape == ref.shape and got.dtype == ref.dtype
        scale = np.abs(ref).max()
        tolerance = (window + 2) * EPS64 * scale * 4
        if mode == "interp":  # SciPy's edge fit: polyfit on 0..window-1 (see the docstring)
            tolerance += EPS64 * np.linalg.cond(np.vander(np.arange(window), order + 1)) * scale
        np.testing.assert_allclose(got, ref, rtol=0, atol=tolerance)


def test_savgol_axis_dtypes_and_inputs(backend):
    x = np.random.default_rng(5).standard_normal((30, 2))
    np.testing.assert_allclose(gs.savgol_filter(x, 7, 2, axis=0),
                               scipy.signal.savgol_filter(x, 7, 2, axis=0), rtol=0, atol=1e-12)
    assert gs.savgol_filter(np.float32([1, 2, 3, 4, 5]), 3, 1).dtype == np.float32
    ints = np.array([2, 2, 5, 2, 1, 0, 1, 4, 9])
    before = ints.copy()
    got = gs.savgol_filter(ints, 5, 2)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, scipy.signal.savgol_filter(ints, 5, 2), rtol=0, atol=1e-13)
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
    with pytest.raises(ValueError, match="order must be 0, 1, 2 or 3"):
        gn.gaussian_filter1d(np.ones(5), 1.0, order=4)
    with pytest.raises(ValueError, match="radius must be a nonnegative integer"):
        gn.gaussian_filter1d(np.ones(5), 1.0, radius=-1)
    with pytest.raises(ValueError, match="size must be at least 1"):
        gn.uniform_filter1d(np.ones(5), 0)
