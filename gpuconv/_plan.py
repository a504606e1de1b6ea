"""Pure shape and mode arithmetic: every front's call becomes one `Request`.

Nothing here touches an array. A front validates its arguments with the
helpers below, works out which slice of the full convolution the caller wants
(`numpy_window`, `scipy_window`, `ndimage_window`, `circular_window`) and the
boundary rule outside the signal, and hands the resulting `Request` to the
algorithms layer. The algorithms never see an ``axis``, a mode string or a
Python list.

Index conventions
-----------------
For a signal ``x`` of length ``n`` and a kernel ``w`` of length ``k`` the full
convolution is ``y[j] = sum_i w[i] * x[j - i]`` for ``j`` in ``[0, n + k - 1)``,
where ``x[m]`` outside ``[0, n)`` is given by the boundary rule (zero for the
NumPy/SciPy fronts). A request asks for ``y[start : start + out_len]``;
``start`` may be negative or run past the end when the boundary rule extends
the signal (``scipy.ndimage``).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

__all__ = [
    "BOUNDARIES",
    "DirectJobs",
    "METHODS",
    "Request",
    "broadcast_batch",
    "circular_window",
    "direct_jobs",
    "direct_wide_taps",
    "extension",
    "fft_block",
    "frame_groups",
    "group_shape",
    "group_sizes",
    "largest_piece",
    "ndimage_window",
    "normalize_axis",
    "numpy_window",
    "scipy_window",
    "transformed_frames",
]

#: Methods every front accepts; ``"oa"`` is the blocked FFT (`fft_block`).
METHODS = ("auto", "direct", "fft", "oa")

#: ``scipy.ndimage`` boundary names mapped to the rule the algorithms apply.
#: For filters the ``grid-*`` names are synonyms (scipy.ndimage docs).
BOUNDARIES = {
    "reflect": "reflect",
    "grid-mirror": "reflect",
    "mirror": "mirror",
    "nearest": "nearest",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}


@dataclass(frozen=True)
class Request:
    """One batched convolution, in the only form the algorithms understand.

    Convolve each of ``rows`` signals of length ``n`` with its kernel of
    length ``k`` (one shared kernel when ``kernel_rows == 1``, else one per
    row) and return ``y[start : start + out_len]`` of the full convolution.
    Outside ``[0, n)`` the signal follows ``boundary``: ``"zero"``,
    ``"constant"`` (value ``cval``), ``"reflect"``, ``"mirror"``,
    ``"nearest"`` or ``"wrap"``.
    """

    rows: int
    n: int
    k: int
    kernel_rows: int
    start: int
    out_len: int
    boundary: str = "zero"
    cval: complex = 0.0

    def __post_init__(self):
        if self.n < 1 or self.k < 1 or self.rows < 0 or self.out_len < 0:
            raise ValueError(f"invalid request sizes: {self}")
        if self.kernel_rows not in (1, self.rows):
            raise ValueError(
                f"kernel_rows must be 1 or rows ({self.rows}), got {self.kernel_rows}"
            )
        if self.boundary != "zero" and self.boundary not in BOUNDARIES.values():
            raise ValueError(f"unknown boundary rule {self.boundary!r}")

    @property
    def full_len(self) -> int:
        """Length of the full linear convolution, ``n + k - 1``."""
        return self.n + self.k - 1

    @property
    def taps_per_output(self) -> int:
        """Multiply-adds a direct method spends per output, at most."""
        return min(self.k, self.n) if self.boundary == "zero" else self.k


# --------------------------------------------------------------------------
# Argument checks shared by the fronts (messages follow NumPy/SciPy's)
# --------------------------------------------------------------------------

def normalize_axis(axis, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` as a non-negative int, or raise like NumPy does."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name} {axis} is out of bounds for an array of dimension {ndim}"
        )
    return axis % ndim


def check_choice(value, choices, name: str) -> str:
    """Raise ``ValueError`` listing ``choices`` unless ``value`` is one of them.

    >>> check_choice("sane", ("valid", "same", "full"), "mode")
    Traceback (most recent call last):
    ...
    ValueError: acceptable mode flags are 'valid', 'same', or 'full'; got 'sane'
    """
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices[:-1]) + f", or {choices[-1]!r}"
        raise ValueError(f"acceptable {name} flags are {allowed}; got {value!r}")
    return value


def numpy_mode(mode) -> str:
    """NumPy's mode argument: a name, or 0, 1, 2 for valid, same, full.

    >>> numpy_mode(2)
    'full'
    """
    names = ("valid", "same", "full")
    if isinstance(mode, str):
        if mode not in names:
            raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
        return mode
    try:
        index = operator.index(mode)
    except TypeError:
        raise TypeError(f"mode must be 'valid', 'same', 'full' or 0, 1, 2; got {mode!r}") from None
    if index not in (0, 1, 2):
        raise ValueError(f"integer mode must be 0, 1, or 2 (got {index})")
    return names[index]


def broadcast_batch(signal_batch: tuple, kernel_batch: tuple,
                    names=("a", "v")) -> tuple:
    """Broadcast the batch (non-convolved) shapes of a signal and a kernel.

    Both shapes exclude the convolved axis. Follows NumPy's broadcasting
    rules; raises ``ValueError`` naming both arguments otherwise.

    >>> broadcast_batch((8, 3), (1, 3))
    (8, 3)
    >>> broadcast_batch((3,), (8, 1))
    (8, 3)
    """
    ndim = max(len(signal_batch), len(kernel_batch))
    s = (1,) * (ndim - len(signal_batch)) + tuple(signal_batch)
    w = (1,) * (ndim - len(kernel_batch)) + tuple(kernel_batch)
    out = []
    for ds, dw in zip(s, w):
        if ds != dw and 1 not in (ds, dw):
            raise ValueError(
                f"the batch shapes of {names[0]} {tuple(signal_batch)} and "
                f"{names[1]} {tuple(kernel_batch)} (every axis but the convolved "
                "one) do not broadcast"
            )
        out.append(max(ds, dw) if 0 not in (ds, dw) else 0)
    return tuple(out)


# --------------------------------------------------------------------------
# Output windows of each front
# --------------------------------------------------------------------------

def numpy_window(n: int, k: int, mode: str, *,
                 correlate: bool = False) -> tuple[int, int]:
    """``(start, out_len)`` of ``numpy.convolve`` or ``numpy.correlate``.

    NumPy swaps the inputs when ``v`` is longer, so every length is a function
    of ``min(n, k)`` and ``max(n, k)``. ``numpy.correlate`` (taken here as a
    convolution with the reversed, conjugated ``v``) also reverses its swapped
    result, which moves the ``'same'`` window when ``k > n``.

    >>> numpy_window(5, 3, "same"), numpy_window(3, 5, "same")
    ((1, 5), (1, 5))
    >>> numpy_window(2, 3, "same", correlate=True)
    (1, 3)
    >>> numpy_window(5, 3, "valid"), numpy_window(2, 6, "valid")
    ((2, 3), (1, 5))
    """
    short, long_ = min(n, k), max(n, k)
    if mode == "full":
        return 0, n + k - 1
    if mode == "same":
        if correlate and k > n:
            return (short - 1) - (short - 1) // 2, long_
        return (short - 1) // 2, long_
    if mode == "valid":
        return short - 1, long_ - short + 1
    raise ValueError(f"unknown mode {mode!r}")


def scipy_window(n: int, k: int, mode: str) -> tuple[int, int]:
    """``(start, out_len)`` of ``scipy.signal.convolve`` along one axis.

    ``'same'`` is centred on ``in1`` (length ``n``, even when ``k > n``);
    ``'valid'`` swaps when ``in2`` is the longer input, as SciPy does.

    >>> scipy_window(3, 5, "same")
    (2, 3)
    """
    if mode == "same":
        return (k - 1) // 2, n
    return numpy_window(n, k, mode)


def ndimage_window(k: int, origin: int, *, correlate: bool) -> int:
    """``start`` of ``scipy.ndimage.convolve1d/correlate1d`` (``out_len = n``).

    ``correlate1d`` is expressed as a convolution with the reversed weights;
    ``convolve1d`` shifts its centre left by one for even ``k``, as SciPy does.

    >>> ndimage_window(3, 0, correlate=False), ndimage_window(4, 0, correlate=False)
    (1, 2)
    >>> ndimage_window(4, 0, correlate=True)
    1
    """
    half = k // 2
    if not -half <= origin <= (k - 1) // 2:
        raise ValueError(
            f"origin {origin} is out of range: it must satisfy "
            f"-(len(weights) // 2) <= origin <= (len(weights) - 1) // 2, "
            f"that is {-half} <= origin <= {(k - 1) // 2}"
        )
    if correlate:
        return k - 1 - half - origin
    return k - 1 - half + origin + (1 - k % 2)


def circular_window(n: int) -> tuple[int, int]:
    """``(start, out_len)`` of a period-``n`` circular convolution.

    The signal has already been zero-padded or aliased to length ``n`` and
    the request uses the ``"wrap"`` boundary.
    """
    return 0, n


def extension(n: int, k: int, start: int, out_len: int) -> tuple[int, int]:
    """Samples a boundary rule must add left and right of the signal.

    Output ``t`` reads ``x[start + t - i]`` for ``i`` in ``[0, k)``, so the
    samples read span ``[start - k + 1, start + out_len - 1]``.

    >>> extension(10, 3, 1, 10)   # ndimage 'same' centre, k = 3
    (1, 1)
    """
    if out_len == 0:
        return 0, 0
    left = max(0, k - 1 - start)
    right = max(0, start + out_len - n)
    return left, right


#: The blocked FFT takes the length with least work for a row's frames
#: over the one with least work per output only when it saves more than
#: this share: ``n log2 n`` does not tell lengths of different radices apart
#: finely, and the two changes it makes at savings just above 2% measured
#: 0.93-1.16x, a wash (``python -m benchmarks.block_length``).
LENGTH_TIE = 0.02


def fft_block(outputs: int, k: int, next_fast_len, largest: int | None = None) -> tuple[int, int]:
    """``(step, nfft)`` of the blocked FFT method: the transform length with
    least transform work for a row of ``outputs``, and the
    ``step = nfft - k + 1`` outputs each block gives.

    A row is ``ceil(outputs / step)`` frames, each costing about
    ``nfft * log2(nfft)``. Rounding to whole frames matters where a row is
    a few (W3: 22.02 blocks of 16000 points are 23 frames, 16 blocks of
    20480 points 16), which ``oaconvolve``'s closed form, work per output,
    leaves out. Lengths are tried from ``2 * k`` up in steps of a quarter,
    each with the shortest fast lengths that give as many frames a row and
    one fewer; the least work per output stays unless one of these saves
    more than `LENGTH_TIE`. The length depends on the row's length and the
    kernel's only, never on the rows of a batch or the threads, so neither
    changes a result (a group of one row's frames may transform a few more,
    `transformed_frames`; counting those would make the length depend on
    whether the batch is one row). ``next_fast_len`` is the backend's
    (cuFFT and pocketfft like different sizes). Lengths above ``largest``
    are taken only when nothing shorter fits twice the kernel: on the CPU a
    longer transform leaves the cache and costs more per point than
    ``log2(nfft)`` says. ``nfft >= 2 * k`` always, so a frame's ``k - 1``
    samples of history never reach back past the previous block.

    >>> import scipy.fft
    >>> fast = lambda m: scipy.fft.next_fast_len(m, True)
    >>> fft_block(262144, 4095, fast, 20480)  # 16 frames a row, not 23 of 16000
    (16386, 20480)
    >>> fft_block(2**21, 255, fast, 20480)  # 1202 frames: the least work per output
    (1746, 2000)
    """
    def frames(nfft: int) -> int:
        return math.ceil(outputs / (nfft - k + 1))

    def work(nfft: int) -> float:
        return frames(nfft) * nfft * math.log2(nfft)

    stepped = []
    target = max(2 * k, 64)
    while target < 64 * k and target < 4 * (outputs + k):
        nfft = next_fast_len(target)
        if stepped and largest is not None and nfft > largest:
            break
        stepped.append(nfft)
        target = int(target * 1.25) + 1
    if not stepped:  # few outputs: one block holds them all
        nfft = next_fast_len(max(outputs + k - 1, 2 * k))
        return nfft - k + 1, nfft
    nfft = min(stepped, key=lambda length: length * math.log2(length) / (length - k + 1))
    if frames(nfft) * (nfft - k + 1) <= outputs * (1 + LENGTH_TIE):
        return nfft - k + 1, nfft  # its frames waste too little for another to save more
    lengths = set(stepped)
    for length in stepped:  # the shortest lengths giving as many frames, and one fewer
        for count in (frames(length), frames(length) - 1):
            shortest = next_fast_len(max(-(-outputs // max(count, 1)) + k - 1, 2 * k))
            if largest is None or shortest <= largest:
                lengths.add(shortest)
    fewest = min(lengths, key=work)
    if work(fewest) * (1 + LENGTH_TIE) < work(nfft):
        nfft = fewest
    return nfft - k + 1, nfft


#: Lines scipy.fft (pocketfft) transforms at once in SIMD registers: four in
#: single precision and two in double on the SSE2 baseline of SciPy's
#: wheels; lines beyond whole batches go one at a time, at about four times
#: the cost of a line in a batch (docs/performance.md, "Transform lines").
FFT_SIMD_LINES = {"float32": 4, "complex64": 4, "float64": 2, "complex128": 2}

#: Frames of a group come in multiples of this where there are enough: a
#: whole SIMD batch of `FFT_SIMD_LINES` in every precision.
GROUP_MULTIPLE = max(FFT_SIMD_LINES.values())
#: Frames are split between threads only in pieces of at least this many
#: bytes, evened-out pieces too: handing a task to a helper thread costs
#: 22-35 us a call (waking it, sharing the GIL; ``python -m
#: benchmarks.blocked_fft``), and each piece makes its own framing and
#: transform calls. Two pieces of 144 KiB ran 1.2-1.3x slower than one, two
#: of 288 KiB 0.8-1.3x its speed, two of 576 KiB 1.0-1.6x (``python -m
#: benchmarks.task_split``); the cost model counts a split as two threads'
#: worth, so only the sizes that pay reliably are split.
MIN_TASK_BYTES = 512 * 2**10


def frame_groups(rows: int, blocks: int, frame_bytes: int, group_bytes: int | None,
                 threads: int = 1) -> list:
    """``((r0, r1), (b0, b1))`` pieces of the (rows, blocks) frames: about
    ``group_bytes`` each but never fewer than `GROUP_MULTIPLE` frames (a
    SIMD batch counts more than the cache), at least one per thread where
    every piece keeps `GROUP_MULTIPLE` frames and `MIN_TASK_BYTES`, and a
    multiple of `GROUP_MULTIPLE` frames where possible; whole rows together
    when a row is smaller, else runs of blocks of one row. Those sizes set
    how many pieces; the pieces are then as even as multiples allow: 16
    frames at most 12 a piece are 8 + 8, not 12 + 4, which would keep one
    thread three times as busy as the other (``python -m
    benchmarks.frame_groups`` times the two).
    ``group_bytes=None``: one group of everything.

    >>> frame_groups(2, 9, 100, 500)
    [((0, 1), (0, 4)), ((0, 1), (4, 8)), ((0, 1), (8, 9)), ((1, 2), (0, 4)), ((1, 2), (4, 8)), ((1, 2), (8, 9))]
    >>> frame_groups(5, 2, 100, 400), frame_groups(5, 2, 100, None)
    ([((0, 2), (0, 2)), ((2, 4), (0, 2)), ((4, 5), (0, 2))], [((0, 5), (0, 2))])
    >>> frame_groups(16, 1, 2**16, 2**20, threads=2)  # one group would idle a thread
    [((0, 8), (0, 1)), ((8, 16), (0, 1))]
    >>> frame_groups(16, 1, 2**12, 2**20, threads=2)  # too little work to share
    [((0, 16), (0, 1))]
    >>> frame_groups(9, 1, 2**21, 2**20, threads=2)  # rows above the group size: four a group
    [((0, 4), (0, 1)), ((4, 8), (0, 1)), ((8, 9), (0, 1))]
    >>> frame_groups(16, 1, 80000, 2**20)  # at most 12 a piece: evened out
    [((0, 8), (0, 1)), ((8, 16), (0, 1))]
    >>> frame_groups(16, 1, 20000, 2**20, threads=2)  # two of 160 KB: under MIN_TASK_BYTES
    [((0, 16), (0, 1))]
    """
    rows_per_group, blocks_per_group = group_shape(rows, blocks, frame_bytes, group_bytes, threads)
    return [((r, min(r + rows_per_group, rows)), (b, min(b + blocks_per_group, blocks)))
            for r in range(0, rows, rows_per_group) for b in range(0, blocks, blocks_per_group)]


def group_shape(rows: int, blocks: int, frame_bytes: int, group_bytes: int | None,
                threads: int = 1) -> tuple[int, int]:
    """``(rows, blocks)`` of the groups of `frame_groups` (the last of a row or
    of the batch may be smaller): whole rows, or a run of one row's blocks.

    >>> group_shape(16, 1, 80000, 2**20, threads=2), group_shape(2, 9, 100, 500)
    ((8, 1), (1, 4))
    """
    if group_bytes is None:
        return rows, blocks
    per_group = largest_piece(rows, blocks, frame_bytes, group_bytes, threads)
    if per_group >= blocks:
        # rows a group, so that its frames are a multiple of GROUP_MULTIPLE where possible
        multiple = GROUP_MULTIPLE // math.gcd(blocks, GROUP_MULTIPLE)
        return _even(rows, per_group // blocks, multiple), blocks
    return 1, _even(blocks, per_group, GROUP_MULTIPLE)


def group_sizes(rows: int, blocks: int, frame_bytes: int, group_bytes: int | None,
                threads: int = 1, batch: int = 1) -> dict[int, int]:
    """``{frames in a group: groups of that many}`` of `frame_groups`, counted
    without listing the groups (the cost model asks on every ``auto`` call).
    A group of one row's frames counts as a whole number of ``batch`` frames,
    as the blocked FFT transforms it.

    >>> group_sizes(2, 9, 100, 500), group_sizes(2, 9, 100, 500, batch=4)
    ({4: 4, 1: 2}, {4: 6})
    """
    rows_per_group, blocks_per_group = group_shape(rows, blocks, frame_bytes, group_bytes, threads)
    sizes = {}
    for row_count, row_times in _runs(rows, rows_per_group):
        for block_count, block_times in _runs(blocks, blocks_per_group):
            size = row_count * transformed_frames(row_count, block_count, batch)
            sizes[size] = sizes.get(size, 0) + row_times * block_times
    return sizes


def transformed_frames(rows: int, blocks: int, batch: int) -> int:
    """Frames a row of a group of ``rows`` rows and ``blocks`` blocks
    transforms: one row's run of blocks in whole batches of ``batch`` lines
    (the frames past the row's end are zeros, never stored); several rows'
    blocks as they are, `group_shape` making their count a multiple of
    `GROUP_MULTIPLE` where it can.

    >>> transformed_frames(1, 10, 4), transformed_frames(1, 10, 2), transformed_frames(3, 10, 4)
    (12, 10, 10)
    """
    return -(-blocks // batch) * batch if rows == 1 else blocks


def transform_lines(lines: int, batch: int, threads: int) -> int:
    """Lines a transform call over ``lines`` lines should have, given SIMD
    batches of ``batch`` lines and ``threads`` threads.

    pocketfft transforms a batch of lines together in 1.1-2 times the time
    of one line alone, the lines past whole batches one at a time, and
    gives a thread work only in whole batches. So a call of fewer than a
    batch per thread with two or more lines left over is padded with zero
    lines to a whole batch; one line over costs less alone than padded,
    and in larger calls the threads' batches already take most lines
    (``python -m benchmarks.joint_transform``; docs/performance.md, "Rows
    and kernel in one transform").

    >>> [transform_lines(lines, 4, 2) for lines in range(1, 10)]
    [1, 4, 4, 4, 5, 8, 8, 8, 9]
    >>> transform_lines(3, 2, 2), transform_lines(3, 1, 1)
    (3, 3)
    """
    left = lines % batch
    return lines + batch - left if lines < batch * threads and left >= 2 else lines


def _runs(total: int, per: int) -> list:
    """``(length, how many)`` of the pieces ``range(0, total, per)`` cuts."""
    return [(length, times) for length, times in ((per, total // per), (total % per, 1))
            if length and times]


def largest_piece(rows: int, blocks: int, frame_bytes: int, group_bytes: int,
                  threads: int) -> int:
    """Frames one piece of `frame_groups` may hold: about ``group_bytes``,
    at least `GROUP_MULTIPLE` and a multiple of it, and no more than a
    thread's share where that share keeps `MIN_TASK_BYTES`, as do the
    pieces once evened out.

    >>> largest_piece(16, 1, 80000, 2**20, 1), largest_piece(1, 38, 8000, 2**20, 2)  # 304 KB: one piece
    (12, 64)
    """
    total = rows * blocks
    least = max(GROUP_MULTIPLE, math.ceil(MIN_TASK_BYTES / frame_bytes))
    cache = max(group_bytes // frame_bytes, GROUP_MULTIPLE)
    per_thread = max(math.ceil(total / threads), least)
    if per_thread < cache:  # cut for the threads: evened out, each piece still keeps `least`
        fewest = math.ceil(total / max(1, total // least))
        per_thread = max(per_thread, -(-fewest // GROUP_MULTIPLE) * GROUP_MULTIPLE)
    per_group = min(cache, per_thread)
    return per_group - per_group % GROUP_MULTIPLE


def _even(count: int, most: int, multiple: int) -> int:
    """The piece size that cuts ``count`` into as many pieces as ``most`` a
    piece needs, as evenly as pieces of a multiple of ``multiple`` allow.

    >>> _even(16, 12, 4), _even(38, 32, 4), _even(9, 4, 4), _even(7, 8, 4)
    (8, 20, 4, 7)
    """
    pieces = math.ceil(count / most)
    size = math.ceil(count / pieces)
    return min(math.ceil(size / multiple) * multiple, most, count)


#: Outputs of a job of the CPU direct kernel (`gpuconv.backends._numba_kernels`):
#: 2048 float64 outputs and their input window (32 KiB) sit in L1/L2.
DIRECT_JOB_OUTPUTS = 2048
#: Where a batch makes fewer jobs than threads, jobs are halved down to this
#: many outputs ...
DIRECT_MIN_JOB_OUTPUTS = 256
#: ... while each keeps at least this many multiply-adds: handing a job to
#: another thread costs about a microsecond. Cut in two on 2 threads, one
#: short row ran 0-11% slower with jobs of about 4 thousand multiply-adds,
#: about as fast with 8 thousand (0.98-1.11), and faster from 15 thousand
#: on: 3-13% there, up to 1.6x with long kernels (``python -m
#: benchmarks.direct_jobs``, several runs; docs/performance.md).
DIRECT_MIN_JOB_TAPS = 8192


#: Taps that the CPU direct kernel's wide passes add at once, several vectors
#: of outputs at a time (float32 and float64 on an AVX-512 host:
#: `gpuconv.backends._numba_kernels._wide_blocks`).
DIRECT_WIDE_GROUP = 24
#: Time of a tap in a wide pass over that of a tap in an 8-tap pass, by
#: dtype (the others have no wide passes): the whole kernel's gain on an
#: AVX-512 Intel Xeon, where W2's call (120 of 127 taps wide) took about 12%
#: less time and W5's (24 of 31) about 7% (``python -m
#: benchmarks.first_touch``). Three float64 vectors a pass since made
#: float64 calls 5-14% faster again, and in L1 alone ``python -m
#: benchmarks.wide_pass`` gives 0.88-0.93 for float32 and 0.75-0.77 for
#: float64; but `DEFAULT_COSTS` was fitted with 0.9 for both, and 0.78
#: without a refit put `auto`'s worst regret at 1.38 (docs/performance.md,
#: "Vectors a wide pass").
DIRECT_WIDE_TAP_COST = {"float32": 0.9, "float64": 0.9}


def direct_wide_taps(k: int) -> int:
    """Taps of a ``k``-tap kernel that the direct kernel adds in wide passes
    where it has them: whole groups of `DIRECT_WIDE_GROUP` while more taps
    than that are left.

    >>> direct_wide_taps(24), direct_wide_taps(25), direct_wide_taps(127)
    (0, 24, 120)
    """
    return DIRECT_WIDE_GROUP * ((k - 1) // DIRECT_WIDE_GROUP)


@dataclass(frozen=True)
class DirectJobs:
    """How the CPU direct kernel cuts a batch into parallel jobs: tiles of
    ``outputs`` outputs of one row (``tiles`` a row) for rows longer than a
    tile, else groups of ``rows_per_job`` whole rows."""

    outputs: int
    tiles: int
    rows_per_job: int
    count: int


def direct_jobs(rows: int, out_len: int, k: int, threads: int) -> DirectJobs:
    """The jobs of the CPU direct kernel for ``rows`` rows of ``out_len``
    outputs and a kernel of ``k`` taps on ``threads`` threads.

    Tiles of `DIRECT_JOB_OUTPUTS`, halved while there are fewer jobs than
    threads, down to `DIRECT_MIN_JOB_OUTPUTS` outputs and
    `DIRECT_MIN_JOB_TAPS` multiply-adds a job. The cut never changes a
    result: every output's sum is formed tap by tap in the same order
    whichever tile holds it.

    >>> direct_jobs(64, 65536, 31, 2).count  # many tiles of 2048
    2048
    >>> direct_jobs(1, 1024, 511, 2)  # one short row, a long kernel: both threads
    DirectJobs(outputs=512, tiles=2, rows_per_job=1, count=2)
    >>> direct_jobs(1, 1024, 7, 2).count, direct_jobs(100, 256, 7, 2).rows_per_job  # too little to share
    (1, 8)
    """
    outputs = DIRECT_JOB_OUTPUTS
    while True:
        if out_len > outputs:
            tiles, rows_per_job = -(-out_len // outputs), 1
        else:
            tiles, rows_per_job = 1, max(1, outputs // max(out_len, 1))
        count = tiles * -(-rows // rows_per_job)
        half = outputs // 2
        if count >= threads or half < DIRECT_MIN_JOB_OUTPUTS or half * k < DIRECT_MIN_JOB_TAPS:
            return DirectJobs(outputs, tiles, rows_per_job, count)
        outputs = half
