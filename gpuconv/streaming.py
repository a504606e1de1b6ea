"""Streaming convolution: a signal that arrives in chunks, filtered as it comes."""

from __future__ import annotations

import numpy as np

from . import backends
from ._algorithms import execute
from ._plan import METHODS, Request, check_choice

__all__ = ["StreamingConvolver"]

DEVICES = ("auto", "cpu", "cuda")


class StreamingConvolver:
    """Full linear convolution of a signal fed in chunks of any length.

    Each `process` call returns as many outputs as its chunk has samples: the
    next samples of the full convolution of everything fed so far. `flush`
    returns the last ``K - 1`` and ends the stream; `reset` starts a new one.

    Parameters
    ----------
    kernel : array_like
        Shape ``(K,)``, shared by every channel, or ``(channels, K)``, one
        kernel per channel.
    channels : int, optional
        None (default): chunks are 1-D, shape ``(T,)``. An integer ``C``:
        chunks have shape ``(C, T)``.
    dtype : dtype, optional
        dtype of the samples. The output dtype is ``result_type(dtype,
        kernel.dtype)``, as `gpuconv.convolve` gives. Default: fixed by the
        first chunk that has samples.
    device : {'auto', 'cpu', 'cuda'}, optional
        Where the state lives and the arithmetic runs. ``'auto'`` is the GPU
        when one is usable (`gpuconv.backends.default_device`), else the CPU.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        As in `gpuconv.convolve`; ``'auto'`` chooses per chunk.

    Raises
    ------
    ValueError
        Empty kernel, kernel of the wrong shape for `channels`, unknown
        `device` or `method`.
    TypeError
        Non-numeric kernel dtype.
    RuntimeError
        ``device='cuda'`` where no GPU is usable; the message says why.

    See Also
    --------
    gpuconv.convolve : ``mode='full'`` of the concatenated input is what the
        concatenated outputs and `flush` add up to.
    scipy.signal.lfilter : with ``zi``, the same streaming for FIR filters
        (``b = kernel, a = [1]``), minus the tail `flush` returns.

    Notes
    -----
    The state is the last ``K - 1`` input samples of each channel (zeros
    before the first chunk), kept on the device in the output dtype. A chunk
    of ``T`` samples is appended to them and the ``T`` outputs are the
    ``'valid'`` part of that block, computed by the same algorithms as
    `gpuconv.convolve` (direct, FFT or overlap-add): results equal the one-shot
    call to the method's accuracy, exactly for integers. Nothing else is
    buffered, so each chunk costs a convolution of ``K - 1 + T`` samples: with
    long kernels, chunks much shorter than ``K`` waste work.

    Outputs are arrays of the device's library: NumPy for ``'cpu'``, CuPy for
    ``'cuda'``; chunks of either library are accepted. Chunks are never
    modified. A chunk with the wrong shape or a dtype that would change the
    output dtype raises and leaves the state as it was.

    Examples
    --------
    >>> import numpy as np, gpuconv
    >>> stream = gpuconv.StreamingConvolver([1, 1, 1], device="cpu")
    >>> stream.process(np.array([1, 2, 3]))
    array([1, 3, 6])
    >>> stream.process(np.array([4]))
    array([9])
    >>> stream.flush()
    array([7, 4])
    >>> gpuconv.convolve([1, 2, 3, 4], [1, 1, 1])
    array([1, 3, 6, 9, 7, 4])
    """

    def __init__(self, kernel, *, channels=None, dtype=None, device="auto", method="auto"):
        check_choice(device, DEVICES, "device")
        self.method = check_choice(method, METHODS, "method")
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int)
                                     or channels < 1):
            raise ValueError(f"channels must be None or a positive integer, got {channels!r}")
        self.device = backends.default_device() if device == "auto" else device
        self._backend = _backend_for(self.device)
        xp = self._backend.xp
        kernel = xp.asarray(self._backend.asarray(kernel), copy=True)
        if not (xp.isdtype(kernel.dtype, "numeric") or kernel.dtype == xp.bool):
            raise TypeError(f"kernel must have a boolean, integer, floating or complex dtype, "
                            f"got {kernel.dtype}")
        shapes = "(K,)" if channels is None else f"(K,) or ({channels}, K)"
        if kernel.ndim not in (1, 2) or (kernel.ndim == 2 and kernel.shape[0] != channels):
            raise ValueError(f"kernel must have shape {shapes} for channels={channels}, "
                             f"got {tuple(kernel.shape)}")
        if kernel.shape[-1] == 0:
            raise ValueError("kernel cannot be empty")
        self.channels = channels
        self._kernel = xp.reshape(kernel, (-1, kernel.shape[-1]))
        self._given_dtype = None if dtype is None else xp.result_type(np.dtype(dtype),
                                                                      kernel.dtype)
        self.reset()

    @property
    def kernel_length(self) -> int:
        """``K``, the number of taps."""
        return self._kernel.shape[-1]

    def reset(self) -> None:
        """Forget every sample fed so far and start a new stream."""
        self.dtype = self._given_dtype  # output dtype; None until the first samples
        self._history = None            # (rows, K - 1) last input samples
        self._finished = False

    def process(self, chunk):
        """The next ``T`` outputs for a chunk of ``T`` samples.

        Parameters
        ----------
        chunk : array_like
            Shape ``(T,)``, or ``(channels, T)`` when `channels` is set;
            ``T`` may be 0.

        Returns
        -------
        out : array
            Same shape as `chunk`, of the stream's output dtype.

        Raises
        ------
        RuntimeError
            The stream was flushed (call `reset` first).
        ValueError
            Wrong number of dimensions or channels.
        TypeError
            A dtype that would change the stream's output dtype.
        """
        self._check_open("process")
        xp = self._backend.xp
        chunk = self._backend.asarray(chunk)
        if not (xp.isdtype(chunk.dtype, "numeric") or chunk.dtype == xp.bool):
            raise TypeError(f"chunk must have a boolean, integer, floating or complex dtype, "
                            f"got {chunk.dtype}")
        if self.channels is None and chunk.ndim != 1:
            raise ValueError(f"chunk must be 1-D (channels=None), got shape {tuple(chunk.shape)}")
        if self.channels is not None and (chunk.ndim != 2 or chunk.shape[0] != self.channels):
            raise ValueError(f"chunk must have shape ({self.channels}, T) for "
                             f"channels={self.channels}, got {tuple(chunk.shape)}")
        dtype = xp.result_type(chunk.dtype, self._kernel.dtype)
        if self.dtype is not None and dtype != self.dtype:
            raise TypeError(f"chunk dtype {chunk.dtype} would change the stream's output dtype "
                            f"from {self.dtype} to {dtype}; cast it, or reset() the stream")
        t = chunk.shape[-1]
        if t == 0:
            return xp.zeros(chunk.shape, dtype=dtype, device=self._kernel.device)

        x = xp.astype(xp.reshape(chunk, (-1, t)), dtype)
        history = self._history
        if history is None:
            history = xp.zeros((x.shape[0], self.kernel_length - 1), dtype=dtype,
                                device=self._kernel.device)
        block = xp.concat((history, x), axis=-1)
        out = self._valid(block, out_len=t, dtype=dtype)
        # Commit the new state only once the chunk has been convolved.
        self._history = xp.asarray(block[:, t:], copy=True)
        self.dtype = dtype
        return xp.reshape(out, chunk.shape)

    def flush(self):
        """The last ``K - 1`` outputs; ends the stream until `reset`.

        Returns
        -------
        out : array
            Shape ``(K - 1,)``, or ``(channels, K - 1)``. Zeros when no
            sample was fed.

        Raises
        ------
        RuntimeError
            The stream was already flushed.
        """
        self._check_open("flush")
        xp = self._backend.xp
        k = self.kernel_length
        rows = self.channels or 1
        dtype = self.dtype or self._kernel.dtype
        if self._history is None or k == 1:
            out = xp.zeros((rows, k - 1), dtype=dtype, device=self._kernel.device)
        else:  # the tail of the full convolution of the last K - 1 samples
            out = self._valid(self._history, out_len=k - 1, dtype=dtype)
        self._finished = True
        return out[0] if self.channels is None else out

    def _valid(self, block, *, out_len, dtype):
        """Outputs ``K - 1 ..`` of the full convolution of each row of ``block``."""
        rows, n = block.shape
        request = Request(rows=rows, n=n, k=self.kernel_length,
                          kernel_rows=self._kernel.shape[0], start=self.kernel_length - 1,
                          out_len=out_len)
        return execute(self._backend, block, self._kernel, request, self.method, dtype)

    def _check_open(self, what: str) -> None:
        if self._finished:
            raise RuntimeError(f"{what}() after flush(): the stream has ended; "
                               "call reset() to start a new one")

    def __repr__(self) -> str:
        return (f"StreamingConvolver(kernel_length={self.kernel_length}, "
                f"channels={self.channels}, dtype={self.dtype}, device={self.device!r}, "
                f"method={self.method!r})")


def _backend_for(device: str):
    """The backend for ``'cpu'`` or ``'cuda'``; ``'cpu'`` honours a CPU-side
    `gpuconv.use_backend` override (the tests' ``'emulated'`` backend)."""
    if device == "cuda":
        return backends.backend_named("cupy")
    backend = backends.get_backend()
    return backends.backend_named("numpy") if backend.name == "cupy" else backend
