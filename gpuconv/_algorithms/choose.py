"""The ``auto`` method: a per-backend cost model picks direct, FFT or overlap-add.

On the CPU each estimate is (work) x (seconds per unit of work), with the
constants measured on the project's machine class in `COSTS`. On a GPU the
estimate is a roofline from the device's own figures (`DeviceFigures`: DRAM
bandwidth and FMA rate), with cuFFT as a bandwidth-bound multi-pass transform:
unlike ``cupy.convolve``, which always takes FFT for floats, a short kernel
stays direct. Integer and boolean inputs always go direct, so their
results stay exact; for floats the choice changes only the rounding error
(direct: about ``eps * sqrt(k)`` relative to ``sum |w| |x|``; FFT: about
``eps * log2(nfft)`` relative to the largest output), never the answer class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._plan import Request, overlap_add_block
from .fft import transform_length

#: Seconds per unit of work on each backend (float64 real; other dtypes
#: scale by `DTYPE_SCALE`). ``mac``: one direct multiply-add; ``fft``: one
#: ``n log2 n`` unit of a real transform; ``call``: fixed cost per method call.
#: numpy: ``python -m benchmarks.calibrate`` on the project's 2-core AVX-512
#: machine class (2 threads); other CPU backends (the emulator) share it.
COSTS = {
    "numpy": {"mac": 1.4e-10, "fft": 4.0e-10, "call": {"direct": 2e-6, "fft": 2e-5, "oa": 6e-5}},
}

#: Cost of a dtype relative to float64 for (direct, fft). The direct kernel is
#: bound by L1 traffic, so float32 gains little there; complex arithmetic is
#: four real multiplies on two-word data, and a complex FFT costs about
#: twice a real one.
DTYPE_SCALE = {
    "float32": (1.0, 0.6),
    "float64": (1.0, 1.0),
    "complex64": (1.7, 1.2),
    "complex128": (3.0, 2.0),
}


def estimate(backend, request: Request, dtype_name: str) -> dict[str, float]:
    """Estimated seconds of each method for ``request`` on ``backend``."""
    figures = getattr(backend, "figures", None)
    if figures is not None:
        return gpu_estimate(figures, request, dtype_name, backend.next_fast_len)
    costs = COSTS.get(backend.name, COSTS["numpy"])
    direct_scale, fft_scale = DTYPE_SCALE.get(dtype_name, (1.0, 1.0))
    rows, n, k = request.rows, request.n, request.k

    def transform(length, count):
        return count * length * math.log2(max(length, 2)) * costs["fft"] * fft_scale

    taps = request.taps_per_output
    direct = rows * request.out_len * taps * costs["mac"] * direct_scale
    nfft = backend.next_fast_len(transform_length(n, k, request.start, request.out_len), real=True)
    fft = transform(nfft, 2 * rows + request.kernel_rows)
    block, oa_nfft = overlap_add_block(n, k, lambda m: backend.next_fast_len(m, real=True))
    blocks = math.ceil(n / block)
    oa = transform(oa_nfft, 2 * rows * blocks + request.kernel_rows)
    return {
        "direct": direct + costs["call"]["direct"],
        "fft": fft + costs["call"]["fft"],
        "oa": oa + costs["call"]["oa"],
    }


def choose_method(backend, request: Request, dtype_name: str) -> str:
    """The cheapest method for ``request``; ``'direct'`` for exact dtypes."""
    if dtype_name not in DTYPE_SCALE:  # integers and booleans: exact arithmetic
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
