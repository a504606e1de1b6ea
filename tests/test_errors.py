"""Bad input gets a `ValueError` or `TypeError` whose message names the argument."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.ndimage

import gpuconv
from gpuconv import _front
import gpuconv.ndimage as gn
import gpuconv.signal as gs
from tolerances import assert_within, direct_bound

ONE = np.ones(3)


@pytest.mark.parametrize("func", [gpuconv.convolve, gpuconv.correlate, gpuconv.circular_convolve])
def test_empty_arrays(backend, func):
    with pytest.raises(ValueError, match="a cannot be empty"):
        func(np.array([]), ONE)
    with pytest.raises(ValueError, match="v cannot be empty"):
        func(ONE, np.array([]))
    with pytest.raises(ValueError, match="a cannot be empty"):
        func(np.ones((2, 0)), ONE)


@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_signal_empty_arrays(backend, name):
    with pytest.raises(ValueError, match="in1 and in2 cannot be empty"):
        getattr(gs, name)(np.array([]), ONE)


def test_unknown_mode_and_method(backend):
    for func in (gpuconv.convolve, gpuconv.correlate):  # NumPy's messages and types
        with pytest.raises(ValueError, match="mode must be one of 'valid', 'same', or 'full' \\(got 'bogus'\\)"):
            func(ONE, ONE, "bogus")
        with pytest.raises(ValueError, match="integer mode must be 0, 1, or 2"):
            func(ONE, ONE, 5)
        with pytest.raises(TypeError, match="mode must be"):
            func(ONE, ONE, None)
        with pytest.raises(ValueError, match="acceptable method flags are .*, or 'oa'; got 'bogus'"):
            func(ONE, ONE, method="bogus")
    with pytest.raises(ValueError, match="acceptable method flags"):
        gpuconv.circular_convolve(ONE, ONE, method="bogus")
    for name in ("convolve", "correlate"):  # SciPy's messages
        with pytest.raises(ValueError, match="acceptable mode flags are 'valid', 'same', or 'full'"):
            getattr(gs, name)(ONE, ONE, mode="bogus")
        with pytest.raises(ValueError, match="acceptable method flags are 'auto', 'direct', or 'fft'; got 'oa'"):
            getattr(gs, name)(ONE, ONE, method="oa")
    for name in ("fftconvolve", "oaconvolve", "choose_conv_method"):
        with pytest.raises(ValueError, match="acceptable mode flags"):
            getattr(gs, name)(ONE, ONE, mode="bogus")
    with pytest.raises(ValueError, match="acceptable method flags"):
        gn.convolve1d(ONE, ONE, method="bogus")


@pytest.mark.parametrize("name", ["convolve1d", "correlate1d"])
def test_unknown_boundary(backend, name):
    with pytest.raises(ValueError, match="acceptable mode flags are 'reflect'.*; got 'bogus'"):
        getattr(gn, name)(ONE, ONE, mode="bogus")
    # SciPy raises RuntimeError here: code written for it keeps working
    with pytest.raises(RuntimeError, match="mode"):
        getattr(gn, name)(ONE, ONE, mode="bogus")


BAD_DTYPES = [np.array([1, 2], dtype=object), np.array(["a", "b"]), np.array([b"a"]),
              np.array([1, 2], dtype="datetime64[s]"), np.array([1, 2], dtype="timedelta64[s]")]
BAD_IDS = ["object", "str", "bytes", "datetime64", "timedelta64"]


@pytest.mark.parametrize("bad", BAD_DTYPES, ids=BAD_IDS)
def test_non_numeric_dtypes(backend, bad):
    for func in (gpuconv.convolve, gpuconv.correlate, gpuconv.circular_convolve):
        with pytest.raises(TypeError, match="a must have a boolean, integer, floating or complex dtype"):
            func(bad, ONE)
        with pytest.raises(TypeError, match="v must have a boolean"):
            func(ONE, bad)
    for name in ("convolve", "correlate", "fftconvolve", "oaconvolve"):
        with pytest.raises(TypeError, match="in1 must have"):
            getattr(gs, name)(bad, ONE[:1])
        with pytest.raises(TypeError, match="in2 must have"):
            getattr(gs, name)(ONE, bad)
    for name in ("convolve1d", "correlate1d"):
        with pytest.raises(TypeError, match="input must have"):
            getattr(gn, name)(bad, ONE)
        with pytest.raises(TypeError, match="weights must have"):
            getattr(gn, name)(ONE, bad)


def test_axis_out_of_range(backend):
    x = np.ones((2, 5))
    for func in (gpuconv.convolve, gpuconv.correlate, gpuconv.circular_convolve):
        for axis in (2, -3):
            with pytest.raises(ValueError, match=f"axis {axis} is out of bounds for an array of dimension 2"):
                func(x, ONE, axis=axis)
        with pytest.raises(TypeError, match="axis must be an integer"):
            func(x, ONE, axis=1.0)
    for name in ("convolve1d", "correlate1d"):
        with pytest.raises(ValueError, match="axis 2 is out of bounds"):
            getattr(gn, name)(x, ONE, axis=2)
    for name in ("fftconvolve", "oaconvolve"):  # SciPy's messages
        with pytest.raises(ValueError, match="axes exceeds dimensionality of input: axes=2, ndim=2"):
            getattr(gs, name)(x, np.ones((1, 3)), axes=2)
        with pytest.raises(ValueError, match="all axes must be unique"):
            getattr(gs, name)(x, np.ones((1, 3)), axes=(1, -1))
        with pytest.raises(ValueError, match="axes cannot be empty"):
            getattr(gs, name)(x, np.ones((1, 3)), axes=[])
        with pytest.raises(ValueError, match="axes must be a scalar or iterable of integers"):
            getattr(gs, name)(x, np.ones((1, 3)), axes=1.0)


def test_kernel_batch_shapes_that_do_not_broadcast(backend):
    with pytest.raises(ValueError, match=r"batch shapes of a \(2,\) and v \(3,\).*do not broadcast"):
        gpuconv.convolve(np.ones((2, 5)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"batch shapes of a \(2, 4\) and v \(3, 1\)"):
        gpuconv.correlate(np.ones((2, 4, 5)), np.ones((3, 1, 2)))
    with pytest.raises(ValueError, match="do not broadcast"):
        gpuconv.circular_convolve(np.ones((2, 5)), np.ones((3, 2)), 4)
    # a 2-D kernel aligned from the right cannot reach axis 0 of a 3-D signal
    with pytest.raises(ValueError, match=r"v has 2 dimensions, too few to hold axis -3 of a"):
        gpuconv.convolve(np.ones((2, 5, 3)), np.ones((2, 3)), axis=0)
    with pytest.raises(ValueError, match="incompatible shapes for in1 and in2"):
        gs.fftconvolve(np.ones((4, 5)), np.ones((3, 2)), axes=1)
    with pytest.raises(ValueError, match="same dimensionality"):
        gs.convolve(np.ones((2, 3)), ONE)


def test_valid_where_scipy_refuses(backend):
    # in2 (1, 7) against in1 (3, 5): neither is at least as large in every dimension
    for name in ("convolve", "correlate"):
        with pytest.raises(ValueError, match="For 'valid' mode, one must be at least as large"):
            getattr(gs, name)(np.ones((3, 5)), np.ones((1, 7)), "valid")
    with pytest.raises(ValueError, match="For 'valid' mode"):
        gs.choose_conv_method(np.ones((3, 5)), np.ones((1, 7)), "valid")


def test_circular_convolve_period(backend):
    for n in (0, -1):
        with pytest.raises(ValueError, match=f"n must be a positive integer, got {n}"):
            gpuconv.circular_convolve(ONE, ONE, n)
    for n in (2.5, "3", True):
        with pytest.raises(TypeError, match="n must be an integer"):
            gpuconv.circular_convolve(ONE, ONE, n)


def test_extended_precision_is_refused(backend):
    """No kernel computes in ``longdouble``: a TypeError, not a failure inside Numba."""
    wide = np.ones(3, np.longdouble)
    if wide.dtype.itemsize == 8:
        pytest.skip("longdouble is float64 on this platform")
    for call, name in [(lambda: gpuconv.convolve(wide, ONE), "a"),
                       (lambda: gpuconv.convolve(ONE, wide.astype(np.clongdouble)), "v"),
                       (lambda: gn.correlate1d(wide, ONE), "input"),
                       (lambda: gpuconv.StreamingConvolver(wide), "kernel")]:
        with pytest.raises(TypeError, match=f"{name} must have a dtype of at most double "
                                            f"precision, got (float|complex)"):
            call()


@pytest.mark.parametrize("name", ["convolve1d", "correlate1d"])
def test_ndimage_arguments(backend, name):
    func = getattr(gn, name)
    for k in (1, 2, 3, 4):
        for origin in (-(k // 2) - 1, (k - 1) // 2 + 1):
            with pytest.raises(ValueError, match=f"origin {origin} is out of range"):
                func(np.ones(5), np.ones(k), origin=origin)
    with pytest.raises(ValueError, match=r"weights must be a non-empty 1-D array, got shape \(0,\)"):
        func(ONE, np.array([]))
    with pytest.raises(ValueError, match=r"weights must be a non-empty 1-D array, got shape \(1, 2\)"):
        func(ONE, np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="weights"):  # SciPy's exception type too
        func(ONE, np.array([]))
    with pytest.raises(TypeError, match="origin must be an integer, got 0.5"):
        func(np.ones(5), np.ones(3), origin=0.5)
    with pytest.raises(ValueError, match="input must have at least one dimension"):
        func(np.float64(1.0), ONE)
    with pytest.raises(ValueError, match=r"output has shape \(4,\), expected the input's \(3,\)"):
        func(ONE, ONE, output=np.empty(4))
    read_only = np.empty(3)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="output is read-only"):
        func(ONE, ONE, output=read_only)
    with pytest.raises(TypeError, match=r"output must be an array or a dtype .*, got \[0.0, 0.0, 0.0\]"):
        func(ONE, ONE, output=[0.0] * 3)


@pytest.mark.parametrize("name", ["convolve1d", "correlate1d", "uniform_filter1d",
                                  "gaussian_filter1d"])
def test_ndimage_cval_follows_scipy(backend, name):
    """A number, complex only for complex input (SciPy refuses the rest as well)."""
    func = getattr(gn, name)
    second = {"uniform_filter1d": 3, "gaussian_filter1d": 1.0}.get(name, ONE)
    for cval in (None, "1", [1.0]):
        with pytest.raises(TypeError, match=re.escape(f"cval must be a number, got {cval!r}")):
            func(np.ones(5), second, mode="constant", cval=cval)
    with pytest.raises(ValueError, match=r"cval must be real when the input is real"):
        func(np.ones(5), second, mode="constant", cval=1 + 2j)
    if name in ("convolve1d", "correlate1d"):  # complex weights do not make the input complex
        with pytest.raises(ValueError, match=r"cval must be real when the input is real"):
            func(np.ones(5), ONE * 1j, mode="constant", cval=1 + 2j)
    # scipy.ndimage's own answers for the values it accepts, within the direct
    # sums' bound (SciPy's rounding and ours: twice it)
    weights = {"uniform_filter1d": np.full(3, 1 / 3),
               "gaussian_filter1d": gn.gaussian_weights(1.0)}.get(name, ONE)
    for x, cval in [(np.arange(5.0) + 0j, 1 - 2j), (np.arange(5.0), np.float32(2))]:
        want = getattr(scipy.ndimage, name)(x, second, mode="constant", cval=cval)
        scale = max(np.max(np.abs(x)), abs(cval)) * np.sum(np.abs(weights))
        assert_within(func(x, second, mode="constant", cval=cval), want,
                      2 * direct_bound(scale, len(weights), x.dtype), dtype=x.dtype)


def test_multi_axis_names_the_supported_form(backend):
    with pytest.raises(NotImplementedError, match=r"one axis only.*axes=<one axis>"):
        gs.convolve(np.ones((4, 5)), np.ones((2, 2)))


def test_numpy_arrays_follow_an_array_of_another_library(backend):
    """NumPy arrays are host data, like lists: they join the other library's array."""
    xp = pytest.importorskip("array_api_strict")  # in the test extra
    got = gpuconv.convolve(np.ones(5), xp.asarray([1.0, 2.0, 3.0]))
    assert type(got) is type(xp.ones(1))
    np.testing.assert_array_equal(np.asarray(list(got)), np.convolve(np.ones(5), [1.0, 2.0, 3.0]))


def test_arrays_from_two_libraries(backend, monkeypatch):
    """Two non-NumPy libraries cannot be mixed. With NumPy taken for just
    another library, NumPy + array_api_strict is such a pair."""
    xp = pytest.importorskip("array_api_strict")
    monkeypatch.setattr(_front.array_api_compat, "is_numpy_array", lambda array: False)
    with pytest.raises(TypeError, match=r"one array library \(NumPy arrays aside\): "
                                        r"a is a numpy.ndarray, v is a array_api_strict"):
        gpuconv.convolve(np.ones(5), xp.ones(3))


def test_torch_conjugate_and_negative_views(backend):
    """``t.conj()`` and ``t.conj().imag`` are lazy views (a bit on the tensor)
    that DLPack does not carry: gpuconv applies them first."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    z = torch.tensor([1 + 2j, 3 + 4j, 5 - 1j])
    for view in (z.conj(), z.conj().imag):
        got = gpuconv.convolve(view, np.array([1.0, 0.5]))
        np.testing.assert_array_equal(got.numpy(), np.convolve(view.resolve_conj().resolve_neg()
                                                               .numpy(), [1.0, 0.5]))


def test_torch_tensor_that_requires_grad_is_refused_by_name(backend):
    """gpuconv computes no gradients: a tensor that requires one gets a
    TypeError saying what to pass, from every front."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    leaf = torch.ones(8, requires_grad=True)
    message = "a torch tensor that requires grad: gpuconv computes no gradients; pass tensor.detach()"
    calls = [lambda: gpuconv.convolve(leaf, [1.0, 2.0]),
             lambda: gpuconv.convolve(torch.ones(8), leaf[:3]),
             lambda: gn.convolve1d(torch.ones(8), [1.0], output=torch.empty(8, requires_grad=True)),
             lambda: gpuconv.StreamingConvolver(leaf[:3], device="cpu"),
             lambda: gpuconv.StreamingConvolver([1.0], device="cpu").process(leaf),
             lambda: gpuconv.nn.functional.conv1d(torch.ones(1, 1, 8), leaf[:3].reshape(1, 1, 3))]
    names = ["a", "v", "output", "kernel", "chunk", "weight"]
    for call, name in zip(calls, names, strict=True):
        with pytest.raises(TypeError, match=re.escape(f"{name}: {message}")):
            call()
    detached = gpuconv.convolve(leaf.detach(), [1.0, 2.0])
    np.testing.assert_array_equal(detached.numpy(), np.convolve(np.ones(8), [1.0, 2.0]))


def test_torch_tensors_come_back_as_torch_tensors(backend):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    got = gpuconv.convolve(torch.ones(5, dtype=torch.float64), np.ones(3))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), np.convolve(np.ones(5), np.ones(3)))
    for func in (gs.convolve, gs.fftconvolve, gs.oaconvolve):  # 0-d: SciPy multiplies
        got = func(torch.tensor(2.0, dtype=torch.float64), torch.tensor(3.0, dtype=torch.float64))
        assert isinstance(got, torch.Tensor) and got.shape == () and float(got) == 6.0
