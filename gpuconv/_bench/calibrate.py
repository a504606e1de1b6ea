"""Measure the CPU cost-model constants of `gpuconv._algorithms.choose` (``gpuconv tune``).

Each method is timed through `gpuconv._algorithms.execute`, the call
``auto`` chooses for, on a few sizes per dtype, and its two constants (per
unit of work and per point or output) are the non-negative least-squares fit
of the model in `gpuconv._algorithms.choose.cpu_estimate` to those times,
after the method's fixed cost per call, measured on a tiny input, is taken
off. Times are the fastest of several runs (`fastest_seconds`): on a shared
machine other work only adds time.
"""

from __future__ import annotations

import datetime

import numpy as np

from .timing import fastest_seconds

#: (rows, n, k) of the calibration runs of each method; 'same' output.
#: Direct: kernel lengths apart so the per-tap and per-output costs separate.
#: FFT and blocked FFT: sizes where the two compete, from cache-sized
#: transforms to a long batch (16 x 2^18, as W3), and block sizes from short
#: to long kernels; two constants a method do not carry over from far
#: outside that range (docs/performance.md, "Cost-model constants"). The
#: FFT's batches are large enough for scipy.fft to use every thread
#: (`gpuconv.backends.numpy_backend.FFT_SPLIT_WORK`): its constants are
#: per line of a threaded call.
SIZES = {
    "direct": [(8, 65536, 3), (8, 65536, 31), (8, 65536, 127)],
    "fft": [(64, 4096, 31), (8, 65536, 31), (16, 2**18, 31)],
    "oa": [(4, 2**18, 127), (4, 2**18, 511), (2, 2**18, 2047), (16, 2**18, 4095), (2, 2**18, 8191)],
}
QUICK_SIZES = {
    "direct": [(4, 16384, 3), (4, 16384, 63)],
    "fft": [(64, 4096, 31), (4, 65536, 31)],
    "oa": [(2, 65536, 31), (2, 65536, 255)],
}
#: The tiny call whose time is each method's fixed cost.
TINY = (1, 64, 3)


def _time(backend, method: str, rows: int, n: int, k: int, dtype: str, repeats: int) -> float:
    from .._algorithms import execute

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, n)).astype(dtype)
    w = rng.standard_normal((1, k)).astype(dtype)
    if dtype.startswith("complex"):
        x = x + 1j * rng.standard_normal((rows, n)).astype(dtype)
    request, result_dtype = _request(rows, n, k), np.dtype(dtype)
    return fastest_seconds(lambda: execute(backend, x, w, request, method, result_dtype),
                           repeats=repeats)


def _features(method: str, rows: int, n: int, k: int, dtype: str, backend) -> tuple:
    """The two work counts `cpu_estimate` multiplies by the method's two constants."""
    from .._algorithms.choose import cpu_work

    return cpu_work(_request(rows, n, k), dtype, backend)[method]


def _request(rows: int, n: int, k: int):
    from .._plan import Request

    return Request(rows=rows, n=n, k=k, kernel_rows=1, start=(k - 1) // 2, out_len=n)


def _fit(features: list, seconds: list) -> tuple[tuple, float]:
    """Non-negative least squares in relative terms; the constants and the worst misfit."""
    from scipy.optimize import nnls

    a = np.array(features, dtype=float)
    b = np.array(seconds, dtype=float)
    weights = 1 / b  # every point counts by its relative error, not its size
    coefficients, _ = nnls(a * weights[:, None], b * weights)
    if coefficients[0] <= 0:  # noise hid the unit cost: all of it per unit of work
        unit = np.sum(a[:, 0] * weights**2 * b) / np.sum((a[:, 0] * weights) ** 2)
        coefficients = np.array([unit, 0.0])
    misfit = float(np.max(np.abs(a @ coefficients - b) / b))
    return tuple(float(c) for c in coefficients), misfit


def calibrate(backend=None, *, quick: bool = False, log=None) -> dict:
    """Measure a cost table for ``backend`` (default: the NumPy one).

    Returns the document ``gpuconv tune`` stores: the table under
    ``"costs"`` (the layout of `gpuconv._algorithms.choose.DEFAULT_COSTS`),
    with the machine, thread count, date and each fit's worst relative
    misfit.
    """
    import gpuconv
    from gpuconv.backends import backend_named

    from .._algorithms.choose import CALL_KEYS, COST_DTYPES, COST_KEYS, COSTS_FORMAT, METHOD_COSTS
    from .roofline import cpu_name

    backend = backend or backend_named("numpy")
    repeats = 3 if quick else 7
    sizes = QUICK_SIZES if quick else SIZES
    calls = {}
    for method in CALL_KEYS:
        # Many runs: on a busy machine a parallel call often waits for a core.
        calls[method] = _time(backend, method, *TINY, "float64", 5 * repeats)
    costs = {key: {} for key in COST_KEYS}
    misfits = {}
    for dtype in COST_DTYPES:
        for method, points in sizes.items():
            if log:
                log(f"  {method} {dtype}")
            features, seconds = [], []
            for rows, n, k in points:
                elapsed = _time(backend, method, rows, n, k, dtype, repeats)
                features.append(_features(method, rows, n, k, dtype, backend))
                seconds.append(max(elapsed - calls[method], elapsed / 10))
            (unit, point), misfits[f"{method} {dtype}"] = _fit(features, seconds)
            costs[METHOD_COSTS[method][0]][dtype] = unit
            costs[METHOD_COSTS[method][1]][dtype] = point
    costs["call"] = calls
    return {
        "format": COSTS_FORMAT,
        "backend": backend.name,
        "threads": gpuconv.config.threads,
        "machine": cpu_name(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "gpuconv": gpuconv.__version__,
        "quick": quick,
        "misfit": misfits,
        "costs": costs,
    }
