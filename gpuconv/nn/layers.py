"""Layers with weights and shape checks: Conv1d, ReLU, pooling, and the Sequential pipeline.

A layer owns its weights on one device (``'cpu'`` or ``'cuda'``, chosen by
``device='auto'`` when built and changed by `.to`) and computes there;
calling it returns the caller's array type (NumPy in, NumPy out; CuPy in,
CuPy out), moving data in and out as needed. Shapes are checked before
anything runs: `Sequential` checks adjacent channel counts when it is built
and every layer's input when it is called, and `Sequential.output_shape`
gives every output shape without computing.
"""

from __future__ import annotations

import abc
import json
import math
import sys

import array_api_compat
import numpy as np

from .. import _front, backends
from . import _shapes
from .functional import check_dtypes, conv_geometry, pool_geometry, run_conv, run_pool

__all__ = ["AvgPool1d", "Conv1d", "Layer", "MaxPool1d", "ReLU", "Sequential", "from_torch",
           "load"]

#: The version of the `Sequential.save` file format this code writes and reads.
FORMAT = "gpuconv.nn.Sequential"
FORMAT_VERSION = 1
DTYPES = ("float32", "float64")


def _device_name(device) -> str:
    """``'cpu'`` or ``'cuda'``; ``'auto'`` is the GPU when one is usable."""
    if device == "auto":
        return backends.default_device()
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "cuda":
        backends.backend_named("cupy")  # RuntimeError with the reason when it is not usable
    return device


def _compute_backend(device):
    """The backend that computes on ``device``. On the CPU that is the current
    CPU-side backend (NumPy, or the CUDA emulator under ``use_backend``)."""
    if device == "cuda":
        return backends.backend_named("cupy")
    backend = backends.get_backend()
    return backend if backend.name != "cupy" else backends.backend_named("numpy")


def _run(layers, x, device):
    """Run ``layers`` on ``x`` on ``device`` (None: where ``x`` lives); the caller's type back."""
    if device is None:
        backend, _xp, (x,), restore = _front.prepare(x=x)
    else:
        backend = _compute_backend(device)
        with backends.use_backend(backend.name):
            backend, _xp, (x,), restore = _front.prepare(x=x)
    for layer in layers:
        x = layer.forward(backend, x)
    return restore(x)


class Layer(abc.ABC):
    """What every layer has: `output_shape`, `forward`, a call, a config, `.to`."""

    #: The layout the layer needs; None for layers that work on either.
    channels_last: bool | None = None

    @abc.abstractmethod
    def output_shape(self, input_shape) -> tuple:
        """The output shape for ``input_shape``; ``ValueError`` if it does not fit."""

    @abc.abstractmethod
    def forward(self, backend, x):
        """The layer on a native array of ``backend`` (checked by `output_shape`)."""

    def expected_input(self) -> str:
        """The input this layer takes, in words, for error messages."""
        return "(N, L, C) or (L, C)" if self.channels_last else "(N, C, L) or (C, L)"

    def config(self) -> dict:
        """The constructor arguments, JSON-ready (`Sequential.save`)."""
        return {}

    def parameters(self) -> dict:
        """Named weight arrays (empty for layers without weights)."""
        return {}

    #: Where the weights live; None for layers without weights (they follow the data).
    device = None

    def to(self, device):
        """Move the weights to ``device`` (``'cpu'``, ``'cuda'`` or ``'auto'``); returns self."""
        _device_name(device)
        return self

    def __call__(self, x):
        _check_shape(self, 0, getattr(x, "shape", np.shape(x)))
        return _run([self], x, self.device)

    def __repr__(self):
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class Conv1d(Layer):
    """1-D convolution layer, as ``torch.nn.Conv1d`` (or Keras's ``Conv1D`` layout).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out; both divisible by `groups`.
    kernel_size : int
        Taps per kernel.
    stride, padding, dilation, groups, padding_mode
        As `gpuconv.nn.conv1d`; `padding` is an int, a (left, right) pair,
        ``'valid'``, ``'same'`` or ``'causal'``.
    bias : bool, optional
        Whether the layer adds a learned bias.
    channels_last : bool, optional
        Keras layout: inputs (N, L, C), weight (K, C_in/groups, C_out).
    seed : int or numpy.random.Generator, optional
        Seed of the initialisation (``numpy.random.default_rng(seed)``).
    dtype : {'float32', 'float64'}, optional
    device : {'auto', 'cpu', 'cuda'}, optional
        Where the weights live and the layer computes; ``'auto'`` is the GPU
        when one is usable.
    allow_tf32 : bool, optional
        See `gpuconv.nn.conv1d`.

    Attributes
    ----------
    weight : array
        (out_channels, in_channels/groups, kernel_size), or (kernel_size,
        in_channels/groups, out_channels) with `channels_last`.
    bias : array or None
        (out_channels,).

    Raises
    ------
    ValueError
        Sizes < 1, `groups` that does not divide the channels, bad padding.
    TypeError
        Sizes that are not integers, a `dtype` other than float32/float64.
    RuntimeError
        ``device='cuda'`` where no GPU is usable (the message says why).

    Notes
    -----
    The initialisation is PyTorch's default (``kaiming_uniform_(a=sqrt(5))``
    for the weight and its bias rule): both uniform on ``[-b, b]`` with
    ``b = 1 / sqrt(in_channels / groups * kernel_size)``, drawn weight first
    from NumPy's generator, so the values differ from PyTorch's but follow the
    same distribution.

    Examples
    --------
    >>> import numpy as np
    >>> from gpuconv import nn
    >>> layer = nn.Conv1d(1, 16, 9, stride=2, padding=4, seed=0, device="cpu")
    >>> layer
    Conv1d(1, 16, kernel_size=9, stride=2, padding=4)
    >>> layer(np.zeros((32, 1, 1000), np.float32)).shape
    (32, 16, 500)
    >>> bool(np.all(np.abs(layer.weight) <= 1 / 3))   # 1 / sqrt(1 * 9)
    True
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", *, channels_last=False, seed=None,
                 dtype="float32", device="auto", allow_tf32=False):
        in_channels = _shapes.positive_int(in_channels, "in_channels")
        out_channels = _shapes.positive_int(out_channels, "out_channels")
        kernel_size = _shapes.positive_int(kernel_size, "kernel_size")
        groups = _shapes.positive_int(groups, "groups")
        if in_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"out_channels ({out_channels}) must be divisible by groups "
                             f"({groups})")
        dtype = _dtype_name(dtype)
        rng = np.random.default_rng(seed)
        bound = 1 / math.sqrt(in_channels // groups * kernel_size)
        weight = rng.uniform(-bound, bound, (out_channels, in_channels // groups, kernel_size))
        bias_values = rng.uniform(-bound, bound, out_channels) if bias else None
        if channels_last:
            weight = np.transpose(weight, (2, 1, 0))
        self._setup(np.ascontiguousarray(weight, dtype=dtype),
                    None if bias_values is None else bias_values.astype(dtype),
                    stride=stride, padding=padding, dilation=dilation, groups=groups,
                    padding_mode=padding_mode, channels_last=channels_last, device=device,
                    allow_tf32=allow_tf32)

    @classmethod
    def from_weights(cls, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                     padding_mode="zeros", *, channels_last=False, device="auto",
                     allow_tf32=False):
        """A layer with the given weights (copied; the layout of `weight` as the layer's).

        Examples
        --------
        >>> import numpy as np
        >>> from gpuconv import nn
        >>> layer = nn.Conv1d.from_weights(np.ones((2, 1, 3)), np.array([0.0, 1.0]), device="cpu")
        >>> layer(np.arange(5.0)[None, None, :])
        array([[[ 3.,  6.,  9.],
                [ 4.,  7., 10.]]])
        """
        weight = _host_copy(weight, "weight")
        bias = None if bias is None else _host_copy(bias, "bias")
        if weight.ndim != 3:
            layout = "(K, C_in/groups, C_out)" if channels_last else "(C_out, C_in/groups, K)"
            raise ValueError(f"weight must be 3-D {layout}, got shape {weight.shape}")
        _dtype_name(weight.dtype)
        layer = cls.__new__(cls)
        layer._setup(weight, bias, stride=stride, padding=padding, dilation=dilation,
                     groups=groups, padding_mode=padding_mode, channels_last=channels_last,
                     device=device, allow_tf32=allow_tf32)
        return layer

    def _setup(self, weight, bias, *, stride, padding, dilation, groups, padding_mode,
               channels_last, device, allow_tf32):
        self.channels_last = bool(channels_last)
        shape = weight.shape
        kernel_size, group_channels, out_channels = shape if channels_last else shape[::-1]
        self.groups = _shapes.positive_int(groups, "groups")
        self.in_channels = group_channels * self.groups
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = _shapes.positive_int(stride, "stride")
        self.dilation = _shapes.positive_int(dilation, "dilation")
        if min(shape) < 1:
            raise ValueError(f"weight must not be empty, got shape {shape}")
        if out_channels % self.groups:
            raise ValueError(f"out_channels ({out_channels}) must be divisible by groups "
                             f"({self.groups})")
        if isinstance(padding, (tuple, list)):
            padding = [int(p) for p in padding]
            padding = padding[0] if len(padding) == 1 else padding
        _shapes.resolve_padding(padding, kernel_size, self.dilation, self.stride)  # check now
        _shapes.check_padding_mode(padding_mode, 0, 0, None)
        self.padding = padding
        self.padding_mode = padding_mode
        self.allow_tf32 = bool(allow_tf32)
        if bias is not None and tuple(bias.shape) != (out_channels,):
            raise ValueError(f"bias must have shape ({out_channels},), got {tuple(bias.shape)}")
        if bias is not None and bias.dtype != weight.dtype:
            raise TypeError(f"bias has dtype {bias.dtype} but weight has {weight.dtype}")
        self.dtype = weight.dtype.name
        self.device = _device_name(device)
        backend = _compute_backend(self.device)
        self.weight = backend.asarray(weight)
        self.bias = None if bias is None else backend.asarray(bias)

    def to(self, device):
        """Move the weights to ``device`` (``'cpu'``, ``'cuda'`` or ``'auto'``); returns self.

        Examples
        --------
        >>> from gpuconv import nn
        >>> nn.Conv1d(2, 2, 3, seed=0, device="cpu").to("cpu").device
        'cpu'
        """
        self.device = _device_name(device)
        backend = _compute_backend(self.device)
        self.weight = backend.asarray(self.weight)
        self.bias = None if self.bias is None else backend.asarray(self.bias)
        return self

    def geometry(self, input_shape):
        """The checked `~gpuconv.nn.functional.ConvGeometry` for ``input_shape``."""
        return conv_geometry(input_shape, self.weight.shape, stride=self.stride,
                             padding=self.padding, dilation=self.dilation, groups=self.groups,
                             padding_mode=self.padding_mode, channels_last=self.channels_last)

    def output_shape(self, input_shape) -> tuple:
        g = self.geometry(input_shape)
        return _shapes.join_shape(g.batch, g.out_channels, g.out_len, self.channels_last)

    def expected_input(self) -> str:
        if self.channels_last:
            return f"(N, L, {self.in_channels}) or (L, {self.in_channels}), {self.dtype}"
        return f"(N, {self.in_channels}, L) or ({self.in_channels}, L), {self.dtype}"

    def forward(self, backend, x):
        check_dtypes(backend.xp, x=x, weight=self.weight)
        return run_conv(backend, x, self.weight, self.bias, self.geometry(x.shape),
                        channels_last=self.channels_last, allow_tf32=self.allow_tf32)

    def parameters(self) -> dict:
        return {"weight": self.weight} if self.bias is None else {"weight": self.weight,
                                                                  "bias": self.bias}

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "dilation": self.dilation, "groups": self.groups,
                "bias": self.bias is not None, "padding_mode": self.padding_mode,
                "channels_last": self.channels_last, "dtype": self.dtype,
                "allow_tf32": self.allow_tf32}

    def __repr__(self):
        # PyTorch's form: the sizes, then what differs from the defaults.
        defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True,
                    "padding_mode": "zeros", "channels_last": False, "dtype": "float32",
                    "allow_tf32": False}
        config = self.config()
        shown = [str(config["in_channels"]), str(config["out_channels"]),
                 f"kernel_size={config['kernel_size']}"]
        shown += [f"{name}={config[name]!r}" for name, default in defaults.items()
                  if config[name] != default]
        return f"Conv1d({', '.join(shown)})"


class ReLU(Layer):
    """``max(x, 0)`` elementwise, as ``torch.nn.ReLU`` (NaN stays NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from gpuconv import nn
    >>> nn.ReLU()(np.array([[-1.0, 0.5]]))
    array([[0. , 0.5]])
    """

    def output_shape(self, input_shape) -> tuple:
        return tuple(input_shape)

    def __call__(self, x):
        return _run([self], x, None)

    def forward(self, backend, x):
        return backend.xp.maximum(x, backend.xp.asarray(0, dtype=x.dtype))

    def __repr__(self):
        return "ReLU()"


class _Pool(Layer):
    kind = ""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 count_include_pad=True, *, channels_last=False):
        self.kernel_size = _shapes.positive_int(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _shapes.positive_int(stride, "stride")
        self.padding = _shapes._unwrap(padding, "padding")
        self.dilation = _shapes.positive_int(dilation, "dilation")
        if not 0 <= 2 * self.padding <= self.kernel_size:
            raise ValueError(f"padding must be between 0 and half of kernel_size, got "
                             f"padding={self.padding} and kernel_size={self.kernel_size}")
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.channels_last = bool(channels_last)

    def geometry(self, input_shape):
        return pool_geometry(input_shape, self.kernel_size, self.stride, self.padding,
                             self.dilation, self.ceil_mode, self.channels_last)

    def output_shape(self, input_shape) -> tuple:
        g = self.geometry(input_shape)
        return _shapes.join_shape(g.batch, g.channels, g.out_len, self.channels_last)

    def __call__(self, x):
        _check_shape(self, 0, getattr(x, "shape", np.shape(x)))
        return _run([self], x, None)

    def forward(self, backend, x):
        check_dtypes(backend.xp, x=x)
        return run_pool(backend, x, self.geometry(x.shape), self.kind,
                        channels_last=self.channels_last,
                        count_include_pad=self.count_include_pad)


class MaxPool1d(_Pool):
    """Max pooling layer, as ``torch.nn.MaxPool1d`` (see `gpuconv.nn.max_pool1d`).

    Examples
    --------
    >>> import numpy as np
    >>> from gpuconv import nn
    >>> nn.MaxPool1d(2)(np.array([[[1.0, 3, 2, 0]]]))
    array([[[3., 2.]]])
    """

    kind = "max"

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
                 channels_last=False):
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode,
                         channels_last=channels_last)

    def config(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "ceil_mode": self.ceil_mode,
                "channels_last": self.channels_last}


class AvgPool1d(_Pool):
    """Average pooling layer, as ``torch.nn.AvgPool1d`` (see `gpuconv.nn.avg_pool1d`).

    Examples
    --------
    >>> import numpy as np
    >>> from gpuconv import nn
    >>> nn.AvgPool1d(2)(np.array([[[1.0, 3, 2, 0]]]))
    array([[[2., 1.]]])
    """

    kind = "avg"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, *, channels_last=False):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode, count_include_pad,
                         channels_last=channels_last)

    def config(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad,
                "channels_last": self.channels_last}


LAYER_TYPES = {cls.__name__: cls for cls in (Conv1d, ReLU, MaxPool1d, AvgPool1d)}


def _check_shape(layer, index: int, shape, name: str | None = None) -> tuple:
    """``layer.output_shape(shape)``, its ValueError naming the layer and what it expects."""
    try:
        return layer.output_shape(shape)
    except ValueError as error:
        where = f"layer {index} ({layer!r})" if name is None else name
        raise ValueError(f"{where} expects input {layer.expected_input()}, "
                         f"got shape {tuple(shape)}: {error}") from None


class Sequential(Layer):
    """Layers applied in order, as ``torch.nn.Sequential``, with shapes checked first.

    Parameters
    ----------
    *layers : Layer
        `Conv1d`, `ReLU`, `MaxPool1d`, `AvgPool1d`. Adjacent convolutions
        must agree on channels, every layer with a layout on the layout, and
        every convolution on dtype and device.

    Raises
    ------
    ValueError
        Layers that do not fit together (the message names both).
    TypeError
        Something that is not a layer, or a nested `Sequential`.

    Examples
    --------
    >>> import numpy as np
    >>> from gpuconv import nn
    >>> net = nn.Sequential(nn.Conv1d(1, 16, 9, stride=2, padding=4, seed=0, device="cpu"),
    ...                     nn.ReLU(),
    ...                     nn.Conv1d(16, 16, 9, padding=4, seed=1, device="cpu"))
    >>> net.output_shape((32, 1, 65536))
    [(32, 16, 32768), (32, 16, 32768), (32, 16, 32768)]
    >>> net(np.zeros((2, 1, 100), np.float32)).shape
    (2, 16, 50)
    >>> net(np.zeros((2, 3, 100), np.float32))
    Traceback (most recent call last):
    ...
    ValueError: layer 0 (Conv1d(1, 16, kernel_size=9, stride=2, padding=4)) expects input (N, 1, L) or (1, L), float32, got shape (2, 3, 100): x of shape (2, 3, 100) has 3 channels, but weight of shape (16, 1, 9) with groups=1 expects 1
    """

    def __init__(self, *layers):
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer) or isinstance(layer, Sequential):
                raise TypeError(f"layer {index} is a {type(layer).__name__}: Sequential takes "
                                f"{', '.join(LAYER_TYPES)}")
        self.layers = list(layers)
        self._check_fit()

    def _check_fit(self) -> None:
        layouts = {i: layer.channels_last for i, layer in enumerate(self.layers)
                   if layer.channels_last is not None}
        if len(set(layouts.values())) > 1:
            described = ", ".join(f"layer {i} channels_last={v}" for i, v in layouts.items())
            raise ValueError(f"the layers disagree on the layout: {described}")
        previous = None
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Conv1d):
                continue
            if previous is not None:
                before = self.layers[previous]
                if before.out_channels != layer.in_channels:
                    raise ValueError(f"layer {index} ({layer!r}) expects {layer.in_channels} "
                                     f"input channels, but layer {previous} ({before!r}) gives "
                                     f"{before.out_channels}")
                if before.dtype != layer.dtype:
                    raise ValueError(f"layer {index} ({layer!r}) is {layer.dtype} but layer "
                                     f"{previous} is {before.dtype}")
                if before.device != layer.device:
                    raise ValueError(f"layer {index} is on {layer.device} but layer {previous} "
                                     f"on {before.device}: move them with .to(device)")
            previous = index

    @property
    def device(self):
        """The device of the layers' weights; None without weights (follow the data)."""
        return next((layer.device for layer in self.layers if layer.device is not None), None)

    @property
    def channels_last(self):
        return next((layer.channels_last for layer in self.layers
                     if layer.channels_last is not None), None)

    def expected_input(self) -> str:
        return self.layers[0].expected_input() if self.layers else "any array"

    def output_shape(self, input_shape) -> list:
        """Every layer's output shape for ``input_shape``, without computing anything.

        Raises ``ValueError`` naming the first layer whose input does not fit,
        what it expects and what it would get.
        """
        shapes = []
        shape = tuple(input_shape)
        for index, layer in enumerate(self.layers):
            shape = _check_shape(layer, index, shape)
            shapes.append(shape)
        return shapes

    def __call__(self, x):
        self.output_shape(getattr(x, "shape", np.shape(x)))
        return _run(self.layers, x, self.device)

    def forward(self, backend, x):
        for layer in self.layers:
            x = layer.forward(backend, x)
        return x

    def to(self, device):
        """Move every layer's weights to ``device``; returns self."""
        device = _device_name(device)
        for layer in self.layers:
            layer.to(device)
        return self

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"

    def save(self, path) -> None:
        """Write the layers' configuration (JSON) and weights to an ``.npz`` file.

        Examples
        --------
        >>> import os, tempfile, numpy as np
        >>> from gpuconv import nn
        >>> net = nn.Sequential(nn.Conv1d(1, 4, 3, seed=0, device="cpu"), nn.ReLU())
        >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
        >>> net.save(path)
        >>> again = nn.load(path, device="cpu")
        >>> x = np.ones((1, 1, 8), np.float32)
        >>> bool(np.array_equal(net(x), again(x)))
        True
        """
        layers, arrays = [], {}
        for index, layer in enumerate(self.layers):
            layers.append({"type": type(layer).__name__, "config": layer.config()})
            for name, array in layer.parameters().items():
                arrays[f"layer{index}.{name}"] = _host_copy(array)
        config = {"format": FORMAT, "version": FORMAT_VERSION, "layers": layers}
        np.savez(path, config=np.array(json.dumps(config)), **arrays)

    @classmethod
    def load(cls, path, device="auto") -> "Sequential":
        """Read a pipeline written by `save` (no pickles are loaded); see `load`."""
        return load(path, device=device)


def load(path, device="auto") -> Sequential:
    """Read a `Sequential` written by `Sequential.save`, weights on ``device``.

    The file is read with ``allow_pickle=False``: it holds only numeric arrays
    and one JSON string.

    Raises
    ------
    ValueError
        A file that is not a gpuconv pipeline, or of a newer format.

    Examples
    --------
    >>> import os, tempfile
    >>> from gpuconv import nn
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> nn.Sequential(nn.Conv1d(2, 3, 5, seed=0, device="cpu"), nn.ReLU()).save(path)
    >>> nn.load(path, device="cpu")
    Sequential(
      (0): Conv1d(2, 3, kernel_size=5)
      (1): ReLU()
    )
    """
    with np.load(path, allow_pickle=False) as data:
        if "config" not in data:
            raise ValueError(f"{path} is not a gpuconv.nn pipeline (no 'config' entry)")
        config = json.loads(str(data["config"]))
        if config.get("format") != FORMAT or config.get("version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path} holds format {config.get('format')!r} version "
                             f"{config.get('version')!r}; this gpuconv reads {FORMAT!r} up to "
                             f"version {FORMAT_VERSION}")
        layers = []
        for index, entry in enumerate(config["layers"]):
            kind, options = entry["type"], dict(entry["config"])
            if kind not in LAYER_TYPES:
                raise ValueError(f"layer {index} of {path} has unknown type {kind!r}")
            if kind == "Conv1d":
                weight = data[f"layer{index}.weight"]
                bias = data[f"layer{index}.bias"] if options["bias"] else None
                for name in ("in_channels", "out_channels", "kernel_size", "bias", "dtype"):
                    options.pop(name)
                layers.append(Conv1d.from_weights(weight, bias, device=device, **options))
            else:
                layers.append(LAYER_TYPES[kind](**options))
    return Sequential(*layers)


def from_torch(module, *, device="auto") -> Sequential:
    """A `Sequential` computing what a PyTorch module computes.

    Parameters
    ----------
    module : torch.nn.Sequential or torch.nn.Module
        A ``Sequential`` of ``Conv1d``, ``ReLU``, ``MaxPool1d`` and
        ``AvgPool1d`` (or one such layer). Weights are copied.
    device : {'auto', 'cpu', 'cuda'}, optional
        Where the copied weights live.

    Raises
    ------
    TypeError
        Another kind of layer (named, with its position), ``return_indices``
        pooling, weights that are not float32/float64, or not a torch module.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> from gpuconv import nn
    >>> torch = pytest.importorskip("torch")      # the example needs PyTorch
    >>> module = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3), torch.nn.ReLU())
    >>> net = nn.from_torch(module, device="cpu")
    >>> net
    Sequential(
      (0): Conv1d(1, 4, kernel_size=3)
      (1): ReLU()
    )
    >>> x = np.random.default_rng(0).standard_normal((2, 1, 50)).astype(np.float32)
    >>> with torch.no_grad():
    ...     expected = module(torch.from_numpy(x)).numpy()
    >>> bool(np.allclose(net(x), expected, rtol=1e-5, atol=1e-6))
    True
    """
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch takes a torch.nn.Module, got {type(module).__name__}")
    modules = list(module) if isinstance(module, torch.nn.Sequential) else [module]
    layers = []
    for index, part in enumerate(modules):
        if isinstance(part, torch.nn.Conv1d):
            layers.append(_conv_from_torch(part, device))
        elif isinstance(part, torch.nn.ReLU):
            layers.append(ReLU())
        elif isinstance(part, torch.nn.MaxPool1d):
            if part.return_indices:
                raise TypeError(f"layer {index} (MaxPool1d) has return_indices=True, "
                                "which gpuconv does not support")
            layers.append(MaxPool1d(part.kernel_size, part.stride, part.padding, part.dilation,
                                    part.ceil_mode))
        elif isinstance(part, torch.nn.AvgPool1d):
            layers.append(AvgPool1d(part.kernel_size, part.stride, part.padding, part.ceil_mode,
                                    part.count_include_pad))
        else:
            raise TypeError(f"layer {index} is a torch {type(part).__name__}: from_torch "
                            f"converts {', '.join(LAYER_TYPES)}")
    return Sequential(*layers)


def _conv_from_torch(part, device) -> Conv1d:
    weight = part.weight.detach().cpu().numpy()
    bias = None if part.bias is None else part.bias.detach().cpu().numpy()
    if weight.dtype.name not in DTYPES:
        raise TypeError(f"Conv1d weights of dtype {weight.dtype} are not supported; "
                        f"convert the module to float32 or float64 first")
    padding = part.padding if isinstance(part.padding, str) else part.padding[0]
    return Conv1d.from_weights(weight, bias, part.stride[0], padding, part.dilation[0],
                               part.groups, part.padding_mode, device=device)


def _dtype_name(dtype) -> str:
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {name}")
    return name


def _host_copy(array, name: str = "array") -> np.ndarray:
    """A NumPy copy of an array of any library (weights are never shared). A
    torch parameter gives its values: a copy has no use for its grad."""
    if hasattr(array, "get"):  # CuPy
        return array.get()
    if array_api_compat.is_torch_array(array):
        try:
            return array.detach().cpu().resolve_conj().resolve_neg().numpy().copy()
        except TypeError as error:  # a dtype NumPy lacks (bfloat16)
            raise TypeError(f"{name}: cannot take a torch tensor of dtype {array.dtype}: "
                            f"{error}") from None
    return np.array(array, copy=True)
