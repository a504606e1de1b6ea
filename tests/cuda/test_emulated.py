"""The CUDA direct kernel on the CPU, through the host emulator.

`CudaDirect` builds the same launch descriptions the CuPy backend sends to a
GPU; `EmulatedLauncher` runs them with the kernel compiled by g++. The front
tests already run on the ``emulated`` backend (tests/conftest.py); these tests
aim at the kernel itself: tile and chunk boundaries, every boundary rule,
per-row kernels, views, the launch records, and planted bugs that the
emulator must catch.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gpuconv._algorithms.boundary import source_index
from gpuconv._plan import Request, extension
from gpuconv.backends import _launch
from gpuconv.backends._emulator import EmulatedLauncher, poisoned
from gpuconv.backends._launch import MAX_CHUNK, TILE, CudaDirect, direct_launches

pytestmark = pytest.mark.emulated

DTYPES = ("float32", "float64", "complex64", "complex128", "int64")
RULES = ("zero", "constant", "reflect", "mirror", "nearest", "wrap")
LENGTHS = (1, 5, TILE - 1, TILE, TILE + 1, 2 * TILE + 3)
TAPS = (1, 2, 17, MAX_CHUNK, MAX_CHUNK + 1, 600)  # 257 and 600 taps need 2-3 chunks

EPS = {"float32": 2.0**-23, "complex64": 2.0**-23, "float64": 2.0**-52, "complex128": 2.0**-52}


@pytest.fixture(scope="module")
def cuda_direct():
    return CudaDirect(np, EmulatedLauncher(), allocate=poisoned)


def make(rng, shape, dtype):
    if dtype == "int64":
        return rng.integers(-50, 50, shape).astype(dtype)
    values = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def reference(x, w, request):
    """The request in float64/complex128 (or int64) with NumPy, row by row."""
    left, right = extension(request.n, request.k, request.start, request.out_len)
    m = np.arange(-left, request.n + right)
    if request.boundary == "zero" or request.boundary == "constant":
        fill = request.cval if request.boundary == "constant" else 0
        inside = (m >= 0) & (m < request.n)
        ext = np.where(inside, x[:, np.clip(m, 0, request.n - 1)], fill)
    else:
        ext = x[:, source_index(m, request.n, request.boundary)]
    wide = np.complex128 if np.iscomplexobj(x) else (np.int64 if x.dtype == np.int64 else np.float64)
    rows = [np.convolve(ext[r].astype(wide), w[r if len(w) > 1 else 0].astype(wide))
            for r in range(len(x))]
    first = request.start + left
    return np.stack([row[first:first + request.out_len] for row in rows])


def check(got, x, w, request):
    ref = reference(x, w, request)
    assert got.shape == ref.shape and got.dtype == x.dtype
    if x.dtype == np.int64:
        np.testing.assert_array_equal(got, ref)
        return
    # Direct summation: |error| <= (taps + 2) eps sum |w||x| (tests/tolerances.py).
    scale = reference(np.abs(x), np.abs(w), request).real
    bound = (request.k + 2) * EPS[x.dtype.name] * scale + 1e-300
    assert np.all(np.abs(got - ref) <= bound), f"{request}: max error {np.max(np.abs(got - ref))}"


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
        x, w = make(rng, (3, n), dtype), make(rng, (3, k), dtype)  # per-row kernels
        for start, out_len in [(0, n + k - 1), (min(n, k) - 1, abs(n - k) + 1)]:
            request = Request(rows=3, n=n, k=k, kernel_rows=3, start=start, out_len=out_len)
            check(cuda_direct(x, w, request), x, w, request)


def test_views_are_made_contiguous_and_inputs_untouched(cuda_direct):
    rng = np.random.default_rng(3)
    base = make(rng, (4, 2 * TILE + 1), "float32")
    for x in (base[:, 1:], base[::2, ::2], base[:, ::-1], np.asfortranarray(base)):
        w = make(rng, (1, 9), "float32")
        before = x.copy()
        request = Request(rows=x.shape[0], n=x.shape[1], k=9, kernel_rows=1, start=4,
                          out_len=x.shape[1], boundary="reflect")
        check(cuda_direct(x, w, request), x, w, request)
        np.testing.assert_array_equal(x, before)


def test_rows_beyond_the_grid_limit_are_split(cuda_direct, monkeypatch):
    monkeypatch.setattr(_launch, "MAX_GRID_ROWS", 3)
    rng = np.random.default_rng(4)
    x, w = make(rng, (8, 50), "float64"), make(rng, (8, 5), "float64")
    request = Request(rows=8, n=50, k=5, kernel_rows=8, start=0, out_len=54)
    out = np.empty((8, 54))
    launches = direct_launches(x, w, out, np.zeros(1), 0, "zero")
    assert [launch.grid[1] for launch in launches] == [3, 3, 2]
    check(cuda_direct(x, w, request), x, w, request)


def test_launch_records_carry_explicit_numpy_scalars():
    x, w, out = np.ones((2, 10), np.float32), np.ones((1, 3), np.float32), np.empty((2, 12), np.float32)
    (launch,) = direct_launches(x, w, out, np.zeros(1, np.float32), 0, "wrap")
    assert launch.kernel == "conv1d_direct<float, 128, 4>"
    assert launch.grid == (1, 2, 1) and launch.block == (_launch.BLOCK, 1, 1)
    assert launch.shared_bytes == (TILE + 2 * 3 - 1) * 4
    scalars = launch.args[4:]
    assert [type(s) for s in scalars] == [kind for _, kind in _launch.SCALAR_PARAMETERS]
    assert int(scalars[-1]) == _launch.BOUNDARY_CODES["wrap"]


def test_the_launcher_refuses_bare_python_numbers():
    x, w, out = np.ones((1, 4)), np.ones((1, 2)), np.empty((1, 5))
    (launch,) = direct_launches(x, w, out, np.zeros(1), 0, "zero")
    bad = _launch.Launch(launch.kernel, launch.grid, launch.block, launch.shared_bytes,
                         launch.args[:4] + (4,) + launch.args[5:])
    with pytest.raises(TypeError, match="NumPy scalars with an explicit dtype, got int 4"):
        EmulatedLauncher()(bad)


# --------------------------------------------------------------------------
# Planted bugs: the emulator must catch each one
# --------------------------------------------------------------------------

SOURCE = _launch.kernel_source()
PLANTED = {
    "missing barrier after staging": (
        "            s_w[j] = w_row[c0 + j];\n        __syncthreads();",
        "            s_w[j] = w_row[c0 + j];"),
    "halo one sample short": (
        "j < TILE + taps - 1; j += BLOCK)", "j < TILE + taps - 2; j += BLOCK)"),
}


@pytest.mark.parametrize("bug", PLANTED)
def test_planted_bugs_are_caught(bug):
    original, planted = PLANTED[bug]
    assert SOURCE.count(original) == 1, "the kernel changed: update the planted bug"
    direct = CudaDirect(np, EmulatedLauncher(source=SOURCE.replace(original, planted)),
                        allocate=poisoned)
    rng = np.random.default_rng(5)
    x, w = make(rng, (4, 3 * TILE), "float64"), make(rng, (1, 31), "float64")
    request = Request(rows=4, n=3 * TILE, k=31, kernel_rows=1, start=15, out_len=3 * TILE,
                      boundary="reflect")
    wrong = 0
    for _ in range(3):  # a race need not show every run; poisoned reads nearly always do
        got = direct(x, w, request)
        wrong += not np.allclose(got, reference(x, w, request), rtol=1e-12, atol=1e-12)
    assert wrong, f"the emulator did not catch the planted bug: {bug}"
