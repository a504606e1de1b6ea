"""Grouped convolution as unfold (im2col) + matrix product, in bounded tiles.

Written once against the array namespace ``xp``: on the CPU the product is
NumPy's ``matmul`` (BLAS), on the GPU CuPy's (cuBLAS). The unfolded matrix of
a tile holds, for ``n_tile`` signals and ``t_tile`` outputs, the ``C_in * K``
input samples each output reads; it is built by ``K`` strided copies (one per
tap, which is where stride and dilation are applied, so neither costs extra
arithmetic here) and multiplied by the ``(C_out/groups, C_in/groups * K)``
weight matrix of each group in one batched product.

This is the route of backends without a ``conv_channels`` kernel (CuPy, and
the host-emulated CUDA backend, so CPU tests exercise it); the NumPy backend
runs `gpuconv.backends._numba_conv` instead, which needs no unfolded matrix.
"""

from __future__ import annotations

import contextlib

import array_api_compat

#: On the CPU, the unfolded tile stays under this many bytes (it is written
#: once and read once by BLAS, so it should stay in the outer caches). Each
#: tile is one matrix product per group, whose long side (signals x outputs)
#: BLAS splits over its threads: on the project's shared 2-core machine,
#: 8 MiB tiles ran the pipeline's second layer 1.2-2.5x faster than
#: batched products of 4096-output slices or tiles of 32 MiB and more, with
#: one BLAS thread or two (each product is one hand-off to BLAS's threads,
#: which costs most when other processes hold the cores).
CPU_TILE_BYTES = 8 * 2**20


def tile_shape(backend, batch: int, rows: int, out_len: int, itemsize: int) -> tuple[int, int]:
    """``(n_tile, t_tile)``: signals and outputs per tile under the workspace budget.

    ``rows`` is ``C_in * K``, the unfolded rows per output. The budget is the
    backend's `workspace_bytes` (``gpuconv.config.max_workspace_bytes``), and
    on the CPU also `CPU_TILE_BYTES`; a tile is never smaller than one output
    of one signal. Whole signals first, so a tile's columns are few long runs.
    """
    budget = backend.workspace_bytes()
    if getattr(backend, "figures", None) is None:  # a CPU backend
        budget = min(budget, CPU_TILE_BYTES)
    outputs = max(1, budget // (rows * itemsize))
    t_tile = min(out_len, outputs)
    n_tile = max(1, min(batch, outputs // t_tile))
    return n_tile, t_tile


def conv_gemm(backend, x, weight, bias, *, groups: int, stride: int, dilation: int,
              out_len: int, zero_left: int = 0, allow_tf32: bool = False):
    """Cross-correlate ``x`` (N, C_in, L) with ``weight`` (C_out, C_in/groups, K).

    ``bias`` is (C_out,) or None. Returns (N, C_out, out_len) in ``x``'s dtype
    on its device; ``out[n, o, t] = bias[o] + sum_{c, k} weight[o, c, k] *
    x[n, group(o) * C_in/groups + c, t * stride + k * dilation - zero_left]``,
    where ``x`` is zero outside ``[0, L)``: zero padding is applied while
    unfolding, so the input is never copied whole (other padding modes come
    padded).
    """
    xp = backend.xp
    batch, in_channels, length = x.shape
    out_channels, group_channels, k = weight.shape
    group_out = out_channels // groups
    rows = group_channels * k
    device = array_api_compat.device(x)
    out = xp.empty((batch, out_channels, out_len), dtype=x.dtype, device=device)
    if batch == 0:
        return out
    # (groups, C_out/groups, C_in/groups * K): one matrix per group.
    w = xp.reshape(weight, (groups, group_out, rows))
    b = None if bias is None else xp.reshape(bias, (1, out_channels, 1))
    n_tile, t_tile = tile_shape(backend, batch, in_channels * k, out_len, x.dtype.itemsize)
    # One flat buffer reused by every tile; a contiguous prefix of it is each
    # tile's unfolded matrix, so its reshapes never copy.
    buffer = xp.empty((in_channels * k * n_tile * t_tile,), dtype=x.dtype, device=device)
    with _tf32(backend, allow_tf32):
        for n0 in range(0, batch, n_tile):
            n1 = min(n0 + n_tile, batch)
            signals = n1 - n0
            for t0 in range(0, out_len, t_tile):
                t1 = min(t0 + t_tile, out_len)
                width = t1 - t0
                # cols[c, tap, n, t] = x[n0 + n, c, (t0 + t) * stride + tap * dilation - zero_left]
                cols = xp.reshape(buffer[:in_channels * k * signals * width],
                                  (in_channels, k, signals, width))
                for tap in range(k):
                    lo, hi = _inside(t0, t1, tap * dilation - zero_left, stride, length)
                    if lo > t0:
                        cols[:, tap, :, :lo - t0] = 0
                    if hi < t1:
                        cols[:, tap, :, max(hi, t0) - t0:] = 0
                    if lo < hi:
                        begin = lo * stride + tap * dilation - zero_left
                        view = x[n0:n1, :, begin:begin + (hi - lo - 1) * stride + 1:stride]
                        cols[:, tap, :, lo - t0:hi - t0] = xp.permute_dims(view, (1, 0, 2))
                # C_in = groups * C_in/groups leads, so this reshape is free.
                cols = xp.reshape(cols, (groups, rows, signals * width))
                product = xp.matmul(w, cols)  # (groups, C_out/groups, signals * width)
                product = xp.reshape(product, (out_channels, signals, width))
                tile = xp.permute_dims(product, (1, 0, 2))
                out[n0:n1, :, t0:t1] = tile if b is None else tile + b
    return out


def _inside(t0: int, t1: int, offset: int, stride: int, length: int) -> tuple[int, int]:
    """``[lo, hi)``: the outputs ``t`` in ``[t0, t1)`` whose sample
    ``t * stride + offset`` lies inside ``[0, length)`` (``lo >= hi`` if none).

    >>> _inside(0, 10, -4, 2, 10)   # samples -4, -2, 0, ..., 14
    (2, 7)
    """
    lo = max(t0, -(offset // stride))              # ceil(-offset / stride)
    hi = min(t1, (length - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


@contextlib.contextmanager
def _tf32(backend, allow: bool):
    """cuBLAS's float32 compute type for the block: TF32 tensor cores only
    when ``allow``; exact FP32 otherwise, even under ``CUPY_TF32=1``.

    CuPy keeps the choice in ``cupy._core._routines_linalg`` (read from
    ``CUPY_TF32`` on first use); nothing happens on other backends.
    """
    if backend.name != "cupy":
        yield
        return
    from cupy._core import _routines_linalg as linalg

    previous = linalg.get_compute_type("f")
    wanted = linalg.COMPUTE_TYPE_TF32 if allow else linalg.COMPUTE_TYPE_DEFAULT
    linalg.set_compute_type("f", wanted)
    try:
        yield
    finally:
        linalg.set_compute_type("f", previous)
