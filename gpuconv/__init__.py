"""gpuconv: batched 1-D convolution on the GPU (CuPy) or the CPU (NumPy, SciPy, Numba).

The same call gives the same answer on either device; the device follows the
data. See ``docs/architecture.md`` for how a call flows through the package.

>>> import gpuconv
>>> gpuconv.convolve([1, 2, 3], [1, 1])
array([1, 3, 5, 3])
"""

from . import backends, ndimage, nn, signal
from ._config import config
from ._convolve import circular_convolve, convolve, correlate
from .backends import get_backend, use_backend
from .streaming import StreamingConvolver

__version__ = "0.1.0"

__all__ = [
    "StreamingConvolver",
    "backends",
    "circular_convolve",
    "config",
    "convolve",
    "correlate",
    "get_backend",
    "ndimage",
    "nn",
    "signal",
    "use_backend",
]
