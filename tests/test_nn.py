"""`gpuconv.nn` without PyTorch: NumPy float64 references, shapes, errors, save/load.

The reference convolution here is written from the definition
``out[n, o, t] = bias[o] + sum_{c, k} w[o, c, k] * xpad[n, g(o) + c, t * stride + k * dilation]``
with ``numpy.pad`` for the padding modes and a sliding-window view; it shares
no code with gpuconv. Bounds follow `tolerances.direct_bound`: one output sums
``C_in/groups * K`` products and the bias.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

import gpuconv
from gpuconv import nn
from gpuconv.nn import functional
from tolerances import assert_within, direct_bound

NUMPY_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def reference_pad(x, padding, k, dilation):
    """(left, right) of the padding forms, from their definitions."""
    span = dilation * (k - 1)
    if padding == "valid":
        return 0, 0
    if padding == "same":
        return span // 2, span - span // 2
    if padding == "causal":
        return span, 0
    if isinstance(padding, tuple):
        return padding
    return padding, padding


def reference_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1,
                     padding_mode="zeros"):
    """float64 cross-correlation from the definition (NCL, x 3-D)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    out_channels, group_channels, k = w.shape
    left, right = reference_pad(x, padding, k, dilation)
    xpad = np.pad(x, ((0, 0), (0, 0), (left, right)), mode=NUMPY_PAD[padding_mode])
    span = dilation * (k - 1) + 1
    windows = np.lib.stride_tricks.sliding_window_view(xpad, span, axis=-1)[..., ::dilation]
    windows = windows[:, :, ::stride, :]            # (N, C_in, L_out, K)
    group_out = out_channels // groups
    parts = []
    for g in range(groups):
        xs = windows[:, g * group_channels:(g + 1) * group_channels]
        ws = w[g * group_out:(g + 1) * group_out]
        parts.append(np.einsum("nclk,ock->nol", xs, ws))
    out = np.concatenate(parts, axis=1)
    if b is not None:
        out = out + np.asarray(b, np.float64)[None, :, None]
    return out


def check_conv(got, x, w, b, dtype, **options):
    """``got`` against the float64 reference, with the direct-sum bound."""
    ref = reference_conv1d(x, w, b, **options)
    scale = reference_conv1d(np.abs(x), np.abs(w), None if b is None else np.abs(b), **options)
    taps = w.shape[1] * w.shape[2] + (b is not None)
    assert_within(np.asarray(got), ref, direct_bound(scale, taps, dtype), dtype=dtype,
                  what=str(options))


def random_case(rng, dtype, *, n, c_in, c_out, groups, k, length, bias=True):
    x = rng.standard_normal((n, c_in, length)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    return x, w, b


# --------------------------------------------------------------------------
# Values against the NumPy float64 reference
# --------------------------------------------------------------------------

def seeded_configs(count, seed):
    """Random (sizes, options) covering both paths, every padding form and mode."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        kind = ("depthwise", "single", "dense", "grouped")[index % 4]
        k = int(rng.integers(1, 8))
        groups = 1
        if kind == "depthwise":
            c_in = c_out = groups = int(rng.integers(1, 6))
        elif kind == "single":
            c_in, c_out = 1, int(rng.integers(1, 5))
        elif kind == "dense":
            c_in, c_out = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        else:
            groups = int(rng.integers(2, 4))
            c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 4))
        dilation = int(rng.integers(1, 4))
        stride = int(rng.integers(1, 4))
        length = int(rng.integers(dilation * (k - 1) + 1, 60))
        padding_mode = ("zeros", "reflect", "replicate", "circular")[int(rng.integers(4))]
        forms = [0, int(rng.integers(0, 4)), (int(rng.integers(0, 4)), int(rng.integers(0, 4))),
                 "valid", "causal"] + (["same"] if stride == 1 else [])
        padding = forms[int(rng.integers(len(forms)))]
        left, right = reference_pad(None, padding, k, dilation)
        if padding_mode == "reflect" and max(left, right) >= length:
            padding_mode = "zeros"
        options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                       padding_mode=padding_mode)
        sizes = dict(n=int(rng.integers(1, 4)), c_in=c_in, c_out=c_out, groups=groups, k=k,
                     length=length, bias=bool(rng.integers(2)))
        yield pytest.param(sizes, options, id=f"{index}-{kind}")


@pytest.mark.parametrize("sizes, options", list(seeded_configs(80, seed=1)))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv1d_matches_numpy_reference(sizes, options, dtype):
    rng = np.random.default_rng(zlib.crc32(str(sizes).encode()))  # hash() is salted per process
    x, w, b = random_case(rng, dtype, **sizes)
    got = nn.conv1d(x, w, b, **options)
    check_conv(got, x, w, b, dtype, **options)


@pytest.mark.parametrize("sizes, options", list(seeded_configs(24, seed=2)))
def test_channels_last_is_the_transposed_call(sizes, options):
    rng = np.random.default_rng(3)
    x, w, b = random_case(rng, "float32", **sizes)
    got = nn.conv1d(np.transpose(x, (0, 2, 1)), np.transpose(w, (2, 1, 0)), b,
                    channels_last=True, **options)
    assert got.shape[0] == x.shape[0] and got.shape[2] == w.shape[0]
    check_conv(np.transpose(got, (0, 2, 1)), x, w, b, "float32", **options)


def test_unbatched_input_gives_unbatched_output():
    rng = np.random.default_rng(4)
    x, w, b = random_case(rng, "float64", n=1, c_in=3, c_out=2, groups=1, k=3, length=20)
    got = nn.conv1d(x[0], w, b, padding=1)
    assert got.shape == (2, 20)
    check_conv(got[None], x, w, b, "float64", padding=1)
    got_last = nn.conv1d(x[0].T, np.transpose(w, (2, 1, 0)), b, padding=1, channels_last=True)
    assert got_last.shape == (20, 2)


def test_empty_batch():
    out = nn.conv1d(np.zeros((0, 2, 10), np.float32), np.ones((3, 2, 3), np.float32))
    assert out.shape == (0, 3, 8) and out.dtype == np.float32
    out = nn.conv1d(np.zeros((0, 2, 10), np.float32), np.ones((2, 1, 3), np.float32), groups=2)
    assert out.shape == (0, 2, 8)


@pytest.mark.parametrize("limit", [1, 3000, 50_000])
@pytest.mark.parametrize("groups, c_out", [(1, 4), (2, 4), (6, 6)])
def test_tiles_under_a_tiny_workspace_give_the_same_values(monkeypatch, limit, groups, c_out):
    """The unfolded tiles shrink to one output of one signal; values stay within the bound."""
    monkeypatch.setattr(gpuconv.config, "max_workspace_bytes", limit)
    rng = np.random.default_rng(5)
    x, w, b = random_case(rng, "float32", n=5, c_in=6, c_out=c_out, groups=groups, k=5,
                          length=333)
    options = dict(stride=2, padding=3, dilation=2, groups=groups)
    check_conv(nn.conv1d(x, w, b, **options), x, w, b, "float32", **options)


def test_tile_shape_respects_the_budget(monkeypatch):
    backend = gpuconv.backends.backend_named("numpy")
    monkeypatch.setattr(gpuconv.config, "max_workspace_bytes", 10_000)
    from gpuconv.nn._im2col import tile_shape
    n_tile, t_tile = tile_shape(backend, batch=32, rows=144, out_len=32768, itemsize=4)
    assert n_tile * t_tile * 144 * 4 <= 10_000
    assert (n_tile, t_tile) == (1, 17)
    assert tile_shape(backend, 32, 9, 10, 4) == (27, 10)  # whole signals, several per tile
    monkeypatch.setattr(gpuconv.config, "max_workspace_bytes", 1)
    assert tile_shape(backend, 32, 144, 32768, 4) == (1, 1)


def test_float32_stays_float32_and_inputs_are_unchanged():
    rng = np.random.default_rng(6)
    for groups, c_out in ((1, 4), (2, 2)):
        x, w, b = random_case(rng, "float32", n=2, c_in=2, c_out=c_out, groups=groups, k=3,
                              length=30)
        copies = [a.copy() for a in (x, w, b)]
        for a in (x, w, b):
            a.flags.writeable = False
        out = nn.conv1d(x, w, b, padding=2, padding_mode="reflect", groups=groups)
        assert out.dtype == np.float32
        for a, copy in zip((x, w, b), copies):
            np.testing.assert_array_equal(a, copy)


def test_depthwise_and_single_channel_run_on_the_direct_kernel(backend):
    """The direct path under every backend fixture member, the CUDA emulator included."""
    rng = np.random.default_rng(7)
    cases = [
        (dict(n=3, c_in=4, c_out=4, groups=4, k=5, length=300),
         dict(stride=2, padding=3, dilation=2, groups=4, padding_mode="reflect")),
        (dict(n=2, c_in=1, c_out=1, groups=1, k=9, length=2500),
         dict(stride=1, padding="same", dilation=1, groups=1, padding_mode="zeros")),
        (dict(n=1, c_in=3, c_out=3, groups=3, k=4, length=40),
         dict(stride=3, padding="causal", dilation=3, groups=3, padding_mode="circular")),
        (dict(n=2, c_in=2, c_out=2, groups=2, k=3, length=17),
         dict(stride=1, padding=(5, 1), dilation=1, groups=2, padding_mode="replicate")),
    ]
    for sizes, options in cases:
        for dtype in ("float32", "float64"):
            x, w, b = random_case(rng, dtype, **sizes)
            check_conv(nn.conv1d(x, w, b, **options), x, w, b, dtype, **options)


def test_pipeline_layers_follow_the_backend_fixture(backend):
    rng = np.random.default_rng(8)
    net = nn.Sequential(nn.Conv1d(2, 2, 5, padding=2, groups=2, seed=1, device="cpu"),
                        nn.ReLU(),
                        nn.Conv1d(2, 3, 3, stride=2, seed=2, device="cpu", dtype="float32"))
    x = rng.standard_normal((2, 2, 200)).astype(np.float32)
    w1, b1, w2, b2 = (np.asarray(a) for a in (net[0].weight, net[0].bias, net[2].weight,
                                              net[2].bias))
    hidden = np.maximum(reference_conv1d(x, w1, b1, padding=2, groups=2), 0)
    ref = reference_conv1d(hidden, w2, b2, stride=2)
    scale_hidden = reference_conv1d(np.abs(x), np.abs(w1), np.abs(b1), padding=2, groups=2)
    scale = reference_conv1d(scale_hidden, np.abs(w2), np.abs(b2), stride=2)
    # Two direct sums in a row: the first layer's error passes through |w2|.
    taps = (5 + 1) + (2 * 3 + 1)
    assert_within(net(x), ref, direct_bound(scale, taps, "float32"), dtype="float32")


# --------------------------------------------------------------------------
# Pooling against the definition
# --------------------------------------------------------------------------

def reference_pool(x, kind, k, stride, padding, dilation=1, ceil_mode=False,
                   count_include_pad=True):
    """PyTorch's pooling from its documented formulas, float64, one window at a time."""
    n, c, length = x.shape
    span = dilation * (k - 1) + 1
    room = length + 2 * padding - span
    out_len = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out_len - 1) * stride >= length + padding:
        out_len -= 1
    out = np.empty((n, c, out_len))
    for t in range(out_len):
        start = t * stride - padding
        index = [start + j * dilation for j in range(k)]
        inside = [i for i in index if 0 <= i < length]
        values = x[:, :, inside].astype(np.float64)
        if kind == "max":
            out[:, :, t] = values.max(axis=-1) if padding == 0 or inside else -np.inf
        else:
            count = (min(start + k, length + padding) - start) if count_include_pad else len(inside)
            out[:, :, t] = values.sum(axis=-1) / count
    return out


@pytest.mark.parametrize("case", range(40))
def test_pooling_matches_the_definition(case):
    rng = np.random.default_rng(100 + case)
    k = int(rng.integers(1, 6))
    stride = int(rng.integers(1, 4))
    padding = int(rng.integers(0, k // 2 + 1))
    dilation = int(rng.integers(1, 3))
    ceil_mode = bool(rng.integers(2))
    length = int(rng.integers(dilation * (k - 1) + 1, 30))
    x = rng.standard_normal((2, 3, length))
    got = nn.max_pool1d(x, k, stride, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(got, reference_pool(x, "max", k, stride, padding, dilation,
                                                      ceil_mode))
    include = bool(rng.integers(2))
    got = nn.avg_pool1d(x.astype(np.float32), k, stride, padding, ceil_mode, include)
    ref = reference_pool(x.astype(np.float32), "avg", k, stride, padding, 1, ceil_mode, include)
    scale = reference_pool(np.abs(x.astype(np.float32)), "avg", k, stride, padding, 1,
                           ceil_mode, include)
    assert_within(got, ref, direct_bound(scale, k, "float32"), dtype="float32")


def test_max_pool_keeps_nan_and_relu_too():
    x = np.array([[1.0, np.nan, 2.0, 0.5]])
    np.testing.assert_array_equal(nn.max_pool1d(x, 2), [[np.nan, 2.0]])
    np.testing.assert_array_equal(nn.ReLU()(np.array([-1.0, np.nan])), [0.0, np.nan])


# --------------------------------------------------------------------------
# Errors: the argument and the rule
# --------------------------------------------------------------------------

X = np.zeros((2, 4, 20), np.float32)
W = np.zeros((6, 4, 3), np.float32)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.conv1d(X, np.zeros((6, 3, 3), np.float32)), ValueError,
     r"has 4 channels, but weight of shape \(6, 3, 3\) with groups=1 expects 3"),
    (lambda: nn.conv1d(X, np.zeros((6, 1, 3), np.float32), groups=3), ValueError,
     r"groups=3 must divide the input channels of x \(shape \(2, 4, 20\), 4 channels\)"),
    (lambda: nn.conv1d(X, np.zeros((6, 1, 3), np.float32), groups=2), ValueError,
     r"with groups=2 expects 2"),
    (lambda: nn.conv1d(X, np.zeros((5, 2, 3), np.float32), groups=2), ValueError,
     "groups=2 must divide the output channels"),
    (lambda: nn.conv1d(X, W, stride=0), ValueError, "stride must be an integer >= 1, got 0"),
    (lambda: nn.conv1d(X, W, dilation=-1), ValueError, "dilation must be an integer >= 1"),
    (lambda: nn.conv1d(X, W, stride=1.5), TypeError, "stride must be an integer"),
    (lambda: nn.conv1d(X, np.zeros((6, 4, 30), np.float32)), ValueError,
     r"longer than the padded input \(20 samples"),
    (lambda: nn.conv1d(X, W, dilation=10), ValueError, "it spans 21 samples"),
    (lambda: nn.conv1d(X[0, 0], W), ValueError, r"x must be 3-D \(N, C, L\) or 2-D"),
    (lambda: nn.conv1d(X[None], W), ValueError, "x must be 3-D"),
    (lambda: nn.conv1d(X, W[0]), ValueError, r"weight must be 3-D \(C_out, C_in/groups, K\)"),
    (lambda: nn.conv1d(X, W, channels_last=True), ValueError, "has 20 channels"),
    (lambda: nn.conv1d(X, W, padding="full"), ValueError,
     "padding must be an int, a .left, right. pair, or one of 'valid', 'same', 'causal'"),
    (lambda: nn.conv1d(X, W, padding=-1), ValueError, "padding must be non-negative"),
    (lambda: nn.conv1d(X, W, padding=(1, 2, 3)), ValueError, "padding as a sequence"),
    (lambda: nn.conv1d(X, W, padding="same", stride=2), ValueError,
     "padding='same' is not supported for strided convolutions"),
    (lambda: nn.conv1d(X, W, padding=20, padding_mode="reflect"), ValueError,
     "needs padding smaller than the input length"),
    (lambda: nn.conv1d(X, W, padding=21, padding_mode="circular"), ValueError,
     "wrap around more than once"),
    (lambda: nn.conv1d(X, W, padding_mode="mirror"), ValueError, "padding_mode must be one of"),
    (lambda: nn.conv1d(X, W, np.zeros(5, np.float32)), ValueError, r"bias must have shape \(6,\)"),
    (lambda: nn.conv1d(X.astype(np.int32), W), TypeError, "x must be float32 or float64"),
    (lambda: nn.conv1d(X, W.astype(np.float64)), TypeError,
     "weight has dtype float64 but x has float32"),
    (lambda: nn.conv1d(np.zeros((2, 4, 0), np.float32), W), ValueError,
     "empty along its length axis"),
    (lambda: nn.max_pool1d(X, 4, padding=3), ValueError, "at most half of kernel_size"),
    (lambda: nn.max_pool1d(X, 30), ValueError, "the output would be empty"),
    (lambda: nn.max_pool1d(np.zeros((2, 0, 10), np.float32), 2), ValueError,
     r"x of shape \(2, 0, 10\) has no channels"),  # PyTorch refuses it too
    (lambda: nn.avg_pool1d(np.zeros((0, 10), np.float32), 2), ValueError, "has no channels"),
    (lambda: nn.avg_pool1d(X, 0), ValueError, "kernel_size must be an integer >= 1"),
    (lambda: nn.avg_pool1d(X.astype(np.int64), 2), TypeError, "x must be float32 or float64"),
])
def test_bad_arguments_raise_naming_the_rule(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_layer_construction_errors():
    with pytest.raises(ValueError, match=r"in_channels \(3\) must be divisible by groups \(2\)"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"out_channels \(3\) must be divisible by groups"):
        nn.Conv1d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size must be an integer >= 1"):
        nn.Conv1d(1, 1, 0)
    with pytest.raises(ValueError, match="padding='same' is not supported"):
        nn.Conv1d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(1, 1, 3, padding_mode="edge")
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        nn.Conv1d(1, 1, 3, dtype="int32")
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu' or 'cuda'"):
        nn.Conv1d(1, 1, 3, device="gpu")
    with pytest.raises(ValueError, match="between 0 and half of kernel_size"):
        nn.MaxPool1d(2, padding=2)


@pytest.mark.skipif(any(s.name == "cupy" and s.usable for s in gpuconv.backends.available()),
                    reason="a CUDA device is usable here")
def test_cuda_without_a_gpu_says_why():
    with pytest.raises(RuntimeError, match="the cupy backend is not usable here"):
        nn.Conv1d(1, 1, 3, device="cuda")
    with pytest.raises(RuntimeError, match="the cupy backend is not usable here"):
        nn.Conv1d(1, 1, 3, device="cpu").to("cuda")


def pipeline(**options):
    return nn.Sequential(nn.Conv1d(1, 16, 9, stride=2, padding=4, seed=0, device="cpu", **options),
                         nn.ReLU(),
                         nn.Conv1d(16, 16, 9, padding=4, seed=1, device="cpu", **options))


def test_sequential_checks_channels_when_built():
    with pytest.raises(ValueError, match=r"layer 2 \(Conv1d\(8, 4, kernel_size=3\)\) expects 8 "
                                         r"input channels, but layer 0 \(Conv1d\(1, 16, "):
        nn.Sequential(nn.Conv1d(1, 16, 3, device="cpu"), nn.ReLU(),
                      nn.Conv1d(8, 4, 3, device="cpu"))
    with pytest.raises(ValueError, match="the layers disagree on the layout"):
        nn.Sequential(nn.Conv1d(1, 2, 3, device="cpu", channels_last=True), nn.MaxPool1d(2))
    with pytest.raises(ValueError, match="is float64 but layer 0 is float32"):
        nn.Sequential(nn.Conv1d(1, 2, 3, device="cpu"), nn.Conv1d(2, 2, 3, dtype="float64",
                                                                   device="cpu"))
    with pytest.raises(TypeError, match="layer 1 is a function"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_output_shape_computes_nothing_and_names_the_layer():
    net = nn.Sequential(nn.Conv1d(1, 4, 9, stride=2, padding=4, device="cpu"), nn.ReLU(),
                        nn.MaxPool1d(2), nn.Conv1d(4, 8, 5, device="cpu"), nn.AvgPool1d(3))
    assert net.output_shape((32, 1, 1000)) == [(32, 4, 500), (32, 4, 500), (32, 4, 250),
                                               (32, 8, 246), (32, 8, 82)]
    assert net.output_shape((1, 1000))[-1] == (8, 82)
    with pytest.raises(ValueError, match=r"layer 3 \(Conv1d\(4, 8, kernel_size=5\)\) expects "
                                         r"input \(N, 4, L\) or \(4, L\), float32, got shape "
                                         r"\(32, 4, 2\): the kernel"):
        net.output_shape((32, 1, 8))
    with pytest.raises(ValueError, match=r"layer 0 .* got shape \(32, 3, 100\): x of shape"):
        net(np.zeros((32, 3, 100), np.float32))
    with pytest.raises(TypeError, match="x has float64"):
        net(np.zeros((2, 1, 100)))
    for shape, out in zip(net.output_shape((3, 1, 777)),
                          _outputs_of(net, np.zeros((3, 1, 777), np.float32))):
        assert shape == out.shape


def _outputs_of(net, x):
    outs = []
    for layer in net:
        x = layer(x)
        outs.append(x)
    return outs


def test_conv1d_initialisation_is_pytorchs_rule_and_seeded():
    layer = nn.Conv1d(8, 32, 5, groups=2, seed=3, device="cpu")
    bound = 1 / np.sqrt(8 // 2 * 5)
    weight, bias = np.asarray(layer.weight), np.asarray(layer.bias)
    assert weight.shape == (32, 4, 5) and weight.dtype == np.float32
    assert np.all(np.abs(weight) <= bound) and np.all(np.abs(bias) <= bound)
    assert np.max(np.abs(weight)) > 0.95 * bound  # 640 draws fill the interval
    again = nn.Conv1d(8, 32, 5, groups=2, seed=3, device="cpu")
    np.testing.assert_array_equal(weight, again.weight)
    assert not np.array_equal(weight, nn.Conv1d(8, 32, 5, groups=2, seed=4, device="cpu").weight)
    keras = nn.Conv1d(8, 32, 5, groups=2, seed=3, device="cpu", channels_last=True)
    np.testing.assert_array_equal(np.transpose(keras.weight, (2, 1, 0)), weight)
    assert nn.Conv1d(2, 2, 3, bias=False, device="cpu").bias is None


def test_layers_return_the_inputs_array_type():
    """NumPy in, NumPy out; another library's array comes back as that library's."""
    strict = pytest.importorskip("array_api_strict")
    net = pipeline()
    x = np.random.default_rng(0).standard_normal((2, 1, 64)).astype(np.float32)
    assert type(net(x)) is np.ndarray
    out = net(strict.asarray(x))
    assert type(out) is type(strict.asarray(x))
    np.testing.assert_array_equal(np.asarray(out), net(x))
    w = np.ones((1, 1, 3), np.float32)
    assert type(nn.conv1d(strict.asarray(x), w)) is type(out)
    assert type(nn.conv1d(x.tolist(), w.astype(np.float64).tolist())) is np.ndarray


def test_from_weights_and_to_keep_values():
    rng = np.random.default_rng(9)
    w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal(4)
    layer = nn.Conv1d.from_weights(w, b, stride=2, padding="causal", device="cpu")
    assert (layer.in_channels, layer.out_channels, layer.kernel_size) == (2, 4, 3)
    assert layer.dtype == "float64"
    w[...] = 0  # the layer holds a copy
    assert np.any(layer.weight != 0)
    x = rng.standard_normal((3, 2, 50))
    check_conv(layer.to("cpu")(x), x, np.asarray(layer.weight), np.asarray(layer.bias),
               "float64", stride=2, padding="causal")


@pytest.mark.parametrize("channels_last", [False, True])
def test_save_and_load_round_trip(tmp_path, channels_last):
    net = nn.Sequential(
        nn.Conv1d(2, 4, 5, stride=2, padding=(3, 1), dilation=2, padding_mode="circular",
                  seed=1, device="cpu", channels_last=channels_last),
        nn.ReLU(),
        nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True, channels_last=channels_last),
        nn.Conv1d(4, 4, 3, groups=4, bias=False, padding="same", dtype="float32", seed=2,
                  device="cpu", channels_last=channels_last),
        nn.AvgPool1d(2, count_include_pad=False, padding=1, channels_last=channels_last))
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as data:
        config = json.loads(str(data["config"]))
        assert sorted(data.files) == ["config", "layer0.bias", "layer0.weight", "layer3.weight"]
    assert [layer["type"] for layer in config["layers"]] == ["Conv1d", "ReLU", "MaxPool1d",
                                                             "Conv1d", "AvgPool1d"]
    again = nn.Sequential.load(path, device="cpu")
    assert repr(again) == repr(net)
    x = np.random.default_rng(10).standard_normal((2, 2, 90) if not channels_last else (2, 90, 2))
    x = x.astype(np.float32)
    np.testing.assert_array_equal(again(x), net(x))


def test_load_refuses_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ValueError, match="is not a gpuconv.nn pipeline"):
        nn.load(path)
    np.savez(path, config=np.array(json.dumps({"format": "gpuconv.nn.Sequential", "version": 99,
                                               "layers": []})))
    with pytest.raises(ValueError, match="version 99"):
        nn.load(path)


def test_geometry_helpers_are_pure():
    g = functional.conv_geometry((4, 1, 65536), (16, 1, 9), stride=2, padding=4)
    assert (g.batch, g.out_channels, g.out_len, g.left, g.right) == (4, 16, 32768, 4, 4)
    g = functional.conv_geometry((1000, 8), (4, 8, 2), padding="same", channels_last=True)
    assert (g.batch, g.in_channels, g.out_channels, g.left, g.right) == (None, 8, 2, 1, 2)


def test_allow_tf32_sets_cublas_compute_type_only_inside_the_call(monkeypatch):
    """The CuPy switch, through a stand-in for ``cupy._core._routines_linalg``:
    TF32 only when asked, exact FP32 otherwise, the previous setting restored."""
    import sys
    import types

    from gpuconv.nn import _im2col

    calls = []
    linalg = types.SimpleNamespace(COMPUTE_TYPE_DEFAULT=1, COMPUTE_TYPE_TF32=7,
                                   get_compute_type=lambda dtype: 7,  # as under CUPY_TF32=1
                                   set_compute_type=lambda dtype, kind: calls.append((dtype, kind)))
    core = types.ModuleType("cupy._core")
    core._routines_linalg = linalg
    monkeypatch.setitem(sys.modules, "cupy", types.ModuleType("cupy"))
    monkeypatch.setitem(sys.modules, "cupy._core", core)
    monkeypatch.setitem(sys.modules, "cupy._core._routines_linalg", linalg)
    cupy_backend = types.SimpleNamespace(name="cupy")
    for allow, inside in ((False, 1), (True, 7)):
        calls.clear()
        with _im2col._tf32(cupy_backend, allow):
            assert calls == [("f", inside)]
        assert calls[-1] == ("f", 7)
    calls.clear()
    with _im2col._tf32(types.SimpleNamespace(name="numpy"), True):
        pass
    assert calls == []


@pytest.mark.parametrize("groups, c_out", [(1, 4), (3, 3)])
def test_non_contiguous_and_negative_stride_inputs(groups, c_out):
    rng = np.random.default_rng(11)
    base_x = rng.standard_normal((4, 6, 90))
    base_w = rng.standard_normal((c_out, 3 // groups * 2, 8))
    x = base_x[::-2, ::2, ::-1]                    # (2, 3, 90), every stride odd
    w = base_w[:, ::2, ::-2]                       # (c_out, 3 // groups, 4)
    options = dict(stride=2, padding=(2, 3), dilation=2, groups=groups, padding_mode="replicate")
    check_conv(nn.conv1d(x, w, None, **options), x, w, None, "float64", **options)
    got = nn.max_pool1d(x, 3, 2, 1)
    np.testing.assert_array_equal(got, reference_pool(x, "max", 3, 2, 1))
