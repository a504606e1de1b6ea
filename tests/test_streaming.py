"""`gpuconv.StreamingConvolver` against `numpy.convolve` of the whole stream."""

from __future__ import annotations

import numpy as np
import pytest

import gpuconv
from tolerances import (assert_exact, assert_within, direct_bound, fft_bound, high_dtype,
                        is_exact, rowwise)


def host(array):
    """A result as a NumPy array (CuPy results come off the GPU)."""
    return array.get() if hasattr(array, "get") else np.asarray(array)


def signal(rng, shape, dtype):
    """Random samples of ``dtype`` over its range (integers wrap in the sums)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    values = rng.standard_normal(shape)
    if dtype.kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def splits(rng, total, largest):
    """Chunk lengths summing to ``total``: 0s, 1s and random lengths up to ``largest``."""
    sizes = []
    while sum(sizes) < total:
        sizes.append(int(rng.choice([0, 1, rng.integers(0, largest + 1)])))
    sizes[-1] -= sum(sizes) - total
    return sizes


def feed(stream, x, sizes):
    """Every output of ``stream`` for ``x`` cut into ``sizes``, flush included."""
    outputs, at = [], 0
    for size in sizes:
        chunk = x[..., at:at + size]
        out = host(stream.process(chunk))
        assert out.shape == chunk.shape
        outputs.append(out)
        at += size
    outputs.append(host(stream.flush()))
    return np.concatenate(outputs, axis=-1)


def check(got, x, kernel, method):
    """``got`` equals ``numpy.convolve(x, kernel)`` per channel to the method's accuracy."""
    dtype = np.result_type(x, kernel)
    if is_exact(dtype):
        assert_exact(got, rowwise(np.convolve, x, kernel), dtype=dtype)
        return
    hi = high_dtype(x, kernel)
    ref = rowwise(np.convolve, x.astype(hi), kernel.astype(hi))
    abs_conv = rowwise(np.convolve, np.abs(x).astype(np.float64), np.abs(kernel).astype(np.float64))
    n, k = x.shape[-1], kernel.shape[-1]
    # Each chunk convolves K - 1 + T samples, K taps per output: both bounds
    # taken for the longest block a chunk can make.
    bounds = {"direct": direct_bound(abs_conv, k, dtype),
              "fft": fft_bound(abs_conv, n + k - 1, k, dtype)}
    bound = bounds.get(method, np.maximum(*bounds.values()))
    assert_within(got, ref, bound, dtype=dtype, what=f"method={method}")


@pytest.mark.parametrize("dtype", ["int16", "float32", "float64", "complex64"])
@pytest.mark.parametrize("k", [1, 2, 7, 40, 300])  # 40: longer than most chunks; 300: the stream
@pytest.mark.parametrize("seed", range(3))
def test_random_chunks_equal_one_shot(backend, dtype, k, seed):
    rng = np.random.default_rng(seed)
    x, kernel = signal(rng, 200, dtype), signal(rng, k, dtype)
    stream = gpuconv.StreamingConvolver(kernel)
    check(feed(stream, x, splits(rng, 200, 50)), x, kernel, "auto")


@pytest.mark.parametrize("method", ["direct", "fft", "oa"])
@pytest.mark.parametrize("k", [5, 64])
def test_methods(backend, method, k):
    rng = np.random.default_rng(k)
    x, kernel = signal(rng, 500, "float32"), signal(rng, k, "float32")
    stream = gpuconv.StreamingConvolver(kernel, method=method)
    check(feed(stream, x, splits(rng, 500, 120)), x, kernel, method)


@pytest.mark.parametrize("dtype", ["int16", "float32", "complex64"])
@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "per-channel"])
def test_channels(backend, dtype, per_channel):
    rng = np.random.default_rng(3)
    x = signal(rng, (3, 150), dtype)
    kernel = signal(rng, (3, 9) if per_channel else 9, dtype)
    stream = gpuconv.StreamingConvolver(kernel, channels=3)
    check(feed(stream, x, splits(rng, 150, 40)), x, kernel, "auto")


def test_stream_shorter_than_kernel(backend):
    x, kernel = np.arange(1, 4, dtype=np.int16), np.arange(1, 11, dtype=np.int16)
    stream = gpuconv.StreamingConvolver(kernel)
    assert_exact(feed(stream, x, [1, 0, 2]), np.convolve(x, kernel))


def test_mixed_dtypes_follow_result_type(backend):
    x, kernel = np.arange(20, dtype=np.int8), np.array([0.5, 0.25], dtype=np.float32)
    stream = gpuconv.StreamingConvolver(kernel)
    got = feed(stream, x, [7, 13])
    check(got, x, kernel, "auto")
    # An int16 chunk keeps float32 output (result_type(int16, float32) is float32).
    stream.reset()
    assert host(stream.process(x.astype(np.int16))).dtype == np.float32


def test_reset_starts_over(backend):
    rng = np.random.default_rng(4)
    x, kernel = signal(rng, 60, "int16"), signal(rng, 5, "int16")
    stream = gpuconv.StreamingConvolver(kernel)
    stream.process(x[:25])
    stream.reset()
    assert_exact(feed(stream, x, [10, 50]), np.convolve(x, kernel))
    stream.reset()  # after flush, reset reopens the stream; a new dtype is allowed
    y = x.astype(np.float64)
    check(feed(stream, y, [60]), y, kernel, "auto")


def test_flush_ends_the_stream(backend):
    stream = gpuconv.StreamingConvolver([1, 2, 3])
    stream.process(np.ones(4))
    stream.flush()
    with pytest.raises(RuntimeError, match=r"process\(\) after flush\(\).*reset\(\)"):
        stream.process(np.ones(4))
    with pytest.raises(RuntimeError, match=r"flush\(\) after flush\(\)"):
        stream.flush()


def test_flush_without_samples(backend):
    out = host(gpuconv.StreamingConvolver(np.ones(4, dtype=np.float32)).flush())
    assert_exact(out, np.zeros(3, dtype=np.float32))
    out = host(gpuconv.StreamingConvolver(np.ones((2, 1)), channels=2).flush())
    assert out.shape == (2, 0)


def test_dtype_argument_fixes_the_output(backend):
    stream = gpuconv.StreamingConvolver(np.ones(3, dtype=np.float32), dtype="float32")
    assert stream.dtype == np.float32
    assert host(stream.process(np.zeros(0, dtype=np.float32))).dtype == np.float32
    with pytest.raises(TypeError, match="would change the stream's output dtype"):
        stream.process(np.ones(2, dtype=np.float64))


@pytest.mark.parametrize("bad, error, match", [
    (np.ones((2, 5)), ValueError, r"shape \(3, T\) for channels=3"),
    (np.ones(5), ValueError, r"shape \(3, T\) for channels=3"),
    (np.ones((3, 5), dtype=np.float64), TypeError, "from float32 to float64"),
    (np.ones((3, 5), dtype=np.complex64), TypeError, "would change the stream's output dtype"),
    (np.array([["a"] * 5] * 3), TypeError, "boolean, integer, floating or complex"),
])
def test_bad_chunks_leave_the_state_unchanged(backend, bad, error, match):
    rng = np.random.default_rng(5)
    x, kernel = signal(rng, (3, 40), "float32"), signal(rng, (3, 6), "float32")
    stream = gpuconv.StreamingConvolver(kernel, channels=3)
    first = host(stream.process(x[:, :17]))
    with pytest.raises(error, match=match):
        stream.process(bad)
    assert stream.dtype == np.float32
    rest = feed(stream, x[:, 17:], [23])
    check(np.concatenate([first, rest], axis=-1), x, kernel, "auto")


def test_wrong_ndim_without_channels(backend):
    stream = gpuconv.StreamingConvolver([1, -1])
    stream.process(np.array([1, 2]))
    for bad in (np.ones((1, 3), dtype=np.int64), np.int64(3)):
        with pytest.raises(ValueError, match=r"chunk must be 1-D \(channels=None\)"):
            stream.process(bad)
    # [1, 2, 4, 8] * [1, -1] = [1, 1, 2, 4, -8]
    assert_exact(feed(stream, np.array([4, 8]), [2]), np.array([2, 4, -8]))


def test_inputs_are_not_modified(backend):
    x, kernel = np.arange(10.0), np.array([1.0, 2.0, 3.0])
    x0, kernel0 = x.copy(), kernel.copy()
    stream = gpuconv.StreamingConvolver(kernel)
    first = host(stream.process(x[:4]))
    kernel[:] = 0  # the streamer keeps its own copy
    got = np.concatenate([first, feed(stream, x[4:], [6])])
    assert np.array_equal(x, x0)
    check(got, x, kernel0, "auto")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kernel=[]), ValueError, "kernel cannot be empty"),
    (dict(kernel=[[1, 2]]), ValueError, r"shape \(K,\) for channels=None"),
    (dict(kernel=np.ones((2, 3)), channels=3), ValueError, r"\(K,\) or \(3, K\)"),
    (dict(kernel=[1], channels=0), ValueError, "positive integer"),
    (dict(kernel=[1], device="gpu"), ValueError, "acceptable device flags"),
    (dict(kernel=[1], method="fast"), ValueError, "acceptable method flags"),
    (dict(kernel=["a"]), TypeError, "kernel must have"),
])
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        gpuconv.StreamingConvolver(**kwargs)


def test_cuda_without_a_gpu_says_why():
    status = {s.name: s for s in gpuconv.backends.available()}["cupy"]
    if status.usable:
        pytest.skip("a CUDA device is usable here")
    with pytest.raises(RuntimeError, match="cupy backend is not usable here: ") as info:
        gpuconv.StreamingConvolver([1.0, 2.0], device="cuda")
    assert status.reason in str(info.value)


def test_device_auto_and_cpu(backend):
    stream = gpuconv.StreamingConvolver([1.0], device="cpu")
    assert stream.device == "cpu"
    assert isinstance(stream.process(np.ones(2)), np.ndarray)
    assert gpuconv.StreamingConvolver([1.0]).device == gpuconv.backends.default_device()
