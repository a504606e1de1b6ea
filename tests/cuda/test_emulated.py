"""The CUDA direct kernel on the CPU, through the host emulator.

`CudaDirect` builds the same launch descriptions the CuPy backend sends to a
GPU; `EmulatedLauncher` runs them with the kernel compiled by g++. The front
tests already run on the ``emulated`` backend (tests/conftest.py); these tests
aim at the kernel itself: every instantiation (unrolled and looped taps,
shared and constant weights), tile and chunk boundaries, every boundary rule,
views at odd offsets (the 128-bit staging loads), stride and dilation, the
launch records, and planted bugs that the emulator must catch.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from gpuconv._algorithms.boundary import source_index
from gpuconv._plan import Request
from gpuconv.backends import _launch
from gpuconv.backends._emulator import EmulatedLauncher, poisoned
from gpuconv.backends._launch import MAX_CHUNK, TILE, CudaDirect, direct_launches

pytestmark = pytest.mark.emulated

DTYPES = ("float32", "float64", "complex64", "complex128", "int64")
RULES = ("zero", "constant", "reflect", "mirror", "nearest", "wrap")
LENGTHS = (1, 5, TILE - 1, TILE, TILE + 1, 2 * TILE + 3)
TAPS = (1, 2, 17, MAX_CHUNK, MAX_CHUNK + 1, 600)  # 257 and 600 taps need 2-3 chunks
UNROLLED = max(_launch.UNROLLED_TAPS)

EPS = {"float32": 2.0**-23, "complex64": 2.0**-23, "float64": 2.0**-52, "complex128": 2.0**-52}


class Recording:
    """A launcher that keeps every launch it runs."""

    def __init__(self, launcher):
        self.launcher, self.launches = launcher, []

    def __call__(self, launch):
        self.launches.append(launch)
        self.launcher(launch)


@pytest.fixture(scope="module")
def launcher():
    return EmulatedLauncher()


@pytest.fixture
def cuda_direct(launcher):
    return CudaDirect(np, Recording(launcher), allocate=poisoned)


def make(rng, shape, dtype):
    if dtype == "int64":
        return rng.integers(-50, 50, shape).astype(dtype)
    values = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def reference(x, w, request, stride=1, dilation=1):
    """The request in float64/complex128 (or int64) with NumPy, row by row:
    the full convolution of the extended row with the dilated kernel, every
    stride-th output from ``start``."""
    n, k, start, out_len = request.n, request.k, request.start, request.out_len
    span = (k - 1) * dilation + 1
    last = start + (out_len - 1) * stride
    left, right = max(0, span - 1 - start), max(0, last + 1 - n)
    m = np.arange(-left, n + right)
    if request.boundary in ("zero", "constant"):
        fill = request.cval if request.boundary == "constant" else 0
        inside = (m >= 0) & (m < n)
        ext = np.where(inside, x[:, np.clip(m, 0, n - 1)], fill)
    else:
        ext = x[:, source_index(m, n, request.boundary)]
    wide = np.complex128 if np.iscomplexobj(x) else (np.int64 if x.dtype == np.int64 else np.float64)
    dilated = np.zeros((len(w), span), wide)
    dilated[:, ::dilation] = w
    rows = [np.convolve(ext[r].astype(wide), dilated[r if len(w) > 1 else 0])
            for r in range(len(x))]
    return np.stack([row[left + start::stride][:out_len] for row in rows])


def direct_error_bound(x, w, request, stride=1, dilation=1):
    """Direct summation: |error| <= (taps + 2) eps sum |w||x| (tests/tolerances.py)."""
    scale = reference(np.abs(x), np.abs(w), request, stride, dilation).real
    return (request.k + 2) * EPS[x.dtype.name] * scale + 1e-300


def check(got, x, w, request, stride=1, dilation=1):
    ref = reference(x, w, request, stride, dilation)
    assert got.shape == ref.shape and got.dtype == x.dtype
    if x.dtype == np.int64:
        np.testing.assert_array_equal(got, ref)
        return
    bound = direct_error_bound(x, w, request, stride, dilation)
    assert np.all(np.abs(got - ref) <= bound), f"{request}: max error {np.max(np.abs(got - ref))}"


def kernels_run(cuda_direct) -> set:
    return {launch.kernel for launch in cuda_direct.launcher.launches}


@pytest.mark.parametrize("rule", RULES)
def test_every_tile_and_chunk_boundary(cuda_direct, rule):
    rng = np.random.default_rng(1)
    for n, k in itertools.product(LENGTHS, TAPS):
        x, w = make(rng, (2, n), "float64"), make(rng, (1, k), "float64")
        # ndimage's centred window: out_len = n, reads past both ends.
        request = Request(rows=2, n=n, k=k, kernel_rows=1, start=k // 2, out_len=n,
                          boundary=rule, cval=0.75)
        check(cuda_direct(x, w, request), x, w, request)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_full_and_valid_windows(cuda_direct, dtype):
    rng = np.random.default_rng(2)
    for n, k in [(1, 1), (TILE + 1, 3), (700, MAX_CHUNK + 1), (40, 300)]:
        for kernel_rows in (1, 3):  # constant and shared weights
            x, w = make(rng, (3, n), dtype), make(rng, (kernel_rows, k), dtype)
            for start, out_len in [(0, n + k - 1), (min(n, k) - 1, abs(n - k) + 1)]:
                request = Request(rows=3, n=n, k=k, kernel_rows=kernel_rows, start=start,
                                  out_len=out_len)
                check(cuda_direct(x, w, request), x, w, request)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_instantiation_runs_and_agrees(cuda_direct, dtype):
    """k = 1 .. 16 unrolled and 17, MAX_CHUNK + 1 looped; one kernel for all
    rows (constant memory) and one per row (shared memory)."""
    rng = np.random.default_rng(3)
    n = TILE + 37
    for k in (*range(1, UNROLLED + 1), UNROLLED + 1, MAX_CHUNK + 1):
        for kernel_rows in (1, 2):
            x, w = make(rng, (2, n), dtype), make(rng, (kernel_rows, k), dtype)
            request = Request(rows=2, n=n, k=k, kernel_rows=kernel_rows, start=k // 2,
                              out_len=n, boundary="reflect")
            check(cuda_direct(x, w, request), x, w, request)
    expected = {name for name in _launch.NAME_EXPRESSIONS
                if name.startswith(f"conv1d_direct<{_launch.CTYPES[dtype]}, ")}
    assert kernels_run(cuda_direct) == expected


def test_kernels_past_constant_memory_stay_in_shared(cuda_direct):
    rng = np.random.default_rng(4)
    k = _launch.CONSTANT_WEIGHT_BYTES // 16 + 1  # complex128: one tap too many
    x, w = make(rng, (1, 300), "complex128"), make(rng, (1, k), "complex128")
    request = Request(rows=1, n=300, k=k, kernel_rows=1, start=k - 1, out_len=300)
    check(cuda_direct(x, w, request), x, w, request)
    (launch,) = cuda_direct.launcher.launches
    assert launch.kernel == _launch.name_expression("complex128", 0, constant=False)
    assert launch.constants == ()


@pytest.mark.parametrize("dtype", DTYPES)
def test_views_at_odd_offsets_and_row_strides(cuda_direct, dtype):
    """Rows whose start is not 16-byte aligned: staging falls back to single
    loads before the first aligned sample (the emulator counts any misaligned
    128-bit access and raises)."""
    rng = np.random.default_rng(5)
    rows, n = 3, 2 * TILE + 5
    flat = make(rng, rows * n + 8, dtype)
    views = [flat[offset:offset + rows * n].reshape(rows, n) for offset in (1, 2, 3)]
    base = make(rng, (2 * rows, n + 2), dtype)
    # Row strides (a negative one, and 0 for a row broadcast over the batch): no copy.
    views += [base[::2, 1:n + 1], base[::-2, 3:], base[1:, :n],
              np.broadcast_to(base[0, 1:], (2, n + 1))]
    for x, k in itertools.product(views, (5, 40)):
        w = make(rng, (1, k), dtype)
        before = x.copy()
        request = Request(rows=x.shape[0], n=x.shape[1], k=k, kernel_rows=1, start=k // 2,
                          out_len=x.shape[1], boundary="mirror")
        check(cuda_direct(x, w, request), x, w, request)
        np.testing.assert_array_equal(x, before)
    # Views with contiguous rows reach the kernel as they are.
    for launch, x in zip(cuda_direct.launcher.launches[::2], views):
        assert launch.args[0].ctypes.data == x.ctypes.data
        assert int(launch.args[7]) == x.strides[0] // x.itemsize


def test_other_views_are_made_contiguous_and_inputs_untouched(cuda_direct):
    rng = np.random.default_rng(6)
    base = make(rng, (4, 2 * TILE + 1), "float32")
    for x in (base[::2, ::2], base[:, ::-1], np.asfortranarray(base)):
        w = make(rng, (1, 9), "float32")
        before = x.copy()
        request = Request(rows=x.shape[0], n=x.shape[1], k=9, kernel_rows=1, start=4,
                          out_len=x.shape[1], boundary="reflect")
        check(cuda_direct(x, w, request), x, w, request)
        np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rows_below_the_alignment_of_their_type_are_copied(cuda_direct, dtype):
    """The kernel reads samples and weights as T, aligned to its size; NumPy
    aligns complex128 to 8 bytes and a buffer may be aligned to none. Such
    arrays are copied first (complex128 at 8 mod 16 made the emulator crash)."""
    rng = np.random.default_rng(12)
    itemsize = np.dtype(dtype).itemsize
    rows, n, k = 2, TILE + 9, 7
    for shift in sorted({1, itemsize // 2}):  # bytes past an aligned address
        def misaligned(shape):
            buffer = np.zeros(int(np.prod(shape)) * itemsize + 64, np.uint8)
            start = -buffer.ctypes.data % 64 + shift
            array = buffer[start:start + int(np.prod(shape)) * itemsize].view(dtype)
            array[...] = make(rng, array.shape, dtype)
            return array.reshape(shape)
        x, w = misaligned((rows, n)), misaligned((rows, k))
        assert x.ctypes.data % itemsize and w.ctypes.data % itemsize
        request = Request(rows=rows, n=n, k=k, kernel_rows=rows, start=k // 2, out_len=n,
                          boundary="reflect")
        check(cuda_direct(x, w, request), x, w, request)


# --------------------------------------------------------------------------
# Stride and dilation
# --------------------------------------------------------------------------

STRIDED = [  # (stride, dilation, k): small, unrolled and looped, and past the tile
    (2, 1, 3), (1, 2, 5), (3, 2, 16), (2, 3, 17), (4, 1, 300), (1, 5, 40),
    (16, 1, 5),      # a span over the shared budget: fewer outputs per block
    (1, 1000, 9),    # a dilated span over the budget: fewer taps per chunk, looped
    (37, 11, 64),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride, dilation, k", STRIDED)
def test_stride_and_dilation(cuda_direct, dtype, stride, dilation, k):
    rng = np.random.default_rng(7)
    n = 3 * TILE + 1
    span = (k - 1) * dilation + 1
    for kernel_rows, rule in [(1, "zero"), (2, "reflect"), (1, "wrap")]:
        x, w = make(rng, (2, n), dtype), make(rng, (kernel_rows, k), dtype)
        # Every stride-th output of the full convolution, as conv1d's zero
        # padding of span - 1 would give; and an ndimage-like centred window.
        for start in (0, span // 2):
            out_len = (n + span - 1 - start - 1) // stride + 1
            request = Request(rows=2, n=n, k=k, kernel_rows=kernel_rows, start=start,
                              out_len=out_len, boundary=rule)
            check(cuda_direct(x, w, request, stride=stride, dilation=dilation), x, w, request,
                  stride, dilation)


@pytest.mark.parametrize("stride, dilation, k", [(1, 1, 5), (1, 1, 40), *STRIDED[:5]])
def test_non_finite_weights_form_no_product_past_the_ends(cuda_direct, stride, dilation, k):
    """Zero boundary with an Inf weight: ``numpy.convolve``'s answer, which forms
    no product with a sample past the ends (a staged zero times Inf is NaN).
    Small integers as floats: every sum is exact, in any order."""
    rng = np.random.default_rng(11)
    span = (k - 1) * dilation + 1
    for n, kernel_rows in [(3, 1), (2 * span + 5, 2), (TILE + 7, 1)]:
        x = rng.integers(-3, 4, (2, n)).astype(np.float64)
        w = rng.integers(-3, 4, (kernel_rows, k)).astype(np.float64)
        w[:, k // 2] = np.inf
        w[-1, -1] = -np.inf  # +Inf and -Inf products meet: NaN, where NumPy has it too
        dilated = np.zeros((kernel_rows, span))
        dilated[:, ::dilation] = w
        for start in (0, span // 2):
            out_len = (n + span - 1 - start - 1) // stride + 1
            request = Request(rows=2, n=n, k=k, kernel_rows=kernel_rows, start=start,
                              out_len=out_len)
            got = cuda_direct(x, w, request, stride=stride, dilation=dilation)
            ref = np.stack([np.convolve(x[r], dilated[r % kernel_rows])[start::stride][:out_len]
                            for r in range(2)])
            np.testing.assert_array_equal(got, ref, err_msg=f"n={n} {request}")


def test_tiling_keeps_every_launch_inside_the_shared_budget():
    for dtype, (stride, dilation, k), constant in itertools.product(
            DTYPES, STRIDED + [(1, 1, MAX_CHUNK), (1, 1, 5000), (1000, 1000, 3)], (False, True)):
        tile, chunk = _launch.tiling(dtype, k, stride, dilation, constant)
        assert 1 <= tile <= TILE and 1 <= chunk <= min(k, MAX_CHUNK)
        shared = _launch.shared_elements(dtype, tile, chunk, stride, dilation, constant)
        assert shared * np.dtype(dtype).itemsize <= _launch.SHARED_BUDGET
    for dtype in DTYPES:  # stride = dilation = 1 never shrinks the tile
        assert _launch.tiling(dtype, MAX_CHUNK + 5) == (TILE, MAX_CHUNK)


@pytest.mark.parametrize("name, value, error", [
    ("stride", 0, ValueError), ("stride", -2, ValueError), ("stride", 2**31, ValueError),
    ("dilation", 0, ValueError), ("dilation", 1.5, TypeError), ("dilation", True, TypeError),
])
def test_bad_stride_and_dilation_are_refused(name, value, error):
    x, w, out = np.ones((1, 8)), np.ones((1, 2)), np.empty((1, 9))
    with pytest.raises(error, match=name):
        direct_launches(x, w, out, np.zeros(1), 0, "zero", **{name: value})


def test_a_row_needing_more_blocks_than_a_grid_holds_is_refused():
    buffer = np.zeros(8, np.float32)
    x, w = buffer.reshape(1, 8), np.ones((1, 2), np.float32)
    out = np.lib.stride_tricks.as_strided(buffer, shape=(1, 2**31), strides=(0, 4))
    # A stride this large leaves room for one output per block.
    with pytest.raises(ValueError, match="a grid has at most 2\\*\\*31 - 1"):
        direct_launches(x, w, out, np.zeros(1, np.float32), 0, "zero", stride=10**6)


# --------------------------------------------------------------------------
# Launch records
# --------------------------------------------------------------------------

def test_rows_beyond_the_grid_limit_are_split(cuda_direct, monkeypatch):
    monkeypatch.setattr(_launch, "MAX_GRID_ROWS", 3)
    rng = np.random.default_rng(8)
    x, w = make(rng, (8, 50), "float64"), make(rng, (8, 5), "float64")
    request = Request(rows=8, n=50, k=5, kernel_rows=8, start=0, out_len=54)
    out = np.empty((8, 54))
    launches = direct_launches(x, w, out, np.zeros(1), 0, "zero")
    assert [launch.grid[1] for launch in launches] == [3, 3, 2]
    check(cuda_direct(x, w, request), x, w, request)


def test_launch_records_carry_explicit_numpy_scalars():
    x, w, out = np.ones((2, 10), np.float32), np.ones((1, 3), np.float32), np.empty((2, 12), np.float32)
    (launch,) = direct_launches(x, w, out, np.zeros(1, np.float32), 0, "wrap")
    assert launch.kernel == "conv1d_direct<float, 128, 4, 16, true>"
    assert launch.grid == (1, 2, 1) and launch.block == (_launch.BLOCK, 1, 1)
    # 3 slack elements for 16-byte alignment, the tile's span; weights in constant memory.
    assert launch.shared_bytes == (3 + TILE + 3 - 1) * 4
    ((symbol, weights),) = launch.constants
    assert symbol == _launch.CONSTANT_SYMBOL and np.shares_memory(weights, w)
    scalars = launch.args[4:]
    assert [type(s) for s in scalars] == [kind for _, kind in _launch.SCALAR_PARAMETERS]
    values = dict(zip((name for name, _ in _launch.SCALAR_PARAMETERS), map(int, scalars)))
    assert values == {"n": 10, "out_len": 12, "start": 0, "x_row_stride": 10, "w_row_stride": 0,
                      "out_row_stride": 12, "k": 3, "chunk": 3, "tile": TILE, "stride": 1,
                      "dilation": 1, "boundary": _launch.BOUNDARY_CODES["wrap"]}


def test_row_offsets_past_int32_are_int64():
    """A row stride of 2^33 elements (a view; nothing is read) reaches the
    kernel as an int64, and so do lengths and the start."""
    buffer = np.zeros(64, np.float32)
    x = np.lib.stride_tricks.as_strided(buffer, shape=(3, 8), strides=(4 * 2**33, 4))
    w = np.ones((3, 4), np.float32)
    out = np.lib.stride_tricks.as_strided(buffer, shape=(3, 2**31 + 5), strides=(4 * 2**32, 4))
    (launch,) = direct_launches(x, w, out, np.zeros(1, np.float32), -(2**40), "zero")
    values = {name: value for (name, _), value in zip(_launch.SCALAR_PARAMETERS, launch.args[4:])}
    for name, expected in [("x_row_stride", 2**33), ("w_row_stride", 4),
                           ("out_row_stride", 2**32), ("out_len", 2**31 + 5), ("start", -(2**40))]:
        assert type(values[name]) is np.int64 and int(values[name]) == expected, name
    assert launch.grid[0] == -(-(2**31 + 5) // TILE)


def test_the_launcher_refuses_bare_python_numbers(launcher):
    x, w, out = np.ones((1, 4)), np.ones((1, 2)), np.empty((1, 5))
    (launch,) = direct_launches(x, w, out, np.zeros(1), 0, "zero")
    bad = _launch.Launch(launch.kernel, launch.grid, launch.block, launch.shared_bytes,
                         launch.args[:4] + (4,) + launch.args[5:], launch.constants)
    with pytest.raises(TypeError, match="NumPy scalars with an explicit dtype, got int 4"):
        launcher(bad)


def test_the_launcher_refuses_constants_that_do_not_fit(launcher):
    x, w, out = np.ones((1, 4)), np.ones((1, 2)), np.empty((1, 5))
    (launch,) = direct_launches(x, w, out, np.zeros(1), 0, "zero")
    big = np.ones(_launch.CONSTANT_WEIGHT_BYTES // 8 + 1)
    bad = _launch.Launch(launch.kernel, launch.grid, launch.block, launch.shared_bytes,
                         launch.args, ((_launch.CONSTANT_SYMBOL, big),))
    with pytest.raises(ValueError, match="do not fit constant symbol gc_constant_weights"):
        launcher(bad)


def test_constant_weights_follow_each_launch(cuda_direct):
    """Two shared kernels in a row: the second launch sees its own weights."""
    rng = np.random.default_rng(9)
    x = make(rng, (2, 100), "float32")
    for k in (7, 3, 7):
        w = make(rng, (1, k), "float32")
        request = Request(rows=2, n=100, k=k, kernel_rows=1, start=0, out_len=100 + k - 1)
        check(cuda_direct(x, w, request), x, w, request)


def test_launches_from_several_threads_do_not_mix(launcher):
    """The emulation's shared memory and constants are process-wide (as Dask's
    threaded scheduler finds out): concurrent launches take turns."""
    rng = np.random.default_rng(11)
    direct = CudaDirect(np, launcher, allocate=poisoned)
    calls = []
    for k in (3, 9, 5, 40) * 2:
        x, w = make(rng, (2, 2 * TILE + 7), "float64"), make(rng, (1, k), "float64")
        calls.append((x, w, Request(rows=2, n=x.shape[1], k=k, kernel_rows=1, start=k // 2,
                                    out_len=x.shape[1], boundary="nearest")))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda call: direct(*call), calls))
    for got, (x, w, request) in zip(results, calls):
        check(got, x, w, request)


# --------------------------------------------------------------------------
# Planted bugs: the emulator must catch each one
# --------------------------------------------------------------------------

SOURCE = _launch.kernel_source()
PLANTED = {
    "missing barrier after staging": (
        "        __syncthreads();\n\n        const T* s_last", "\n        const T* s_last"),
    "halo one sample short": (
        "const int span = (tile - 1) * stride + (taps - 1) * dilation + 1;",
        "const int span = (tile - 1) * stride + (taps - 1) * dilation;"),
    "unrolled loop one tap too many": ("if (i >= taps) break;", "if (i > taps) break;"),
    "unrolled loop one tap short": ("if (i >= taps) break;", "if (i >= taps - 1) break;"),
    "vector loads from a misaligned sample": (
        "const long long lo_v = lo + (V - (phase + lo) % V) % V;", "const long long lo_v = lo;"),
    "shared staging ignores the row's alignment": (
        "lead = (int)(((phase + first) % V + V) % V);", "lead = (int)((first % V + V) % V);"),
    "dilation ignored between taps": (
        "s_last - i * dilation, offset);\n            }", "s_last - i, offset);\n            }"),
}

#: Calls that together reach every code path the planted bugs touch:
#: (dtype, n, k, kernel_rows, view offset, stride, dilation).
PLANTED_CALLS = [
    ("float64", 3 * TILE, 31, 1, 0, 1, 1),
    ("float32", 3 * TILE, 5, 1, 1, 1, 1),      # unrolled, constant, misaligned rows
    ("float32", 2 * TILE, 7, 4, 2, 1, 2),      # unrolled, shared, dilated
    ("complex64", TILE + 9, 12, 1, 1, 2, 3),   # unrolled, constant, strided and dilated
]


def planted_failures(source: str) -> list[str]:
    """What goes wrong when the `PLANTED_CALLS` run on ``source``."""
    direct = CudaDirect(np, EmulatedLauncher(source=source), allocate=poisoned)
    rng = np.random.default_rng(10)
    caught = []
    for dtype, n, k, kernel_rows, offset, stride, dilation in PLANTED_CALLS:
        flat = make(rng, 4 * n + offset, dtype)
        x, w = flat[offset:].reshape(4, n), make(rng, (kernel_rows, k), dtype)
        span = (k - 1) * dilation + 1
        request = Request(rows=4, n=n, k=k, kernel_rows=kernel_rows, start=span // 2,
                          out_len=(n - 1) // stride + 1, boundary="reflect")
        ref = reference(x, w, request, stride, dilation)
        for _ in range(3):  # a race need not show every run; poisoned reads nearly always do
            try:
                got = direct(x, w, request, stride=stride, dilation=dilation)
            except RuntimeError as error:  # the emulator's alignment check
                caught.append(str(error))
                break
            if not np.all(np.abs(got - ref) <= direct_error_bound(x, w, request, stride, dilation)):
                caught.append(f"wrong values for {dtype} k={k}")
                break
    return caught


def test_the_planted_bug_calls_pass_on_the_real_kernel():
    assert planted_failures(SOURCE) == []


@pytest.mark.parametrize("bug", PLANTED)
def test_planted_bugs_are_caught(bug):
    original, planted = PLANTED[bug]
    assert SOURCE.count(original) == 1, "the kernel changed: update the planted bug"
    caught = planted_failures(SOURCE.replace(original, planted))
    assert caught, f"the emulator did not catch the planted bug: {bug}"
    print(f"{bug}: {'; '.join(caught)}")
