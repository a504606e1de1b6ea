"""PyTorch-compatible 1-D convolution and pooling on either device.

`conv1d`, `max_pool1d` and `avg_pool1d` give ``torch.nn.functional``'s
results (cross-correlation, NCL layout, PyTorch's padding and pooling rules
and its errors as ``ValueError``/``TypeError``), plus Keras's layout
(``channels_last=True``) and ``'causal'`` padding. The device follows the
data, as everywhere in gpuconv.

Two paths compute a convolution:

* depthwise (``groups == C_in == C_out``, which includes one channel in and
  out): every (signal, channel) pair is a row of the batched direct kernel
  (`gpuconv._algorithms.execute`), with that channel's kernel;
* everything else: on the CPU the backend's implicit-GEMM kernel
  (``conv_channels``, `gpuconv.backends._numba_conv`: no unfolded matrix,
  each input sample staged once per tile); on the GPU im2col + matrix
  product in bounded tiles (`gpuconv.nn._im2col`, cuBLAS), which is also the
  route of a backend without the kernel.
"""

from __future__ import annotations

from typing import NamedTuple

import array_api_compat
import numpy as np

from .. import _front
from .._algorithms import execute
from .._algorithms.boundary import source_index
from .._plan import Request
from . import _shapes
from ._im2col import conv_gemm

__all__ = ["avg_pool1d", "conv1d", "max_pool1d"]


class ConvGeometry(NamedTuple):
    """Every size of one convolution, checked; see `conv_geometry`."""

    batch: int | None      # None for an unbatched input
    in_channels: int
    length: int
    out_channels: int
    kernel_size: int
    left: int              # padding
    right: int
    out_len: int
    boundary: str          # `gpuconv._plan.Request` rule of the padding mode
    stride: int
    dilation: int
    groups: int


def conv_geometry(x_shape, weight_shape, bias_shape=None, *, stride=1, padding=0, dilation=1,
                  groups=1, padding_mode="zeros", channels_last=False) -> ConvGeometry:
    """Check a convolution's shapes and arguments and work out its output length.

    Pure arithmetic on shapes (no array is touched), so layers and
    `~gpuconv.nn.Sequential.output_shape` use it before anything runs.

    >>> g = conv_geometry((32, 1, 65536), (16, 1, 9), stride=2, padding=4)
    >>> g.out_channels, g.out_len
    (16, 32768)
    >>> conv_geometry((8, 3, 100), (16, 4, 9))
    Traceback (most recent call last):
    ...
    ValueError: x of shape (8, 3, 100) has 3 channels, but weight of shape (16, 4, 9) with groups=1 expects 4
    """
    stride = _shapes.positive_int(stride, "stride")
    dilation = _shapes.positive_int(dilation, "dilation")
    groups = _shapes.positive_int(groups, "groups")
    x_shape, weight_shape = tuple(x_shape), tuple(weight_shape)
    _shapes.check_input_shape(x_shape, None, channels_last)
    if len(weight_shape) != 3:
        layout = "(K, C_in/groups, C_out)" if channels_last else "(C_out, C_in/groups, K)"
        raise ValueError(f"weight must be 3-D {layout}, got shape {weight_shape}")
    if channels_last:
        kernel_size, group_channels, out_channels = weight_shape
    else:
        out_channels, group_channels, kernel_size = weight_shape
    if min(weight_shape) < 1:
        raise ValueError(f"weight must not be empty, got shape {weight_shape}")
    if out_channels % groups:
        raise ValueError(f"groups={groups} must divide the output channels of weight "
                         f"(shape {weight_shape}, {out_channels} output channels)")
    batch, in_channels, length = _shapes.split_shape(x_shape, channels_last)
    if in_channels % groups:
        raise ValueError(f"groups={groups} must divide the input channels of x "
                         f"(shape {x_shape}, {in_channels} channels)")
    if in_channels != group_channels * groups:
        raise ValueError(f"x of shape {x_shape} has {in_channels} channels, but weight of shape "
                         f"{weight_shape} with groups={groups} expects {group_channels * groups}")
    if bias_shape is not None and tuple(bias_shape) != (out_channels,):
        raise ValueError(f"bias must have shape ({out_channels},) (one value per output "
                         f"channel), got {tuple(bias_shape)}")
    left, right = _shapes.resolve_padding(padding, kernel_size, dilation, stride)
    boundary = _shapes.check_padding_mode(padding_mode, left, right, length)
    out_len = _shapes.conv_length(length, kernel_size, stride, dilation, left, right)
    return ConvGeometry(batch, in_channels, length, out_channels, kernel_size, left, right,
                        out_len, boundary, stride, dilation, groups)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros",
           *, channels_last=False, allow_tf32=False):
    """1-D cross-correlation over channels, as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : array
        (N, C_in, L) or unbatched (C_in, L); with ``channels_last``
        (N, L, C_in) or (L, C_in). float32 or float64.
    weight : array
        (C_out, C_in/groups, K); with ``channels_last`` (K, C_in/groups,
        C_out), Keras's layout. Same dtype as `x`.
    bias : array, optional
        (C_out,), added to every output of its channel.
    stride, dilation : int, optional
        Step between outputs and between taps, >= 1.
    padding : int, (left, right), {'valid', 'same', 'causal'}, optional
        Samples added before and after the signal. ``'same'`` follows
        PyTorch (``dilation * (K - 1)`` in all, the odd one on the right;
        refused with ``stride > 1``), ``'causal'`` pads only on the left,
        as Keras.
    groups : int, optional
        Channel groups; must divide C_in and C_out.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}, optional
        What the padding holds, as ``torch.nn.Conv1d``'s argument (``reflect``
        needs padding < L, ``circular`` padding <= L).
    channels_last : bool, optional
        Keras/TensorFlow layout for `x`, `weight` and the result.
    allow_tf32 : bool, optional
        Let cuBLAS use TF32 tensor cores for float32 (about 1e-3 relative
        error). Off by default; no effect on the CPU.

    Returns
    -------
    out : array
        (N, C_out, L_out) (or (N, L_out, C_out); no N for an unbatched input),
        `x`'s dtype and array type,
        ``L_out = (L + left + right - dilation * (K - 1) - 1) // stride + 1``.

    Raises
    ------
    ValueError
        Wrong ranks, channels that do not match `weight` and `groups`,
        `groups` that does not divide the channels, `stride`/`dilation` < 1,
        negative or unknown padding, ``'same'`` with ``stride > 1``, a kernel
        longer than the padded input, padding too long for its mode.
    TypeError
        Non-floating or mixed dtypes (PyTorch refuses them too), non-integer
        sizes.

    See Also
    --------
    torch.nn.functional.conv1d, keras.layers.Conv1D, gpuconv.nn.Conv1d

    Notes
    -----
    Depthwise convolutions (``groups == C_in == C_out``) without dilation
    run on the batched direct kernel, one row per (signal, channel); stride
    keeps every stride-th output of the unit-stride result, so it costs
    ``stride`` times the arithmetic it needs until the kernel takes a
    stride. Every other convolution runs on the CPU on a Numba implicit-GEMM kernel
    (fused multiply-adds, the bias first and then the ``(C_in, K)`` products
    in order; results do not depend on the thread count) and on the GPU as
    im2col + a matrix product in tiles bounded by
    ``gpuconv.config.max_workspace_bytes`` (cuBLAS); stride and dilation cost
    nothing extra on either.

    Examples
    --------
    >>> import numpy as np
    >>> from gpuconv import nn
    >>> x = np.array([[[1.0, 2, 3, 4, 5]]])             # (N=1, C_in=1, L=5)
    >>> nn.conv1d(x, np.array([[[1.0, 0, -1]]]))         # a cross-correlation
    array([[[-2., -2., -2.]]])
    >>> nn.conv1d(x, np.array([[[1.0, 1]]]), padding="causal")
    array([[[1., 3., 5., 7., 9.]]])
    >>> nn.conv1d(x, np.ones((2, 1, 3)), stride=2, padding=1).shape
    (1, 2, 3)
    """
    arrays = {"x": x, "weight": weight}
    if bias is not None:
        arrays["bias"] = bias
    backend, _xp, given, restore = _front.prepare(**arrays)
    x, weight = given[0], given[1]
    bias = given[2] if bias is not None else None
    geometry = conv_geometry(x.shape, weight.shape, None if bias is None else bias.shape,
                             stride=stride, padding=padding, dilation=dilation, groups=groups,
                             padding_mode=padding_mode, channels_last=channels_last)
    check_dtypes(backend.xp, x=x, weight=weight, bias=bias)
    return restore(run_conv(backend, x, weight, bias, geometry, channels_last=channels_last,
                            allow_tf32=allow_tf32))


def check_dtypes(xp, **arrays) -> None:
    """float32 or float64 `x`, and the other arrays in the same dtype (PyTorch's rule)."""
    x = arrays["x"]
    if x.dtype not in (xp.float32, xp.float64):
        raise TypeError(f"x must be float32 or float64, got {x.dtype} (cast it first)")
    for name, array in arrays.items():
        if array is not None and array.dtype != x.dtype:
            raise TypeError(f"{name} has dtype {array.dtype} but x has {x.dtype}: "
                            "they must be the same, as in PyTorch")


def run_conv(backend, x, weight, bias, geometry: ConvGeometry, *, channels_last=False,
             allow_tf32=False):
    """The convolution of checked, native arrays (see `conv1d`); returns a native array."""
    xp = backend.xp
    if geometry.batch is None:
        x = x[None, ...]
    if channels_last:  # compute in NCL; the permutations are views
        x = xp.permute_dims(x, (0, 2, 1))
        weight = xp.permute_dims(weight, (2, 1, 0))
    g = geometry
    conv_channels = getattr(backend, "conv_channels", None)
    with_bias = False
    # Depthwise: rows of the direct kernel, which has no dilation (zeros
    # between the taps would multiply an Inf or NaN that no tap reads).
    if g.groups == g.in_channels == g.out_channels and g.dilation == 1:
        out = _depthwise_direct(backend, x, weight, g)
    else:
        # Zero padding is applied while staging or unfolding; the other modes pad first.
        zero = g.boundary == "zero"
        padded = x if zero else pad(xp, x, g.left, g.right, g.boundary)
        left = g.left if zero else 0
        if conv_channels is not None:
            out = conv_channels(padded, weight, bias, stride=g.stride, dilation=g.dilation,
                                groups=g.groups, left=left, out_len=g.out_len)
            with_bias = True
        else:
            out = conv_gemm(backend, padded, weight, None, groups=g.groups, stride=g.stride,
                            dilation=g.dilation, out_len=g.out_len, zero_left=left,
                            allow_tf32=allow_tf32)
    if bias is not None and not with_bias:
        out += xp.reshape(bias, (1, g.out_channels, 1))
    if channels_last:
        out = xp.permute_dims(out, (0, 2, 1))
    return out[0, ...] if geometry.batch is None else out


def _depthwise_direct(backend, x, weight, g: ConvGeometry):
    """Each (signal, channel) a row of the direct kernel, with its channel's taps."""
    xp = backend.xp
    batch, channels, length = x.shape
    if batch == 0:
        return xp.zeros((0, channels, g.out_len), dtype=x.dtype, device=array_api_compat.device(x))
    k = g.kernel_size
    # Cross-correlation is convolution with the reversed taps.
    taps = xp.flip(xp.reshape(weight, (channels, k)), axis=-1)
    rows = batch * channels
    if channels > 1 and batch > 1:  # one kernel row per (signal, channel) row
        taps = xp.reshape(xp.broadcast_to(taps[None, ...], (batch, channels, k)), (rows, k))
    # Every unit-stride output; stride keeps every stride-th one (the kernel
    # has no stride yet, so a stride of s costs s times the arithmetic).
    unit_len = length + g.left + g.right - k + 1
    # PyTorch's zero padding is samples: an Inf weight times one is NaN, which
    # the "constant" rule keeps ("zero" forms no product there, as NumPy).
    boundary = "constant" if g.boundary == "zero" else g.boundary
    request = Request(rows=rows, n=length, k=k, kernel_rows=taps.shape[0],
                      start=k - 1 - g.left, out_len=unit_len, boundary=boundary)
    out = execute(backend, xp.reshape(x, (rows, length)), taps, request, "direct", x.dtype)
    if g.stride > 1:
        out = out[:, ::g.stride]
    return xp.reshape(out, (batch, channels, g.out_len))


def pad(xp, x, left: int, right: int, boundary: str):
    """``x`` (N, C, L) with ``left``/``right`` samples added by a `Request` boundary rule."""
    if left == 0 and right == 0:
        return x
    device = array_api_compat.device(x)
    if boundary == "zero":
        def zeros(width):
            return xp.zeros(x.shape[:-1] + (width,), dtype=x.dtype, device=device)
        return xp.concat([zeros(left), x, zeros(right)], axis=-1)
    length = x.shape[-1]
    index = source_index(np.arange(-left, length + right), length, boundary)
    return xp.take(x, xp.asarray(index, device=device), axis=-1)


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------

class PoolGeometry(NamedTuple):
    """Every size of one pooling, checked; see `pool_geometry`."""

    batch: int | None
    channels: int
    length: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    out_len: int


def pool_geometry(x_shape, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                  channels_last=False) -> PoolGeometry:
    """Check a pooling's arguments against an input shape; PyTorch's output length.

    >>> pool_geometry((4, 16, 100), 2).out_len
    50
    """
    kernel_size = _shapes.positive_int(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _shapes.positive_int(stride, "stride")
    dilation = _shapes.positive_int(dilation, "dilation")
    padding = _shapes._unwrap(padding, "padding")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got {padding}")
    _shapes.check_input_shape(x_shape, None, channels_last)
    batch, channels, length = _shapes.split_shape(x_shape, channels_last)
    out_len = _shapes.pool_length(length, kernel_size, stride, padding, dilation, bool(ceil_mode))
    return PoolGeometry(batch, channels, length, kernel_size, stride, padding, dilation, out_len)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
               channels_last=False):
    """Largest value of each window, as ``torch.nn.functional.max_pool1d``.

    Parameters
    ----------
    x : array
        (N, C, L) or (C, L) (with ``channels_last`` (N, L, C) or (L, C)),
        float32 or float64.
    kernel_size : int
        Window length.
    stride : int, optional
        Step between windows; default `kernel_size`.
    padding : int, optional
        -inf samples on both sides, at most ``kernel_size // 2``.
    dilation : int, optional
        Step between the samples of a window.
    ceil_mode : bool, optional
        Round the output length up (a last, partial window), with PyTorch's
        rule that every window starts inside the input or its left padding.
    channels_last : bool, optional
        Keras layout.

    Returns
    -------
    out : array
        (N, C, L_out) ((N, L_out, C) with `channels_last`; (C, L_out) for an
        unbatched input), `x`'s dtype and array type. NaN in a window gives NaN.

    Raises
    ------
    ValueError
        Sizes below 1, negative padding or padding over half the window, a
        window that does not fit, wrong rank.
    TypeError
        A non-floating dtype, sizes that are not integers.

    See Also
    --------
    torch.nn.functional.max_pool1d, avg_pool1d

    Examples
    --------
    >>> import numpy as np
    >>> from gpuconv import nn
    >>> nn.max_pool1d(np.array([[1.0, 5, 2, 4, 3]]), 2)
    array([[5., 4.]])
    >>> nn.max_pool1d(np.array([[1.0, 5, 2, 4, 3]]), 2, ceil_mode=True)
    array([[5., 4., 3.]])
    """
    backend, xp, (x,), restore = _front.prepare(x=x)
    geometry = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode,
                             channels_last)
    check_dtypes(xp, x=x)
    return restore(run_pool(backend, x, geometry, "max", channels_last=channels_last))


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               *, channels_last=False):
    """Mean of each window, as ``torch.nn.functional.avg_pool1d``.

    Parameters
    ----------
    x : array
        (N, C, L) or (C, L) (with ``channels_last`` (N, L, C) or (L, C)),
        float32 or float64.
    kernel_size, stride, padding, ceil_mode, channels_last
        As in `max_pool1d` (zero padding here).
    count_include_pad : bool, optional
        Divide by the whole window, padding included (PyTorch's default), or
        only by the samples of the input it covers. A window that overhangs
        the right padding (``ceil_mode``) never counts the part past it, as
        PyTorch does.

    Returns
    -------
    out : array
        As in `max_pool1d`.

    Raises
    ------
    ValueError, TypeError
        As `max_pool1d`.

    See Also
    --------
    torch.nn.functional.avg_pool1d, max_pool1d

    Examples
    --------
    >>> import numpy as np
    >>> from gpuconv import nn
    >>> nn.avg_pool1d(np.array([[1.0, 2, 3, 4, 5]]), 2, padding=1)
    array([[0.5, 2.5, 4.5]])
    >>> nn.avg_pool1d(np.array([[1.0, 2, 3, 4, 5]]), 2, padding=1, count_include_pad=False)
    array([[1. , 2.5, 4.5]])
    """
    backend, xp, (x,), restore = _front.prepare(x=x)
    geometry = pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, channels_last)
    check_dtypes(xp, x=x)
    return restore(run_pool(backend, x, geometry, "avg", channels_last=channels_last,
                            count_include_pad=count_include_pad))


def run_pool(backend, x, g: PoolGeometry, kind: str, *, channels_last=False,
             count_include_pad=True):
    """The pooling of a checked, native array (``kind`` 'max' or 'avg')."""
    xp = backend.xp
    if g.batch is None:
        x = x[None, ...]
    if channels_last:
        x = xp.permute_dims(x, (0, 2, 1))
    device = array_api_compat.device(x)
    # Samples the windows read, in padded coordinates; ceil_mode's last window
    # may run past the right padding, and that part is never counted.
    needed = (g.out_len - 1) * g.stride + g.dilation * (g.kernel_size - 1) + 1
    right = needed - g.length - g.padding
    fill = -xp.inf if kind == "max" else 0
    pieces = [xp.full(x.shape[:-1] + (width,), fill, dtype=x.dtype, device=device)
              for width in (g.padding, max(right, 0))]
    padded = xp.concat([pieces[0], x, pieces[1]], axis=-1)
    out = None
    for tap in range(g.kernel_size):
        begin = tap * g.dilation
        window = padded[..., begin:begin + (g.out_len - 1) * g.stride + 1:g.stride]
        if out is None:
            out = xp.asarray(window, copy=True)
        elif kind == "max":
            out = xp.maximum(out, window)
        else:
            out += window
    if kind == "avg":
        start = np.arange(g.out_len) * g.stride - g.padding
        if count_include_pad:
            count = np.minimum(start + g.kernel_size, g.length + g.padding) - start
        else:
            count = np.minimum(start + g.kernel_size, g.length) - np.maximum(start, 0)
        out /= xp.asarray(count.astype(np.float64), dtype=x.dtype, device=device)
    if channels_last:
        out = xp.permute_dims(out, (0, 2, 1))
    return out[0, ...] if g.batch is None else out
