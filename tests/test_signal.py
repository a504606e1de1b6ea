"""`gpuconv.signal` against `scipy.signal`: convolve, correlate, fftconvolve, oaconvolve.

1-D calls must give SciPy's values (within the method's bound), lengths,
dtypes and errors; N-D calls along one axis (``axes=`` or a kernel of length 1
elsewhere) must match SciPy's N-D call.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, strategies as st

import gpuconv.signal as gs
from tolerances import assert_conv, assert_exact, assert_within, fft_bound, high_dtype
from test_convolve import ALL_DTYPES, EXACT, TILE_LENGTHS, make

MODES = ("full", "same", "valid")
# (function name, gpuconv method argument, bound to apply)
CALLS = [
    ("convolve", "direct", "direct"),
    ("convolve", "fft", "fft"),
    ("convolve", "auto", "auto"),
    ("correlate", "direct", "direct"),
    ("correlate", "fft", "fft"),
    ("correlate", "auto", "auto"),
    ("fftconvolve", None, "fft"),
    ("oaconvolve", None, "fft"),
]
CALL_IDS = [f"{name}-{method}" if method else name for name, method, _ in CALLS]


def call(lib, name, method, in1, in2, mode, **kw):
    func = getattr(lib, name)
    return func(in1, in2, mode, method=method, **kw) if method else func(in1, in2, mode, **kw)


def scipy_ref(name, mode, **kw):
    """The 1-D SciPy reference (direct where it has a choice: exact for integers).

    SciPy's direct N-D kernel (used in 1-D too when in2 is the longer) refuses
    bool ("Unsupported type"); gpuconv takes it, so those rows are computed in
    int64 (exact, wrapping mod 2**64) and cast back the way NumPy's bool
    convolution would be.
    """
    method = "direct" if name in ("convolve", "correlate") else None

    def ref(x, w):
        try:
            return call(scipy.signal, name, method, x, w, mode, **kw)
        except ValueError as error:
            if "Unsupported type" not in str(error):
                raise
            out = call(scipy.signal, name, method, x.astype(np.int64), w.astype(np.int64), mode, **kw)
            dtype = np.result_type(x, w)
            return out != 0 if dtype == bool else out.astype(dtype)
    return ref


def scipy_dtype(name, method, in1, in2):
    """SciPy's result dtype for these inputs' dtypes and shapes.

    Taken from a call on ones of the same shapes and dtypes (SciPy's N-D
    direct path refuses bool, so those dtypes go through small 1-D arrays of
    the same "is any axis longer than 1 in both" class: with none, SciPy's FFT
    functions just multiply and integers stay integers).
    """
    both_long = any(s1 > 1 and s2 > 1 for s1, s2 in zip(in1.shape, in2.shape))
    size = 3 if both_long else 1
    return call(scipy.signal, name, method, np.ones(size, in1.dtype), np.ones(size, in2.dtype),
                "full").dtype


def check(got, name, method, bound_kind, in1, in2, mode, axis=-1):
    """Compare with SciPy: its dtype and shape, values row by row in high precision."""
    # SciPy's N-D direct path refuses some dtypes (bool) that its 1-D path takes:
    # the shape comes from a float64 call, the values from 1-D calls row by row.
    expected = call(scipy.signal, name, method, in1.astype(high_dtype(in1, in2)), in2, mode)
    assert got.shape == expected.shape, f"shape {got.shape}, SciPy {expected.shape}"
    assert_conv(got, scipy_ref(name, mode), in1, in2, method=bound_kind, axis=axis,
                dtype=scipy_dtype(name, method, in1, in2),
                what=f"{name} {mode} {method}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,method,bound", CALLS, ids=CALL_IDS)
def test_small_1d_matches_scipy(backend, name, method, bound, mode):
    rng = np.random.default_rng(10)
    for n in range(1, 8):
        for k in range(1, 10):
            for dtype in ("float64", "complex128", "int64"):
                a, v = make(rng, n, dtype, small=True), make(rng, k, dtype, small=True)
                got = call(gs, name, method, a, v, mode)
                check(got, name, method, bound, a, v, mode)


lengths = st.one_of(st.integers(1, 30), st.sampled_from(TILE_LENGTHS))


@given(n=lengths, k=st.one_of(st.integers(1, 9), st.sampled_from((2048, 2049, 3000))),
       dtype=st.sampled_from(ALL_DTYPES), mode=st.sampled_from(MODES),
       which=st.sampled_from(range(len(CALLS))), rows=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_property_one_axis_batches(backend, n, k, dtype, mode, which, rows, seed):
    """(rows, n) signals with a (1, k) kernel: SciPy's N-D call convolves axis -1 only."""
    name, method, bound = CALLS[which]
    rng = np.random.default_rng(seed)
    a, v = make(rng, (rows, n), dtype, small=True), make(rng, (1, k), dtype, small=True)
    try:
        call(scipy.signal, name, method, a.astype(high_dtype(a)), v.astype(high_dtype(v)), mode)
    except ValueError as error:  # 'valid' with rows > 1 and k > n: SciPy refuses, so must we
        with pytest.raises(ValueError, match="valid"):
            call(gs, name, method, a, v, mode)
        assert "valid" in str(error)
        return
    check(call(gs, name, method, a, v, mode), name, method, bound, a, v, mode)


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------

# SciPy's FFT functions promote each input on its own (integers and bool to
# float64, float16 to float32) before combining: int8 + float32 -> float64.
def fft_dtype_pairs():
    for a in ALL_DTYPES:
        for b in ALL_DTYPES:
            yield pytest.param(a, b)


@pytest.mark.parametrize("name", ["fftconvolve", "oaconvolve"])
@pytest.mark.parametrize("dtype_a,dtype_v", list(fft_dtype_pairs()))
def test_fft_result_dtype_is_scipys(backend, name, dtype_a, dtype_v):
    rng = np.random.default_rng(11)
    a, v = make(rng, 12, dtype_a, small=True), make(rng, 5, dtype_v, small=True)
    got = call(gs, name, None, a, v, "full")
    assert got.dtype == call(scipy.signal, name, None, a, v, "full").dtype


@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
@pytest.mark.parametrize("name", ["convolve", "correlate"])
@pytest.mark.parametrize("dtype_a,dtype_v", [(a, b) for a in ALL_DTYPES for b in ALL_DTYPES])
def test_result_dtype_is_scipys(backend, name, method, dtype_a, dtype_v):
    rng = np.random.default_rng(12)
    a, v = make(rng, 12, dtype_a, small=True), make(rng, 5, dtype_v, small=True)
    got = call(gs, name, method, a, v, "full")
    assert got.dtype == call(scipy.signal, name, method, a, v, "full").dtype


@pytest.mark.parametrize("dtype", [d for d in EXACT if d != "bool"])
def test_integer_fft_is_rounded_like_scipy(backend, dtype):
    """SciPy rounds integer FFT results; small values are then exact."""
    rng = np.random.default_rng(13)
    a, v = make(rng, 200, dtype, small=True), make(rng, 9, dtype, small=True)
    for mode in MODES:
        assert_exact(gs.convolve(a, v, mode, method="fft"),
                     scipy.signal.convolve(a, v, mode, method="fft"))


def test_correlate_conjugates_in2(backend):
    a, v = np.array([1, 2j, 3, -1j]), np.array([1j, 0.5])
    for mode in MODES:
        assert_conv(gs.correlate(a, v, mode), lambda x, w: scipy.signal.correlate(x, w, mode),
                    a, v, method="auto")


def test_scalars(backend):
    for name in ("convolve", "correlate", "fftconvolve", "oaconvolve"):
        got, ref = getattr(gs, name)(2.0, 3.0), getattr(scipy.signal, name)(2.0, 3.0)
        assert got.shape == ref.shape == () and got == ref


def test_fft_functions_accept_empty_like_scipy(backend):
    for name in ("fftconvolve", "oaconvolve"):
        got = getattr(gs, name)(np.array([]), np.array([1.0]))
        ref = getattr(scipy.signal, name)(np.array([]), np.array([1.0]))
        assert got.shape == ref.shape and got.dtype == ref.dtype


# --------------------------------------------------------------------------
# N-D along one axis
# --------------------------------------------------------------------------

ND_CASES = [
    # in1 shape, in2 shape, axes, the axis that is convolved
    ((4, 30), (1, 5), None, 1),
    ((4, 30), (4, 1), None, 0),       # the kernel's long axis is 0
    ((4, 30), (1, 1), None, 1),
    ((4, 30), (4, 5), 1, 1),
    ((4, 30), (1, 5), (-1,), 1),
    ((4, 30), (4, 5), [1], 1),
    ((3, 30, 2), (3, 7, 1), 1, 1),
    ((3, 30, 2), (1, 7, 2), (1,), 1),
    ((2, 3, 40), (2, 3, 40), -1, 2),  # equal lengths
    ((4, 6), (4, 9), 1, 1),           # kernel longer than the signal
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape1,shape2,axes,axis", ND_CASES)
@pytest.mark.parametrize("name", ["fftconvolve", "oaconvolve", "convolve", "correlate"])
def test_nd_one_axis_matches_scipy(backend, name, shape1, shape2, axes, axis, mode):
    if axes is not None and name in ("convolve", "correlate"):
        pytest.skip("scipy.signal.convolve/correlate have no axes argument")
    rng = np.random.default_rng(14)
    a, v = make(rng, shape1, "float64"), make(rng, shape2, "float64")
    kw = {} if axes is None else {"axes": axes}
    ref = getattr(scipy.signal, name)(a, v, mode, **kw)
    got = getattr(gs, name)(a, v, mode, **kw)
    assert got.shape == ref.shape
    method = "auto" if name in ("convolve", "correlate") else "fft"
    assert_conv(got, scipy_ref(name, mode), a, v, method=method, axis=axis, dtype=ref.dtype)


def test_same_mode_with_broadcast_batch_takes_in1_shape(backend):
    rng = np.random.default_rng(15)
    a, v = make(rng, (1, 30), "float64"), make(rng, (4, 5), "float64")
    ref = scipy.signal.fftconvolve(a, v, "same", axes=1)  # the batch axis cropped to in1's too
    got = gs.fftconvolve(a, v, "same", axes=1)
    assert got.shape == ref.shape
    scale = np.stack([np.convolve(np.abs(a[0]), np.abs(row)) for row in v])  # every row's
    assert_within(got, ref, np.max(fft_bound(scale, 30, 5, "float64")), dtype="float64")


@pytest.mark.parametrize("name", ["fftconvolve", "oaconvolve"])
def test_fft_valid_checks_only_convolved_axes(backend, name):
    a, v = np.ones((2, 3)), np.arange(5.0)[None]  # batch 2 vs 1 broadcasts; k > n on axis 1
    ref = getattr(scipy.signal, name)(a, v, "valid")
    got = getattr(gs, name)(a, v, "valid")
    assert got.shape == ref.shape
    assert_conv(got, scipy_ref(name, "valid"), a, v, method="fft", dtype=ref.dtype)


@pytest.mark.parametrize("name", ["convolve", "fftconvolve"])
def test_multi_axis_is_not_implemented(backend, name):
    with pytest.raises(NotImplementedError, match="one axis only"):
        getattr(gs, name)(np.ones((4, 5)), np.ones((2, 2)))
    if name == "fftconvolve":
        with pytest.raises(NotImplementedError, match="axes=<one axis>"):
            gs.fftconvolve(np.ones((4, 5)), np.ones((2, 2)), axes=(0, 1))


# --------------------------------------------------------------------------
# choose_conv_method
# --------------------------------------------------------------------------

def test_choose_conv_method(backend):
    assert gs.choose_conv_method(np.ones(10), np.ones(3)) == "direct"
    assert gs.choose_conv_method(np.ones(10**6), np.ones(10**4)) == "fft"
    # integers are always exact (documented difference: SciPy may pick FFT)
    assert gs.choose_conv_method(np.ones(10**5, int), np.ones(10**4, int)) == "direct"
    method, times = gs.choose_conv_method(np.ones(100), np.ones(3), measure=True)
    assert method in ("direct", "fft") and set(times) == {"direct", "fft"}
    assert times[method] == min(times.values())


@given(n=st.integers(1, 3000), k=st.integers(1, 3000), mode=st.sampled_from(MODES),
       dtype=st.sampled_from(("float32", "float64", "complex64", "complex128")))
def test_choose_conv_method_agrees_with_convolve(backend, n, k, mode, dtype):
    """Whatever it picks, convolve with that method matches SciPy within its bound."""
    rng = np.random.default_rng(n * 3001 + k)
    a, v = make(rng, n, dtype), make(rng, k, dtype)
    method = gs.choose_conv_method(a, v, mode)
    assert method in ("direct", "fft")
    check(gs.convolve(a, v, mode, method=method), "convolve", method, method, a, v, mode)
