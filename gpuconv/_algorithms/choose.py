"""The ``auto`` method: a per-backend cost model picks direct, FFT or overlap-add.

Each estimate is (work) x (seconds per unit of work) for the backend; the
constants live in `COSTS`, the one table to refresh when the kernels or the
machine class change. Integer and boolean inputs always go direct, so their
results stay exact; for floats the choice changes only the rounding error
(direct: about ``eps * sqrt(k)`` relative to ``sum |w| |x|``; FFT: about
``eps * log2(nfft)`` relative to the largest output), never the answer class.
"""

from __future__ import annotations

import math

from .._plan import Request, overlap_add_block
from .fft import transform_length

#: Seconds per unit of work on each backend (float64 real; other dtypes
#: scale by `DTYPE_SCALE`). ``mac``: one direct multiply-add; ``fft``: one
#: ``n log2 n`` unit of a real transform; ``call``: fixed cost per method call.
#: numpy: ``python -m benchmarks.calibrate`` on the project's 2-core AVX-512
#: machine class (2 threads). cupy: placeholders of the right order for a
#: recent data-centre GPU until the GPU backend issue measures them there.
COSTS = {
    "numpy": {"mac": 1.4e-10, "fft": 4.0e-10, "call": {"direct": 2e-6, "fft": 2e-5, "oa": 6e-5}},
    "cupy": {"mac": 2.0e-12, "fft": 2.0e-11, "call": {"direct": 2e-5, "fft": 6e-5, "oa": 1.5e-4}},
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
