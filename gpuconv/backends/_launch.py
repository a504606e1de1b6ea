"""CUDA launch descriptions, and the CuPy launcher that runs them on a GPU.

The host side of the CUDA direct kernel is pure Python: `direct_launches`
turns arrays and a window into `Launch` records (kernel name expression,
grid, block, dynamic shared bytes, arguments with explicit NumPy scalar
dtypes). A launcher executes them: `CupyLauncher` through ``cupy.RawModule``
on the current device; the host emulator (`gpuconv.backends._emulator`) on
the CPU, which is how CI checks the very descriptions the GPU would receive.
`CudaDirect` is the backend's direct method built on the two.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from . import kernels_dir

SOURCE = "conv1d_direct.cu"

#: Threads per block and outputs per thread: TILE = 512 outputs per block.
#: Each output costs one shared-memory load per tap; PER_THREAD = 4 reuses
#: every weight loaded from shared memory four times, and 128 threads keep
#: enough warps per SM resident to hide the staging loads.
BLOCK = 128
PER_THREAD = 4
TILE = BLOCK * PER_THREAD
#: Taps staged per pass: (TILE + 2 * 256 - 1) * 16 bytes = 16 KiB of shared
#: memory for complex128, under the 48 KiB a launch gets without opting in.
MAX_CHUNK = 256
#: gridDim.y limit: batches of more rows are split into several launches.
MAX_GRID_ROWS = 65535

#: NumPy compute dtype -> C++ type of the kernel's template parameter.
CTYPES = {
    "float32": "float",
    "float64": "double",
    "complex64": "gc_complex<float>",
    "complex128": "gc_complex<double>",
    "int64": "long long",
}

#: Values of the GC_* boundary macros in the kernel source.
BOUNDARY_CODES = {"zero": 0, "constant": 1, "reflect": 2, "mirror": 3, "nearest": 4, "wrap": 5}

#: NVRTC options the CuPy backend compiles with (and the NVRTC tests use).
NVRTC_OPTIONS = ("-std=c++17",)


def name_expression(dtype) -> str:
    """The instantiation of ``conv1d_direct`` for a compute dtype.

    >>> name_expression(np.float32)
    'conv1d_direct<float, 128, 4>'
    """
    return f"conv1d_direct<{CTYPES[np.dtype(dtype).name]}, {BLOCK}, {PER_THREAD}>"


#: Every instantiation the backend can launch, compiled together.
NAME_EXPRESSIONS = tuple(name_expression(dtype) for dtype in CTYPES)


@functools.cache
def kernel_source() -> str:
    """The CUDA source of the direct kernel."""
    return (kernels_dir() / SOURCE).read_text()


@dataclass(frozen=True)
class Launch:
    """One kernel launch, in a form any launcher can execute."""

    kernel: str         # name expression of the instantiation
    grid: tuple         # (x, y, z)
    block: tuple        # (x, y, z)
    shared_bytes: int   # dynamic shared memory
    args: tuple         # arrays and NumPy scalars, in the kernel's parameter order


#: The kernel's scalar parameters and the NumPy types the host passes for
#: them (checked against the PTX parameter list by the NVRTC tests).
SCALAR_PARAMETERS = (("n", np.int64), ("out_len", np.int64), ("start", np.int64),
                     ("k", np.int32), ("chunk", np.int32), ("kernel_rows", np.int32),
                     ("boundary", np.int32))


def direct_launches(x, w, out, cval, start: int, boundary: str) -> list[Launch]:
    """Launches computing ``out`` (rows, out_len) from ``x`` (rows, n) and ``w``.

    ``w`` is (1 or rows, k); ``cval`` a 1-element array holding the constant
    of the ``'constant'`` boundary. All arrays C-contiguous and of one dtype.
    Rows beyond the grid's y limit go to further launches on row slices.
    """
    rows, n = x.shape
    kernel_rows, k = w.shape
    out_len = out.shape[1]
    chunk = min(k, MAX_CHUNK)
    shared = (TILE + 2 * chunk - 1) * x.dtype.itemsize
    tiles = math.ceil(out_len / TILE)
    launches = []
    for lo in range(0, rows, MAX_GRID_ROWS):
        hi = min(lo + MAX_GRID_ROWS, rows)
        w_part = w if kernel_rows == 1 else w[lo:hi]
        scalars = (n, out_len, start, k, chunk, kernel_rows, BOUNDARY_CODES[boundary])
        args = (x[lo:hi], w_part, out[lo:hi], cval) + tuple(
            kind(value) for (_, kind), value in zip(SCALAR_PARAMETERS, scalars))
        launches.append(Launch(name_expression(x.dtype), (tiles, hi - lo, 1), (BLOCK, 1, 1),
                               shared, args))
    return launches


class CudaDirect:
    """The direct method of a CUDA backend: allocate, describe, launch.

    ``xp`` allocates the output and the constant; ``launcher`` executes each
    `Launch`. Boundaries are applied by the kernel while it stages its input.
    """

    def __init__(self, xp, launcher, allocate=None):
        self.xp = xp
        self.launcher = launcher
        self.allocate = allocate or (lambda shape, dtype: xp.empty(shape, dtype=dtype))

    def __call__(self, x, w, request):
        xp = self.xp
        # The kernel indexes rows as x + row * n: C order, whatever view came in.
        x, w = xp.ascontiguousarray(x), xp.ascontiguousarray(w)
        out = self.allocate((x.shape[0], request.out_len), x.dtype)
        cval = xp.full((1,), request.cval if request.boundary == "constant" else 0, dtype=x.dtype)
        if out.shape[0] and out.shape[1]:
            for launch in direct_launches(x, w, out, cval, request.start, request.boundary):
                self.launcher(launch)
        return out


class CupyLauncher:
    """Runs launches on the current CUDA device through ``cupy.RawModule``.

    The module (every instantiation in `NAME_EXPRESSIONS`) is compiled by
    NVRTC once per device and process; CuPy's on-disk cache keeps the binary
    across processes.
    """

    def __init__(self):
        self._modules = {}

    def module(self):
        import cupy

        device = cupy.cuda.Device().id
        if device not in self._modules:
            self._modules[device] = cupy.RawModule(
                code=kernel_source(), options=NVRTC_OPTIONS, name_expressions=NAME_EXPRESSIONS)
        return self._modules[device]

    def __call__(self, launch: Launch) -> None:
        kernel = self.module().get_function(launch.kernel)
        kernel(launch.grid, launch.block, launch.args, shared_mem=launch.shared_bytes)
