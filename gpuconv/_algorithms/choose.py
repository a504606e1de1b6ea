"""The ``auto`` method: a per-backend cost model picks direct, FFT or overlap-add.

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
``eps * log2(nfft)`` relative to the largest output), never the answer class.
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from .._plan import Request, overlap_add_block
from .fft import transform_length

# --------------------------------------------------------------------------
# CPU: a cost table measured by `gpuconv tune`
# --------------------------------------------------------------------------

#: The dtypes the cost model knows; integers and booleans always go direct.
COST_DTYPES = ("float32", "float64", "complex64", "complex128")

#: What each entry of a cost table means (seconds per unit), by key:
#: ``mac`` one direct multiply-add; ``output`` one direct output beyond its
#: multiply-adds (loads, stores, staging); ``fft`` one ``n log2 n`` unit of a
#: whole-row transform and ``fft_point`` one of its points (spectral product,
#: padding, copies); ``oa`` and ``oa_point`` the same for overlap-add's
#: block transforms, which stay in cache; ``call`` a fixed cost per call of
#: each method. All but ``call`` are per dtype.
COST_KEYS = ("mac", "output", "fft", "fft_point", "oa", "oa_point")
CALL_KEYS = ("direct", "fft", "oa")

#: Defaults for the project's CPU machine class (2-core Xeon with AVX-512,
#: 2 threads), from ``gpuconv tune`` fits and the auto-regret grid of
#: ``gpuconv bench --workloads regret`` there (docs/performance.md). The
#: machine was shared while they were measured, so these are rounded middles
#: of several runs; refresh them on a quiet machine with
#: ``python -m benchmarks.calibrate``. Other CPU backends (the host
#: emulator) share them.
DEFAULT_COSTS = {
    "mac": {"float32": 4.5e-11, "float64": 8e-11, "complex64": 1.8e-10, "complex128": 4e-10},
    "output": {"float32": 1e-10, "float64": 2e-10, "complex64": 2e-10, "complex128": 4e-10},
    "fft": {"float32": 3e-10, "float64": 6.5e-10, "complex64": 6e-10, "complex128": 1.3e-09},
    "fft_point": {"float32": 0.0, "float64": 0.0, "complex64": 0.0, "complex128": 0.0},
    "oa": {"float32": 1.5e-10, "float64": 6e-10, "complex64": 3e-10, "complex128": 1.2e-09},
    "oa_point": {"float32": 2e-09, "float64": 2e-09, "complex64": 4e-09, "complex128": 4e-09},
    "call": {"direct": 3e-05, "fft": 4.5e-05, "oa": 8e-05},
}

#: Environment variable naming the directory of the measured cost table.
CACHE_DIR_VARIABLE = "GPUCONV_CACHE_DIR"
#: Version of the cost file's layout; a file of another version is ignored.
COSTS_FORMAT = 2


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
    return cache_dir() / "costs.json"


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
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  and math.isfinite(value) and 0 <= value < 1)
            if not ok:
                raise ValueError(f"costs[{key!r}][{name!r}] must be a finite number of "
                                 f"seconds in [0, 1), got {value!r}")
            checked[key][name] = float(value)
    return checked


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return defaults
    except OSError as error:
        warnings.warn(f"gpuconv: cannot read the cost table {path} ({error}); "
                      "using the built-in defaults", RuntimeWarning, stacklevel=4)
        return defaults
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != COSTS_FORMAT:
            raise ValueError(f"not a gpuconv cost table of format {COSTS_FORMAT}")
        return validate_costs(document.get("costs")), str(path)
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        warnings.warn(f"gpuconv: ignoring the cost table {path}: {error}; using the built-in "
                      "defaults (run `gpuconv tune` to measure it again)",
                      RuntimeWarning, stacklevel=4)
        return defaults


def forget_loaded_costs() -> None:
    """Make the next estimate read the cost file again (after ``gpuconv tune``)."""
    _load_costs.cache_clear()


def cpu_estimate(costs: dict, request: Request, dtype_name: str,
                 next_fast_len) -> dict[str, float]:
    """Seconds of each method for ``request`` under CPU cost table ``costs``.

    >>> import scipy.fft
    >>> request = Request(rows=64, n=65536, k=7, kernel_rows=1, start=3, out_len=65536)
    >>> times = cpu_estimate(DEFAULT_COSTS, request, "float32", scipy.fft.next_fast_len)
    >>> min(times, key=times.get)
    'direct'
    """
    rows, n, k = request.rows, request.n, request.k
    calls = costs["call"]

    def transforms(count, length, per_unit, per_point):
        return count * length * (math.log2(max(length, 2)) * per_unit + per_point)

    direct = rows * request.out_len * (request.taps_per_output * costs["mac"][dtype_name]
                                       + costs["output"][dtype_name])
    real = not dtype_name.startswith("complex")
    nfft = next_fast_len(transform_length(n, k, request.start, request.out_len), real)
    fft = transforms(2 * rows + request.kernel_rows, nfft,
                     costs["fft"][dtype_name], costs["fft_point"][dtype_name])
    block, oa_nfft = overlap_add_block(n, k, lambda m: next_fast_len(m, real))
    blocks = math.ceil(n / block)
    oa = transforms(2 * rows * blocks + request.kernel_rows, oa_nfft,
                    costs["oa"][dtype_name], costs["oa_point"][dtype_name])
    return {"direct": direct + calls["direct"], "fft": fft + calls["fft"], "oa": oa + calls["oa"]}


def estimate(backend, request: Request, dtype_name: str) -> dict[str, float]:
    """Estimated seconds of each method for ``request`` on ``backend``."""
    figures = getattr(backend, "figures", None)
    if figures is not None:
        return gpu_estimate(figures, request, dtype_name, backend.next_fast_len)
    return cpu_estimate(costs_in_use()[0], request, dtype_name, backend.next_fast_len)


def choose_method(backend, request: Request, dtype_name: str) -> str:
    """The cheapest method for ``request``; ``'direct'`` for exact dtypes."""
    if dtype_name not in COST_DTYPES:  # integers and booleans: exact arithmetic
        return "direct"
    times = estimate(backend, request, dtype_name)
    return min(times, key=times.get)


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
ITEMSIZE = {"float32": 4, "float64": 8, "complex64": 8, "complex128": 16}


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
    block, oa_nfft = overlap_add_block(n, k, lambda m: next_fast_len(m, real=True))
    blocks = math.ceil(n / block)
    return {
        "direct": direct + figures.launch,
        "fft": transform_seconds(nfft, nfft) + 4 * figures.launch,
        # overlap-add adds one pass to add the block tails together
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
