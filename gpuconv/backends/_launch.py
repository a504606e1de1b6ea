"""CUDA launch descriptions, and the CuPy launcher that runs them on a GPU.

The host side of the CUDA direct kernel is pure Python: `direct_launches`
turns arrays and a window into `Launch` records (kernel name expression,
grid, block, dynamic shared bytes, arguments with explicit NumPy scalar
dtypes, and the arrays to copy into ``__constant__`` memory first). A
launcher executes them: `CupyLauncher` through ``cupy.RawModule`` on the
current device and stream; the host emulator (`gpuconv.backends._emulator`) on
the CPU, which is how CI checks the very descriptions the GPU would receive.
`CudaDirect` is the backend's direct method built on the two.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from . import kernels_dir

SOURCE = "conv1d_direct.cu"

#: Threads per block and outputs per thread: TILE = 512 outputs per block.
#: Each output costs one shared-memory load per tap; PER_THREAD = 4 reuses
#: every weight loaded four times, and 128 threads keep enough warps per SM
#: resident to hide the staging loads.
BLOCK = 128
PER_THREAD = 4
TILE = BLOCK * PER_THREAD
#: Taps staged per pass: (TILE + 2 * 256 - 1) * 16 bytes = 16 KiB of shared
#: memory for complex128, under the 48 KiB a launch gets without opting in.
MAX_CHUNK = 256
#: Most dynamic shared memory a launch asks for; a stride or dilation whose
#: input span would need more gets fewer outputs per block or fewer taps per
#: chunk (`tiling`).
SHARED_BUDGET = 16 * 1024
#: Unrolled instantiations: KT unrolls the tap loop fully for k <= KT. One
#: KT = 16 serves every k <= 16 (the unrolled loop exits after tap k), so the
#: module holds 2 tap variants per dtype and weight memory instead of 17.
UNROLLED_TAPS = (16,)
#: Bytes of the kernel's ``__constant__ gc_constant_weights`` (one kernel for
#: all rows is copied there before the launch; larger ones stay in shared).
CONSTANT_WEIGHT_BYTES = 65536
CONSTANT_SYMBOL = "gc_constant_weights"
#: gridDim.y limit: batches of more rows are split into several launches.
MAX_GRID_ROWS = 65535
INT32_MAX = 2**31 - 1

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


def name_expression(dtype, taps: int = 0, constant: bool = False) -> str:
    """The instantiation of ``conv1d_direct`` for a compute dtype.

    ``taps`` is KT (0: a loop over any number of taps; else the tap loop is
    unrolled for up to that many), ``constant`` puts the weights in constant
    memory.

    >>> name_expression(np.float32)
    'conv1d_direct<float, 128, 4, 0, false>'
    >>> name_expression(np.complex64, taps=16, constant=True)
    'conv1d_direct<gc_complex<float>, 128, 4, 16, true>'
    """
    return (f"conv1d_direct<{CTYPES[np.dtype(dtype).name]}, {BLOCK}, {PER_THREAD}, {taps}, "
            f"{'true' if constant else 'false'}>")


#: Every instantiation the backend can launch: name -> (dtype, KT, constant).
INSTANTIATIONS = {name_expression(dtype, taps, constant): (dtype, taps, constant)
                  for dtype in CTYPES for taps in (0, *UNROLLED_TAPS) for constant in (False, True)}
NAME_EXPRESSIONS = tuple(INSTANTIATIONS)


@functools.cache
def kernel_source() -> str:
    """The CUDA source of the direct kernel."""
    return (kernels_dir() / SOURCE).read_text()


@dataclass(frozen=True)
class Launch:
    """One kernel launch, in a form any launcher can execute.

    ``constants`` lists ``(symbol, array)`` pairs: the launcher copies each
    array into the module's ``__constant__`` symbol before the launch, on the
    stream the kernel runs on.
    """

    kernel: str         # name expression of the instantiation
    grid: tuple         # (x, y, z)
    block: tuple        # (x, y, z)
    shared_bytes: int   # dynamic shared memory
    args: tuple         # arrays and NumPy scalars, in the kernel's parameter order
    constants: tuple = ()


#: The kernel's scalar parameters and the NumPy types the host passes for
#: them (checked against the PTX parameter list by the NVRTC tests). Offsets
#: and lengths are 64-bit: a batch may hold more than 2^31 elements.
SCALAR_PARAMETERS = (("n", np.int64), ("out_len", np.int64), ("start", np.int64),
                     ("x_row_stride", np.int64), ("w_row_stride", np.int64),
                     ("out_row_stride", np.int64),
                     ("k", np.int32), ("chunk", np.int32), ("tile", np.int32),
                     ("stride", np.int32), ("dilation", np.int32), ("boundary", np.int32))


def vector_width(dtype) -> int:
    """Samples per 128-bit load of the staging loop (``gc_vector<T>::width``).

    >>> vector_width(np.float32), vector_width(np.complex64), vector_width(np.complex128)
    (4, 2, 1)
    """
    return max(1, 16 // np.dtype(dtype).itemsize)


def shared_elements(dtype, tile: int, chunk: int, stride: int, dilation: int,
                    constant: bool) -> int:
    """Dynamic shared memory of a launch, in elements (see the kernel's comment)."""
    span = (tile - 1) * stride + (chunk - 1) * dilation + 1
    return vector_width(dtype) - 1 + span + (0 if constant else chunk)


def tiling(dtype, k: int, stride: int = 1, dilation: int = 1,
           constant: bool = False) -> tuple[int, int]:
    """Outputs per block and taps per chunk, ``(tile, chunk)``, for a launch.

    ``(TILE, min(k, MAX_CHUNK))`` whenever that fits `SHARED_BUDGET`, as it
    always does for stride = dilation = 1. Otherwise the tile's input span
    gets at most half the budget (fewer outputs per block for a large
    stride) and the chunk the largest number of taps that fits the rest.

    >>> tiling(np.float32, 31)
    (512, 31)
    >>> tiling(np.float32, 5, stride=16)
    (128, 5)
    >>> tiling(np.float64, 9, dilation=1000)  # 2 taps a pass: 1001 samples apart
    (512, 2)
    """
    budget = SHARED_BUDGET // np.dtype(dtype).itemsize
    chunk = min(k, MAX_CHUNK)
    if shared_elements(dtype, TILE, chunk, stride, dilation, constant) <= budget:
        return TILE, chunk
    tile = max(1, min(TILE, (budget // 2 - 1) // stride + 1))
    spare = budget - shared_elements(dtype, tile, 1, stride, dilation, constant)
    # Each further tap adds `dilation` samples of span (+1 shared weight).
    chunk = min(chunk, 1 + spare // (dilation + (0 if constant else 1)))
    return tile, chunk


def _positive_int32(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if not 1 <= value <= INT32_MAX:
        raise ValueError(f"{name} must be an integer in [1, 2**31 - 1], got {value}")
    return int(value)


def direct_launches(x, w, out, cval, start: int, boundary: str, stride: int = 1,
                    dilation: int = 1) -> list[Launch]:
    """Launches computing ``out`` (rows, out_len) from ``x`` (rows, n) and ``w``.

    ``out[r, t] = sum_i w[r or 0, i] * x_ext[r, start + t * stride - i * dilation]``
    where ``x_ext`` is row ``r`` extended by ``boundary``. ``w`` is
    (1 or rows, k); ``cval`` a 1-element array holding the constant of the
    ``'constant'`` boundary. All arrays of one dtype with contiguous rows
    (any row stride). One kernel for all rows goes to constant memory when
    it fits `CONSTANT_WEIGHT_BYTES`; k <= 16 runs the unrolled instantiation. Rows
    beyond the grid's y limit go to further launches on row slices.

    Raises
    ------
    ValueError
        When ``stride`` or ``dilation`` is not in [1, 2**31 - 1], ``k``
        does not fit an int32, or a row needs more blocks than a grid holds.
    """
    stride = _positive_int32(stride, "stride")
    dilation = _positive_int32(dilation, "dilation")
    rows, n = x.shape
    kernel_rows, k = w.shape
    if k > INT32_MAX:
        raise ValueError(f"the kernel must have at most 2**31 - 1 taps, got {k}")
    out_len = out.shape[1]
    itemsize = x.dtype.itemsize
    constant = kernel_rows == 1 and k * itemsize <= CONSTANT_WEIGHT_BYTES
    tile, chunk = tiling(x.dtype, k, stride, dilation, constant)
    # The unrolled loop covers one chunk holding every tap.
    taps = next((kt for kt in UNROLLED_TAPS if k <= kt and chunk >= k), 0)
    shared = shared_elements(x.dtype, tile, chunk, stride, dilation, constant) * itemsize
    tiles = -(-out_len // tile)
    if tiles > INT32_MAX:  # gridDim.x
        raise ValueError(f"{out_len} outputs a row need {tiles} blocks of {tile}; "
                         f"a grid has at most 2**31 - 1")
    constants = ((CONSTANT_SYMBOL, w.reshape(-1)),) if constant else ()
    launches = []
    for lo in range(0, rows, MAX_GRID_ROWS):
        hi = min(lo + MAX_GRID_ROWS, rows)
        w_part = w if kernel_rows == 1 else w[lo:hi]
        scalars = (n, out_len, start, _row_stride(x), 0 if kernel_rows == 1 else _row_stride(w),
                   _row_stride(out), k, chunk, tile, stride, dilation, BOUNDARY_CODES[boundary])
        args = (x[lo:hi], w_part, out[lo:hi], cval) + tuple(
            kind(value) for (_, kind), value in zip(SCALAR_PARAMETERS, scalars))
        launches.append(Launch(name_expression(x.dtype, taps, constant), (tiles, hi - lo, 1),
                               (BLOCK, 1, 1), shared, args, constants))
    return launches


def _row_stride(array) -> int:
    """Elements from one row to the next; rows themselves must be contiguous."""
    if array.shape[1] > 1 and array.strides[1] != array.itemsize:
        raise ValueError("kernel array arguments must have contiguous rows")
    return array.strides[0] // array.itemsize


class CudaDirect:
    """The direct method of a CUDA backend: allocate, describe, launch.

    ``xp`` allocates the output and the constant; ``launcher`` executes each
    `Launch`. Boundaries are applied by the kernel while it stages its input.
    ``stride`` and ``dilation`` (not exposed by the public fronts yet) take
    every stride-th output of the convolution with the kernel dilated by
    ``dilation``; the request's ``out_len`` counts the outputs taken.
    """

    def __init__(self, xp, launcher, allocate=None):
        self.xp = xp
        self.launcher = launcher
        self.allocate = allocate or (lambda shape, dtype: xp.empty(shape, dtype=dtype))

    def __call__(self, x, w, request, *, stride: int = 1, dilation: int = 1):
        xp = self.xp
        # Rows may sit at any stride (row slices, ::2 views); within a row the
        # kernel reads consecutive elements, and a shared kernel is one block.
        # It reads them as T, aligned to its size: NumPy aligns complex128 to
        # 8 bytes only, and a view at such an address is copied too.
        if (x.shape[1] > 1 and x.strides[1] != x.itemsize or x.strides[0] % x.itemsize
                or _address(x) % x.itemsize):
            x = x.copy()  # C order, in a fresh (aligned) allocation
        if not w.flags.c_contiguous or _address(w) % w.itemsize:
            w = w.copy()
        out = self.allocate((x.shape[0], request.out_len), x.dtype)
        cval = xp.full((1,), request.cval if request.boundary == "constant" else 0, dtype=x.dtype)
        if out.shape[0] and out.shape[1]:
            for launch in direct_launches(x, w, out, cval, request.start, request.boundary,
                                          stride, dilation):
                self.launcher(launch)
            if request.boundary == "zero" and not bool(xp.all(xp.isfinite(w))):
                _skip_missing_at_the_ends(xp, x, w, out, request.start, stride, dilation)
        return out


def _address(array) -> int:
    """Where ``array``'s first element lies: a NumPy or CuPy array's data pointer."""
    interface = getattr(array, "__cuda_array_interface__", None) or array.__array_interface__
    return interface["data"][0]


def _skip_missing_at_the_ends(xp, x, w, out, start: int, stride: int, dilation: int) -> None:
    """Recompute the outputs whose taps reach past a row's ends, forming no
    product with a missing sample, as ``numpy.convolve`` does.

    The kernel multiplies the zeros it stages there, which adds nothing
    unless a weight is Inf or NaN (``Inf * 0`` is NaN). At most ``k - 1``
    outputs at each end; a tap at a time, in the kernel's order, so the
    slow path is taken only for such weights.
    """
    n, k, out_len = x.shape[1], w.shape[1], out.shape[1]

    def first_output_at_or_past(sample):  # smallest t with start + t * stride >= sample
        return min(out_len, max(0, -(-(sample - start) // stride)))
    left = first_output_at_or_past((k - 1) * dilation)  # t < left reads a sample below 0
    right = max(left, first_output_at_or_past(n))  # t >= right reads one past n - 1
    for lo, hi in ((0, left), (right, out_len)):
        if lo == hi:
            continue
        sums = xp.zeros((out.shape[0], hi - lo), dtype=out.dtype)
        for i in range(k):  # outputs lo <= t < hi whose sample start + t*stride - i*dilation exists
            t_lo = max(lo, first_output_at_or_past(i * dilation))
            t_hi = min(hi, first_output_at_or_past(n + i * dilation))
            if t_lo < t_hi:
                sample = start + t_lo * stride - i * dilation
                span = x[:, sample:sample + (t_hi - t_lo - 1) * stride + 1:stride]
                with np.errstate(invalid="ignore", over="ignore"):  # silent, as the kernel is
                    sums[:, t_lo - lo:t_hi - lo] += w[:, i:i + 1] * span
        out[:, lo:hi] = sums


class CupyLauncher:
    """Runs launches on the current CUDA device and stream through ``cupy.RawModule``.

    Each instantiation is its own module, compiled by NVRTC on its first
    launch on a device (so a process pays only for the kernels it uses) and
    kept for the process; CuPy's on-disk cache keeps the binaries across
    processes.

    Constant memory is one copy per module, shared by every stream and
    thread. The copy into it and the launch are issued together under a lock,
    both on the current stream (stream-ordered, like
    ``cudaMemcpyToSymbolAsync``), and a launch first makes its stream wait
    for the event recorded after the module's previous launch (which orders
    nothing new on the same stream): a kernel never sees weights copied for
    another launch.
    """

    def __init__(self):
        self._modules = {}
        self._last_use = {}  # module key -> event after its last constant-using launch
        self._lock = threading.Lock()

    def module(self, kernel: str):
        """The compiled module holding ``kernel`` on the current device."""
        import cupy

        key = (cupy.cuda.Device().id, kernel)
        if key not in self._modules:
            self._modules[key] = cupy.RawModule(
                code=kernel_source(), options=NVRTC_OPTIONS, name_expressions=(kernel,))
        return self._modules[key]

    def __call__(self, launch: Launch) -> None:
        import cupy

        module = self.module(launch.kernel)
        function = module.get_function(launch.kernel)
        if not launch.constants:
            function(launch.grid, launch.block, launch.args, shared_mem=launch.shared_bytes)
            return
        key = (cupy.cuda.Device().id, launch.kernel)
        stream = cupy.cuda.get_current_stream()
        with self._lock:
            previous = self._last_use.get(key)
            if previous is not None:
                stream.wait_event(previous)
            for symbol, values in launch.constants:
                if values.nbytes > CONSTANT_WEIGHT_BYTES:
                    raise ValueError(f"{values.nbytes} bytes do not fit constant symbol {symbol}")
                module.get_global(symbol).copy_from_device_async(values.data, values.nbytes, stream)
            function(launch.grid, launch.block, launch.args, shared_mem=launch.shared_bytes)
            self._last_use[key] = stream.record()
