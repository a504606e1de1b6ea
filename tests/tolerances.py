"""Error bounds for comparing gpuconv with float64/complex128 references.

Every bound here is derived from the arithmetic of the method, per dtype, and
is never widened to make a test pass (STYLE.md, "Tests"). The references are
computed in float64/complex128 (or in the exact integer dtype), so their own
rounding is covered by the same bounds.

Notation: ``u = eps / 2`` is the unit roundoff of the dtype the arithmetic
runs in, ``m`` the number of products summed for one output, and
``S = conv(|a|, |v|)`` the convolution of the absolute values (float64).

direct
    Recursive summation of ``m`` products: ``|fl(y) - y| <= gamma_(m+1) * S``
    with ``gamma_j ~ j * u`` (Higham, *Accuracy and Stability*, §3.1); complex
    products add ``sqrt(2) * gamma_2``. The float64 reference has at most the
    same error, so ``(m + 2) * eps * S`` (that is ``2 * gamma_(m+2) * S``)
    bounds ``|got - ref|`` elementwise.
fft, oa
    The transforms' rounding spreads over the whole row: each of the three
    transforms contributes about ``log2(nfft) * u`` relative to the row's
    largest absolute sum, plus the twiddle factors and the spectral product.
    ``FFT_C * eps * log2(nfft) * max_row(S)`` bounds it; ``FFT_C`` counts
    three transforms with a radix-2 constant of about ``sqrt(2)`` each and
    the pointwise product and twiddle error (``~1`` each), rounded up to 8.
    ``nfft`` is bounded by ``4 * (n + k)``, the largest length either FFT
    path can choose (`fft_block` searches below ``4 * (n + k)``).
float16
    gpuconv computes float16 in float32 and rounds once at the end: the
    float32 bound plus ``eps(float16) * |ref|`` for the final rounding, and
    half the spacing of float16's subnormals (``2**-25``) for results below
    its smallest normal number (6.1e-5), where rounding errs by up to half
    a spacing whatever the value (gradual underflow: ``fl(x) = x (1 + d) + e``
    with ``|e| <= 2**-25``; Higham, §2.1).
integers and bool
    Exact: equality with NumPy, including wrap-around.
"""

from __future__ import annotations

import math

import numpy as np

#: Constant of the FFT bound (see the module docstring for its derivation).
FFT_C = 8.0


def is_exact(dtype) -> bool:
    """Integer and boolean results must equal the reference exactly."""
    return np.dtype(dtype).kind in "biu"


def compute_eps(dtype) -> float:
    """Machine epsilon of the dtype gpuconv computes ``dtype`` results in."""
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return float(np.finfo(np.float32).eps)
    if dtype.kind in "biu":
        return float(np.finfo(np.float64).eps)  # FFT paths of integers run in float64
    return float(np.finfo(dtype).eps)


def rounding_eps(dtype) -> float:
    """Epsilon of the final rounding to ``dtype`` when it is narrower than the work."""
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).eps) if dtype == np.float16 else 0.0


def rounding_underflow(dtype) -> float:
    """Absolute error of that final rounding below ``dtype``'s normal range:
    half the spacing of its subnormal numbers."""
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).smallest_subnormal) / 2 if dtype == np.float16 else 0.0


def direct_bound(abs_conv, taps: int, dtype):
    """Elementwise bound for a direct (sum-of-products) result.

    ``abs_conv`` is ``conv(|a|, |v|)`` on the output window, ``taps`` the most
    products one output sums (``min(n, k)`` for a zero boundary).
    """
    return (taps + 2) * compute_eps(dtype) * np.asarray(abs_conv, dtype=np.float64)


def fft_bound(abs_conv_full, n: int, k: int, dtype, axis: int = -1):
    """Bound for an FFT or blocked FFT result, one value per row (keepdims).

    ``abs_conv_full`` is ``conv(|a|, |v|)`` over the full output of each row
    (along ``axis``); its row maximum sets the scale of the transforms.
    """
    nfft = 4 * (n + k)
    scale = np.max(np.asarray(abs_conv_full, dtype=np.float64), axis=axis, keepdims=True)
    return FFT_C * compute_eps(dtype) * math.log2(nfft) * scale


def assert_exact(got, ref, *, dtype=None):
    """Same dtype, shape and values (integers, bool)."""
    dtype = ref.dtype if dtype is None else np.dtype(dtype)
    assert got.dtype == dtype, f"dtype {got.dtype}, expected {dtype}"
    assert got.shape == ref.shape, f"shape {got.shape}, expected {ref.shape}"
    if not np.array_equal(got, ref):
        bad = np.argwhere(got != ref)
        raise AssertionError(f"{len(bad)} of {ref.size} values differ; first at "
                             f"{tuple(bad[0])}: got {got[tuple(bad[0])]}, expected {ref[tuple(bad[0])]}")


def assert_within(got, ref, bound, *, dtype, what=""):
    """``|got - ref| <= bound`` elementwise (NaN-free inputs), dtype and shape exact."""
    dtype = np.dtype(dtype)
    assert got.dtype == dtype, f"dtype {got.dtype}, expected {dtype}"
    assert got.shape == ref.shape, f"shape {got.shape}, expected {ref.shape}"
    target = ref.astype(np.complex128 if ref.dtype.kind == "c" else np.float64)
    err = np.abs(got.astype(target.dtype) - target)
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64)
                            + rounding_eps(dtype) * np.abs(target) + rounding_underflow(dtype),
                            err.shape)
    if not np.all(err <= bound):
        where = np.unravel_index(np.argmax(np.where(bound > 0, err / np.where(bound > 0, bound, 1), np.inf)), err.shape)
        raise AssertionError(
            f"{what}: {int(np.sum(~(err <= bound)))} of {err.size} values outside the bound; "
            f"worst at {where}: |got - ref| = {err[where]:.3g} > bound {bound[where]:.3g} "
            f"(got {got[where]}, ref {target[where]})")


# --------------------------------------------------------------------------
# References: the NumPy/SciPy function applied row by row, and the comparison
# --------------------------------------------------------------------------

def high_dtype(*arrays):
    """float64, or complex128 when any input is complex: the reference's dtype."""
    return np.complex128 if any(np.asarray(x).dtype.kind == "c" for x in arrays) else np.float64


def rowwise(func, a, v, axis=-1):
    """Apply the 1-D ``func(a_row, v_row)`` to every slice along ``axis``.

    ``v`` is 1-D (one kernel) or aligned with ``a`` from the right, its other
    axes broadcasting against ``a``'s: gpuconv's batching rule, spelled out.
    """
    a, v = np.asarray(a), np.asarray(v)
    axis = axis % a.ndim
    a_m = np.moveaxis(a, axis, -1)
    if v.ndim == 1:
        batch = a_m.shape[:-1]
        v_m = np.broadcast_to(v, batch + v.shape)
    else:
        v_m = np.moveaxis(v, axis - a.ndim, -1)
        batch = np.broadcast_shapes(a_m.shape[:-1], v_m.shape[:-1])
        v_m = np.broadcast_to(v_m, batch + v_m.shape[-1:])
    a_m = np.broadcast_to(a_m, batch + a_m.shape[-1:])
    rows = [func(a_m[index], v_m[index]) for index in np.ndindex(*batch)]
    out = np.stack(rows).reshape(batch + rows[0].shape)
    return np.moveaxis(out, -1, axis)


def assert_conv(got, ref_func, a, v, *, method, axis=-1, taps=None, scale_func=None,
                abs_func=None, dtype=None, what=""):
    """Check ``got`` against ``ref_func`` applied row by row, with the method's bound.

    ``ref_func(a_row, v_row)`` is the NumPy/SciPy function (mode bound in);
    the expected dtype is what it returns for the inputs' own dtypes unless
    ``dtype`` is given. Exact dtypes must match exactly (through the FFT too:
    the caller keeps values small enough that the FFT bound is below 1/2).
    ``taps`` defaults to ``min(n, k)``; ``scale_func(a_row, v_row)`` gives the
    FFT scale of a row (default: the full ``conv(|a|, |v|)``); ``abs_func`` is
    ``ref_func`` for the absolute values (default ``ref_func``; a boundary
    value ``cval`` must become ``|cval|`` there).
    """
    a, v = np.asarray(a), np.asarray(v)
    axis = axis % a.ndim
    n, k = a.shape[axis], v.shape[-1] if v.ndim == 1 else v.shape[axis - a.ndim]
    if dtype is None:
        dtype = rowwise(ref_func, a, v, axis).dtype
    dtype = np.dtype(dtype)
    hi = high_dtype(a, v)
    abs_a, abs_v = np.abs(a.astype(hi)).real, np.abs(v.astype(hi)).real
    if method in ("fft", "oa", "auto"):
        full = rowwise(scale_func or (lambda x, w: np.convolve(x, w)), abs_a, abs_v, axis)
        fft = fft_bound(full, n, k, dtype, axis)
    if is_exact(dtype):
        if method in ("fft", "oa"):
            assert np.max(fft) < 0.5, "test inputs too large for an exact FFT check"
        assert_exact(got, rowwise(ref_func, a, v, axis), dtype=dtype)
        return
    ref = rowwise(ref_func, a.astype(hi), v.astype(hi), axis)
    direct = direct_bound(rowwise(abs_func or ref_func, abs_a, abs_v, axis),
                          min(n, k) if taps is None else taps, dtype)
    if method == "direct":
        bound = direct
    elif method == "auto":  # either may run: the looser of the two
        bound = np.maximum(direct, fft)
    else:
        bound = fft
    assert_within(got, ref, bound, dtype=dtype, what=what or f"method={method}")
