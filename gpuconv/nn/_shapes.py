"""Pure shape arithmetic of `gpuconv.nn`: argument checks, padding, output lengths.

Nothing here touches an array, so `Sequential.output_shape` can run every
check and every length without computing anything. Messages name the
argument and the rule; where PyTorch has a rule its message is followed.
"""

from __future__ import annotations

import operator

#: ``padding_mode`` names (``torch.nn.Conv1d``) mapped to the boundary rule of
#: `gpuconv._plan.Request`: PyTorch's reflect omits the edge sample, which is
#: ``scipy.ndimage``'s ``mirror``.
PADDING_MODES = {"zeros": "zero", "reflect": "mirror", "replicate": "nearest", "circular": "wrap"}

#: The padding names `resolve_padding` accepts besides integers and pairs.
PADDING_NAMES = ("valid", "same", "causal")


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1; a 1-tuple ``(v,)`` (PyTorch's layer attributes) is ``v``.

    >>> positive_int((2,), "stride")
    2
    >>> positive_int(0, "stride")
    Traceback (most recent call last):
    ...
    ValueError: stride must be an integer >= 1, got 0
    """
    value = _unwrap(value, name)
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}")
    return value


def _unwrap(value, name: str) -> int:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


def resolve_padding(padding, kernel_size: int, dilation: int, stride: int) -> tuple[int, int]:
    """``(left, right)`` zero-or-mode padding of a convolution.

    ``padding`` is an int (both sides), a 1-tuple (PyTorch's form, both
    sides), a pair ``(left, right)``, ``'valid'`` (none), ``'same'``
    (PyTorch's rule: ``dilation * (kernel_size - 1)`` in all, the odd one on
    the right; refused with ``stride > 1``, as PyTorch) or ``'causal'``
    (``dilation * (kernel_size - 1)`` on the left, as Keras).

    >>> resolve_padding("same", 4, 1, 1), resolve_padding("causal", 3, 2, 1)
    ((1, 2), (4, 0))
    >>> resolve_padding((2, 0), 3, 1, 1), resolve_padding(1, 3, 1, 1)
    ((2, 0), (1, 1))
    """
    total = dilation * (kernel_size - 1)
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            if stride != 1:
                raise ValueError("padding='same' is not supported for strided convolutions "
                                 f"(stride={stride}), as in PyTorch")
            return total // 2, total - total // 2
        if padding == "causal":
            return total, 0
        raise ValueError(f"padding must be an int, a (left, right) pair, or one of "
                         f"'valid', 'same', 'causal'; got {padding!r}")
    if isinstance(padding, (tuple, list)):
        if len(padding) == 1:
            left = right = _unwrap(padding[0], "padding")
        elif len(padding) == 2:
            left, right = (_unwrap(p, "padding") for p in padding)
        else:
            raise ValueError(f"padding as a sequence must be (both,) or (left, right), "
                             f"got {tuple(padding)!r}")
    else:
        left = right = _unwrap(padding, "padding")
    if left < 0 or right < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    return left, right


def check_padding_mode(padding_mode, left: int, right: int, length: int | None) -> str:
    """The boundary rule of ``padding_mode``; PyTorch's limits on the padding size.

    ``length`` is the input length (None: unknown yet, only the name is checked).
    """
    if padding_mode not in PADDING_MODES:
        allowed = ", ".join(repr(m) for m in PADDING_MODES)
        raise ValueError(f"padding_mode must be one of {allowed}; got {padding_mode!r}")
    if length is not None:
        if padding_mode == "reflect" and max(left, right) >= length:
            raise ValueError(f"padding_mode='reflect' needs padding smaller than the input "
                             f"length: got padding ({left}, {right}) for length {length}")
        if padding_mode == "circular" and max(left, right) > length:
            raise ValueError(f"padding_mode='circular' needs padding at most the input length "
                             f"(it would wrap around more than once): got padding "
                             f"({left}, {right}) for length {length}")
    return PADDING_MODES[padding_mode]


def conv_length(length: int, kernel_size: int, stride: int, dilation: int,
                left: int, right: int) -> int:
    """Output length of a convolution; ``ValueError`` if the kernel is longer
    than the padded input (PyTorch's rule).

    >>> conv_length(65536, 9, 2, 1, 4, 4)
    32768
    """
    padded = length + left + right
    span = dilation * (kernel_size - 1) + 1
    if span > padded:
        raise ValueError(f"the kernel (size {kernel_size}, dilation {dilation}: it spans {span} "
                         f"samples) is longer than the padded input ({length} samples + padding "
                         f"({left}, {right}) = {padded})")
    return (padded - span) // stride + 1


def pool_length(length: int, kernel_size: int, stride: int, padding: int, dilation: int,
                ceil_mode: bool) -> int:
    """Output length of PyTorch's 1-D pooling (``ceil_mode``: the last window
    must still start inside the input or its left padding).

    >>> pool_length(5, 2, 2, 0, 1, False), pool_length(5, 2, 2, 0, 1, True)
    (2, 3)
    """
    if 2 * padding > kernel_size:
        raise ValueError(f"padding must be at most half of kernel_size, got padding={padding} "
                         f"and kernel_size={kernel_size}")
    span = dilation * (kernel_size - 1) + 1
    room = length + 2 * padding - span
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1
    if out < 1:
        raise ValueError(f"the pooling window (kernel_size {kernel_size}, dilation {dilation}) "
                         f"does not fit the input of length {length} with padding {padding}: "
                         f"the output would be empty")
    return out


def check_input_shape(shape, channels: int | None, channels_last: bool, name: str = "x") -> None:
    """An input of rank 2 (unbatched) or 3 with ``channels`` channels (None: any)."""
    shape = tuple(shape)
    layout = "(N, L, C)" if channels_last else "(N, C, L)"
    unbatched = "(L, C)" if channels_last else "(C, L)"
    if len(shape) not in (2, 3):
        raise ValueError(f"{name} must be 3-D {layout} or 2-D unbatched {unbatched}, "
                         f"got shape {shape}")
    c = shape[-1] if channels_last else shape[-2]
    length = shape[-2] if channels_last else shape[-1]
    if channels is not None and c != channels:
        raise ValueError(f"{name} of shape {shape} has {c} channels (layout {layout}), "
                         f"expected {channels}")
    if c < 1:  # PyTorch allows an empty batch only
        raise ValueError(f"{name} of shape {shape} has no channels (layout {layout})")
    if length < 1:
        raise ValueError(f"{name} of shape {shape} is empty along its length axis")


def split_shape(shape, channels_last: bool) -> tuple[int | None, int, int]:
    """``(batch or None when unbatched, channels, length)`` of an input shape."""
    shape = tuple(shape)
    batch = shape[0] if len(shape) == 3 else None
    if channels_last:
        return batch, shape[-1], shape[-2]
    return batch, shape[-2], shape[-1]


def join_shape(batch, channels: int, length: int, channels_last: bool) -> tuple:
    """The inverse of `split_shape`."""
    core = (length, channels) if channels_last else (channels, length)
    return core if batch is None else (batch,) + core
