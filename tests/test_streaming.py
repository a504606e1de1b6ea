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


def check(got, x, kernel, method, block_length=0):
    """``got`` equals ``numpy.convolve(x, kernel)`` per channel to the method's accuracy.

    ``block_length``: the stream's ``B`` when the partitioned path may have
    run (floating dtypes, method other than 'direct').
    """
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
    if block_length and method != "direct":
        # Partitioned: B head taps summed directly, plus one term (the tail)
        # carrying the error of an FFT of at most 4 (n + k) points.
        bound = np.maximum(bound, direct_bound(abs_conv, block_length + 1, dtype)
                           + bounds["fft"])
    assert_within(got, ref, bound, dtype=dtype, what=f"method={method}")


@pytest.mark.parametrize("dtype", ["int16", "float32", "float64", "complex64"])
@pytest.mark.parametrize("k", [1, 2, 7, 40, 300])  # 40: longer than most chunks; 300: the stream
@pytest.mark.parametrize("seed", range(3))
def test_random_chunks_equal_one_shot(backend, dtype, k, seed):
    rng = np.random.default_rng(seed)
    x, kernel = signal(rng, 200, dtype), signal(rng, k, dtype)
    stream = gpuconv.StreamingConvolver(kernel)
    check(feed(stream, x, splits(rng, 200, 50)), x, kernel, "auto", stream.block_length)


@pytest.mark.parametrize("method", ["direct", "fft", "oa"])
@pytest.mark.parametrize("k", [5, 64])
def test_methods(backend, method, k):
    rng = np.random.default_rng(k)
    x, kernel = signal(rng, 500, "float32"), signal(rng, k, "float32")
    stream = gpuconv.StreamingConvolver(kernel, method=method)
    check(feed(stream, x, splits(rng, 500, 120)), x, kernel, method, stream.block_length)


@pytest.mark.parametrize("dtype", ["int16", "float32", "complex64"])
@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "per-channel"])
def test_channels(backend, dtype, per_channel):
    rng = np.random.default_rng(3)
    x = signal(rng, (3, 150), dtype)
    kernel = signal(rng, (3, 9) if per_channel else 9, dtype)
    stream = gpuconv.StreamingConvolver(kernel, channels=3)
    check(feed(stream, x, splits(rng, 150, 40)), x, kernel, "auto", stream.block_length)


def test_stream_shorter_than_kernel(backend):
    x, kernel = np.arange(1, 4, dtype=np.int16), np.arange(1, 11, dtype=np.int16)
    stream = gpuconv.StreamingConvolver(kernel)
    assert_exact(feed(stream, x, [1, 0, 2]), np.convolve(x, kernel))


def test_mixed_dtypes_follow_result_type(backend):
    x, kernel = np.arange(20, dtype=np.int8), np.array([0.5, 0.25], dtype=np.float32)
    stream = gpuconv.StreamingConvolver(kernel)
    got = feed(stream, x, [7, 13])
    check(got, x, kernel, "auto", stream.block_length)
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
    check(feed(stream, y, [60]), y, kernel, "auto", stream.block_length)


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
    check(np.concatenate([first, rest], axis=-1), x, kernel, "auto", stream.block_length)


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
    check(got, x, kernel0, "auto", stream.block_length)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kernel=[]), ValueError, "kernel cannot be empty"),
    (dict(kernel=[[1, 2]]), ValueError, r"shape \(K,\) for channels=None"),
    (dict(kernel=np.ones((2, 3)), channels=3), ValueError, r"\(K,\) or \(3, K\)"),
    (dict(kernel=[1], channels=0), ValueError, "positive integer"),
    (dict(kernel=[1], channels=2.0), TypeError, "positive integer, got 2.0"),
    (dict(kernel=[1], channels=True), TypeError, "positive integer, got True"),
    (dict(kernel=[1], device="gpu"), ValueError, "acceptable device flags"),
    (dict(kernel=[1], method="fast"), ValueError, "acceptable method flags"),
    (dict(kernel=["a"]), TypeError, "kernel must have"),
    (dict(kernel=[1], dtype="U3"), TypeError, "dtype must be a boolean, .* got <U3"),
])
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        gpuconv.StreamingConvolver(**kwargs)


def test_channels_may_be_a_numpy_integer():
    stream = gpuconv.StreamingConvolver(np.ones((2, 3)), channels=np.int64(2))
    assert stream.channels == 2 and type(stream.channels) is int
    x = np.arange(10.0).reshape(2, 5)
    np.testing.assert_array_equal(stream.process(x), [np.convolve(row, np.ones(3))[:5] for row in x])


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


# --------------------------------------------------------------------------
# Long kernels: the partitioned overlap-save path
# --------------------------------------------------------------------------

@pytest.fixture
def paths(monkeypatch):
    """Counts of chunks that took each path: ``{'partitioned': n, 'one shot': m}``."""
    counts = {"partitioned": 0, "one shot": 0}
    blocks, valid = gpuconv.StreamingConvolver._blocks, gpuconv.StreamingConvolver._valid

    def counted_blocks(self, *args, **kwargs):
        counts["partitioned"] += 1
        return blocks(self, *args, **kwargs)

    def counted_valid(self, block, *, start, out_len, dtype):
        if block.shape[-1] > start:  # flush() calls it with no new samples
            counts["one shot"] += 1
        return valid(self, block, start=start, out_len=out_len, dtype=dtype)

    monkeypatch.setattr(gpuconv.StreamingConvolver, "_blocks", counted_blocks)
    monkeypatch.setattr(gpuconv.StreamingConvolver, "_valid", counted_valid)
    return counts


def long_kernel_stream(rng, dtype, k, n, method, channels=None, per_channel=False):
    shape = n if channels is None else (channels, n)
    x = signal(rng, shape, dtype)
    kernel = signal(rng, k if not per_channel else (channels, k), dtype)
    return x, kernel, gpuconv.StreamingConvolver(kernel, channels=channels, method=method,
                                                 device="cpu")


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("method", ["fft", "oa", "auto"])
@pytest.mark.parametrize("seed", range(2))
def test_long_kernel_random_chunks(dtype, method, seed, paths):
    rng = np.random.default_rng(seed)
    # With 'auto' the built-in costs take one direct sum for float32 chunks
    # up to a 3000-tap kernel, and the partitioned path from 4000 taps on.
    k = 4000 if method == "auto" else 2000
    x, kernel, stream = long_kernel_stream(rng, dtype, k, 3 * k, method)
    assert 1 <= stream.block_length < k
    # Mostly chunks far shorter than the kernel, some of one sample, a few long.
    sizes = splits(rng, 3 * k, 60) + [0, 1]
    sizes[len(sizes) // 2] += 3 * k // 2
    check(feed(stream, x, sizes), x, kernel, method, stream.block_length)
    assert paths["partitioned"] > 0


@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_long_kernel_one_sample_chunks(dtype, paths):
    rng = np.random.default_rng(8)
    x, kernel, stream = long_kernel_stream(rng, dtype, 700, 900, "fft")
    check(feed(stream, x, [1] * 900), x, kernel, "fft", stream.block_length)
    assert paths["partitioned"] == 900 and paths["one shot"] == 0


def test_paths_alternate_with_chunk_length(paths):
    """Long chunks go one shot, short ones partitioned; the cached tail survives both."""
    rng = np.random.default_rng(9)
    x, kernel, stream = long_kernel_stream(rng, "float64", 1500, 40000, "fft")
    sizes = [3, 5, 20000, 7, 1, 1, 9000, 2, 10981]
    check(feed(stream, x, sizes), x, kernel, "fft", stream.block_length)
    assert paths["partitioned"] >= 5 and paths["one shot"] >= 2


@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "per-channel"])
def test_long_kernel_channels(per_channel, paths):
    # method='fft': with 'auto' the built-in costs rightly prefer one direct
    # call for three channels of a 1000-tap kernel (it measures faster here),
    # and this test is about the partitioned path's channel handling.
    rng = np.random.default_rng(10)
    x, kernel, stream = long_kernel_stream(rng, "float32", 1000, 3000, "fft", channels=3,
                                           per_channel=per_channel)
    check(feed(stream, x, splits(rng, 3000, 40)), x, kernel, "fft", stream.block_length)
    assert paths["partitioned"] > 0


def test_long_kernel_float16_computes_in_float32(paths):
    rng = np.random.default_rng(11)
    x, kernel, stream = long_kernel_stream(rng, "float16", 600, 1500, "fft")
    got = feed(stream, x, splits(rng, 1500, 30))
    assert got.dtype == np.float16
    check(got, x, kernel, "fft", stream.block_length)
    assert paths["partitioned"] > 0


@pytest.mark.parametrize("method", ["auto", "fft"])
def test_long_kernel_integers_stay_exact(method, paths):
    """Integer streams never take the partitioned (floating) path."""
    rng = np.random.default_rng(12)
    x = rng.integers(-100, 100, size=2500).astype(np.int32)
    kernel = rng.integers(-100, 100, size=800).astype(np.int32)
    stream = gpuconv.StreamingConvolver(kernel, method=method, device="cpu")
    got = feed(stream, x, splits(rng, 2500, 30))
    assert_exact(got, np.convolve(x, kernel))
    assert paths["partitioned"] == 0


def test_direct_method_never_partitions():
    assert gpuconv.StreamingConvolver(np.ones(5000), method="direct").block_length == 0
    assert gpuconv.StreamingConvolver(np.ones(2), method="fft").block_length == 0


@pytest.mark.parametrize("bad, error", [
    (np.ones((2, 5), dtype=np.float32), ValueError),
    (np.ones((3, 5), dtype=np.float64), TypeError),
])
def test_bad_chunks_mid_block_leave_the_state_unchanged(bad, error, paths):
    rng = np.random.default_rng(13)
    x, kernel, stream = long_kernel_stream(rng, "float32", 900, 2000, "fft", channels=3,
                                           per_channel=True)
    first = [host(stream.process(x[:, at:at + 7])) for at in range(0, 350, 7)]
    assert paths["partitioned"] == 50 and stream._tail is not None
    with pytest.raises(error):
        stream.process(bad)
    rest = feed(stream, x[:, 350:], splits(rng, 1650, 40))
    check(np.concatenate(first + [rest], axis=-1), x, kernel, "fft", stream.block_length)


def test_reset_clears_the_cached_tail(paths):
    rng = np.random.default_rng(14)
    x, kernel, stream = long_kernel_stream(rng, "float64", 500, 1200, "fft")
    stream.process(signal(rng, 333, "float64"))
    stream.reset()
    check(feed(stream, x, splits(rng, 1200, 25)), x, kernel, "fft", stream.block_length)


@pytest.mark.parametrize("dtype", ["float32", "complex64"])
def test_long_kernel_on_each_backend(backend, dtype, paths):
    """The head runs on the backend's direct kernel (the CUDA one, emulated)."""
    rng = np.random.default_rng(15)
    x, kernel = signal(rng, 700, dtype), signal(rng, 300, dtype)
    stream = gpuconv.StreamingConvolver(kernel, method="fft")
    check(feed(stream, x, splits(rng, 700, 20)), x, kernel, "fft", stream.block_length)
    assert paths["partitioned"] > 0


@pytest.mark.parametrize("where", ["NaN in x", "Inf in x", "Inf in the kernel"])
def test_auto_keeps_nan_and_inf_local(where, paths):
    """As `gpuconv.convolve`'s ``auto``: a transform it would take gives way
    to the direct sum where a line it transforms is not finite, on either
    path, and no product is formed with the time before the stream or after
    its end, as in ``numpy.convolve`` (an Inf weight times 0 would be NaN)."""
    rng = np.random.default_rng(15)
    x, kernel, stream = long_kernel_stream(rng, "float64", 2000, 8000, "auto")
    if where == "Inf in the kernel":
        kernel[700] = np.inf
        stream = gpuconv.StreamingConvolver(kernel, method="auto", device="cpu")
    else:
        x[[2500, 6100]] = np.nan if where == "NaN in x" else np.inf
    sizes = splits(rng, 8000, 60)
    sizes[len(sizes) // 3] += 3000  # one long chunk: a transform in one shot
    got = feed(stream, x, sizes)
    ref = np.convolve(x, kernel)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    if where != "Inf in the kernel":
        assert paths["partitioned"] > 0


def test_auto_keeps_nan_local_per_channel_kernels(paths):
    rng = np.random.default_rng(16)
    x, kernel, stream = long_kernel_stream(rng, "float32", 3000, 9000, "auto", channels=2,
                                           per_channel=True)
    x[1, 4000] = np.nan
    got = feed(stream, x, splits(rng, 9000, 20))
    ref = rowwise(np.convolve, x, kernel)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert paths["partitioned"] > 0
