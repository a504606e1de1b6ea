"""`gpuconv.ndimage.convolve1d` / `correlate1d` against `scipy.ndimage`.

Every boundary mode and origin, kernels longer than the signal (which extend
periodically), integer inputs with float weights (SciPy truncates), `cval`,
`output=` arrays and dtypes, and `axis` on 3-D inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
from hypothesis import given, strategies as st

import gpuconv.ndimage as gn
from gpuconv.ndimage import NdimageArgumentError
from tolerances import assert_conv, assert_exact, assert_within, direct_bound
from test_convolve import make

BOUNDARY_MODES = ("reflect", "constant", "nearest", "mirror", "wrap",
                  "grid-wrap", "grid-constant", "grid-mirror")
METHODS = ("direct", "fft", "oa", "auto")
FUNCS = ("convolve1d", "correlate1d")


def origins(k):
    return range(-(k // 2), (k - 1) // 2 + 1)


def ref_func(name, mode, origin, cval=0.0):
    func = getattr(scipy.ndimage, name)
    return lambda x, w: func(x, w, mode=mode, cval=cval, origin=origin)


def scale_func(cval):
    """FFT scale of a row: the extended signal is bounded by max(|x|, |cval|)."""
    return lambda x, w: np.array([max(np.max(x), abs(cval)) * np.sum(w)])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", BOUNDARY_MODES)
@pytest.mark.parametrize("name", FUNCS)
def test_every_mode_origin_and_length(backend, name, mode, method):
    rng = np.random.default_rng(20)
    for n in (1, 2, 3, 5, 8):
        for k in (1, 2, 3, 4, 5, 9, 12):  # k > n: the extension wraps round several times
            for origin in origins(k):
                x, w = make(rng, n, "float64"), make(rng, k, "float64")
                got = getattr(gn, name)(x, w, mode=mode, cval=1.5, origin=origin, method=method)
                assert_conv(got, ref_func(name, mode, origin, 1.5), x, w, method=method, taps=k,
                            scale_func=scale_func(1.5), what=f"n={n} k={k} origin={origin}")


@given(n=st.one_of(st.integers(1, 30), st.sampled_from((2047, 2049))),
       k=st.one_of(st.integers(1, 12), st.sampled_from((64, 2048))),
       mode=st.sampled_from(BOUNDARY_MODES), name=st.sampled_from(FUNCS),
       method=st.sampled_from(METHODS), dtype=st.sampled_from(("float32", "float64", "complex128")),
       axis=st.integers(-3, 2), cval=st.floats(-5, 5), data=st.data())
def test_property_3d_axis(backend, n, k, mode, name, method, dtype, axis, cval, data):
    origin = data.draw(st.sampled_from(list(origins(k))))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = [2, 3, 2]
    shape[axis] = n
    x, w = make(rng, tuple(shape), dtype), make(rng, k, "float64")
    got = getattr(gn, name)(x, w, axis=axis, mode=mode, cval=cval, origin=origin, method=method)
    assert_conv(got, ref_func(name, mode, origin, cval), x, w, method=method, axis=axis, taps=k,
                scale_func=scale_func(cval), abs_func=ref_func(name, mode, origin, abs(cval)), what=f"{mode} origin={origin}")


@pytest.mark.parametrize("mode", BOUNDARY_MODES)
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64", "bool"])
def test_integer_input_dyadic_weights_exact(backend, dtype, mode):
    """Dyadic weights keep every float64 sum exact, so the truncation must match exactly
    (negative values truncate toward zero). Values stay in the output's range: a
    float-to-int cast out of range is undefined in C, so SciPy's result there is
    platform-dependent and no reference."""
    rng = np.random.default_rng(21)
    x = make(rng, 40, dtype, small=True)
    w = np.array([0.25, 0.5, 0.75, 1.5]) if dtype.startswith("u") or dtype == "bool" \
        else np.array([0.25, -0.5, 0.75, 1.5])
    for name in FUNCS:
        for origin in origins(len(w)):
            got = getattr(gn, name)(x, w, mode=mode, cval=2.5, origin=origin)
            ref = getattr(scipy.ndimage, name)(x, w, mode=mode, cval=2.5, origin=origin)
            assert_exact(got, ref)


@pytest.mark.parametrize("mode", BOUNDARY_MODES)
def test_integer_input_float_weights_truncate(backend, mode):
    """Arbitrary weights: SciPy truncates its float64 sum. Where that sum lies within
    rounding of an integer the two summation orders may truncate differently, so
    those outputs may differ by one; everywhere else the results are equal."""
    rng = np.random.default_rng(22)
    x = rng.integers(-50, 50, 200).astype(np.int16)
    w = np.array([0.3, 0.5, 0.7])
    for name in FUNCS:
        got = getattr(gn, name)(x, w, mode=mode)
        ref = getattr(scipy.ndimage, name)(x, w, mode=mode)
        assert got.dtype == ref.dtype == np.int16
        exact = getattr(scipy.ndimage, name)(x.astype(np.float64), w, mode=mode)
        bound = direct_bound(getattr(scipy.ndimage, name)(np.abs(x).astype(float), w, mode=mode),
                             len(w), np.float64)
        near = np.abs(exact - np.round(exact)) <= bound
        np.testing.assert_array_equal(got[~near], ref[~near])
        assert np.all(np.abs(got[near].astype(int) - ref[near]) <= 1)


def test_cval_is_used_only_by_constant(backend):
    x = np.array([1.0, 2.0, 3.0])
    for mode in BOUNDARY_MODES:
        for cval in (0.0, 5.0, -2.5):
            got = gn.convolve1d(x, [1.0, 2.0, 4.0], mode=mode, cval=cval)
            ref = scipy.ndimage.convolve1d(x, [1.0, 2.0, 4.0], mode=mode, cval=cval)
            np.testing.assert_array_equal(got, ref)  # every sum is exact in float64


def test_output_array_is_filled_and_returned(backend):
    rng = np.random.default_rng(23)
    x = make(rng, (3, 20), "float64") * 10
    exact = scipy.ndimage.correlate1d(x, [1.0, 2.0, 3.0])
    bound = direct_bound(scipy.ndimage.correlate1d(np.abs(x), [1.0, 2.0, 3.0]), 3, np.float64)
    for dtype in ("float32", "float64", "int32"):
        out = np.empty(x.shape, dtype)
        got = gn.correlate1d(x, [1.0, 2.0, 3.0], output=out)
        ref = np.empty(x.shape, dtype)
        scipy.ndimage.correlate1d(x, [1.0, 2.0, 3.0], output=ref)
        assert got is out
        if dtype == "int32":
            # truncation may differ by one only where a sum is within the bound of an integer
            near = np.abs(exact - np.round(exact)) <= bound
            np.testing.assert_array_equal(out[~near], ref[~near])
            assert np.all(np.abs(out[near].astype(int) - ref[near]) <= 1)
        else:  # float64 sums within the bound of each other, each rounded once to dtype
            rounding = np.finfo(dtype).eps * np.abs(exact) if dtype == "float32" else 0
            assert_within(out, ref, bound + rounding, dtype=dtype)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_output_of_the_input_library_and_np_matrix(backend):
    """An output tensor, or a dtype, of the input's library is filled as a
    NumPy one is; an ``np.matrix`` output too, as SciPy fills it."""
    torch = pytest.importorskip("torch")
    x = np.arange(12.0).reshape(2, 6) * 1.25
    for output, dtype in [(torch.empty(2, 6, dtype=torch.int32), np.int32),
                          (torch.float32, np.float32), (torch.uint8, np.uint8)]:
        ref = scipy.ndimage.convolve1d(x, [0.5, 1.0, 0.25], output=dtype)
        got = gn.convolve1d(torch.asarray(x), [0.5, 1.0, 0.25], output=output)
        assert isinstance(got, torch.Tensor) and (got is output or not isinstance(output, torch.Tensor))
        np.testing.assert_array_equal(got.numpy(), ref)  # dyadic weights: exact
    with pytest.raises(NdimageArgumentError, match="complex dtype .* an output array of dtype float32"):
        gn.convolve1d(torch.asarray(x), [1j], output=torch.empty(2, 6))
    into = torch.empty(2, 6, dtype=torch.float64)  # NumPy input, a tensor to fill
    assert gn.convolve1d(x, [0.5, 1.0, 0.25], output=into) is into
    np.testing.assert_array_equal(into.numpy(), scipy.ndimage.convolve1d(x, [0.5, 1.0, 0.25]))
    for output in (torch.bfloat16, torch):  # NumPy has no bfloat16; a module is no dtype
        with pytest.raises(TypeError, match="output must be an array or a dtype"):
            gn.convolve1d(torch.asarray(x), [1.0], output=output)
    with pytest.raises(TypeError, match="output: cannot take a torch.Tensor of dtype torch.bfloat16"):
        gn.convolve1d(torch.asarray(x), [1.0], output=torch.empty(2, 6, dtype=torch.bfloat16))
    matrix = np.matrix(np.zeros((2, 6)))
    assert gn.convolve1d(x, [0.5, 1.0, 0.25], output=matrix) is matrix
    np.testing.assert_array_equal(matrix, scipy.ndimage.convolve1d(x, [0.5, 1.0, 0.25]))


@pytest.mark.parametrize("output", [
    "float32",
    float,
    np.float32,
    np.dtype("float32"),
    np.int32,
], ids=["str", "float", "np.float32", "np.dtype", "np.int32"])
def test_output_dtype(backend, output):
    x = np.arange(10, dtype=np.uint8)
    got = gn.convolve1d(x, [0.5, 1.0, 0.25], output=output)
    ref = scipy.ndimage.convolve1d(x, [0.5, 1.0, 0.25], output=output)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)  # dyadic weights: exact


@pytest.mark.parametrize("dtype,weights", [
    *[(d, "real") for d in ("float32", "float64", "complex64", "complex128", "int32", "uint8")],
    *[(d, "complex") for d in ("float32", "uint8", "float64", "complex64", "complex128", "int32")],
])
def test_default_output_dtype_follows_scipy(backend, dtype, weights):
    rng = np.random.default_rng(24)
    x = make(rng, 10, dtype)
    w = [0.5, 0.25] if weights == "real" else [0.5 + 1j, 0.25]
    for name in FUNCS:
        assert getattr(gn, name)(x, w).dtype == getattr(scipy.ndimage, name)(x, w).dtype


@pytest.mark.parametrize("name", [
    "convolve1d",
    "correlate1d",
])
def test_complex_weights_like_scipy(backend, name):
    rng = np.random.default_rng(26)
    x = make(rng, 12, "float64")
    w = np.array([1j, 2.0, 0.5 - 1j])
    func = getattr(scipy.ndimage, name)
    for xin in (x, x + 1j * x[::-1]):
        got = getattr(gn, name)(xin, w)
        assert_conv(got, lambda a, v: func(a, v), xin, w, method="auto", taps=3,
                    scale_func=scale_func(0.0), dtype=func(xin, w).dtype)


@pytest.mark.parametrize("method", METHODS)
def test_non_contiguous_and_read_only(backend, method):
    rng = np.random.default_rng(25)
    base = make(rng, (5, 61), "float32")
    views = {"every-other": base[::2, ::2], "negative": base[::-1, ::-3],
             "fortran": np.asfortranarray(base)}
    for label, x in views.items():
        x = x.copy(order="K") if label == "fortran" else x
        keep = x.copy()
        x.flags.writeable = False
        for axis in (0, 1):
            got = gn.convolve1d(x, [1.0, -2.0, 0.5, 3.0], axis=axis, mode="mirror", method=method)
            assert_conv(got, ref_func("convolve1d", "mirror", 0), x, np.array([1.0, -2.0, 0.5, 3.0]),
                        method=method, axis=axis, taps=4, dtype=np.float32,
                        scale_func=scale_func(0.0), what=f"{label} axis={axis}")
        np.testing.assert_array_equal(x, keep)


def test_empty_input_like_scipy(backend):
    got = gn.convolve1d(np.zeros((0, 4)), [1.0, 2.0], axis=0)
    ref = scipy.ndimage.convolve1d(np.zeros((0, 4)), [1.0, 2.0], axis=0)
    assert got.shape == ref.shape and got.dtype == ref.dtype


@pytest.mark.parametrize("name", FUNCS)
def test_complex_by_real_keeps_the_parts_apart_like_scipy(backend, name):
    """Complex input with real weights, or real input with complex weights,
    is filtered as SciPy filters it: one real filter per part, so a NaN or
    Inf in one part never reaches the other (complex arithmetic would form
    ``inf * 0j``). Small integers: every finite sum is exact."""
    rng = np.random.default_rng(27)
    func = getattr(scipy.ndimage, name)
    x = rng.integers(-3, 4, 40) + 1j * rng.integers(-3, 4, 40)
    x[7] = complex(np.inf, 2)
    x[20] = complex(1, np.nan)
    w = rng.integers(-3, 4, 5).astype(np.float64)
    cases = {
        "complex input": (x, w, {"mode": "reflect"}),
        "complex input, complex cval": (x, w, {"mode": "constant", "cval": complex(np.nan, 2)}),
        "complex weights": (x.real.copy(), w + 1j * w[::-1], {"mode": "constant", "cval": 2.0}),
        "complex weights, Inf weight": (rng.integers(-3, 4, 40).astype(np.float64),
                                        np.array([1.0, complex(np.inf, 1), 2j]), {"mode": "wrap"}),
    }
    for what, (xin, win, options) in cases.items():
        ref = func(xin, win, **options)
        for method in ("direct", "auto"):
            got = getattr(gn, name)(xin, win, method=method, **options)
            assert got.dtype == ref.dtype, what
            np.testing.assert_array_equal(got, ref, err_msg=f"{what}, {method}")
