"""The ``auto`` method: a per-backend cost model picks direct, FFT or blocked FFT.

On the CPU each estimate is (work) x (seconds per unit of work), with
constants per dtype measured by ``gpuconv tune`` (`gpuconv._bench.calibrate`):
the defaults for the project's machine class live in `DEFAULT_COSTS`, and a
table the user measured with ``gpuconv tune`` on their own machine, stored in
`costs_path`, takes their place when it is present and valid. On a GPU the
estimate is a roofline from the device's own figures (`DeviceFigures`: DRAM
bandwidth and FMA rate), with cuFFT as a bandwidth-bound multi-pass transform:
unlike ``cupy.convolve``, which always takes FFT for floats, a short kernel
stays direct. Integer and boolean inputs always go direct, so their
results stay exact; for floats the choice changes only the rounding error
(direct: about ``eps * sqrt(k)`` relative to ``sum |w| |x|``; FFT: about
``eps * log2(nfft)`` relative to the largest output), never the answer class:
`gpuconv._algorithms.execute` sends input holding a NaN or Inf direct.
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from .._config import config
from .._plan import (DIRECT_JOB_OUTPUTS, DIRECT_WIDE_TAP_COST, FFT_SIMD_LINES, Request,
                     direct_jobs, direct_wide_taps, fft_block, group_sizes, transform_lines)
from .fft import transform_length
from .overlap import block_length

# --------------------------------------------------------------------------
# CPU: a cost table measured by `gpuconv tune`
# --------------------------------------------------------------------------

#: The dtypes the cost model knows; integers and booleans always go direct.
COST_DTYPES = ("float32", "float64", "complex64", "complex128")
ITEMSIZE = {"float32": 4, "float64": 8, "complex64": 8, "complex128": 16}

#: What each entry of a cost table means (seconds per unit), by key:
#: ``mac`` one direct multiply-add; ``output`` one direct output beyond its
#: multiply-adds (loads, stores, staging); ``fft`` one ``n log2 n`` unit of
#: one line of a whole-row transform and ``fft_point`` one of its points
#: (spectral product, padding, copies); ``oa`` and ``oa_point`` the same for
#: the blocked FFT's transforms, which stay in cache; ``call`` a fixed cost
#: per call of each method. Lines count as `cpu_work` says. All but ``call``
#: are per dtype.
COST_KEYS = ("mac", "output", "fft", "fft_point", "oa", "oa_point")
CALL_KEYS = ("direct", "fft", "oa")
#: The two constants of each method, in the order of `cpu_work`'s counts.
METHOD_COSTS = {"direct": ("mac", "output"), "fft": ("fft", "fft_point"), "oa": ("oa", "oa_point")}

#: Defaults for the project's CPU machine class (2 cores with AVX-512, 2
#: threads): the middle of five fits, ``python -m benchmarks.calibrate
#: --runs 5``, on the Intel Xeon of that class after the direct kernel's
#: wide passes, checked on the auto-regret grid of ``gpuconv bench
#: --workloads regret`` (docs/performance.md, "Cost-model constants").
#: Other CPU backends (the host emulator) share them.
DEFAULT_COSTS = {
    "mac": {"float32": 1.1e-11, "float64": 1.8e-11, "complex64": 4.8e-11, "complex128": 9e-11},
    "output": {"float32": 2.1e-10, "float64": 3.9e-10, "complex64": 3.5e-10, "complex128": 5.4e-10},
    "fft": {"float32": 1.3e-10, "float64": 2.3e-10, "complex64": 2.4e-10, "complex128": 4.7e-10},
    "fft_point": {"float32": 0.0, "float64": 0.0, "complex64": 0.0, "complex128": 0.0},
    "oa": {"float32": 2.6e-11, "float64": 2e-10, "complex64": 1.8e-10, "complex128": 3.2e-10},
    "oa_point": {"float32": 2.5e-09, "float64": 2.5e-09, "complex64": 3e-09, "complex128": 5.5e-09},
    "call": {"direct": 1.4e-05, "fft": 3.5e-05, "oa": 7.1e-05},
}

#: Environment variable naming the directory of the measured cost table.
CACHE_DIR_VARIABLE = "GPUCONV_CACHE_DIR"
#: Version of the cost file's layout; a file of another version is ignored.
COSTS_FORMAT = 3


def cache_dir() -> Path:
    """Where gpuconv keeps what it measured on this machine.

    ``$GPUCONV_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/gpuconv``, else
    ``~/.cache/gpuconv``.

    >>> str(_cache_dir(None, "/home/me/.xdg-cache", "/home/me"))
    '/home/me/.xdg-cache/gpuconv'
    >>> str(_cache_dir("/tmp/gc", "/x", "/home/me")), str(_cache_dir(None, None, "/home/me"))
    ('/tmp/gc', '/home/me/.cache/gpuconv')
    """
    return _cache_dir(os.environ.get(CACHE_DIR_VARIABLE), os.environ.get("XDG_CACHE_HOME"),
                      os.environ.get("HOME"))


# Memoised on the variables it reads: `estimate` asks for the cost file on
# every call, and building the path costs more than a short direct call.
@functools.lru_cache(maxsize=8)
def _cache_dir(explicit: str | None, xdg: str | None, home: str | None) -> Path:
    if explicit:
        return Path(explicit)
    if xdg:
        return Path(xdg) / "gpuconv"
    return (Path(home) if home else Path.home()) / ".cache" / "gpuconv"


def costs_path() -> Path:
    """The file ``gpuconv tune`` writes and `costs_in_use` reads."""
    return _costs_path(os.environ.get(CACHE_DIR_VARIABLE), os.environ.get("XDG_CACHE_HOME"),
                       os.environ.get("HOME"))


@functools.lru_cache(maxsize=8)
def _costs_path(explicit: str | None, xdg: str | None, home: str | None) -> Path:
    return _cache_dir(explicit, xdg, home) / "costs.json"


def validate_costs(table) -> dict:
    """A copy of cost ``table`` as plain floats; ValueError naming the first bad entry.

    >>> validate_costs(DEFAULT_COSTS) == DEFAULT_COSTS
    True
    >>> validate_costs({**DEFAULT_COSTS, "mac": {"float32": -1.0}})
    Traceback (most recent call last):
    ...
    ValueError: costs['mac']['float32'] must be a finite number of seconds in [0, 1), got -1.0
    """
    if not isinstance(table, dict):
        raise ValueError(f"the cost table must be a JSON object, got {type(table).__name__}")
    checked = {}
    for key, names in [*((key, COST_DTYPES) for key in COST_KEYS), ("call", CALL_KEYS)]:
        entry = table.get(key)
        if not isinstance(entry, dict):
            raise ValueError(f"costs[{key!r}] must be an object with keys {', '.join(names)}")
        checked[key] = {}
        for name in names:
            value = entry.get(name)
            if not _seconds(value):
                raise ValueError(f"costs[{key!r}][{name!r}] must be a finite number of "
                                 f"seconds in [0, 1), got {value!r}")
            checked[key][name] = float(value)
    return checked


def _seconds(value) -> bool:
    """Whether ``value`` is a number of seconds a cost can be: finite, in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and 0 <= value < 1
    except OverflowError:  # a JSON integer past float's range
        return False


def costs_in_use() -> tuple[dict, str]:
    """The CPU cost table `estimate` uses, and where it came from.

    The table ``gpuconv tune`` stored at `costs_path` when there is one and it
    is valid; otherwise `DEFAULT_COSTS` (a file that cannot be used gives a
    warning once, naming the file and what is wrong with it).

    >>> table, source = costs_in_use()
    >>> sorted(table) == sorted(COST_KEYS + ("call",))
    True
    """
    return _load_costs(costs_path())


@functools.cache
def _load_costs(path: Path) -> tuple[dict, str]:
    defaults = DEFAULT_COSTS, "built-in defaults (gpuconv._algorithms.choose.DEFAULT_COSTS)"
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return defaults
    except OSError as error:
        warnings.warn(f"gpuconv: cannot read the cost table {path} ({error}); "
                      "using the built-in defaults", RuntimeWarning, stacklevel=4)
        return defaults
    try:
        return parse_costs(text), str(path)
    except ValueError as error:
        warnings.warn(f"gpuconv: ignoring the cost table {path}: {error}; using the built-in "
                      "defaults (run `gpuconv tune` to measure it again)",
                      RuntimeWarning, stacklevel=4)
        return defaults


def parse_costs(data: bytes) -> dict:
    """The checked table of a cost file's bytes; ValueError saying what is wrong."""
    try:
        document = json.loads(data.decode("utf-8"))  # UnicodeDecodeError is a ValueError
    except RecursionError:
        raise ValueError("its JSON is nested too deeply") from None
    if not isinstance(document, dict) or document.get("format") != COSTS_FORMAT:
        raise ValueError(f"not a gpuconv cost table of format {COSTS_FORMAT}")
    return validate_costs(document.get("costs"))


def forget_loaded_costs() -> None:
    """Make the next estimate read the cost file again (after ``gpuconv tune``)."""
    _load_costs.cache_clear()
    _cpu_choice.cache_clear()


#: Lines a call has beyond whole batches of `FFT_SIMD_LINES` per thread go
#: one at a time, the threads sharing them, each costing about this many
#: lines of a batch (``python -m benchmarks.fft_lines``; docs/performance.md,
#: "Transform lines"). A call of fewer lines than a batch per thread runs
#: on one thread, as pocketfft runs it, each whole SIMD batch counted at one
#: line alone's cost: measured at 1.1-2x that, but the constants fitted out
#: of cache over-estimate such small calls, and of 1, 1.5 and 2 lines alone
#: 1 gave the lowest regret on the grid (``python -m benchmarks.batch_cost``).
#: float64's leftover line went from 3 to 2 with the faster direct kernel:
#: at 3 the model sent one float64 row of 16384 with K=1023 to the direct
#: sum, 1.2-1.5x slower than the FFT (docs/performance.md, "Cost-model
#: constants").
FFT_LEFTOVER_COST = {"float32": 4.0, "complex64": 4.0, "float64": 2.0, "complex128": 2.0}


def batched_lines(lines: int, threads: int, dtype_name: str) -> float:
    """Time of one transform call over ``lines`` lines, in lines of a SIMD batch.

    >>> batched_lines(16, 2, "float32"), batched_lines(1, 2, "float32"), batched_lines(12, 2, "float32")
    (16.0, 4.0, 16.0)
    >>> batched_lines(4, 2, "float32"), batched_lines(3, 2, "float32")  # one thread: a batch, three lines
    (4.0, 12.0)
    """
    width = FFT_SIMD_LINES[dtype_name]
    if lines < width * threads:  # pocketfft gives each thread at least one whole batch
        share = math.ceil(lines / max(1, lines // width))
        return (share // width + share % width) * FFT_LEFTOVER_COST[dtype_name]
    batch = width * threads
    whole = lines // batch * batch
    return whole + math.ceil((lines - whole) / threads) * FFT_LEFTOVER_COST[dtype_name]


#: Parallel efficiency of a batch that `direct_jobs` cut into smaller tiles
#: for the threads: one 1024-sample row with K=511-1023 ran 1.45-1.67x
#: faster cut in two than in one job on 2 threads (K=255: 1.2-1.3x), not
#: 2x, as the helper thread starts late (``python -m benchmarks.direct_jobs``).
CUT_EFFICIENCY = 0.75


def cpu_work(request: Request, dtype_name: str, backend) -> dict[str, tuple[float, float]]:
    """The two counts each method's two CPU cost constants multiply.

    ``direct``: multiply-adds (a tap of a wide pass counted as the dtype's
    `DIRECT_WIDE_TAP_COST` of one, where ``backend`` runs them) and
    outputs, times the threads left idle when
    the Numba kernel's jobs (`gpuconv._plan.direct_jobs`) are fewer than
    threads (or an uneven share of them), and over `CUT_EFFICIENCY` when
    the jobs were cut small for the threads. ``fft`` and ``oa``: transform
    units (``nfft * log2(nfft)`` per line) and points (``nfft`` per line),
    with lines counted by `batched_lines` for the thread count, as the
    whole-row FFT pads its two calls (`transform_lines`: rows and kernel
    rows forward, rows back) and ``backend`` groups the blocked method's
    frames (`group_sizes`). Where one block holds a whole row, the blocked
    FFT is the whole-row FFT done group by group in cache: slower on small
    batches, which its counts show, and faster on large float64 ones (``python
    -m benchmarks.model_check`` times the two on the regret grid's one-block
    cases).

    >>> from gpuconv.backends import backend_named
    >>> work = cpu_work(Request(rows=8, n=1000, k=5, kernel_rows=1, start=2, out_len=1000),
    ...                 "float64", backend_named("numpy"))
    >>> work["direct"][0] / work["direct"][1]  # multiply-adds per output
    5.0
    """
    rows, n, k = request.rows, request.n, request.k
    threads = config.effective_threads()
    real = not dtype_name.startswith("complex")

    def transforms(lines: float, length: int) -> tuple[float, float]:
        return lines * length * math.log2(max(length, 2)), lines * length

    nfft = backend.next_fast_len(transform_length(n, k, request.start, request.out_len), real)
    batch = backend.fft_batch_lines(dtype_name)
    fft_lines = sum(batched_lines(transform_lines(count, batch, threads), threads, dtype_name)
                    for count in (rows + request.kernel_rows, rows))  # forward, inverse

    # Blocked: each group is framed and transformed both ways by one thread,
    # the groups spread over the threads; the kernel is transformed alone.
    kernel_lines = batched_lines(request.kernel_rows, threads, dtype_name)
    step, oa_nfft = block_length(backend, request.out_len, k, real, backend.block_fft_points)
    blocks = math.ceil(request.out_len / step)
    sizes = group_sizes(rows, blocks, oa_nfft * ITEMSIZE[dtype_name],
                        backend.block_group_bytes, backend.task_threads(), batch)
    per_thread = (sum(count * 2 * batched_lines(size, 1, dtype_name)
                      for size, count in sizes.items()) / min(threads, sum(sizes.values())))
    outputs = rows * request.out_len
    taps = request.taps_per_output
    if dtype_name in DIRECT_WIDE_TAP_COST and backend.wide_direct_passes():
        taps -= (1 - DIRECT_WIDE_TAP_COST[dtype_name]) * direct_wide_taps(taps)
    cut = direct_jobs(rows, request.out_len, k, threads)
    jobs = max(1, cut.count)
    idle = math.ceil(jobs / threads) * threads / jobs
    if cut.outputs < DIRECT_JOB_OUTPUTS:  # cut for the threads: they share it less well
        idle /= CUT_EFFICIENCY
    return {
        "direct": (idle * outputs * taps, idle * outputs),
        "fft": transforms(fft_lines, nfft),
        "oa": transforms(per_thread + kernel_lines, oa_nfft),
    }


def cpu_estimate(costs: dict, request: Request, dtype_name: str, backend) -> dict[str, float]:
    """Seconds of each method for ``request`` on CPU ``backend`` under cost table ``costs``.

    >>> from gpuconv.backends import backend_named
    >>> request = Request(rows=64, n=65536, k=7, kernel_rows=1, start=3, out_len=65536)
    >>> times = cpu_estimate(DEFAULT_COSTS, request, "float32", backend_named("numpy"))
    >>> min(times, key=times.get)
    'direct'
    """
    times = {}
    for method, counts in cpu_work(request, dtype_name, backend).items():
        per_count = (costs[key][dtype_name] for key in METHOD_COSTS[method])
        times[method] = sum(c * t for c, t in zip(counts, per_count)) + costs["call"][method]
    return times


def estimate(backend, request: Request, dtype_name: str) -> dict[str, float]:
    """Estimated seconds of each method for ``request`` on ``backend``."""
    figures = getattr(backend, "figures", None)
    if figures is not None:
        return gpu_estimate(figures, request, dtype_name, backend.next_fast_len)
    return cpu_estimate(costs_in_use()[0], request, dtype_name, backend)


#: On the CPU an FFT method is chosen over the direct sum only when its
#: estimate is lower by more than this factor. The direct kernel allocates
#: nothing but its output (and a few KiB of scratch), and the model fits it
#: closest (calibration misfits 0.00-0.14, against 0.03-0.49 for the
#: transforms); an FFT method's temporaries are page-faulted in again on
#: every call or not, depending on what the process freed before: 1.7-2.7x
#: the time of the same call (``python -m benchmarks.heap_trim``). Larger
#: margins gave one-row cases that the FFT wins to the direct sum
#: (``python -m benchmarks.direct_margin``; docs/performance.md, "A margin
#: for the direct sum").
DIRECT_MARGIN = 1.1


def cpu_choice(times: dict[str, float], margin: float = DIRECT_MARGIN) -> str:
    """The method ``auto`` takes on the CPU for estimated ``times``: the
    cheapest, unless the direct sum is within ``margin`` of it.

    >>> cpu_choice({"direct": 1.05, "fft": 1.0, "oa": 1.2})
    'direct'
    >>> cpu_choice({"direct": 1.2, "fft": 1.1, "oa": 1.0})
    'oa'
    """
    cheapest = min(times, key=times.get)
    if times["direct"] <= margin * times[cheapest]:
        return "direct"
    return cheapest


def choose_method(backend, request: Request, dtype_name: str) -> str:
    """The cheapest method for ``request``; ``'direct'`` for exact dtypes and
    for a batch of no rows (nothing to estimate).

    On the CPU the choice is `cpu_choice`'s, which keeps the direct sum
    where an FFT method is estimated only a little faster, and it is
    remembered for what the estimate reads (the request, the dtype, the
    thread count, the cost file and the backend's blocking), so a repeated
    small call does not pay the cost model again: `cpu_estimate` takes
    longer than a short direct call's arithmetic.
    """
    if dtype_name not in COST_DTYPES or request.rows == 0:  # exact arithmetic, or no work
        return "direct"
    if getattr(backend, "figures", None) is not None:
        times = estimate(backend, request, dtype_name)
        return min(times, key=times.get)
    return _cpu_choice(backend, request, dtype_name, config.effective_threads(), costs_path(),
                       backend.block_fft_points, backend.block_group_bytes)


@functools.lru_cache(maxsize=1024)
def _cpu_choice(backend, request: Request, dtype_name: str, threads: int, costs_file: Path,
                block_fft_points: int, block_group_bytes: int) -> str:
    return cpu_choice(cpu_estimate(_load_costs(costs_file)[0], request, dtype_name, backend))


# --------------------------------------------------------------------------
# GPU: a roofline from the device's figures
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceFigures:
    """What the GPU cost model needs to know of a device."""

    name: str
    bandwidth: float         # DRAM bytes per second
    fp32: float              # FLOP/s (an FMA is 2)
    fp64: float
    launch: float = 5e-6     # seconds per kernel launch, host side included


#: Share of the FMA peak the direct kernel reaches: each multiply-add also
#: reads one staged input from shared memory.
DIRECT_EFFICIENCY = 0.5
#: cuFFT does up to this many points in one pass through shared memory.
FFT_POINTS_PER_PASS = 4096


def fft_passes(length: int) -> int:
    """Passes over memory of a cuFFT transform of ``length`` points.

    >>> fft_passes(4096), fft_passes(262144), fft_passes(2**26)
    (1, 2, 3)
    """
    return max(1, math.ceil(math.log(max(length, 2)) / math.log(FFT_POINTS_PER_PASS)))


def gpu_estimate(figures: DeviceFigures, request: Request, dtype_name: str,
                 next_fast_len) -> dict[str, float]:
    """Seconds of each method on a GPU with ``figures`` (float dtypes)."""
    item = ITEMSIZE.get(dtype_name, 8)
    complex_ = dtype_name.startswith("complex")
    peak = figures.fp64 if dtype_name in ("float64", "complex128") else figures.fp32
    rows, n, k = request.rows, request.n, request.k
    bandwidth = figures.bandwidth

    # Direct: every input read from DRAM once (halos hit in cache), every
    # output written once; 2 flops per real multiply-add, 8 per complex one.
    macs = rows * request.out_len * request.taps_per_output
    moved = (rows * n + request.kernel_rows * k + rows * request.out_len) * item
    direct = max(moved / bandwidth, macs * (8 if complex_ else 2) / (DIRECT_EFFICIENCY * peak))

    def transform_seconds(points_per_row: int, length: int) -> float:
        # A real transform's spectrum holds about `length` scalars of `item`;
        # each pass reads and writes it, two transforms, then one multiply
        # pass (read both spectra, write one).
        spectrum = rows * points_per_row * item
        return (2 * 2 * fft_passes(length) + 3) * spectrum / bandwidth

    nfft = next_fast_len(transform_length(n, k, request.start, request.out_len), real=True)
    step, oa_nfft = fft_block(request.out_len, k, lambda m: next_fast_len(m, real=True))
    blocks = math.ceil(request.out_len / step)
    return {
        "direct": direct + figures.launch,
        "fft": transform_seconds(nfft, nfft) + 4 * figures.launch,
        # the blocked FFT adds one pass: framing the input, storing the clean parts
        "oa": transform_seconds(blocks * oa_nfft, oa_nfft) + 2 * rows * n * item / bandwidth
        + 5 * figures.launch,
    }


#: Figures of common data-centre GPUs (vendor data sheets, SXM parts), used
#: by the docs' crossover table and when a device hides its attributes.
KNOWN_DEVICES = {
    "A100": DeviceFigures("A100 SXM 80GB", 2.04e12, 19.5e12, 9.7e12),
    "H100": DeviceFigures("H100 SXM", 3.35e12, 67e12, 34e12),
    "H200": DeviceFigures("H200 SXM", 4.8e12, 67e12, 34e12),
}


def crossover_taps(figures: DeviceFigures, rows: int, n: int, dtype_name: str,
                   next_fast_len) -> int:
    """Smallest kernel length for which the model prefers an FFT method ('same')."""
    for k in range(1, 8192):
        request = Request(rows=rows, n=n, k=k, kernel_rows=1, start=(k - 1) // 2, out_len=n)
        times = gpu_estimate(figures, request, dtype_name, next_fast_len)
        if min(times, key=times.get) != "direct":
            return k
    return 8192


#: FP32 lanes per SM by compute capability (CUDA C Programming Guide).
FP32_PER_SM = {(7, 0): 64, (7, 5): 64, (8, 0): 64}
#: Devices with full-rate-half FP64 (the data-centre parts); others run 1/64.
HALF_RATE_FP64 = {(6, 0), (7, 0), (8, 0), (9, 0), (10, 0)}


def figures_from_attributes(name: str, attributes: dict, capability: tuple) -> DeviceFigures:
    """`DeviceFigures` from CUDA device attributes (``cupy.cuda.Device().attributes``).

    Bandwidth is double data rate over the bus; the FMA rate is SMs x FP32
    lanes x 2 flops x clock.

    >>> h100 = {"MemoryClockRate": 2619000, "GlobalMemoryBusWidth": 5120,
    ...         "MultiProcessorCount": 132, "ClockRate": 1980000}
    >>> f = figures_from_attributes("H100", h100, (9, 0))
    >>> round(f.bandwidth / 1e12, 2), round(f.fp32 / 1e12, 1), round(f.fp64 / 1e12, 1)
    (3.35, 66.9, 33.5)
    """
    bandwidth = 2 * attributes["MemoryClockRate"] * 1e3 * attributes["GlobalMemoryBusWidth"] / 8
    lanes = FP32_PER_SM.get(tuple(capability), 128)
    fp32 = 2 * attributes["MultiProcessorCount"] * lanes * attributes["ClockRate"] * 1e3
    fp64 = fp32 / 2 if tuple(capability) in HALF_RATE_FP64 else fp32 / 64
    return DeviceFigures(name, bandwidth, fp32, fp64)
