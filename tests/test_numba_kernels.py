"""The CPU direct kernel (`gpuconv.backends._numba_kernels`) against NumPy and SciPy.

The kernel is tested on its own here, at the sizes where its structure can
break: tile edges, kernels longer than a tile or than the signal, windows that
start before or end after the full convolution, every compute dtype, every
boundary rule, NaN and Inf, and rows split over threads.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.ndimage

from gpuconv._plan import DIRECT_JOB_OUTPUTS, direct_jobs, ndimage_window
from gpuconv.backends import _numba_kernels as kernels
from tolerances import assert_exact, assert_within, direct_bound

TILE = DIRECT_JOB_OUTPUTS
DTYPES = [np.float32, np.float64, np.complex64, np.complex128, np.int64]


def random(shape, dtype, rng):
    """Values of ``dtype`` with a wide dynamic range (small integers for int64)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "i":
        return rng.integers(-50, 50, shape).astype(dtype)
    values = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3, shape)
    if dtype.kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def reference_zero(x, w, start, out_len):
    """``y[:, start:start + out_len]`` of ``numpy.convolve`` per row (zeros past its end),
    in float64/complex128 (exact int64), and the same for ``|x|``, ``|w|``."""
    exact = x.dtype.kind == "i"
    high = x.dtype if exact else (np.complex128 if x.dtype.kind == "c" else np.float64)

    def window(a, v):
        rows = []
        for r in range(a.shape[0]):
            full = np.convolve(a[r], v[r if v.shape[0] > 1 else 0])
            padded = np.concatenate([full, np.zeros(max(0, start + out_len - full.size), full.dtype)])
            rows.append(padded[start:start + out_len])
        return np.stack(rows)

    ref = window(x.astype(high), w.astype(high))
    abs_ref = None if exact else window(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64))
    return ref, abs_ref


def check_zero(x, w, start, out_len):
    got = kernels.direct(x, w, start, out_len)
    ref, abs_ref = reference_zero(x, w, start, out_len)
    if x.dtype.kind == "i":
        assert_exact(got, ref, dtype=x.dtype)
    else:
        taps = min(x.shape[1], w.shape[1])
        assert_within(got, ref, direct_bound(abs_ref, taps, x.dtype), dtype=x.dtype,
                      what=f"n={x.shape[1]} k={w.shape[1]} start={start} out_len={out_len}")


# (n, k, start, out_len): K = 1, tiny rows, n < k, K > TILE, outputs on tile
# edges, windows before and after the full convolution.
ZERO_CASES = [
    (1, 1, 0, 1),
    (10, 1, 0, 10),
    (10, 3, 0, 12),        # full
    (10, 3, 2, 8),         # valid
    (5, 20, 0, 24),        # kernel longer than the signal, full
    (5, 20, 3, 10),
    (7, 9, 2, 30),         # window past the end of the full convolution
    (TILE, 15, 7, TILE),   # 'same', one tile exactly
    (TILE + 1, 8, 0, TILE + 8),
    (3 * TILE - 5, 17, 8, 3 * TILE - 5),
    (2 * TILE + 3, TILE + 5, TILE // 2, 2 * TILE + 3),  # K > TILE
    (300, 7, 3, 300),
    (40, 16, 100, 50),     # window entirely past the signal: zeros
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n, k, start, out_len", ZERO_CASES)
def test_zero_boundary_matches_numpy_convolve(dtype, n, k, start, out_len):
    rng = np.random.default_rng([n, k, start, out_len])
    check_zero(random((3, n), dtype, rng), random((1, k), dtype, rng), start, out_len)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128, np.int64],
                         ids=lambda d: np.dtype(d).name)
def test_one_kernel_per_row(dtype):
    rng = np.random.default_rng(1)
    check_zero(random((4, 3000), dtype, rng), random((4, 11), dtype, rng), 5, 3000)


@numba.njit
def _eight_tap_passes(sums, xs, taps, first):
    """What `_wide_pass` replaces: its taps as three `_pass`es of `GROUP`."""
    for g in range(0, kernels.WIDE_GROUP, kernels.GROUP):
        kernels._pass(sums, xs[kernels.WIDE_GROUP - kernels.GROUP - g:],
                      (taps[g], taps[g + 1], taps[g + 2], taps[g + 3],
                       taps[g + 4], taps[g + 5], taps[g + 6], taps[g + 7]), first and g == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int64])
@pytest.mark.parametrize("count", [1, 23, 24, 31, 32, 33, 48, 100, 2048])
@pytest.mark.parametrize("first", [True, False])
def test_wide_pass_matches_eight_tap_passes_bit_for_bit(dtype, count, first):
    # Whole blocks of vectors (32 float32 or 24 float64 outputs) in LLVM IR
    # of our own, the rest by _pass: the same fused multiply-adds in the same
    # order, NaN and Inf included.
    rng = np.random.default_rng(count)
    xs = random(count + kernels.WIDE_GROUP - 1, dtype, rng)
    taps = random(kernels.WIDE_GROUP, dtype, rng)
    if dtype != np.int64:
        xs[[3, count // 2]] = np.nan, np.inf
    start = random(count, dtype, rng)
    wide, eight = start.copy(), start.copy()
    kernels._wide_pass(wide, xs, taps, first)
    _eight_tap_passes(eight, xs, taps, first)
    np.testing.assert_array_equal(wide.view(np.uint8), eight.view(np.uint8))


def test_many_short_rows_grouped_into_jobs():
    # More rows than one job holds, and a count that leaves a partial group.
    rng = np.random.default_rng(2)
    check_zero(random((1001, 37), np.float32, rng), random((1, 5), np.float32, rng), 2, 37)


MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n, k", [(1, 4), (2, 3), (5, 20), (256, 7), (TILE + 7, 15),
                                  (3 * TILE, TILE + 9)])
def test_boundaries_match_scipy_ndimage(dtype, mode, n, k):
    rng = np.random.default_rng([n, k, MODES.index(mode)])
    x = random((3, n), dtype, rng)
    w = random(k, dtype, rng)
    cval = 1.5
    got = kernels.direct(x, w[None], ndimage_window(k, 0, correlate=False), n, mode, cval)

    high = np.complex128 if x.dtype.kind == "c" else np.float64
    xh, wh = x.astype(high), w.astype(high)
    if xh.dtype.kind == "c":  # (a + ib) * (c + id) through four real filters
        ref = (scipy.ndimage.convolve1d(xh.real, wh.real, mode=mode, cval=cval)
               - scipy.ndimage.convolve1d(xh.imag, wh.imag, mode=mode, cval=0.0)
               + 1j * (scipy.ndimage.convolve1d(xh.real, wh.imag, mode=mode, cval=cval)
                       + scipy.ndimage.convolve1d(xh.imag, wh.real, mode=mode, cval=0.0)))
    else:
        ref = scipy.ndimage.convolve1d(xh, wh, mode=mode, cval=cval)
    abs_ref = scipy.ndimage.convolve1d(np.abs(xh).real, np.abs(wh).real, mode=mode, cval=cval)
    assert_within(got, ref, direct_bound(abs_ref, k, dtype), dtype=dtype, what=f"mode={mode}")


def test_int64_constant_boundary_casts_cval_like_numpy_full():
    x = np.arange(1, 6, dtype=np.int64)[None]
    w = np.array([[1, 2, 3]], dtype=np.int64)
    got = kernels.direct(x, w, 1, 5, "constant", 2.7)
    ext = np.concatenate([[2], x[0], [2]])  # numpy.full(..., 2.7, int64) holds 2
    assert_exact(got, np.convolve(ext, w[0])[2:7][None])


def test_nan_and_inf_propagate_like_numpy_convolve():
    x = np.array([[1.0, np.nan, 2.0, 3.0, np.inf, 4.0, 5.0, 6.0, -np.inf, 1.0]], np.float32)
    x = np.repeat(x, 2, axis=0)
    w = np.array([[0.5, -1.0, 2.0]], np.float32)
    got = kernels.direct(x, w, 0, 12)
    ref = np.stack([np.convolve(r.astype(np.float64), w[0].astype(np.float64)) for r in x])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(got[np.isinf(ref)], ref[np.isinf(ref)])


@pytest.mark.parametrize("boundary", ["zero", "constant"])
def test_infinite_weight_meets_only_samples_that_exist(boundary):
    # numpy.convolve forms no product with a sample past the ends, so an Inf
    # tap hanging over the edge does not turn the edge outputs into NaN
    # (0 * Inf); ndimage's constant boundary does multiply its cval.
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    w = np.array([[np.inf, 1.0, 1.0]])
    got = kernels.direct(x, w, 0, 6, boundary)
    if boundary == "zero":
        ref = np.convolve(x[0], w[0])
    else:
        ref = np.convolve(np.concatenate([[0.0, 0.0], x[0], [0.0, 0.0]]), w[0])[2:8]
    np.testing.assert_array_equal(np.isnan(got[0]), np.isnan(ref))
    np.testing.assert_array_equal(got[0][~np.isnan(ref)], ref[~np.isnan(ref)])


def test_long_row_split_over_threads_gives_identical_results():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba's thread pool has one thread (NUMBA_NUM_THREADS=1)")
    rng = np.random.default_rng(3)
    x = random((1, 7 * TILE + 3), np.float64, rng)
    w = random((1, 31), np.float64, rng)
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            kernels.set_threads(threads)
            results.append(kernels.direct(x, w, 0, x.shape[1] + 30))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])
    check_zero(x, w, 0, x.shape[1] + 30)


def bits(a):
    """The bytes of ``a``: equal only when every element matches bit for bit
    (``assert_array_equal`` counts -0.0 equal to +0.0)."""
    return np.ascontiguousarray(a).view(np.uint8)


# (rows, n, k, start, out_len): batches of one job on one thread and more on
# two (`direct_jobs` halves the tiles for long kernels); 'same', 'full' and
# a window past the end of the full convolution.
SHARED_CASES = [(1, 1024, 511, 255, 1024), (1, 700, 300, 0, 999), (3, 500, 700, 350, 500),
                (1, 600, 1000, 900, 800)]


@pytest.mark.parametrize("boundary", ["zero", *MODES])
@pytest.mark.parametrize("rows, n, k, start, out_len", SHARED_CASES)
def test_rows_cut_for_more_threads_give_identical_results(rows, n, k, start, out_len, boundary):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba's thread pool has one thread (NUMBA_NUM_THREADS=1)")
    assert direct_jobs(rows, out_len, k, 1).count == 1 < direct_jobs(rows, out_len, k, 2).count
    rng = np.random.default_rng([rows, n, k])
    x = random((rows, n), np.float64, rng)
    x[:, ::3] = -0.0  # products of -0.0 meet the staged zeros of other tiles
    w = np.abs(random((1, k), np.float64, rng))
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            kernels.set_threads(threads)
            results.append(kernels.direct(x, w, start, out_len, boundary, 1.5))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(bits(results[0]), bits(results[1]))
    if boundary == "zero":
        check_zero(x, w, start, out_len)


def test_one_job_runs_without_a_parallel_region(monkeypatch):
    """A batch that is one job never wakes the thread pool; more jobs do."""
    calls = []
    parallel = kernels.direct_rows
    monkeypatch.setattr(kernels, "direct_rows", lambda *args: calls.append(args) or parallel(*args))
    rng = np.random.default_rng(5)
    x, w = random((2, 100), np.float64, rng), random((1, 5), np.float64, rng)
    assert direct_jobs(2, 100, 5, numba.get_num_threads()).count == 1
    check_zero(x, w, 2, 100)
    assert calls == []
    long_rows = random((2, 3 * TILE), np.float64, rng)
    check_zero(long_rows, w, 2, 3 * TILE)
    assert len(calls) == 1


def test_inputs_are_not_modified():
    rng = np.random.default_rng(4)
    x, w = random((2, 500), np.float32, rng), random((1, 9), np.float32, rng)
    x0, w0 = x.copy(), w.copy()
    kernels.direct(x, w, 4, 500, "reflect")
    kernels.direct(x, w, 0, 508)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


def test_empty_outputs():
    x, w = np.ones((3, 4)), np.ones((1, 2))
    assert kernels.direct(x, w, 0, 0).shape == (3, 0)
    assert kernels.direct(np.ones((0, 4)), w, 0, 5).shape == (0, 5)


def test_given_output_is_filled_in_place():
    rng = np.random.default_rng(5)
    x, w = random((3, 700), np.float64, rng), random((1, 11), np.float64, rng)
    out = np.full((3, 700), np.nan)
    assert kernels.direct(x, w, 5, 700, "mirror", out=out) is out
    np.testing.assert_array_equal(out, kernels.direct(x, w, 5, 700, "mirror"))


@pytest.mark.parametrize("make_out", [
    lambda x: np.empty((2, 9), x.dtype),                  # wrong shape
    lambda x: np.empty((2, 10), np.float32),              # wrong dtype
    lambda x: np.empty((10, 2), x.dtype).T,               # not C-contiguous
    lambda x: x,                                          # the input itself
], ids=["shape", "dtype", "layout", "overlaps-input"])
def test_unusable_output_is_refused(make_out):
    x = np.ones((2, 10))
    with pytest.raises(ValueError, match="out must be a C-contiguous"):
        kernels.direct(x, np.ones((1, 3)), 1, 10, out=make_out(x))


def test_unknown_boundary_is_refused():
    with pytest.raises(ValueError, match="boundary must be one of"):
        kernels.direct(np.ones((1, 4)), np.ones((1, 2)), 0, 5, "periodic")


def test_thread_count_stays_within_numbas_pool():
    before = numba.get_num_threads()
    try:
        kernels.set_threads(10_000)
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
        kernels.set_threads(0)
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)


def test_threadpoolctl_limits_cap_the_threads(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import gpuconv
    from gpuconv import _config

    monkeypatch.setattr(gpuconv.config, "threads", 2)
    monkeypatch.setattr(_config, "_controller", None)  # see the pools loaded by now
    kernels.direct(np.ones((1, 8)), np.ones((1, 2)), 0, 9)  # Numba's OpenMP pool loaded
    with threadpoolctl.threadpool_limits(1):
        assert gpuconv.config.effective_threads() == 1
    monkeypatch.setattr(gpuconv.config, "threads", 1)
    assert gpuconv.config.effective_threads() == 1
