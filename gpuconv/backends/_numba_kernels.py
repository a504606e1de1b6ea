"""Numba JIT direct convolution for the CPU backend.

One kernel body serves every dtype the backend computes in (float32/64,
complex64/128, int64). Work is split into jobs (`gpuconv._plan.direct_jobs`):
tiles of up to 2048 outputs of one long row, or groups of short rows, so a
batch of short rows and one very long row both spread over all threads, and
a short row with a long kernel is cut into smaller tiles where that keeps
more threads busy. The cut depends on the thread count; the results do not,
bit for bit: an output's sum is formed tap by tap in the same order in any
tile, and tiles differ only in which products with a staged zero they form.
Such a product adds exactly zero to a running sum that starts at +0, which
in round-to-nearest never becomes -0, so it changes nothing.

Inside a tile the taps are consumed in groups of 8, the last group holding
the 1 to 8 left over: for each output the running sum stays in a register
while the group's taps are added, and the loop over outputs is a straight
line of loads and multiply-adds that LLVM vectorises across outputs (one
SIMD lane per output). With AVX-512, float32 and float64 take groups of 24
taps first, two float32 or three float64 vectors of outputs at a time, in
LLVM IR of our own (`_wide_blocks`): the vectors share most of their sample
loads. The sum of an output is still formed tap by tap in order
``i = 0, 1, ..., k - 1``, exactly as a textbook loop, because vectorising
across *outputs* needs no reassociation; the running sums are read back
from L1 once per group instead of once per tap.

The running sums live in a small scratch array of the thread's; only the
last group's pass writes the output, so the output is stored once and
never read back. Summing in the output itself made the kernel up to 1.9×
slower whenever the output lay at certain distances from the input, among
them 4 KiB past the input's size below it, where the allocator puts the
next array of the same size (`benchmarks/output_distance.py`).

Floating point: no reassociation and no finite-math assumptions, so NaN and
Inf propagate as in a textbook loop. Only ``contract`` is allowed, which
fuses each multiply and add into one IEEE 754 fused multiply-add (one
rounding instead of two, as the CUDA kernels do by default): it doubles the
arithmetic throughput and never makes an output less accurate.

Boundaries are applied here, not by padding the batch first: outputs whose
taps all fall inside the signal read the row in place; only the at most
``k - 1`` outputs at each end of a row read a small staged window (the
boundary rule applied while staging, as ``kernels/conv1d_direct.cu`` does),
or, with a zero boundary, skip the products outside the signal as
``numpy.convolve`` does.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._plan import DIRECT_WIDE_GROUP, direct_jobs
from .numpy_backend import wide_direct_passes

#: Boundary rules, with the codes the CUDA kernel uses.
BOUNDARY_CODES = {"zero": 0, "constant": 1, "reflect": 2, "mirror": 3, "nearest": 4, "wrap": 5}
_ZERO, _CONSTANT, _REFLECT, _MIRROR, _NEAREST, _WRAP = range(6)

# IEEE semantics kept; multiply-adds fused (see the module docstring).
_FLAGS = dict(nogil=True, cache=True, fastmath={"contract"})


# ---------------------------------------------------------------------------
# Views that count no references
# ---------------------------------------------------------------------------

@intrinsic
def borrowed(typingctx, array):
    """``array`` viewed without a reference to its memory.

    Every view Numba cuts from an array (a row, a slice, an argument passed
    on) counts a reference to the array's memory up, and later down, with
    an atomic instruction. On x86 such an instruction waits until the core's
    earlier stores have reached the cache, and the kernel's stores to its
    output miss it; threads slicing one shared array also pass the count's
    cache line between them. On 100000 rows of 256 samples (W4) the updates
    took 46% of the direct kernel's samples (``perf record``, two threads,
    Intel Xeon), and borrowing cut the kernel's time by about a sixth on two
    threads and a fifth on one (docs/performance.md, "Reference counts").
    Views of a borrowed view count nothing.

    Borrow only what outlives the view, such as a function's arguments,
    which its caller holds: Numba frees a local array after its last use,
    and a borrowed view does not count as one.

    >>> import numpy as np
    >>> @numba.njit
    ... def fill_rows(a):
    ...     view = borrowed(a)
    ...     for r in range(view.shape[0]):
    ...         view[r][:] = r
    >>> a = np.zeros((2, 3))
    >>> fill_rows(a)
    >>> a
    array([[0., 0., 0.],
           [1., 1., 1.]])
    """
    if not isinstance(array, types.Array):
        raise numba.core.errors.TypingError(f"borrowed takes an array, got {array}")

    def codegen(context, builder, signature, args):
        view = context.make_array(signature.args[0])(context, builder, args[0])
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return array(array), codegen


@intrinsic
def prefer_wide_vectors(typingctx):
    """Let LLVM vectorise the calling function with 512-bit registers.

    LLVM's tuning for many AVX-512 CPUs (Skylake-SP to Sapphire Rapids, and
    the Xeon these notes were measured on, which it takes for ``rocketlake``)
    prefers 256-bit vectors for the whole program, and Numba has no
    per-function switch. The function attributes that clang sets for
    ``-mprefer-vector-width=512`` and ``min_vector_width(512)`` lift that
    preference for the passes alone: on that Xeon they made W2's call 13%
    and W5's 9% faster (docs/performance.md, "512-bit vectors in the
    passes"). A CPU without AVX-512 keeps its widest vectors, and one that
    LLVM already tunes for 512 bits is unchanged. The lanes are the same
    outputs either way, so the results are the same bytes.
    """

    def codegen(context, builder, signature, args):
        _ask_for_wide_vectors(builder.function)
        return context.get_dummy_value()

    return types.none(), codegen


def _ask_for_wide_vectors(function) -> None:
    # String attributes; llvmlite's checked ``add`` knows only LLVM's keywords.
    set.add(function.attributes, '"prefer-vector-width"="512"')
    set.add(function.attributes, '"min-legal-vector-width"="512"')


# ---------------------------------------------------------------------------
# Passes: add a group of consecutive taps to every output of a tile
# ---------------------------------------------------------------------------

@numba.njit(**_FLAGS)
def _pass(sums, xs, taps, first):
    """``sums[t] = (0 if first else sums[t]) + sum_q taps[q] * xs[t + g - 1 - q]``.

    ``taps`` is a tuple of ``g <= GROUP`` weights: its length is a compile-time
    constant, so LLVM unrolls the tap loop, keeps the weights broadcast in
    registers and vectorises the loop over outputs, with the running sum in a
    register across the group. ``xs`` starts at offset 0, so every index is
    provably non-negative and Numba emits no wrap-around check.
    """
    prefer_wide_vectors()
    zero = sums.dtype.type(0)
    g = len(taps)
    for t in range(sums.size):
        a = zero if first else sums[t]
        for q in range(g):
            a += taps[q] * xs[t + g - 1 - q]
        sums[t] = a


@numba.njit(**_FLAGS)
def _last_pass(out, sums, xs, taps, first):
    """`_pass`, writing ``out`` instead of ``sums``. A function of its own:
    one array passed as both would fail LLVM's overlap check at run time
    and leave the loop scalar."""
    prefer_wide_vectors()
    zero = out.dtype.type(0)
    g = len(taps)
    for t in range(out.size):
        a = zero if first else sums[t]
        for q in range(g):
            a += taps[q] * xs[t + g - 1 - q]
        out[t] = a


#: Taps per pass: each pass reads and writes the running sums once (from L1).
GROUP = 8

#: Taps per wide pass (`_wide_pass`): three groups' worth, their weights held
#: in 24 of the 32 AVX-512 registers.
WIDE_GROUP = DIRECT_WIDE_GROUP
#: Vectors of outputs a wide pass sums at once, by lanes a vector. Vector
#: ``j`` with tap ``q + j * lanes`` reads the samples vector ``j - 1`` read
#: with tap ``q``: two float32 vectors load 40 sample vectors for 48
#: multiply-adds where one loads 24 for 24, and three float64 vectors load
#: 40 for 72. Three float64 vectors made W5's kernel about 10% faster than
#: two; for float32, three were slower and four no faster
#: (docs/performance.md, "Vectors a wide pass").
_WIDE_VECTORS = {16: 2, 8: 3}


def vector_fma(builder, vector):
    """LLVM's fused multiply-add of two ``vector``s (float32 or float64 lanes)."""
    name = "f32" if vector.element == ir.FloatType() else "f64"
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3),
                                          f"llvm.fma.v{vector.count}{name}")


def vector_at(builder, array, index, vector):
    """A pointer to the ``vector`` of elements of ``array`` (a Numba array
    struct) from ``index`` on."""
    return builder.bitcast(builder.gep(array.data, [index]), vector.as_pointer())


def _wide_lanes(context, dtype) -> int:
    """Lanes of the wide pass's vectors for ``dtype``; 0 (no wide pass) but
    for float32 and float64 where `wide_direct_passes`."""
    if dtype not in (types.float32, types.float64) or not wide_direct_passes():
        return 0
    return 64 // context.get_abi_sizeof(context.get_value_type(dtype))


@intrinsic
def _wide_blocks(typingctx, sums, xs, taps, first):
    """`_pass` with the `WIDE_GROUP` weights of the array ``taps``, for the
    outputs of ``sums`` in whole blocks of `_WIDE_VECTORS` vectors; returns
    how many outputs it summed (0 where `_wide_lanes` is 0). As for `_pass`,
    ``xs`` holds at least ``len(sums) + WIDE_GROUP - 1`` samples; nothing
    is bounds-checked.

    LLVM IR of our own, as LLVM's loop vectoriser makes one vector a step:
    every multiply-add then loads its samples, one element further on each
    tap, and the loads, not the multiply-adds, set the pace. Each output's
    sum is still formed tap by tap in order, one fused multiply-add a tap,
    so the results are those of `_pass`, bit for bit.
    """

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        lanes = _wide_lanes(context, signature.args[0].dtype)
        if lanes == 0:
            return i64(0)
        _ask_for_wide_vectors(builder.function)
        sums_array, xs_array, taps_array = (
            context.make_array(array_type)(context, builder, value)
            for array_type, value in zip(signature.args[:3], args[:3]))
        scalar = context.get_value_type(signature.args[0].dtype)
        align = context.get_abi_sizeof(scalar)
        vector = ir.VectorType(scalar, lanes)
        fma = vector_fma(builder, vector)
        splat = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
        weights = [builder.shuffle_vector(
            builder.insert_element(ir.Constant(vector, ir.Undefined),
                                   builder.load(builder.gep(taps_array.data, [i64(q)])),
                                   ir.IntType(32)(0)),
            ir.Constant(vector, ir.Undefined), splat) for q in range(WIDE_GROUP)]
        vectors = _WIDE_VECTORS[lanes]
        block = vectors * lanes
        blocks = builder.udiv(cgutils.unpack_tuple(builder, sums_array.shape)[0], i64(block))
        with cgutils.for_range(builder, blocks) as loop:
            t = builder.mul(loop.index, i64(block))
            targets = [vector_at(builder, sums_array, builder.add(t, i64(j * lanes)), vector)
                       for j in range(vectors)]
            totals = [builder.select(args[3], ir.Constant(vector, None),
                                     builder.load(target, align=align)) for target in targets]
            samples = {}  # offset -> loaded vector: each loaded once
            for q in range(WIDE_GROUP):
                for j in range(vectors):
                    offset = j * lanes + WIDE_GROUP - 1 - q
                    if offset not in samples:
                        samples[offset] = builder.load(
                            vector_at(builder, xs_array, builder.add(t, i64(offset)), vector),
                            align=align)
                    totals[j] = builder.call(fma, [weights[q], samples[offset], totals[j]])
            for target, total in zip(targets, totals):
                builder.store(total, target, align=align)
        return builder.mul(blocks, i64(block))

    return types.int64(sums, xs, taps, first), codegen


@numba.njit(**_FLAGS)
def _wide_pass(sums, xs, taps, first):
    """`_pass` with the `WIDE_GROUP` weights of the array ``taps``: whole
    blocks by `_wide_blocks`, the outputs after them by three `_pass`es."""
    done = _wide_blocks(sums, xs, taps, first)
    if done < sums.size:
        rest, samples = sums[done:], xs[done:]
        for g in range(0, WIDE_GROUP, GROUP):
            _pass(rest, samples[WIDE_GROUP - GROUP - g:],
                  (taps[g], taps[g + 1], taps[g + 2], taps[g + 3],
                   taps[g + 4], taps[g + 5], taps[g + 6], taps[g + 7]), first and g == 0)


@numba.njit(**_FLAGS)
def _correlate_window(out, sums, xs, wr):
    """``out[t] = sum_i wr[i] * xs[t + k - 1 - i]``, ``len(xs) == len(out) + k - 1``.

    Taps in groups of `WIDE_GROUP`, then of `GROUP`, summed into ``sums``
    (as long as ``out``), then a last pass of the 1 to 8 left over that
    writes ``out`` (one tuple length, hence one specialisation, per group
    size).
    """
    k = wr.size
    i = 0
    while k - i > WIDE_GROUP:
        _wide_pass(sums, xs[k - i - WIDE_GROUP:], wr[i:i + WIDE_GROUP], i == 0)
        i += WIDE_GROUP
    while k - i > GROUP:
        _pass(sums, xs[k - i - GROUP:], (wr[i], wr[i + 1], wr[i + 2], wr[i + 3],
                                         wr[i + 4], wr[i + 5], wr[i + 6], wr[i + 7]), i == 0)
        i += GROUP
    left, first = k - i, i == 0
    if left == 8:
        _last_pass(out, sums, xs, (wr[i], wr[i + 1], wr[i + 2], wr[i + 3],
                                   wr[i + 4], wr[i + 5], wr[i + 6], wr[i + 7]), first)
    elif left == 7:
        _last_pass(out, sums, xs, (wr[i], wr[i + 1], wr[i + 2], wr[i + 3],
                                   wr[i + 4], wr[i + 5], wr[i + 6]), first)
    elif left == 6:
        _last_pass(out, sums, xs, (wr[i], wr[i + 1], wr[i + 2], wr[i + 3], wr[i + 4], wr[i + 5]),
                   first)
    elif left == 5:
        _last_pass(out, sums, xs, (wr[i], wr[i + 1], wr[i + 2], wr[i + 3], wr[i + 4]), first)
    elif left == 4:
        _last_pass(out, sums, xs, (wr[i], wr[i + 1], wr[i + 2], wr[i + 3]), first)
    elif left == 3:
        _last_pass(out, sums, xs, (wr[i], wr[i + 1], wr[i + 2]), first)
    elif left == 2:
        _last_pass(out, sums, xs, (wr[i], wr[i + 1]), first)
    else:
        _last_pass(out, sums, xs, (wr[i],), first)


# ---------------------------------------------------------------------------
# Tiles that reach past the ends of the signal
# ---------------------------------------------------------------------------

@numba.njit(**_FLAGS)
def _sample(xr, m, boundary, fill):
    """Sample ``m`` of row ``xr`` under a boundary rule (periodic formulas, so
    kernels far longer than the signal extend as in ``scipy.ndimage``)."""
    n = xr.size
    if 0 <= m < n:
        return xr[m]
    # The first reflection needs no division (kernels shorter than the row);
    # the modulo (tens of cycles) only for samples further out.
    if boundary == _REFLECT:  # d c b a | a b c d | d c b a
        r = m if -n <= m < 2 * n else m % (2 * n)
        if r < 0:
            r = -1 - r
        return xr[r if r < n else 2 * n - 1 - r]
    if boundary == _MIRROR:  # d c b | a b c d | c b a
        if n == 1:
            return xr[0]
        r = m if -(n - 1) <= m < 2 * n - 2 else m % (2 * n - 2)
        if r < 0:
            r = -r
        return xr[r if r < n else 2 * n - 2 - r]
    if boundary == _NEAREST:
        return xr[0] if m < 0 else xr[n - 1]
    if boundary == _WRAP:
        if -n <= m < 0:
            return xr[m + n]
        if n <= m < 2 * n:
            return xr[m - n]
        return xr[m % n]
    return fill  # constant, or zero


@numba.njit(**_FLAGS)
def _stage(window, xr, first, boundary, fill):
    """``window[j] = x_ext[first + j]``: the row copied where it exists, the
    boundary rule applied only to the samples past its ends."""
    n = xr.size
    length = window.size
    inside_lo = min(max(-first, 0), length)
    inside_hi = max(min(n - first, length), inside_lo)
    row_part = xr[first + inside_lo:first + inside_hi]
    window_part = window[inside_lo:inside_hi]
    for j in range(inside_hi - inside_lo):  # a plain loop: Numba's slice copy checks overlap
        window_part[j] = row_part[j]
    if boundary == _ZERO or boundary == _CONSTANT:  # one value: a fill, not a rule per sample
        window[:inside_lo] = fill
        window[inside_hi:] = fill
        return
    for j in range(inside_lo):
        window[j] = _sample(xr, first + j, boundary, fill)
    for j in range(inside_hi, length):
        window[j] = _sample(xr, first + j, boundary, fill)


@numba.njit(**_FLAGS)
def _skip_missing(acc, xr, wr, first):
    """``acc[t] = sum_i wr[i] * xr[first + t - i]`` over the samples that exist
    only: ``numpy.convolve`` forms no product with a sample past the ends,
    which matters when a weight is Inf or NaN (``Inf * 0`` is NaN)."""
    n = xr.size
    k = wr.size
    count = acc.size
    acc[:] = acc.dtype.type(0)
    for i in range(k):
        lo = min(max(0, i - first), count)
        hi = max(min(count, n + i - first), lo)
        wi = wr[i]
        acc_part = acc[lo:hi]
        x_part = xr[first + lo - i:first + hi - i]
        for t in range(hi - lo):
            acc_part[t] += wi * x_part[t]


# ---------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------

@numba.njit(parallel=True, **_FLAGS)
def direct_rows(x, w, start, out, boundary, fill, finite_weights, tile, tiles, rows_per_job,
                chunks):
    """``out[r, t] = sum_i w[r or 0, i] * x_ext[r, start + t - i]``.

    Parameters
    ----------
    x : (rows, n) C-contiguous array
    w : (1 or rows, k) C-contiguous array, same dtype as ``x``
    start : int
        Index of ``out[:, 0]`` in the full convolution.
    out : (rows, out_len) C-contiguous array, same dtype, filled in place.
    boundary : int
        A value of `BOUNDARY_CODES`: how ``x_ext`` extends each row past its
        ends (zero: no products with missing samples, as ``numpy.convolve``).
    fill : (1,) array, same dtype
        The sample value of the constant boundary.
    finite_weights : bool
        Every weight is finite, so a zero boundary may be staged as zeros
        (a product with a staged zero adds exactly ``+-0``).
    tile, tiles, rows_per_job : int
        The jobs (`gpuconv._plan.direct_jobs`): tiles of ``tile`` outputs,
        ``tiles`` a row, or groups of ``rows_per_job`` whole rows.
    chunks : int
        Parallel chunks of consecutive jobs (a few per thread). Only the
        schedule depends on it, never a result.
    """
    rows = x.shape[0]
    jobs = tiles * ((rows + rows_per_job - 1) // rows_per_job)
    chunks = max(1, min(chunks, jobs))
    for chunk in numba.prange(chunks):
        _run_jobs(x, w, start, out, boundary, fill, finite_weights, tile, tiles, rows_per_job,
                 chunk * jobs // chunks, (chunk + 1) * jobs // chunks)


@numba.njit(**_FLAGS)
def _run_jobs(x, w, start, out, boundary, fill, finite_weights, tile, tiles, rows_per_job,
             first, end):
    """Jobs ``first`` to ``end - 1`` of `direct_rows`, one after another.

    They share one staging window and one tile of running sums, allocated
    here once rather than once a job (Numba's thread id is not cacheable).
    `direct` calls it alone, on the calling thread, for a batch that is one
    job: entering a parallel region wakes the pool's threads even when only
    one has work, 1-2 us back to back but about 90 us after 20 ms of
    idleness, and milliseconds once libgomp has put them to sleep
    (docs/performance.md, "Switching thread pools" and "Small calls").
    """
    window = np.empty(min(tile, out.shape[1]) + w.shape[1] - 1, dtype=x.dtype)
    sums = np.empty(min(tile, out.shape[1]), dtype=x.dtype)
    # Every job slices these: views that count no references save two
    # atomic updates a slice (`borrowed`).
    x, w, out, fill = borrowed(x), borrowed(w), borrowed(out), borrowed(fill)
    for job in range(first, end):
        _run_job(x, w, start, out, boundary, fill, finite_weights, job, tile, tiles,
                 rows_per_job, window, sums)


@numba.njit(**_FLAGS)
def _run_job(x, w, start, out, boundary, fill, finite_weights, job, tile, tiles,
             rows_per_job, window, sums):
    """One job of `direct_rows`: a tile of one row, or a group of short rows."""
    # Held by `_run_jobs`, which allocated them.
    window, sums = borrowed(window), borrowed(sums)
    rows, n = x.shape
    kernel_rows, k = w.shape
    out_len = out.shape[1]
    zero_boundary = boundary == _ZERO
    r0 = (job // tiles) * rows_per_job
    t0 = (job % tiles) * tile
    t1 = min(t0 + tile, out_len)
    count = t1 - t0
    for r in range(r0, min(r0 + rows_per_job, rows)):
        xr = x[r]
        wr = w[r if kernel_rows > 1 else 0]
        tile_out = out[r, t0:t1]
        first = start + t0  # the sample output t0 reads with tap 0
        i_lo, i_hi = 0, k
        if zero_boundary:  # only the taps that meet the signal in this tile
            i_lo = min(max(0, first - n + 1), k)
            i_hi = max(min(k, first + count), i_lo)
            if i_hi == i_lo:
                tile_out[:] = 0
                continue
        taps = wr[i_lo:i_hi]
        length = count + i_hi - i_lo - 1  # samples read
        lowest = first - (i_hi - 1)
        if lowest >= 0 and lowest + length <= n:  # all inside: read in place
            samples = xr[lowest:lowest + length]
        elif zero_boundary and not finite_weights:
            _skip_missing(tile_out, xr, wr, first)
            continue
        else:  # stage the window with the boundary applied
            samples = window[:length]
            _stage(samples, xr, lowest, boundary, fill[0])
        # One call site: the passes are compiled (and inlined) once.
        _correlate_window(tile_out, sums[:count], samples, taps)


def direct(x: np.ndarray, w: np.ndarray, start: int, out_len: int,
           boundary: str = "zero", cval=0.0, out: np.ndarray | None = None) -> np.ndarray:
    """Run `direct_rows` into ``out`` (allocated when None) and return it.

    ``x``, ``w``, ``start`` as there; ``boundary`` a key of `BOUNDARY_CODES`
    and ``cval`` the constant boundary's value (cast to ``x.dtype`` as
    ``numpy.full`` casts it). A given ``out`` is a C-contiguous
    ``(rows, out_len)`` array of ``x.dtype`` that shares no memory with ``x``
    (benchmarks/first_touch.py times the kernel into an output it reuses).
    """
    if boundary not in BOUNDARY_CODES:
        raise ValueError(f"boundary must be one of {sorted(BOUNDARY_CODES)}, got {boundary!r}")
    if out is None:
        out = np.empty((x.shape[0], out_len), dtype=x.dtype)
    elif (out.shape != (x.shape[0], out_len) or out.dtype != x.dtype
          or not out.flags.c_contiguous or np.may_share_memory(out, x)):
        raise ValueError(f"out must be a C-contiguous {(x.shape[0], out_len)} array of "
                         f"{x.dtype} apart from x, got {out.shape} {out.dtype}")
    if out.size:
        fill = np.full(1, cval if boundary == "constant" else 0, dtype=x.dtype)
        finite = bool(np.isfinite(w).all()) if w.dtype.kind in "fc" else True
        threads = numba.get_num_threads()
        jobs = direct_jobs(x.shape[0], out_len, w.shape[1], threads)
        args = (read_only(x), read_only(w), np.int64(start), out,
                np.int64(BOUNDARY_CODES[boundary]), fill, finite,
                np.int64(jobs.outputs), np.int64(jobs.tiles), np.int64(jobs.rows_per_job))
        if jobs.count == 1:
            _run_jobs(*args, np.int64(0), np.int64(1))
        else:
            direct_rows(*args, np.int64(4 * threads))
    return out


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array``.

    Numba compiles a kernel once per argument type, and a read-only array
    is a type of its own. The kernels take their inputs read-only, so
    writable inputs and read-only ones (a ``numpy.load(..., mmap_mode='r')``
    batch) share one compiled kernel, the one the wheel carries
    (`gpuconv.backends._precompile`).

    >>> a = np.ones(3)
    >>> read_only(a).flags.writeable, a.flags.writeable
    (False, True)
    """
    view = array.view()
    view.flags.writeable = False
    return view


def set_threads(threads: int) -> None:
    """Use ``threads`` Numba threads, within the pool Numba started with."""
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
