"""Unit tests of `gpuconv._plan` on its own: windows, extension, batching, blocks.

The planner is pure integer arithmetic, so every window is checked against
the length (and, through a direct slice of the full convolution, the values)
that NumPy, SciPy and scipy.ndimage produce.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import scipy.ndimage
import scipy.signal
from hypothesis import given, strategies as st

from gpuconv import _plan
from gpuconv._plan import (BOUNDARIES, Request, broadcast_batch, extension, fft_block,
                           ndimage_window, normalize_axis, numpy_window, scipy_window)

MODES = ("full", "same", "valid")
sizes = st.integers(1, 40)


def window_of_full(a, v, start, out_len):
    """y[start:start + out_len] of the full convolution of a and v."""
    return np.convolve(a, v)[start:start + out_len]


@given(n=sizes, k=sizes, mode=st.sampled_from(MODES))
def test_numpy_window_convolve(n, k, mode):
    rng = np.random.default_rng(n * 41 + k)
    a, v = rng.integers(-9, 9, n), rng.integers(-9, 9, k)
    start, out_len = numpy_window(n, k, mode)
    ref = np.convolve(a, v, mode)
    assert out_len == len(ref)
    np.testing.assert_array_equal(window_of_full(a, v, start, out_len), ref)
    # NumPy swaps when v is longer: the window only depends on the two lengths
    assert numpy_window(k, n, mode) == (start, out_len)


@given(n=sizes, k=sizes, mode=st.sampled_from(MODES))
def test_numpy_window_correlate(n, k, mode):
    rng = np.random.default_rng(n * 43 + k)
    a, v = rng.integers(-9, 9, n), rng.integers(-9, 9, k)
    start, out_len = numpy_window(n, k, mode, correlate=True)
    ref = np.correlate(a, v, mode)
    assert out_len == len(ref)
    np.testing.assert_array_equal(window_of_full(a, v[::-1], start, out_len), ref)


@given(n=sizes, k=sizes, mode=st.sampled_from(MODES))
def test_scipy_window(n, k, mode):
    rng = np.random.default_rng(n * 47 + k)
    a, v = rng.integers(-9, 9, n), rng.integers(-9, 9, k)
    start, out_len = scipy_window(n, k, mode)
    ref = scipy.signal.convolve(a, v, mode, method="direct")
    assert out_len == len(ref)
    np.testing.assert_array_equal(window_of_full(a, v, start, out_len), ref)
    swapped = scipy.signal.convolve(v, a, mode, method="direct")
    assert scipy_window(k, n, mode)[1] == len(swapped)


@given(n=sizes, k=sizes, data=st.data())
def test_ndimage_window(n, k, data):
    origin = data.draw(st.integers(-(k // 2), (k - 1) // 2))
    rng = np.random.default_rng(n * 53 + k)
    x, w = rng.integers(-9, 9, n).astype(float), rng.integers(-9, 9, k).astype(float)
    for correlate, func in ((False, scipy.ndimage.convolve1d), (True, scipy.ndimage.correlate1d)):
        start = ndimage_window(k, origin, correlate=correlate)
        kernel = w[::-1] if correlate else w
        ref = func(x, w, mode="constant", cval=0.0, origin=origin)
        # zero boundary: the window of the zero-padded full convolution
        padded = np.concatenate([np.zeros(2 * k), x, np.zeros(2 * k)])
        full = np.convolve(padded, kernel)
        np.testing.assert_array_equal(full[2 * k + start: 2 * k + start + n], ref)


@pytest.mark.parametrize("k", range(1, 8))
def test_ndimage_window_rejects_origin_out_of_range(k):
    for origin in (-(k // 2) - 1, (k - 1) // 2 + 1):
        with pytest.raises(ValueError, match="origin"):
            ndimage_window(k, origin, correlate=False)


@given(n=sizes, k=sizes, start=st.integers(-50, 80), out_len=st.integers(0, 60))
def test_extension_covers_every_read(n, k, start, out_len):
    """Output t reads x[start + t - i], i in [0, k): the padding must cover them all."""
    left, right = extension(n, k, start, out_len)
    assert left >= 0 and right >= 0
    if out_len == 0:
        assert (left, right) == (0, 0)
        return
    lowest, highest = start - (k - 1), start + out_len - 1
    assert -left <= lowest or left == 0 and lowest >= 0
    assert highest <= n - 1 + right
    # and no more than needed
    assert left == max(0, -lowest) and right == max(0, highest - (n - 1))


def test_broadcast_batch():
    assert broadcast_batch((8, 3), (1, 3)) == (8, 3)
    assert broadcast_batch((3,), (8, 1)) == (8, 3)
    assert broadcast_batch((), ()) == ()
    assert broadcast_batch((0, 3), (1, 3)) == (0, 3)
    assert broadcast_batch((2, 3), ()) == (2, 3)
    for s, w in [((2, 3), (3, 3)), ((4,), (5,)), ((2, 4, 3), (3, 1, 3))]:
        with pytest.raises(ValueError, match=r"a .* and v .* do not broadcast"):
            broadcast_batch(s, w)
    with pytest.raises(ValueError, match="in1"):
        broadcast_batch((2,), (3,), names=("in1", "in2"))


@given(s=st.lists(st.integers(1, 4), max_size=3), w=st.lists(st.integers(1, 4), max_size=3))
def test_broadcast_batch_is_numpys(s, w):
    try:
        ref = np.broadcast_shapes(tuple(s), tuple(w))
    except ValueError:
        with pytest.raises(ValueError):
            broadcast_batch(tuple(s), tuple(w))
    else:
        assert broadcast_batch(tuple(s), tuple(w)) == ref


def test_normalize_axis():
    assert [normalize_axis(a, 3) for a in range(-3, 3)] == [0, 1, 2, 0, 1, 2]
    assert normalize_axis(np.int64(-1), 2) == 1
    for bad in (3, -4):
        with pytest.raises(ValueError, match=f"axis {bad} is out of bounds for an array of dimension 3"):
            normalize_axis(bad, 3)
    with pytest.raises(TypeError, match="axes must be an integer"):
        normalize_axis(1.0, 3, "axes")


@given(outputs=st.integers(1, 100_000), k=st.integers(1, 5000),
       largest=st.sampled_from([None, 64, 4096, 32768]))
def test_fft_block(outputs, k, largest):
    step, nfft = fft_block(outputs, k, lambda m: scipy.fft.next_fast_len(m, True), largest)
    assert step >= 1
    assert step + k - 1 == nfft            # a frame: k - 1 samples of history, then the block
    assert step >= k - 1                   # the history lies within the previous block
    assert nfft == scipy.fft.next_fast_len(nfft, True)
    if largest is not None and nfft > largest:  # only where nothing shorter fits 2k
        assert nfft == scipy.fft.next_fast_len(max(2 * k, 64), True) or math.ceil(outputs / step) == 1
    if math.ceil(outputs / step) == 1:
        assert nfft >= outputs + k - 1


def test_request_validation():
    Request(rows=2, n=5, k=3, kernel_rows=1, start=0, out_len=7)
    Request(rows=2, n=5, k=3, kernel_rows=2, start=-3, out_len=0, boundary="wrap")
    assert Request(rows=1, n=5, k=3, kernel_rows=1, start=0, out_len=7).full_len == 7
    assert Request(rows=1, n=5, k=9, kernel_rows=1, start=0, out_len=7).taps_per_output == 5
    assert Request(rows=1, n=5, k=9, kernel_rows=1, start=0, out_len=5,
                   boundary="reflect").taps_per_output == 9
    for bad in (dict(n=0), dict(k=0), dict(rows=-1), dict(out_len=-1)):
        with pytest.raises(ValueError, match="invalid request sizes"):
            Request(**{**dict(rows=1, n=5, k=3, kernel_rows=1, start=0, out_len=7), **bad})
    with pytest.raises(ValueError, match="kernel_rows must be 1 or rows"):
        Request(rows=3, n=5, k=3, kernel_rows=2, start=0, out_len=7)
    with pytest.raises(ValueError, match="unknown boundary rule"):
        Request(rows=1, n=5, k=3, kernel_rows=1, start=0, out_len=7, boundary="grid-wrap")


def test_boundary_names_map_to_rules():
    assert set(BOUNDARIES) == {"reflect", "constant", "nearest", "mirror", "wrap",
                               "grid-wrap", "grid-constant", "grid-mirror"}
    for rule in BOUNDARIES.values():
        Request(rows=1, n=5, k=3, kernel_rows=1, start=0, out_len=5, boundary=rule)


def test_check_choice_lists_choices():
    assert _plan.check_choice("fft", _plan.METHODS, "method") == "fft"
    with pytest.raises(ValueError, match="acceptable method flags are 'auto', 'direct', 'fft', or 'oa'"):
        _plan.check_choice("bogus", _plan.METHODS, "method")
    with pytest.raises(ValueError, match="mode"):
        _plan.check_choice(None, ("full",), "mode")
