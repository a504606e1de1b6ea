"""Lazy convolution of Dask arrays, one chunk at a time with gpuconv's own functions.

Every call becomes a ``'valid'`` convolution of an *extended* array: the
signal is padded along `axis` by the boundary rule (`dask.array.pad`) and cut
to exactly the samples the outputs read, then `dask.array.map_overlap` gives
each chunk along `axis` a halo of ``k - 1`` samples from its left neighbour
(chunks shorter than the kernel are merged with a neighbour first) and each
block is convolved in ``'valid'`` mode by `gpuconv.convolve` or
`gpuconv.ndimage`. Blocks keep their array type: NumPy chunks run on the CPU
backend, CuPy chunks on the GPU. Needs the ``dask`` extra.

Memory: a task holds its chunk, the halo and its output. When many rows are
each split into several chunks along `axis` and the results go to
`dask.array.store`, Dask's task order may load one chunk of every row before
it finishes any row; store groups of rows in turn to keep the peak bounded
(docs/dask.md, "Bigger than memory").
"""

from __future__ import annotations

import numpy as np

try:
    import dask.array as da
    from dask.array.utils import meta_from_array
except ImportError as error:  # an optional extra: say which
    raise ImportError(f"gpuconv.dask needs Dask: pip install 'gpuconv[dask]' ({error})") from error

from . import _convolve, _front, ndimage
from ._plan import (BOUNDARIES, check_choice, extension, ndimage_window, normalize_axis,
                    numpy_mode, numpy_window)

__all__ = ["convolve", "convolve1d", "correlate", "correlate1d"]

#: ``numpy.pad`` mode of each gpuconv boundary rule.
_PAD_MODES = {"zero": "constant", "constant": "constant", "reflect": "symmetric",
              "mirror": "reflect", "nearest": "edge", "wrap": "wrap"}


def convolve(x, v, mode="full", axis=-1, method="auto"):
    """Lazy `gpuconv.convolve` of a Dask array along one axis.

    Parameters
    ----------
    x : dask.array.Array
        Signals; every 1-D slice along `axis` is convolved. NumPy or CuPy
        chunks (a NumPy or CuPy array is taken as one chunk).
    v : array_like
        1-D kernel (NumPy), the same for every slice.
    mode : {'full', 'same', 'valid'}, optional
        As in `numpy.convolve`, including its rule that lengths depend only on
        the shorter and the longer of the two inputs.
    axis : int, optional
        Axis of `x` to convolve along. Default -1.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        gpuconv's method, chosen per block.

    Returns
    -------
    out : dask.array.Array
        Lazy result of dtype ``result_type(x, v)``, chunks of `x`'s array type.

    Raises
    ------
    ValueError
        Unknown `mode`, an empty `x` or `v`, `v` not 1-D.

    See Also
    --------
    gpuconv.convolve : the in-memory function this equals.

    Notes
    -----
    Chunks along `axis` shorter than the kernel are merged first. Floating
    results can differ from the in-memory call by rounding, since each block
    is its own FFT.

    Examples
    --------
    >>> import dask.array as da, gpuconv.dask
    >>> x = da.arange(6, chunks=2)
    >>> gpuconv.dask.convolve(x, [1, 1], method="direct").compute()
    array([0, 1, 3, 5, 7, 9, 5])
    """
    return _linear(x, v, mode, axis, method, correlate=False)


def correlate(x, v, mode="valid", axis=-1, method="auto"):
    """Lazy `gpuconv.correlate` of a Dask array along one axis.

    Arguments, results and errors are as in `convolve` (default ``'valid'``).

    See Also
    --------
    gpuconv.correlate : the in-memory function this equals.

    Examples
    --------
    >>> import dask.array as da, gpuconv.dask
    >>> gpuconv.dask.correlate(da.arange(6, chunks=2), [1, 2], method="direct").compute()
    array([ 2,  5,  8, 11, 14])
    """
    return _linear(x, v, mode, axis, method, correlate=True)


def convolve1d(x, weights, axis=-1, mode="reflect", cval=0.0, origin=0):
    """Lazy `gpuconv.ndimage.convolve1d` of a Dask array.

    Parameters
    ----------
    x : dask.array.Array
        Signals; every 1-D slice along `axis` is filtered. NumPy or CuPy
        chunks (a NumPy or CuPy array is taken as one chunk).
    weights : array_like
        1-D filter weights (NumPy).
    axis, mode, cval, origin
        As in `scipy.ndimage.convolve1d`.

    Returns
    -------
    out : dask.array.Array
        Lazy result of `x`'s shape and of the dtype `gpuconv.ndimage` gives.

    Raises
    ------
    NotImplementedError
        ``'reflect'``, ``'mirror'`` or ``'wrap'`` with a kernel so long that
        the extension needs more samples than the signal has (more than ``n``,
        ``n - 1`` for ``'mirror'``): `dask.array.pad` cannot reflect twice.
    ValueError
        Unknown `mode`, `origin` out of range, `weights` not 1-D.

    See Also
    --------
    gpuconv.ndimage.convolve1d : the in-memory function this equals.

    Examples
    --------
    >>> import dask.array as da, gpuconv.dask
    >>> x = da.from_array([1.0, 2.0, 4.0, 8.0], chunks=2)
    >>> gpuconv.dask.convolve1d(x, [1.0, 1.0, 1.0], mode="nearest").compute()
    array([ 4.,  7., 14., 20.])
    """
    return _filter1d(x, weights, axis, mode, cval, origin, correlate=False)


def correlate1d(x, weights, axis=-1, mode="reflect", cval=0.0, origin=0):
    """Lazy `gpuconv.ndimage.correlate1d` of a Dask array.

    Arguments, results and errors are as in `convolve1d`.

    See Also
    --------
    gpuconv.ndimage.correlate1d : the in-memory function this equals.

    Examples
    --------
    >>> import dask.array as da, gpuconv.dask
    >>> x = da.from_array([1.0, 2.0, 4.0, 8.0], chunks=2)
    >>> gpuconv.dask.correlate1d(x, [0.0, 0.0, 1.0], mode="wrap").compute()
    array([2., 4., 8., 1.])
    """
    return _filter1d(x, weights, axis, mode, cval, origin, correlate=True)


def _linear(x, v, mode, axis, method, *, correlate):
    check_choice(method, ("auto", "direct", "fft", "oa"), "method")  # now, not at compute()
    x, v = _as_dask(x), np.asarray(v)
    _front.check_numeric(np, x.dtype, "x must have")
    _front.check_numeric(np, v.dtype, "v must have")
    if v.ndim != 1 or v.size == 0 or x.size == 0:
        raise ValueError(f"x must be non-empty and v a non-empty 1-D array, got shapes "
                         f"{x.shape} and {v.shape}")
    axis = normalize_axis(axis, x.ndim)
    n, k = x.shape[axis], v.shape[0]
    start, out_len = numpy_window(n, k, numpy_mode(mode), correlate=correlate)
    w = _front.conj_flip(np, v, 0) if correlate else v  # np.conj would make bools int8
    dtype = np.result_type(x.dtype, v.dtype)

    def block(b):
        return _convolve.convolve(b, w, "valid", axis=axis, method=method)

    return _valid(_extend(x, axis, k, start, out_len, "zero", 0), k, axis, block, dtype)


def _filter1d(x, weights, axis, mode, cval, origin, *, correlate):
    x, weights = _as_dask(x), np.asarray(weights)
    ndimage.check_mode_and_weights(mode, weights)
    axis = normalize_axis(axis, x.ndim)
    n, k = x.shape[axis], weights.shape[0]
    # The in-memory call on a tiny array gives the output dtype and checks cval and origin.
    dtype = ndimage.convolve1d(np.zeros(1, x.dtype), weights, mode="constant", cval=cval,
                               origin=origin).dtype
    start = ndimage_window(k, origin, correlate=correlate)
    if n == 0:
        return x.astype(dtype)
    # Extended in the dtype the in-memory call computes in, so cval is not
    # rounded to the input's: float64 for integers (SciPy's), float32 for float16.
    method = "auto"
    if x.dtype.kind in "biu":
        x = x.astype(np.result_type(np.float64, weights.dtype))
        method = "direct"  # truncation would turn FFT rounding (2.9999999) into an off-by-one
    elif x.dtype == np.float16:
        x = x.astype(np.float32)
    func = ndimage.correlate1d if correlate else ndimage.convolve1d
    lead = k - 1 - start  # the block's output t' = lead + t reads the samples output t does

    def block(b):
        m = b.shape[axis] - k + 1
        out = func(b, weights, axis, output=dtype, mode="constant", origin=origin, method=method)
        return out[(slice(None),) * axis + (slice(lead, lead + m),)]

    xe = _extend(x, axis, k, start, n, BOUNDARIES[mode], cval, name=mode)
    return _valid(xe, k, axis, block, dtype)


def _as_dask(x):
    """`x` as a Dask array (a NumPy or CuPy array becomes one chunk), with
    known chunk sizes along every axis."""
    x = da.asarray(x, chunks=-1)  # a Dask array keeps its own chunks
    if any(np.isnan(size) for sizes in x.chunks for size in sizes):
        raise ValueError("x has chunks of unknown size (from a boolean index, say): call "
                         "x.compute_chunk_sizes() first")
    return x


def _extend(x, axis, k, start, out_len, boundary, cval, name=None):
    """`x` along `axis` extended by `boundary` to samples ``[start - k + 1, start + out_len - 1]``;
    ``name``: the mode as the caller gave it ('grid-mirror' for 'reflect'), for errors."""
    n = x.shape[axis]
    left, right = extension(n, k, start, out_len)
    limit = {"reflect": n, "mirror": n - 1, "wrap": n}.get(boundary)
    if limit is not None and max(left, right) > limit:
        raise NotImplementedError(
            f"mode {name or boundary!r} needs {max(left, right)} extension samples but the "
            f"signal has {n}: gpuconv.dask supports at most {limit} (dask.array.pad reflects "
            f"or wraps only once); use the in-memory gpuconv.ndimage for such kernels")
    if left or right:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (left, right)
        kwargs = {"constant_values": cval} if _PAD_MODES[boundary] == "constant" else {}
        x = da.pad(x, widths, mode=_PAD_MODES[boundary], **kwargs)
    first = start - (k - 1) + left
    return x[(slice(None),) * axis + (slice(first, first + out_len + k - 1),)]


def _valid(xe, k, axis, block, dtype):
    """``block`` (a 'valid' convolution) over chunks of `xe` with a ``k - 1`` halo.

    `dask.array.map_overlap` with a one-sided depth ``(k - 1, 0)``, no
    boundary (`_extend` applied it) and no trimming: block ``i`` gets the
    last ``k - 1`` samples of block ``i - 1`` and returns exactly the outputs
    of its own chunk (the first block, with no halo, ``k - 1`` fewer).
    """
    sizes = xe.chunks[axis]
    if min(sizes) < k:  # every block must hold a whole kernel
        xe = xe.rechunk({axis: _merge_short_chunks(sizes, k)})
        sizes = xe.chunks[axis]
    chunks = list(xe.chunks)
    chunks[axis] = (sizes[0] - (k - 1),) + sizes[1:]
    # The result's meta is the input's array type: NumPy chunks give NumPy, CuPy CuPy.
    meta = meta_from_array(xe, ndim=xe.ndim, dtype=dtype)
    if k == 1:
        return da.map_blocks(block, xe, chunks=tuple(chunks), dtype=dtype, meta=meta)
    return da.map_overlap(block, xe, depth={axis: (k - 1, 0)}, boundary="none", trim=False,
                          allow_rechunk=False, chunks=tuple(chunks), dtype=dtype, meta=meta)


def _merge_short_chunks(sizes, k):
    """Chunk sizes with every chunk at least ``k``, made by merging neighbours.

    Only chunks shorter than ``k`` (the pieces `dask.array.pad` adds at the
    ends, or a user's small chunks) are merged; the other boundaries stay
    where they are, so the rechunk concatenates a few pieces and never
    re-cuts every chunk. ``sum(sizes) >= k``.

    >>> _merge_short_chunks((64, 1000, 1000, 1, 63), 129)
    (1064, 1064)
    >>> _merge_short_chunks((3, 3, 3, 3, 1), 5)
    (6, 7)
    """
    merged, pending = [], 0
    for size in sizes:
        pending += size
        if pending >= k:
            merged.append(pending)
            pending = 0
    if pending:  # a short remainder joins the last chunk
        merged[-1] += pending
    return tuple(merged)
