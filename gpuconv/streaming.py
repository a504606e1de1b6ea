"""Streaming convolution: a signal that arrives in chunks, filtered as it comes.

Two ways to compute a chunk's outputs, chosen per chunk by the cost model:

* **one shot** — the chunk appended to the last ``K - 1`` samples, convolved
  by `gpuconv._algorithms.execute` (direct, FFT or blocked FFT), ``'valid'``
  part kept. Best for chunks that are long next to the kernel.
* **partitioned** — for long kernels and short chunks. The kernel is cut into
  a *head* ``w[:B]`` and a *tail* ``w[B:]``. The stream's time axis is cut
  into blocks of ``B`` samples. Output ``y[j]`` of block ``[s, s + B)`` is

  ``y[j] = sum_{i < B} w[i] x[j - i]  +  sum_{i >= B} w[i] x[j - i]``

  and the second sum reads only samples before ``s``: the tail part of a
  whole block is known as soon as the previous block is complete. It is
  computed for all ``B`` outputs at once by overlap-save: the ``K - 1``
  samples ``x[s - K + 1 : s]`` against the tail's spectrum, transformed once
  per stream at ``nfft = next_fast_len(K - 1)`` and cached. The head part
  is a direct convolution of ``B`` taps over the chunk, so every sample's
  output is ready when the sample arrives: no latency, any chunk length.
  A sample costs about ``B`` multiply-adds plus ``2 nfft log nfft / B`` of
  transforms; ``B`` near ``sqrt(K log K)`` makes that ``O(sqrt(K log K))``,
  against ``O(K log K)`` for a one-shot FFT of a 1-sample chunk.
"""

from __future__ import annotations

import operator

import array_api_compat
import numpy as np

from . import _front, backends
from ._algorithms import compute_dtype, dtype_name, execute
from ._algorithms.choose import choose_method, estimate
from ._algorithms.fft import all_finite, transforms
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
        As in `gpuconv.convolve`, chosen per chunk by the cost model for
        ``'auto'``. ``'fft'`` and ``'oa'`` (and ``'auto'`` for floating
        dtypes) may also take the partitioned overlap-save path (Notes).
        As in `gpuconv.convolve`, ``'auto'`` and ``'direct'`` keep a NaN or
        Inf in the outputs that read it, and form no product with the time
        before the first sample or after the last; ``'fft'`` and ``'oa'``
        spread one over the outputs of its block.

    Raises
    ------
    ValueError
        Empty kernel, kernel of the wrong shape for `channels`, `channels`
        below 1, unknown `device` or `method`.
    TypeError
        Non-numeric kernel dtype or `dtype`, `channels` not an integer.
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
    The state is the last ``K - 1 + B - 1`` input samples of each channel
    (zeros before the first chunk), kept on the device in the output dtype,
    plus the cached tail outputs of the current block. Each chunk of ``T``
    samples takes the cheaper of two paths (`gpuconv.streaming` explains
    both):

    * one shot: the chunk appended to the last ``K - 1`` samples and the
      ``'valid'`` part of that block computed by the same algorithms as
      `gpuconv.convolve` (direct, FFT or blocked FFT); costs a convolution
      of ``K - 1 + T`` samples. The only path for ``method='direct'`` and
      for integer and boolean dtypes, whose results stay exact.
    * partitioned overlap-save (floating dtypes, ``method`` 'fft', 'oa' or
      'auto', kernels long enough that it pays): the first ``B`` taps direct
      over the chunk, the other ``K - B`` by FFT once per block of ``B``
      samples against a kernel spectrum transformed once. Its error is the
      direct error of ``B`` taps plus the FFT error of one block.

    Either way process returns the chunk's outputs at once (no latency) and
    the concatenated outputs equal the one-shot call to the method's accuracy.
    ``B`` is chosen at construction by the cost model (``block_length``;
    0 when the partitioned path is never used).

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
        if channels is not None:
            if isinstance(channels, bool) or not hasattr(channels, "__index__"):
                raise TypeError(f"channels must be None or a positive integer, got {channels!r}")
            channels = operator.index(channels)  # NumPy integers too
            if channels < 1:
                raise ValueError(f"channels must be None or a positive integer, got {channels!r}")
        self.device = backends.default_device() if device == "auto" else device
        self._backend = _backend_for(self.device)
        xp = self._backend.xp
        kernel = xp.asarray(_front.to_backend(self._backend, kernel, "kernel"), copy=True)
        _front.check_numeric(xp, kernel.dtype, "kernel must have")
        shapes = "(K,)" if channels is None else f"(K,) or ({channels}, K)"
        if kernel.ndim not in (1, 2) or (kernel.ndim == 2 and kernel.shape[0] != channels):
            raise ValueError(f"kernel must have shape {shapes} for channels={channels}, "
                             f"got {tuple(kernel.shape)}")
        if kernel.shape[-1] == 0:
            raise ValueError("kernel cannot be empty")
        if dtype is not None:
            _front.check_numeric(np, np.dtype(dtype), "dtype must be")
        self.channels = channels
        self._kernel = xp.reshape(kernel, (-1, kernel.shape[-1]))
        self._given_dtype = None if dtype is None else xp.result_type(np.dtype(dtype),
                                                                      kernel.dtype)
        self.block_length = 0 if self.method == "direct" else _block_length(
            self._backend, channels or 1, self._kernel.shape[0], self.kernel_length,
            self._given_dtype or kernel.dtype)
        self._finite_kernel = all_finite(xp, self._kernel)
        self._spectra = {}  # compute dtype -> (head kernel, tail spectrum, nfft)
        self._decisions = {}  # see _remember
        self.reset()

    @property
    def kernel_length(self) -> int:
        """``K``, the number of taps."""
        return self._kernel.shape[-1]

    @property
    def _history_length(self) -> int:
        # K - 1 samples for the one-shot path; the partitioned path's first
        # block may start B - 1 samples back and reads K - 1 before that.
        return self.kernel_length - 1 + max(self.block_length - 1, 0)

    def reset(self) -> None:
        """Forget every sample fed so far and start a new stream."""
        self.dtype = self._given_dtype  # output dtype; None until the first samples
        self._history = None            # (rows, history length) last input samples
        self._position = 0              # samples fed so far
        self._tail = None               # (block start, its (rows, B) tail outputs)
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
        chunk = _front.to_backend(self._backend, chunk, "chunk")
        _front.check_numeric(xp, chunk.dtype, "chunk must have")
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
            history = xp.zeros((x.shape[0], self._history_length), dtype=dtype,
                                device=self._kernel.device)
        block = xp.concat((history, x), axis=-1)
        tail = self._tail
        if self._partitioned(t, dtype):
            out, tail = self._blocks(block, t, dtype)
        else:
            before = min(self._position, self.kernel_length - 1)  # samples the outputs read
            out = self._valid(block[:, history.shape[1] - before:], start=before, out_len=t,
                              dtype=dtype)
        # Commit the new state only once the chunk has been convolved.
        self._history = xp.asarray(block[:, t:], copy=True)
        self._position += t
        self._tail = tail
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
            before = min(self._position, k - 1)
            out = self._valid(self._history[:, -before:], start=before, out_len=k - 1,
                              dtype=dtype)
        self._finished = True
        return out[0] if self.channels is None else out

    def _valid(self, block, *, start, out_len, dtype):
        """Outputs ``start ..`` of the full convolution of each row of ``block``:
        the ``start`` samples before the outputs' own (at most ``K - 1``) and
        no zeros for the time before the stream, so that, as in
        ``numpy.convolve``, the direct sum forms no product with them."""
        rows, n = block.shape
        request = Request(rows=rows, n=n, k=self.kernel_length,
                          kernel_rows=self._kernel.shape[0], start=start, out_len=out_len)
        chosen = None
        if self.method == "auto":
            name = dtype_name(self._backend.xp, dtype)
            chosen = self._remember((request, name),
                                    lambda: choose_method(self._backend, request, name))
        return execute(self._backend, block, self._kernel, request, self.method, dtype,
                       chosen=chosen)

    # ------------------------------------------------------------------
    # The partitioned overlap-save path (module docstring)
    # ------------------------------------------------------------------

    def _partitioned(self, t: int, dtype) -> bool:
        """Whether the partitioned path is cheaper than one shot for ``t`` samples.

        Tails computed now serve later chunks of the same block too, so this
        chunk pays only for the share of them it uses.
        """
        name = dtype_name(self._backend.xp, dtype)
        if not self.block_length or name == "exact" or (self.method == "auto"
                                                        and not self._finite_kernel):
            return False  # one shot: its auto keeps an Inf weight's products local
        b = self.block_length
        first, last = self._block_starts(t)
        cached = self._tail is not None and self._tail[0] == first
        blocks = (last - first) // b + 1 - cached
        used = t - min(t, b - self._position % b) if cached else t
        return self._remember((t, blocks, used, name),
                              lambda: self._partitioned_cheaper(t, blocks, used, name))

    def _remember(self, key, decide):
        """``decide()``, memoised on ``key``: estimating costs as much as a
        short direct call, and a stream's chunks mostly repeat their lengths."""
        if key not in self._decisions:
            if len(self._decisions) > 1024:  # chunk lengths that never repeat
                self._decisions.clear()
            self._decisions[key] = decide()
        return self._decisions[key]

    def _partitioned_cheaper(self, t: int, blocks: int, used: int, name: str) -> bool:
        b, k = self.block_length, self.kernel_length
        rows, kernel_rows = self._kernel_rows()
        one_shot = estimate(self._backend, Request(rows=rows, n=k - 1 + t, k=k,
                                                   kernel_rows=kernel_rows, start=k - 1,
                                                   out_len=t), name)
        one_shot = min(one_shot.values()) if self.method == "auto" else one_shot[self.method]
        head = _partitioned_seconds(self._backend, rows, kernel_rows, k, b, t, 0, name)
        tails = _partitioned_seconds(self._backend, rows, kernel_rows, k, b, t, blocks,
                                     name) - head
        return head + tails * used / max(blocks * b, 1) < one_shot

    def _kernel_rows(self) -> tuple[int, int]:
        rows = self.channels or 1
        return rows, 1 if self._kernel.shape[0] == 1 else rows

    def _block_starts(self, t: int) -> tuple[int, int]:
        """Starts of the first and last blocks the next ``t`` samples fall in."""
        b = self.block_length
        return self._position // b * b, (self._position + t - 1) // b * b

    def _blocks(self, block, t: int, dtype):
        """The ``t`` outputs of the chunk at the end of ``block`` (history + chunk),
        and the cached tail to keep."""
        xp = self._backend.xp
        b, k = self.block_length, self.kernel_length
        work = compute_dtype(xp, dtype, "fft")
        head_kernel, spectrum, nfft = self._kernel_spectra(work)
        block = xp.astype(block, work, copy=False)
        rows, kernel_rows = self._kernel_rows()
        origin = self._position - self._history_length  # absolute index of block[:, 0]

        # Tail outputs of every block the chunk touches; the first may be cached.
        first, last = self._block_starts(t)
        tails = []
        if self._tail is not None and self._tail[0] == first:
            tails.append(xp.astype(self._tail[1], work, copy=False))
            first += b
        if first <= last:
            # Block s reads x[s - K + 1 : s]: a window of K - 1 at s - K + 1 - origin.
            offsets = list(range(first - (k - 1) - origin, last - (k - 1) - origin + 1, b))
            tails.append(self._tail_outputs(block, offsets, spectrum, nfft))
        tail = xp.concat(tails, axis=-1) if len(tails) > 1 else tails[0]

        # Head: B taps over the chunk and the B - 1 samples before it.
        head_request = Request(rows=rows, n=b - 1 + t, k=b, kernel_rows=kernel_rows,
                               start=b - 1, out_len=t)
        head = execute(self._backend, block[:, block.shape[1] - t - (b - 1):], head_kernel,
                       head_request, "direct", work)
        lead = self._position % b
        out = head + tail[:, lead:lead + t]
        return xp.astype(out, dtype, copy=False), (last, tail[:, tail.shape[1] - b:])

    def _tail_outputs(self, block, offsets, spectrum, nfft):
        """``(rows, len(offsets) * B)`` tail outputs of the blocks whose ``K - 1``
        input samples start at ``offsets`` of ``block``, by overlap-save."""
        xp = self._backend.xp
        b, k = self.block_length, self.kernel_length
        taps = k - b
        rows = block.shape[0]
        forward, inverse = transforms(self._backend, block.dtype)
        # Several blocks per transform call, as many as the workspace budget allows.
        per_block = 3 * rows * nfft * block.dtype.itemsize
        group = max(1, self._backend.workspace_bytes() // per_block)
        device = array_api_compat.device(block)
        window = xp.arange(k - 1, device=device)
        pieces = []
        for lo in range(0, len(offsets), group):
            starts = xp.asarray(offsets[lo:lo + group], device=device)
            index = xp.reshape(starts[:, None] + window[None, :], (-1,))
            segments = xp.reshape(xp.take(block, index, axis=1), (rows, starts.shape[0], k - 1))
            spectra = forward(segments, nfft)
            if self.method == "auto" and not all_finite(xp, spectra[..., 0]):
                # A NaN or Inf would spread over the block: the direct sum, as auto does.
                pieces.append(self._tail_direct(segments))
                continue
            spectra *= spectrum[:, None, :]
            # The valid part: output t of the block is index t + taps - 1.
            y = inverse(spectra, nfft)[..., taps - 1:taps - 1 + b]
            pieces.append(xp.reshape(y, (rows, starts.shape[0] * b)))
        return pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=-1)

    def _tail_direct(self, segments):
        """`_tail_outputs` of ``segments`` (rows, blocks, K - 1) by the direct sum."""
        xp = self._backend.xp
        b, k = self.block_length, self.kernel_length
        rows, blocks = segments.shape[:2]
        tail = xp.astype(self._kernel[:, b:], segments.dtype)
        if tail.shape[0] > 1:  # one kernel per channel: per block of each channel
            tail = xp.repeat(tail, blocks, axis=0)
        request = Request(rows=rows * blocks, n=k - 1, k=k - b, kernel_rows=tail.shape[0],
                          start=k - b - 1, out_len=b)
        y = execute(self._backend, xp.reshape(segments, (rows * blocks, k - 1)), tail, request,
                    "direct", segments.dtype)
        return xp.reshape(y, (rows, blocks * b))

    def _kernel_spectra(self, work):
        """Head kernel, tail spectrum and transform length in ``work`` dtype, cached."""
        if work not in self._spectra:
            xp, backend = self._backend.xp, self._backend
            b, k = self.block_length, self.kernel_length
            kernel = xp.astype(self._kernel, work)
            nfft = backend.next_fast_len(k - 1, real=not xp.isdtype(work, "complex floating"))
            forward, _ = transforms(backend, work)
            self._spectra[work] = (kernel[:, :b], forward(kernel[:, b:], nfft), nfft)
        return self._spectra[work]

    def _check_open(self, what: str) -> None:
        if self._finished:
            raise RuntimeError(f"{what}() after flush(): the stream has ended; "
                               "call reset() to start a new one")

    def __repr__(self) -> str:
        return (f"StreamingConvolver(kernel_length={self.kernel_length}, "
                f"channels={self.channels}, dtype={self.dtype}, device={self.device!r}, "
                f"method={self.method!r})")


def _partitioned_seconds(backend, rows, kernel_rows, k, b, t, blocks, name) -> float:
    """Estimated seconds of the partitioned path: the head of ``t`` outputs and
    the tails of ``blocks`` blocks (one batched transform; spectrum cached)."""
    head = estimate(backend, Request(rows=rows, n=b - 1 + t, k=b, kernel_rows=kernel_rows,
                                     start=b - 1, out_len=t), name)["direct"]
    if not blocks:
        return head
    tail = estimate(backend, Request(rows=rows * blocks, n=k - 1, k=k - b, kernel_rows=1,
                                     start=k - b - 1, out_len=b), name)["fft"]
    return head + tail


def _block_length(backend, rows, kernel_rows, k, dtype) -> int:
    """``B`` with the least estimated seconds per sample for 1-sample chunks.

    A sample costs its head (``B`` taps) plus a ``1/B`` share of one block's
    tail transform. Powers of two below ``K`` are tried; 0 (no partitioned
    path) for kernels under 3 taps. An integer kernel may meet floating
    chunks: its ``B`` is float64's (integer chunks never take the path).
    """
    if k < 3:
        return 0
    name = dtype_name(backend.xp, dtype)
    name = "float64" if name == "exact" else name
    best, best_seconds = 0, None
    b = 1
    while b < k:
        head = _partitioned_seconds(backend, rows, kernel_rows, k, b, 1, 0, name)
        with_tail = _partitioned_seconds(backend, rows, kernel_rows, k, b, 1, 1, name)
        per_sample = head + (with_tail - head) / b
        if best_seconds is None or per_sample < best_seconds:
            best, best_seconds = b, per_sample
        b *= 2
    return best


def _backend_for(device: str):
    """The backend for ``'cpu'`` or ``'cuda'``; ``'cpu'`` honours a CPU-side
    `gpuconv.use_backend` override (the tests' ``'emulated'`` backend)."""
    if device == "cuda":
        return backends.backend_named("cupy")
    backend = backends.get_backend()
    return backends.backend_named("numpy") if backend.name == "cupy" else backend
