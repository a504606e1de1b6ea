"""`gpuconv.nn` against PyTorch's CPU build: hundreds of seeded configurations.

The reference is ``torch.nn.functional.conv1d`` in float64 after
``torch.nn.functional.pad`` with the padding mode (``conv1d`` itself has no
``padding_mode``; this is what ``torch.nn.Conv1d`` does), pooling is
``torch.nn.functional.max_pool1d``/``avg_pool1d``. Bounds follow
`tolerances.direct_bound` with the sum of absolute values computed by the
same PyTorch calls on ``|x|`` and ``|w|``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from gpuconv import nn
from tolerances import assert_within, direct_bound

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_MODES = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def pad_pair(padding, k, dilation):
    span = dilation * (k - 1)
    if padding == "causal":
        return span, 0
    if padding == "same":
        return span // 2, span - span // 2
    if padding == "valid":
        return 0, 0
    if isinstance(padding, tuple):
        return padding
    return padding, padding


def torch_conv1d(x, w, b, *, stride, padding, dilation, groups, padding_mode):
    """PyTorch float64: F.pad with the mode (or zeros), then F.conv1d without padding."""
    left, right = pad_pair(padding, w.shape[-1], dilation)
    tx = torch.from_numpy(np.asarray(x, np.float64))
    if padding_mode == "zeros":
        tx = F.pad(tx, (left, right))
    else:
        tx = F.pad(tx, (left, right), mode=TORCH_MODES[padding_mode])
    tb = None if b is None else torch.from_numpy(np.asarray(b, np.float64))
    out = F.conv1d(tx, torch.from_numpy(np.asarray(w, np.float64)), tb, stride=stride,
                   dilation=dilation, groups=groups)
    return out.numpy()


def check_against_torch(got, x, w, b, dtype, **options):
    ref = torch_conv1d(x, w, b, **options)
    scale = torch_conv1d(np.abs(x), np.abs(w), None if b is None else np.abs(b), **options)
    taps = w.shape[1] * w.shape[2] + (b is not None)
    assert_within(np.asarray(got), ref, direct_bound(scale, taps, dtype), dtype=dtype,
                  what=str(options))


def configs(count, seed):
    """Seeded random configurations: batch, channels, groups, K, stride, dilation,
    every padding form and padding mode."""
    rng = np.random.default_rng(seed)
    modes = ("zeros", "reflect", "replicate", "circular")
    for index in range(count):
        groups = int(rng.choice([1, 1, 2, 3, 4]))
        depthwise = rng.random() < 0.3
        if depthwise:
            c_in = c_out = groups
        else:
            c_in = groups * int(rng.integers(1, 4))
            c_out = groups * int(rng.integers(1, 4))
        k = int(rng.integers(1, 10))
        dilation = int(rng.integers(1, 4))
        stride = int(rng.integers(1, 5))
        length = int(rng.integers(dilation * (k - 1) + 1, 120))
        forms = [0, int(rng.integers(1, 6)), (int(rng.integers(0, 6)), int(rng.integers(0, 6))),
                 "valid", "causal"] + (["same"] if stride == 1 else [])
        padding = forms[int(rng.integers(len(forms)))]
        mode = modes[index % 4]
        left, right = pad_pair(padding, k, dilation)
        if (mode == "reflect" and max(left, right) >= length) or (
                mode == "circular" and max(left, right) > length):
            mode = "zeros"
        yield pytest.param(
            dict(n=int(rng.integers(1, 5)), c_in=c_in, c_out=c_out, k=k, length=length,
                 bias=bool(rng.random() < 0.7)),
            dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                 padding_mode=mode),
            id=f"{index}-{'depthwise' if depthwise else 'gemm'}-{mode}")


def make(sizes, groups, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((sizes["n"], sizes["c_in"], sizes["length"])).astype(dtype)
    w = rng.standard_normal((sizes["c_out"], sizes["c_in"] // groups, sizes["k"])).astype(dtype)
    b = rng.standard_normal(sizes["c_out"]).astype(dtype) if sizes["bias"] else None
    return x, w, b


@pytest.mark.parametrize("sizes, options", list(configs(160, seed=11)))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv1d_matches_torch(sizes, options, dtype):
    x, w, b = make(sizes, options["groups"], dtype, seed=len(str(sizes)) + sizes["length"])
    check_against_torch(nn.conv1d(x, w, b, **options), x, w, b, dtype, **options)


@pytest.mark.parametrize("sizes, options", list(configs(40, seed=12)))
def test_channels_last_matches_a_transposed_torch_call(sizes, options):
    x, w, b = make(sizes, options["groups"], "float32", seed=sizes["length"])
    got = nn.conv1d(np.ascontiguousarray(np.transpose(x, (0, 2, 1))),
                    np.ascontiguousarray(np.transpose(w, (2, 1, 0))), b, channels_last=True,
                    **options)
    check_against_torch(np.transpose(got, (0, 2, 1)), x, w, b, "float32", **options)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", ["same", 3, "valid"])
def test_conv1d_layer_matches_torch_conv1d_module(padding_mode, padding):
    """torch.nn.Conv1d itself (its padding_mode path), through from_torch."""
    torch.manual_seed(0)
    module = torch.nn.Conv1d(4, 6, 4, padding=padding, padding_mode=padding_mode, groups=2,
                             dilation=2)
    x = np.random.default_rng(1).standard_normal((3, 4, 37)).astype(np.float32)
    with torch.no_grad():
        expected = module.double()(torch.from_numpy(x.astype(np.float64))).numpy()
    layer = nn.from_torch(module.float(), device="cpu")[0]
    assert layer.dtype == "float32" and layer.padding_mode == padding_mode
    got = layer(x)
    options = dict(stride=1, padding=padding, dilation=2, groups=2, padding_mode=padding_mode)
    w, b = np.asarray(layer.weight), np.asarray(layer.bias)
    scale = torch_conv1d(np.abs(x), np.abs(w), np.abs(b), **options)
    assert_within(got, expected, direct_bound(scale, 2 * 4 + 1, "float32"), dtype="float32")


@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_nan_and_inf_reach_the_outputs_torch_gives(dilation, padding_mode, stride):
    """A NaN or Inf sample reaches only the outputs whose taps read it (not
    through zeros between dilated taps), and zero padding is made of samples
    (an Inf weight times one is NaN), as in PyTorch. Small integers as
    float64: every finite sum is exact."""
    rng = np.random.default_rng(dilation)
    x = rng.integers(-3, 4, (2, 3, 20)).astype(np.float64)
    w = rng.integers(-3, 4, (3, 1, 3)).astype(np.float64)
    x[0, 1, 7], x[1, 2, 4], w[2, 0, 0] = np.nan, -np.inf, np.inf
    options = dict(stride=stride, padding=dilation, dilation=dilation, groups=3,
                   padding_mode=padding_mode)
    np.testing.assert_array_equal(nn.conv1d(x, w, **options), torch_conv1d(x, w, None, **options))


def pool_configs(count, seed):
    rng = np.random.default_rng(seed)
    for index in range(count):
        k = int(rng.integers(1, 7))
        dilation = int(rng.integers(1, 3))
        stride = int(rng.integers(1, 5))
        padding = int(rng.integers(0, k // 2 + 1))
        length = int(rng.integers(dilation * (k - 1) + 1, 50))
        yield pytest.param(dict(kernel_size=k, stride=stride, padding=padding,
                                ceil_mode=bool(rng.integers(2))),
                           dilation, bool(rng.integers(2)), length, id=str(index))


@pytest.mark.parametrize("options, dilation, count_include_pad, length",
                         list(pool_configs(120, 13)))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pooling_matches_torch(options, dilation, count_include_pad, length, dtype):
    x = np.random.default_rng(length).standard_normal((2, 3, length)).astype(dtype)
    tx = torch.from_numpy(x)
    try:
        expected = F.max_pool1d(tx, dilation=dilation, **options).numpy()
    except RuntimeError:  # PyTorch refuses: so must gpuconv
        with pytest.raises(ValueError):
            nn.max_pool1d(x, dilation=dilation, **options)
    else:
        np.testing.assert_array_equal(nn.max_pool1d(x, dilation=dilation, **options), expected)
    try:
        expected = F.avg_pool1d(torch.from_numpy(x.astype(np.float64)),
                                count_include_pad=count_include_pad, **options).numpy()
    except RuntimeError:
        with pytest.raises(ValueError):
            nn.avg_pool1d(x, count_include_pad=count_include_pad, **options)
        return
    got = nn.avg_pool1d(x, count_include_pad=count_include_pad, **options)
    scale = F.avg_pool1d(torch.from_numpy(np.abs(x).astype(np.float64)),
                         count_include_pad=count_include_pad, **options).numpy()
    assert_within(got, expected, direct_bound(scale, options["kernel_size"], dtype), dtype=dtype)


def torch_pipeline():
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Conv1d(1, 16, 9, stride=2, padding=4), torch.nn.ReLU(),
                               torch.nn.Conv1d(16, 16, 9, padding=4))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_layer_pipeline_matches_torch(dtype):
    module = torch_pipeline()
    module = module.double() if dtype == "float64" else module
    net = nn.from_torch(module, device="cpu")
    assert net.output_shape((32, 1, 65536))[-1] == (32, 16, 32768)
    x = np.random.default_rng(4).standard_normal((3, 1, 5000)).astype(dtype)
    got = net(x)
    with torch.no_grad():
        expected = module.double()(torch.from_numpy(x.astype(np.float64))).numpy()
        hidden_scale = F.conv1d(torch.from_numpy(np.abs(x).astype(np.float64)),
                                module[0].weight.abs(), module[0].bias.abs(), stride=2, padding=4)
        scale = F.conv1d(hidden_scale, module[2].weight.abs(), module[2].bias.abs(),
                         padding=4).numpy()
    # The first layer's error (9 taps + bias) passes through |w2|; then 16 * 9 + 1.
    assert_within(got, expected, direct_bound(scale, (9 + 1) + (16 * 9 + 1), dtype), dtype=dtype)


def test_from_torch_round_trip_through_save_and_load(tmp_path):
    module = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 5, padding="same", padding_mode="reflect"),
                                 torch.nn.ReLU(), torch.nn.MaxPool1d(3, stride=2, ceil_mode=True),
                                 torch.nn.Conv1d(4, 4, 3, groups=4, bias=False, dilation=2),
                                 torch.nn.AvgPool1d(2, padding=1, count_include_pad=False))
    net = nn.from_torch(module, device="cpu")
    net.save(tmp_path / "net.npz")
    again = nn.load(tmp_path / "net.npz", device="cpu")
    x = np.random.default_rng(5).standard_normal((2, 2, 64)).astype(np.float32)
    np.testing.assert_array_equal(again(x), net(x))
    # Reference: the module in float64. Bound: each conv adds (m + 2) eps of its
    # absolute-value network and the average pool (k + 2) eps; ReLU and max
    # pooling pass errors on without growing them, so the whole bound is
    # (11 + 2 + 3 + 2 + 2 + 2) eps times the absolute-value network's output.
    reference = copy.deepcopy(module).double()
    absolute = copy.deepcopy(reference)
    with torch.no_grad():
        for layer in absolute:
            for parameter in layer.parameters():
                parameter.abs_()
        expected = reference(torch.from_numpy(x.astype(np.float64))).numpy()
        scale = absolute(torch.from_numpy(np.abs(x).astype(np.float64))).numpy()
    assert_within(net(x), expected, direct_bound(scale, 20, "float32"), dtype="float32")
    # The weights were copied: changing the module changes nothing.
    with torch.no_grad():
        module[0].weight.zero_()
    np.testing.assert_array_equal(net(x), again(x))


def test_from_weights_takes_torch_parameters():
    """A parameter requires grad; from_weights copies its values, as from_torch does."""
    torch.manual_seed(1)
    module = torch.nn.Conv1d(2, 3, 5, padding=2)
    layer = nn.Conv1d.from_weights(module.weight, module.bias, padding=2, device="cpu")
    x = np.random.default_rng(6).standard_normal((2, 2, 40)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), nn.from_torch(module, device="cpu")[0](x))
    with pytest.raises(TypeError, match="weight: cannot take a torch tensor of dtype torch.bfloat16"):
        nn.Conv1d.from_weights(module.weight.bfloat16())


def test_from_torch_refuses_other_layers():
    with pytest.raises(TypeError, match="layer 1 is a torch Linear: from_torch converts Conv1d, "
                                        "ReLU, MaxPool1d, AvgPool1d"):
        nn.from_torch(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3), torch.nn.Linear(3, 3)))
    with pytest.raises(TypeError, match="return_indices=True"):
        nn.from_torch(torch.nn.MaxPool1d(2, return_indices=True))
    with pytest.raises(TypeError, match="dtype float16 are not supported"):
        nn.from_torch(torch.nn.Conv1d(1, 1, 3).half())
    with pytest.raises(TypeError, match="from_torch takes a torch.nn.Module"):
        nn.from_torch([torch.nn.ReLU()])
    assert repr(nn.from_torch(torch.nn.ReLU())) == "Sequential(\n  (0): ReLU()\n)"


def test_initialisation_bound_is_torchs():
    """PyTorch's default init is uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)]; so is ours."""
    torch.manual_seed(0)
    module = torch.nn.Conv1d(6, 63, 7, groups=3)
    ours = nn.Conv1d(6, 63, 7, groups=3, seed=0, device="cpu")
    bound = 1 / np.sqrt(6 // 3 * 7)
    for theirs, mine in ((module.weight, ours.weight), (module.bias, ours.bias)):
        theirs, mine = theirs.detach().numpy(), np.asarray(mine)
        assert theirs.shape == mine.shape and theirs.dtype == mine.dtype
        assert np.max(np.abs(theirs)) <= bound and np.max(np.abs(mine)) <= bound
    assert np.max(np.abs(ours.weight)) > 0.95 * bound  # 882 draws fill the interval
    assert np.max(np.abs(module.weight.detach().numpy())) > 0.95 * bound


def test_errors_where_torch_refuses():
    x = np.zeros((2, 4, 5), np.float32)
    cases = [
        dict(w=(6, 2, 3), groups=3),          # channels
        dict(w=(6, 4, 7)),                    # kernel longer than the input
        dict(w=(6, 4, 3), stride=0),
        dict(w=(6, 4, 3), padding="same", stride=2),
        dict(w=(6, 4, 3), padding=5, padding_mode="reflect"),
        dict(w=(6, 4, 3), padding=6, padding_mode="circular"),
    ]
    for case in cases:
        w = np.zeros(case.pop("w"), np.float32)
        mode = case.pop("padding_mode", None)
        with pytest.raises(RuntimeError):
            if mode is None:
                F.conv1d(torch.from_numpy(x), torch.from_numpy(w), **case)
            else:
                torch.nn.Conv1d(4, 6, 3, padding_mode=mode, **case)(torch.from_numpy(x))
        with pytest.raises(ValueError):
            nn.conv1d(x, w, padding_mode=mode or "zeros", **case)
