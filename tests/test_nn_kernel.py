"""The CPU implicit-GEMM kernel of `gpuconv.nn` (`gpuconv.backends._numba_conv`).

Against a float64 NumPy reference written from the definition, with the
float32/float64 bound of `tolerances.direct_bound` (``C_in/groups * K``
products and the bias per output). Shapes cover every pass size (rows
``C_in/groups * K`` not a multiple of 8), output channels not a multiple of
the channel block, strides and dilations, and output lengths around the
kernel's tile.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import gpuconv
from gpuconv import nn
from gpuconv.backends import _numba_conv, _numba_kernels
from gpuconv.nn import _im2col
from tolerances import assert_within, direct_bound

TILE = _numba_conv.TILE


def reference(x, w, b, *, stride, dilation, groups, left, out_len):
    """``out[n, o, t] = b[o] + sum_{c, k} w[o, c, k] x_pad[n, g(o) C_g + c, t s + k d]``,
    float64, one tap at a time; x is zero outside [0, L)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    batch, c_in, length = x.shape
    c_out, c_group, k = w.shape
    span = (out_len - 1) * stride + dilation * (k - 1) + 1
    padded = np.zeros((batch, c_in, max(span, left + length)))
    padded[:, :, left:left + length] = x
    out = np.zeros((batch, c_out, out_len))
    if b is not None:
        out += np.asarray(b, np.float64)[None, :, None]
    o_group = c_out // groups
    for group in range(groups):
        xg = padded[:, group * c_group:(group + 1) * c_group]
        wg = w[group * o_group:(group + 1) * o_group]
        for tap in range(k):
            begin = tap * dilation
            window = xg[:, :, begin:begin + (out_len - 1) * stride + 1:stride]
            out[:, group * o_group:(group + 1) * o_group] += np.einsum(
                "oc,nct->not", wg[:, :, tap], window)
    return out


def out_length(length, k, stride, dilation, left, right):
    return (length + left + right - dilation * (k - 1) - 1) // stride + 1


def check(x, w, b, dtype, **options):
    got = _numba_conv.conv_channels(x, w, b, **options)
    ref = reference(x, w, b, **options)
    scale = reference(np.abs(x), np.abs(w), None if b is None else np.abs(b), **options)
    taps = w.shape[1] * w.shape[2] + (b is not None)
    assert_within(got, ref, direct_bound(scale, taps, dtype), dtype=dtype, what=str(options))
    return got


def random_case(rng, dtype, n, c_in, c_out, k, groups, length, bias=True):
    x = rng.standard_normal((n, c_in, length)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    return x, w, b


def cases(count, seed):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 6))
        c_out = groups * int(rng.integers(1, 12))
        k = int(rng.integers(1, 12))
        stride = int(rng.integers(1, 5))
        dilation = int(rng.integers(1, 4))
        left, right = int(rng.integers(0, 7)), int(rng.integers(0, 7))
        length = int(rng.integers(max(1, dilation * (k - 1) + 1 - left - right), 300))
        yield (dict(n=int(rng.integers(1, 4)), c_in=c_in, c_out=c_out, k=k, groups=groups,
                    length=length, bias=bool(rng.random() < 0.8)),
               dict(stride=stride, dilation=dilation, groups=groups, left=left,
                    out_len=out_length(length, k, stride, dilation, left, right)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes, options", list(cases(60, seed=11)))
def test_kernel_matches_the_definition(sizes, options, dtype):
    x, w, b = random_case(np.random.default_rng(sizes["length"]), dtype, **sizes)
    check(x, w, b, dtype, **options)


@pytest.mark.parametrize("out_len", [1, TILE - 1, TILE, TILE + 1, 2 * TILE + 3])
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (3, 2)])
def test_tile_edges(out_len, stride, dilation):
    """Output lengths around the tile; 17 channels: two full blocks and one of a single channel."""
    rng = np.random.default_rng(out_len + stride)
    k, left = 5, 3
    length = (out_len - 1) * stride + dilation * (k - 1) + 1 - 2 * left
    length = max(length, 1)
    x, w, b = random_case(rng, "float32", n=2, c_in=3, c_out=17, k=k, groups=1, length=length)
    options = dict(stride=stride, dilation=dilation, groups=1, left=left,
                   out_len=out_length(length, k, stride, dilation, left, left))
    assert check(x, w, b, "float32", **options).shape == (2, 17, options["out_len"])


def test_the_pipeline_layers():
    """The issue's layer shapes (shorter signals): 1 -> 16 stride 2, then 16 -> 16."""
    rng = np.random.default_rng(3)
    x, w, b = random_case(rng, "float32", n=2, c_in=1, c_out=16, k=9, groups=1, length=3001)
    hidden = check(x, w, b, "float32", stride=2, dilation=1, groups=1, left=4, out_len=1501)
    _, w2, b2 = random_case(rng, "float32", n=1, c_in=16, c_out=16, k=9, groups=1, length=1)
    check(np.maximum(hidden, 0), w2, b2, "float32", stride=1, dilation=1, groups=1, left=4,
          out_len=1501)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has a single thread")
def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(4)
    x, w, b = random_case(rng, "float32", n=3, c_in=6, c_out=12, k=7, groups=2,
                          length=3 * TILE + 77)
    options = dict(stride=2, dilation=2, groups=2, left=6, out_len=out_length(
        3 * TILE + 77, 7, 2, 2, 6, 6))
    previous = numba.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            _numba_kernels.set_threads(threads)
            results.append(_numba_conv.conv_channels(x, w, b, **options))
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])


def test_one_job_runs_without_a_parallel_region(monkeypatch):
    """A call that is one job never wakes the thread pool; more jobs do."""
    calls = []
    parallel = _numba_conv.conv_channels_rows
    monkeypatch.setattr(_numba_conv, "conv_channels_rows",
                        lambda *args: calls.append(args) or parallel(*args))
    rng = np.random.default_rng(6)
    x, w, b = random_case(rng, "float64", n=1, c_in=3, c_out=10, k=5, groups=1, length=TILE)
    options = dict(stride=1, dilation=1, groups=1, left=2, out_len=TILE)
    assert _numba_conv._job_count(1, 1, TILE) == 1
    check(x, w, b, "float64", **options)
    assert calls == []
    x, w, b = random_case(rng, "float64", n=2, c_in=3, c_out=10, k=5, groups=1, length=TILE)
    check(x, w, b, "float64", **options)
    assert len(calls) == 1


def test_inputs_are_unchanged_and_views_work():
    rng = np.random.default_rng(5)
    x, w, b = random_case(rng, "float64", n=2, c_in=4, c_out=5, k=3, groups=1, length=260)
    view = x[:, ::-1, ::2]  # negative and non-unit strides
    copies = [a.copy() for a in (view, w, b)]
    for a in (x, w, b):
        a.flags.writeable = False
    check(view, w, b, "float64", stride=1, dilation=1, groups=1, left=1, out_len=130)
    for a, copy in zip((view, w, b), copies):
        np.testing.assert_array_equal(a, copy)


def test_padding_products_are_formed_as_in_pytorch():
    """An infinite weight meets the staged zeros: ``0 * inf`` is NaN at the padded ends,
    as in the definition (and PyTorch), finite values inside."""
    x = np.ones((1, 1, 6))
    w = np.array([[[1.0, np.inf, 1.0]]])
    w = np.concatenate([w, np.ones((1, 1, 3))])  # a second output channel, all finite
    got = _numba_conv.conv_channels(x, w, None, stride=1, dilation=1, groups=1, left=2,
                                    out_len=8)
    with np.errstate(invalid="ignore"):
        ref = reference(x, w, None, stride=1, dilation=1, groups=1, left=2, out_len=8)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(got[~np.isnan(got)], ref[~np.isnan(ref)])
    assert np.isnan(got[0, 0, 0]) and not np.isnan(got[0, 1]).any()


def test_float32_stays_float32_and_empty_batches():
    w = np.ones((4, 2, 3), np.float32)
    out = _numba_conv.conv_channels(np.ones((0, 2, 10), np.float32), w, None, stride=1,
                                    dilation=1, groups=1, left=0, out_len=8)
    assert out.shape == (0, 4, 8) and out.dtype == np.float32
    out = _numba_conv.conv_channels(np.ones((1, 2, 10), np.float32), w, None, stride=1,
                                    dilation=1, groups=1, left=0, out_len=8)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.full((1, 4, 8), 6, np.float32))


# --------------------------------------------------------------------------
# Routing: the CPU backend uses the kernel, the emulated CUDA backend keeps im2col
# --------------------------------------------------------------------------

def _count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


@pytest.mark.parametrize("backend_name, kernel_calls, gemm_calls",
                         [("numpy", 1, 0), ("emulated", 0, 1)])
def test_routing_by_backend(monkeypatch, backend_name, kernel_calls, gemm_calls):
    from gpuconv.nn import functional

    kernel = _count_calls(monkeypatch, _numba_conv, "conv_channels")
    gemm = _count_calls(monkeypatch, functional, "conv_gemm")
    rng = np.random.default_rng(6)
    x, w, b = random_case(rng, "float32", n=2, c_in=3, c_out=4, k=5, groups=1, length=90)
    with gpuconv.use_backend(backend_name):
        got = nn.conv1d(x, w, b, stride=2, padding=2, dilation=2)
    assert (len(kernel), len(gemm)) == (kernel_calls, gemm_calls)
    ref = reference(x, w, b, stride=2, dilation=2, groups=1, left=2, out_len=43)
    scale = reference(np.abs(x), np.abs(w), np.abs(b), stride=2, dilation=2, groups=1, left=2,
                      out_len=43)
    assert_within(got, ref, direct_bound(scale, 3 * 5 + 1, "float32"), dtype="float32")


@pytest.mark.parametrize("padding_mode", ["reflect", "circular"])
def test_other_padding_modes_pad_first(padding_mode):
    rng = np.random.default_rng(7)
    x, w, b = random_case(rng, "float64", n=2, c_in=4, c_out=6, k=5, groups=2, length=50)
    got = nn.conv1d(x, w, b, padding=3, groups=2, padding_mode=padding_mode)
    index = np.arange(-3, 53)
    index = np.abs(index) if padding_mode == "reflect" else index % 50
    index = np.where(index > 49, 98 - index, index)
    options = dict(stride=1, dilation=1, groups=2, left=0, out_len=52)
    ref = reference(x[:, :, index], w, b, **options)
    scale = reference(np.abs(x[:, :, index]), np.abs(w), np.abs(b), **options)
    assert_within(got, ref, direct_bound(scale, 2 * 5 + 1, "float64"), dtype="float64")


@pytest.mark.parametrize("limit", [1, 3000, 50_000])
def test_im2col_tiles_still_match(monkeypatch, limit):
    """The GPU route (im2col + matmul in tiles), called directly now that the CPU backend
    has the kernel: tiles down to one output of one signal."""
    monkeypatch.setattr(gpuconv.config, "max_workspace_bytes", limit)
    rng = np.random.default_rng(8)
    x, w, b = random_case(rng, "float32", n=5, c_in=6, c_out=4, k=5, groups=2, length=333)
    options = dict(stride=2, dilation=2, groups=2, left=3, out_len=out_length(333, 5, 2, 2, 3, 3))
    backend = gpuconv.backends.backend_named("numpy")
    got = _im2col.conv_gemm(backend, x, w, b, groups=2, stride=2, dilation=2,
                            out_len=options["out_len"], zero_left=3)
    ref = reference(x, w, b, **options)
    scale = reference(np.abs(x), np.abs(w), np.abs(b), **options)
    assert_within(got, ref, direct_bound(scale, 3 * 5 + 1, "float32"), dtype="float32")
