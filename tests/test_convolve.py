"""`gpuconv.convolve`, `correlate` and `circular_convolve` against NumPy.

References are `numpy.convolve` / `numpy.correlate` applied row by row (in
float64/complex128 for floating results, in the exact dtype for integers),
compared with the per-method bounds of `tolerances`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import gpuconv
from gpuconv._algorithms import choose_method
from gpuconv._plan import Request
from tolerances import assert_conv, assert_exact

MODES = ("full", "same", "valid")
METHODS = ("direct", "fft", "oa", "auto")
FLOATS = ("float16", "float32", "float64", "complex64", "complex128")
EXACT = ("bool", "int8", "uint8", "int32", "int64", "uint64")
# Around the Numba kernel's 2048-output tile, and past two tiles.
TILE_LENGTHS = (2047, 2048, 2049, 4097)


def make(rng, shape, dtype, *, small=False):
    """Random values of ``dtype``: full range for integers (so they wrap), N(0, 1) for floats.

    ``small`` keeps integers in [-3, 3] (exact through a float64 FFT) and
    float16 in [-2, 2] (no overflow for kernels up to a few thousand taps).
    """
    dtype = np.dtype(dtype)
    if dtype == bool:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = (max(info.min, -3), 4) if small else (info.min, info.max)
        return rng.integers(lo, hi, shape, dtype=dtype, endpoint=not small)
    if dtype == np.float16:
        return rng.uniform(-2, 2, shape).astype(dtype)
    x = rng.standard_normal(shape)
    if dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def np_func(correlate, mode):
    func = np.correlate if correlate else np.convolve
    return lambda x, w: func(x, w, mode)


# --------------------------------------------------------------------------
# Small exhaustive cases: every length pair, mode and method
# --------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("correlate", [False, True], ids=["convolve", "correlate"])
def test_small_1d_matches_numpy(backend, correlate, mode, method):
    rng = np.random.default_rng(0)
    func = gpuconv.correlate if correlate else gpuconv.convolve
    for n in range(1, 8):
        for k in range(1, 10):  # k > n too: NumPy swaps the inputs
            for dtype in ("float64", "complex128"):
                a, v = make(rng, n, dtype), make(rng, k, dtype)
                got = func(a, v, mode, method=method)
                assert_conv(got, np_func(correlate, mode), a, v, method=method,
                            what=f"n={n} k={k} {dtype}")


def test_correlate_conjugates_v(backend):
    a, v = np.array([1, 2j, 3]), np.array([0, 1, 0.5j])
    for mode in MODES:
        assert_conv(gpuconv.correlate(a, v, mode), np_func(True, mode), a, v, method="auto")


def test_default_modes_follow_numpy(backend):
    a, v = np.arange(6.0), np.array([1.0, -2.0, 0.5])
    assert gpuconv.convolve(a, v).shape == np.convolve(a, v).shape        # 'full'
    assert gpuconv.correlate(a, v).shape == np.correlate(a, v).shape      # 'valid'


def test_scalars_and_lists_like_numpy(backend):
    assert_exact(gpuconv.convolve(2, 3), np.convolve(2, 3))
    assert_exact(gpuconv.convolve([1, 2, 3], [1, 1]), np.convolve([1, 2, 3], [1, 1]))
    assert_exact(gpuconv.correlate([1, 2, 3], [1, 1], "full"),
                 np.correlate([1, 2, 3], [1, 1], "full"))


# --------------------------------------------------------------------------
# Dtypes: result_type, exact integer arithmetic with NumPy's wrap-around
# --------------------------------------------------------------------------

ALL_DTYPES = EXACT + FLOATS


@pytest.mark.parametrize("dtype_v", ALL_DTYPES)
@pytest.mark.parametrize("dtype_a", ALL_DTYPES)
def test_result_dtype_is_numpys(backend, dtype_a, dtype_v):
    rng = np.random.default_rng(1)
    a, v = make(rng, 9, dtype_a, small=True), make(rng, 4, dtype_v, small=True)
    for method in ("direct", "auto"):
        got = gpuconv.convolve(a, v, method=method)
        assert_conv(got, np_func(False, "full"), a, v, method=method,
                    what=f"{dtype_a} * {dtype_v}")


@pytest.mark.parametrize("dtype", EXACT)
@pytest.mark.parametrize("mode", MODES)
def test_integers_exact_with_wraparound(backend, dtype, mode):
    """Full-range values: products and sums overflow and must wrap like NumPy."""
    rng = np.random.default_rng(2)
    for n, k in [(50, 7), (7, 50), (2049, 33)]:
        a, v = make(rng, n, dtype), make(rng, k, dtype)
        for method in ("direct", "auto"):
            assert_exact(gpuconv.convolve(a, v, mode, method=method), np.convolve(a, v, mode))
            assert_exact(gpuconv.correlate(a, v, mode, method=method), np.correlate(a, v, mode))


def test_int8_and_uint_overflow_cases(backend):
    a8, v8 = np.array([100, 120, -128, 127], np.int8), np.array([3, 5], np.int8)
    assert_exact(gpuconv.convolve(a8, v8), np.convolve(a8, v8))
    u8 = np.array([200, 250], np.uint8)
    assert_exact(gpuconv.convolve(u8, u8), np.convolve(u8, u8))
    u64 = np.array([2**64 - 1, 2**63 + 3], np.uint64)
    assert_exact(gpuconv.convolve(u64, np.array([3, 5], np.uint64)),
                 np.convolve(u64, np.array([3, 5], np.uint64)))
    i64 = np.array([2**62, -(2**62), 2**63 - 1], np.int64)
    assert_exact(gpuconv.convolve(i64, np.array([4, 3], np.int64)),
                 np.convolve(i64, np.array([4, 3], np.int64)))


@pytest.mark.parametrize("method", ["fft", "oa"])
@pytest.mark.parametrize("dtype", EXACT)
def test_integers_through_fft_are_rounded_exactly(backend, dtype, method):
    """Explicit FFT on small integers: float64 error < 1/2, so rounding is exact."""
    rng = np.random.default_rng(3)
    a, v = make(rng, 300, dtype, small=True), make(rng, 17, dtype, small=True)
    for mode in MODES:
        assert_conv(gpuconv.convolve(a, v, mode, method=method), np_func(False, mode),
                    a, v, method=method)


def test_bool_is_logical(backend):
    a = np.array([True, False, False, True, True])
    v = np.array([False, True, True])
    for mode in MODES:
        assert_exact(gpuconv.convolve(a, v, mode), np.convolve(a, v, mode))
        assert_exact(gpuconv.correlate(a, v, mode), np.correlate(a, v, mode))


def test_float16_is_rounded_once_subnormals_included(backend):
    """A product of two float16 numbers is exact in float32, where float16
    computes, so a one-tap direct convolution is the product rounded once to
    float16, in the normal range and among subnormals (below 6.1e-5): none
    flushed to zero, none rounded twice. There the rounding error is absolute
    (half a spacing, 2**-25), as `tolerances.rounding_underflow` allows."""
    a = np.array([-1.087e-4, 0.548, 3e-3, -2e-4, 7e-4, 1.0], np.float16)
    v = np.array([-0.08636], np.float16)
    products = a.astype(np.float64) * v.astype(np.float64)
    assert np.any(np.abs(products) < np.finfo(np.float16).smallest_normal)
    assert_exact(gpuconv.convolve(a, v, method="direct"), products.astype(np.float16))


# --------------------------------------------------------------------------
# Property tests over shapes, dtypes, modes, axes, per-row kernels, methods
# --------------------------------------------------------------------------

lengths = st.one_of(st.integers(1, 40), st.sampled_from(TILE_LENGTHS))
kernel_lengths = st.one_of(st.integers(1, 9), st.sampled_from((1, 2, 64, 2047, 2048, 2049, 3000)))


@st.composite
def conv_cases(draw):
    """A signal of 1-3 dims, a 1-D or per-row kernel, an axis, mode, method, dtypes."""
    n, k = draw(lengths), draw(kernel_lengths)
    dtype_a = draw(st.sampled_from(ALL_DTYPES))
    dtype_v = draw(st.one_of(st.just(dtype_a), st.sampled_from(ALL_DTYPES)))  # often equal, sometimes mixed
    long = max(n, k) > 100
    batch = tuple(draw(st.lists(st.integers(1, 2 if long else 4), max_size=2)))
    ndim = len(batch) + 1
    axis = draw(st.integers(-ndim, ndim - 1))
    per_row = draw(st.booleans()) and batch
    if per_row:  # each batch axis: the signal's length, or 1 to broadcast
        kbatch = tuple(draw(st.sampled_from((b, 1))) for b in batch)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    small = dtype_a in EXACT or dtype_v in EXACT  # keep the explicit FFT on integers exact
    a = np.moveaxis(make(rng, batch + (n,), dtype_a, small=small), -1, axis)
    if per_row:
        v = np.moveaxis(make(rng, kbatch + (k,), dtype_v, small=small), -1, axis)
    else:
        v = make(rng, k, dtype_v, small=small)
    return a, v, axis, draw(st.sampled_from(MODES)), draw(st.sampled_from(METHODS))


@given(case=conv_cases(), correlate=st.booleans())
def test_property_matches_numpy_rowwise(backend, case, correlate):
    a, v, axis, mode, method = case
    func = gpuconv.correlate if correlate else gpuconv.convolve
    got = func(a, v, mode, axis=axis, method=method)
    assert_conv(got, np_func(correlate, mode), a, v, method=method, axis=axis,
                what=f"{a.shape} {a.dtype} * {v.shape} {v.dtype} axis={axis} {mode} {method}")


@pytest.mark.parametrize("method", METHODS)
def test_per_row_kernels(backend, method):
    """v (B, K) against a (B, N); v (B, 1, K) against a (B, C, N)."""
    rng = np.random.default_rng(4)
    a2, v2 = make(rng, (3, 50), "float64"), make(rng, (3, 7), "float64")
    got = gpuconv.convolve(a2, v2, "same", method=method)
    assert_conv(got, np_func(False, "same"), a2, v2, method=method, what="(B, N) * (B, K)")
    a3, v3 = make(rng, (3, 4, 50), "float64"), make(rng, (3, 1, 7), "float64")
    got = gpuconv.convolve(a3, v3, method=method)
    assert_conv(got, np_func(False, "full"), a3, v3, method=method, what="(B, C, N) * (B, 1, K)")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n,k", [(n, k) for n in TILE_LENGTHS for k in (1, 2, 3, 2048, 2049)])
def test_tile_boundaries(backend, n, k, method):
    rng = np.random.default_rng(n * 7 + k)
    a, v = make(rng, (2, n), "float32"), make(rng, k, "float32")
    for mode in MODES:
        assert_conv(gpuconv.convolve(a, v, mode, method=method), np_func(False, mode),
                    a, v, method=method, what=f"n={n} k={k} {mode}")


# --------------------------------------------------------------------------
# Memory layouts, read-only inputs, dynamic range, NaN
# --------------------------------------------------------------------------

def layouts(rng, dtype):
    """Non-contiguous views of the same kind of data: strided, reversed, Fortran."""
    base = make(rng, (6, 402), dtype)
    yield "every-other", base[::2, ::2]
    yield "negative-stride", base[::-1, ::-3]
    yield "fortran", np.asfortranarray(base[:, :101])
    yield "fortran-axis0", np.asfortranarray(base[:, :5]).T  # C-order view, axis 0 strided


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["int32", "float32", "complex128"])
def test_non_contiguous_inputs(backend, dtype, method):
    rng = np.random.default_rng(5)
    v = make(rng, 40, dtype, small=True)[::-2]   # kernel reversed and strided too
    for name, a in layouts(rng, dtype):
        if dtype == "int32":
            a = (a % 4).astype(dtype)  # small: exact through the FFT
        for axis in (0, -1):
            got = gpuconv.convolve(a, v, "same", axis=axis, method=method)
            assert_conv(got, np_func(False, "same"), a, v, axis=axis, method=method,
                        what=f"{name} axis={axis}")


@pytest.mark.parametrize("method", METHODS)
def test_read_only_inputs_are_unchanged(backend, method):
    rng = np.random.default_rng(6)
    a, v = make(rng, (3, 300), "float64"), make(rng, (3, 9), "float64")
    a_copy, v_copy = a.copy(), v.copy()
    a.flags.writeable = v.flags.writeable = False
    gpuconv.convolve(a, v, method=method)
    gpuconv.correlate(a, v, "same", method=method)
    gpuconv.circular_convolve(a, v, 50, method=method)
    np.testing.assert_array_equal(a, a_copy)
    np.testing.assert_array_equal(v, v_copy)


@pytest.mark.parametrize("method", METHODS)
def test_float32_large_dynamic_range(backend, method):
    """Magnitudes 1e-3..1e6 with random signs: the bounds scale with conv(|a|, |v|)."""
    rng = np.random.default_rng(7)
    def spread(shape):
        return (rng.choice([-1, 1], shape) * 10 ** rng.uniform(-3, 6, shape)).astype(np.float32)
    for n, k in [(5000, 31), (2049, 2048), (100, 7)]:
        a, v = spread((2, n)), spread(k)
        for mode in MODES:
            assert_conv(gpuconv.convolve(a, v, mode, method=method), np_func(False, mode),
                        a, v, method=method, what=f"n={n} k={k} {mode}")


def test_direct_nan_stays_local_like_numpy(backend):
    """The direct sum touches a NaN only where NumPy's does."""
    a = np.array([1.0, np.nan, 2.0, 3.0, 4.0, 5.0])
    v = np.array([1.0, 2.0])
    got = gpuconv.convolve(a, v, method="direct")
    ref = np.convolve(a, v)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(got[~np.isnan(ref)], ref[~np.isnan(ref)])


@pytest.mark.parametrize("mode", MODES)
def test_direct_inf_weights_like_numpy(backend, mode):
    """No product with a sample past the ends, as in ``numpy.convolve``: an
    Inf weight there would make NaN. Small integers: every sum is exact."""
    rng = np.random.default_rng(10)
    for n, k in [(3, 8), (40, 8), (5000, 301)]:
        a = rng.integers(-3, 4, (2, n)).astype(np.float64)
        v = rng.integers(-3, 4, k).astype(np.float64)
        v[[1, -2]] = np.inf, -np.inf
        got = gpuconv.convolve(a, v, mode, method="direct")
        for row in range(2):
            np.testing.assert_array_equal(got[row], np.convolve(a[row], v, mode))


@pytest.mark.parametrize("where", ["NaN in a", "Inf in a", "Inf in v"])
def test_auto_keeps_nan_and_inf_local_like_numpy(backend, where):
    """Where the cost model prefers a transform, which would spread a NaN or
    Inf over its row or block, `auto` takes the direct sum for such input."""
    rng = np.random.default_rng(9)
    chosen = set()
    for rows, n, k in [(4, 40000, 1001), (8, 4096, 2000)]:
        a, v = rng.standard_normal((rows, n)), rng.standard_normal(k)
        request = Request(rows=rows, n=n, k=k, kernel_rows=1, start=0, out_len=n + k - 1)
        chosen.add(choose_method(gpuconv.get_backend(), request, "float64"))
        if where == "Inf in v":
            v[k // 2] = np.inf
        else:
            a[1, n // 3] = np.nan if where == "NaN in a" else -np.inf
        got = gpuconv.convolve(a, v)
        np.testing.assert_array_equal(got, gpuconv.convolve(a, v, method="direct"))
        for row in range(rows):
            ref = np.convolve(a[row], v)
            np.testing.assert_array_equal(np.isnan(got[row]), np.isnan(ref))
            np.testing.assert_array_equal(np.isinf(got[row]), np.isinf(ref))
    assert chosen == {"fft", "oa"}, f"sizes that reach both transforms, not {chosen}"


# --------------------------------------------------------------------------
# circular_convolve
# --------------------------------------------------------------------------

def aliased(a, v, n):
    """MATLAB cconv: the full linear convolution folded onto n points."""
    full = np.convolve(a, v)
    out = np.zeros(n, dtype=full.dtype)
    np.add.at(out, np.arange(full.size) % n, full)
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["int64", "int8", "float64", "complex64"])
def test_circular_convolve_aliasing(backend, dtype, method):
    rng = np.random.default_rng(8)
    for la in (1, 4, 9):
        for lv in (1, 3, 12):
            full = la + lv - 1
            # shorter, equal and longer than the full length; shorter than v; period of a
            for n in sorted({1, 2, max(1, lv - 1), la, full - 1 or 1, full, full + 5}):
                a, v = make(rng, la, dtype, small=True), make(rng, lv, dtype, small=True)
                got = gpuconv.circular_convolve(a, v, n, method=method)
                assert_conv(got, lambda x, w, n=n: aliased(x, w, n), a, v, method=method,
                            taps=lv * (la // n + 1), what=f"la={la} lv={lv} n={n}")


FOLDS = {  # a's periods overflow or round when added in a's own dtype
    ("int8", "int16"): [100, 100, 100],
    ("int8", "float32"): [100, 100, 100],
    ("bool", "int64"): [True, True, True],
    ("float16", "float32"): [6e4, 6e4, 6e4],
    ("float32", "float64"): [1, 1e-8, 1e-8],
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtypes", FOLDS, ids="-".join)
def test_circular_convolve_folds_in_the_result_dtype(backend, dtypes, method):
    """Periods add up in ``result_type(a, v)``, as the aliased full convolution does."""
    a, v = np.array(FOLDS[dtypes], dtypes[0]), np.array([1, 2], dtypes[1])
    for n in (1, 2):
        got = gpuconv.circular_convolve(a, v, n, method=method)
        assert_conv(got, lambda x, w, n=n: aliased(x, w, n), a, v, method=method,
                    taps=2 * (3 // n + 1), what=f"n={n}")


def test_empty_batch_with_auto(backend):
    """No rows: nothing for the cost model to estimate, an empty result of NumPy's length."""
    for a, v in [(np.ones((0, 5)), np.ones(2)), (np.ones(5), np.ones((0, 3)))]:
        for got in (gpuconv.convolve(a, v), gpuconv.correlate(a, v, "full"),
                    gpuconv.circular_convolve(a, v)):
            assert got.shape == (0, 5 + v.shape[-1] - 1) and got.dtype == np.float64


def test_circular_convolve_default_period_is_linear(backend):
    a, v = np.arange(1, 8), np.array([1, -1, 2])
    assert_exact(gpuconv.circular_convolve(a, v), np.convolve(a, v))


@pytest.mark.parametrize("method", METHODS)
def test_circular_convolve_batched_axis(backend, method):
    rng = np.random.default_rng(9)
    a, v = make(rng, (3, 20, 2), "float64"), make(rng, (3, 5, 1), "float64")
    for n in (7, 20, 30):
        got = gpuconv.circular_convolve(a, v, n, axis=1, method=method)
        assert_conv(got, lambda x, w, n=n: aliased(x, w, n), a, v, axis=1, method=method,
                    taps=5 * (20 // n + 1), what=f"n={n}")
