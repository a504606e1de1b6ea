"""`gpuconv.dask` against NumPy/SciPy on chunked arrays.

Chunks shorter than the kernel (the rechunk path), kernels longer than the
signal, 1-D and 2-D arrays along either axis, every mode of both APIs;
integers exact, floats within the bounds of `tolerances`. Dask is in the
``test`` extra, so it is imported directly: a missing Dask fails, never skips.
"""

from __future__ import annotations

import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.ndimage

import gpuconv
import gpuconv.dask as gd
from test_convolve import make
from test_ndimage import BOUNDARY_MODES, FUNCS, origins, ref_func, scale_func
from tolerances import assert_conv, assert_exact

# (shape, chunks, axis, k): chunks below k, k above n, 2-D along each axis.
CASES = [((13,), 3, -1, 5), ((13,), 4, 0, 1), ((4,), 1, -1, 7), ((29,), 6, -1, 4),
         ((5, 17), (2, 4), -1, 6), ((17, 3), (5, 2), 0, 3), ((9, 2), (2, 1), 0, 12)]
NUMPY_MODES = ("full", "same", "valid")


def chunked(x, chunks):
    return da.from_array(x, chunks=chunks)


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("mode", NUMPY_MODES)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
@pytest.mark.parametrize("dtype, method", [("int64", "direct"), ("float64", "fft"),
                                           ("complex128", "auto")])
def test_numpy_fronts(name, mode, case, dtype, method):
    shape, chunks, axis, k = case
    rng = np.random.default_rng(7)
    x, v = make(rng, shape, dtype), make(rng, k, dtype)
    lazy = getattr(gd, name)(chunked(x, chunks), v, mode, axis=axis, method=method)
    got = lazy.compute(scheduler="threads")
    assert type(got) is np.ndarray and lazy.dtype == got.dtype
    if dtype == "int64":  # the same direct sums as the in-memory call: equal
        assert_exact(got, getattr(gpuconv, name)(x, v, mode, axis=axis, method="direct"))
    ref = getattr(np, name)
    assert_conv(got, lambda a, w: ref(a, w, mode), x, v, method=method, axis=axis,
                what=f"{name} {mode} {case}")


@pytest.mark.parametrize("case", [c for c in CASES if c[3] <= min(c[0][c[2]], 9)], ids=str)
@pytest.mark.parametrize("mode", BOUNDARY_MODES)
@pytest.mark.parametrize("name", FUNCS)
def test_ndimage_fronts(name, mode, case):
    shape, chunks, axis, k = case
    rng = np.random.default_rng(11)
    x, w = make(rng, shape, "float64"), make(rng, k, "float64")
    for origin in origins(k):
        got = getattr(gd, name)(chunked(x, chunks), w, axis=axis, mode=mode, cval=1.5,
                                origin=origin).compute(scheduler="threads")
        assert_conv(got, ref_func(name, mode, origin, 1.5), x, w, method="auto", axis=axis,
                    taps=k, scale_func=scale_func(1.5), what=f"{mode} origin={origin}")


@pytest.mark.parametrize("mode", BOUNDARY_MODES)
@pytest.mark.parametrize("name", FUNCS)
def test_ndimage_integers_exact(name, mode):
    """Integer input, float weights and a fractional cval: SciPy's float64 extension, truncated."""
    rng = np.random.default_rng(3)
    x = rng.integers(-50, 50, size=(3, 14)).astype(np.int16)
    w = np.array([0.5, -1.25, 2.0, 0.75])
    for origin in origins(4):
        got = getattr(gd, name)(chunked(x, (2, 3)), w, mode=mode, cval=2.5,
                                origin=origin).compute(scheduler="threads")
        # The weights are dyadic and the samples small: every float64 sum is exact.
        assert_exact(got, getattr(scipy.ndimage, name)(x, w, mode=mode, cval=2.5, origin=origin))


@pytest.mark.parametrize("name", FUNCS)
def test_ndimage_integers_with_a_kernel_long_enough_for_the_fft(name):
    """Integers go through the direct sum per block, as in memory: truncating
    an FFT's 1496.9999 gave 1496 for 1497 (a kernel of 1001 on 2000 samples)."""
    x = np.arange(2000) % 7
    got = getattr(gd, name)(chunked(x, 2000), np.ones(1001), mode="constant").compute()
    assert_exact(got, getattr(scipy.ndimage, name)(x, np.ones(1001), mode="constant"))


@pytest.mark.parametrize("dtype", ["bool", "uint8", "uint16"])
def test_correlate_keeps_numpys_dtype_for_a_bool_kernel(dtype):
    """Conjugating the kernel made bools int8: a dtype the graph did not announce."""
    x = np.array([True, True, False, True] if dtype == "bool" else [200, 100, 3, 255], dtype)
    got = gd.correlate(chunked(x, 1), np.array([True, True]), "full")
    want = np.correlate(x, np.array([True, True]), "full")
    assert got.dtype == want.dtype
    assert_exact(got.compute(), want)


def test_float16_cval_is_not_rounded_to_float16():
    """The extension is made in float32, the dtype float16 computes in."""
    x = np.full(4, 0.1, np.float16)
    got = gd.correlate1d(chunked(x, 2), [1.0, -1.0], mode="constant", cval=0.1).compute()
    np.testing.assert_array_equal(got, gpuconv.ndimage.correlate1d(x, [1.0, -1.0],
                                                                   mode="constant", cval=0.1))


def test_a_numpy_array_is_one_chunk():
    got = gd.correlate(np.arange(5.0), [1.0, 2.0])
    assert isinstance(got, da.Array)
    np.testing.assert_array_equal(got.compute(), np.correlate(np.arange(5.0), [1.0, 2.0]))
    with dask.config.set({"array.chunk-size": "1KiB"}):  # da.asarray would cut it in 8
        assert gd.convolve1d(np.arange(1000.0), [1.0, 2.0]).numblocks == (1,)
    # So an object array meets gpuconv's dtype check, not Dask's auto-chunking error.
    with pytest.raises(TypeError, match="x must have a boolean, integer, floating or complex"):
        gd.convolve(np.array([1, 2, 3], dtype=object), [1])


def test_long_kernel_limit_is_reported():
    x = chunked(np.arange(4.0), 2)
    with pytest.raises(NotImplementedError, match="at most 4"):
        gd.convolve1d(x, np.ones(11), mode="reflect")
    with pytest.raises(NotImplementedError, match="mode 'grid-mirror' needs"):  # as given
        gd.convolve1d(x, np.ones(11), mode="grid-mirror")
    # constant and nearest extensions have no limit
    got = gd.convolve1d(x, np.ones(11), mode="nearest").compute()  # sums of small integers: exact
    np.testing.assert_array_equal(
        got, scipy.ndimage.convolve1d(np.arange(4.0), np.ones(11), mode="nearest"))



def test_bad_arguments_raise_when_the_graph_is_built():
    """Not at ``compute()``: the same errors as the in-memory functions."""
    x = chunked(np.arange(10.0), 5)
    with pytest.raises(ValueError, match="acceptable method flags .* got 'bad'"):
        gd.convolve(x, [1.0, 2.0], method="bad")
    with pytest.raises(TypeError, match="origin must be an integer, got 0.5"):
        gd.convolve1d(x, [1.0, 2.0, 3.0], origin=0.5)
    with pytest.raises(ValueError, match="origin 2 is out of range"):
        gd.correlate1d(x, [1.0, 2.0, 3.0], origin=2)
    with pytest.raises(TypeError, match="x must have a boolean, integer, floating or complex"):
        gd.convolve(chunked(np.array(["a", "b"]), 1), [1.0])
    with pytest.raises(TypeError, match="v must have a boolean, integer, floating or complex"):
        gd.correlate(x, np.array(["a"]))
    with pytest.raises(ValueError, match="x has chunks of unknown size"):
        gd.correlate1d(x[x > 2], [1.0, 1.0])


def test_without_dask_the_import_says_which_extra():
    probe = "import sys; sys.modules['dask'] = None; import gpuconv.dask"  # as if not installed
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "ImportError: gpuconv.dask needs Dask: pip install 'gpuconv[dask]'" in done.stderr


def test_lazy_chunks_and_meta():
    x = chunked(np.arange(20.0).reshape(2, 10), (1, 3))
    out = gd.convolve(x, np.ones(4), "same")
    assert out.chunks[0] == (1, 1) and sum(out.chunks[1]) == 10
    assert isinstance(out._meta, np.ndarray) and out.dtype == np.float64
    # Every computed chunk has the meta's type and the declared shape.
    blocks = dask.compute(*out.to_delayed().ravel(), scheduler="threads")
    assert all(type(b) is type(out._meta) for b in blocks)
    assert [b.shape for b in blocks] == [(r, c) for r in out.chunks[0] for c in out.chunks[1]]


def test_only_short_chunks_are_merged():
    """The pads (4 samples each side for 9 taps) join the end chunks; the inner
    chunk boundaries stay, so no chunk is re-cut."""
    x = np.arange(4000.0).reshape(2, 2000)
    y = gd.convolve1d(chunked(x, (1, 500)), np.ones(9), mode="reflect")
    # padded: (4, 500, 500, 500, 500, 4) -> (504, 500, 500, 504); the first
    # block has no halo, so 8 fewer outputs
    assert y.chunks[1] == (496, 500, 500, 504)
    assert_conv(y.compute(), ref_func("convolve1d", "reflect", 0, 0.0), x, np.ones(9),
                method="auto", taps=9, scale_func=scale_func(0.0))


def test_uses_map_overlap_with_a_one_sided_halo(monkeypatch):
    calls = []
    map_overlap = da.map_overlap
    def spy(*args, **kwargs):
        calls.append(kwargs)
        return map_overlap(*args, **kwargs)

    monkeypatch.setattr(da, "map_overlap", spy)
    x = np.arange(30.0)
    got = gd.convolve(chunked(x, 4), np.ones(6), "full", method="direct").compute()
    assert [(c["depth"], c["boundary"], c["trim"]) for c in calls] == [({0: (5, 0)}, "none", False)]
    assert_exact(got, np.convolve(x, np.ones(6)))


def test_gpu_kernels_run_per_chunk_emulated():
    """The CUDA direct kernel (host emulator) filters each chunk. The backend
    override is a context variable, so the synchronous scheduler keeps it."""
    rng = np.random.default_rng(6)
    x, v = rng.integers(-9, 9, size=(3, 50)), rng.integers(-9, 9, size=5)
    with gpuconv.use_backend("emulated"):
        got = gd.convolve(chunked(x, (2, 7)), v, "same", method="direct").compute(
            scheduler="synchronous")
        filt = gd.convolve1d(chunked(x.astype(np.float64), (3, 6)), np.array([1.0, -2.0, 0.5]),
                             mode="wrap").compute(scheduler="synchronous")
    assert_exact(got, np.stack([np.convolve(row, v, "same") for row in x]))
    assert_conv(filt, ref_func("convolve1d", "wrap", 0, 0.0), x.astype(np.float64),
                np.array([1.0, -2.0, 0.5]), method="auto", taps=3, scale_func=scale_func(0.0))


def test_cupy_chunks_stay_cupy():
    usable = {s.name: s for s in gpuconv.backends.available()}["cupy"]
    if not usable.usable:
        pytest.skip(f"no CUDA device available: {usable.reason}")
    import cupy

    x = np.random.default_rng(2).standard_normal((3, 64))
    lazy = gd.convolve1d(da.from_array(cupy.asarray(x), chunks=(2, 16)), np.ones(5), mode="nearest")
    assert isinstance(lazy._meta, cupy.ndarray)
    got = lazy.compute(scheduler="threads")
    assert isinstance(got, cupy.ndarray)
    assert_conv(got.get(), ref_func("convolve1d", "nearest", 0, 0.0), x, np.ones(5),
                method="auto", taps=5, scale_func=scale_func(0.0))


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_distributed_local_cluster(processes):
    import distributed  # in the test extra: CI runs this

    rng = np.random.default_rng(5)
    x, v = rng.integers(-9, 9, size=(4, 40)), rng.integers(-9, 9, size=7)
    with distributed.LocalCluster(processes=processes, n_workers=2 if processes else 1,
                                  threads_per_worker=1 if processes else 2,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        got = gd.convolve(chunked(x, (2, 5)), v, "full", method="direct").compute()
        filt = gd.correlate1d(chunked(x, (2, 5)), np.array([1.0, 2.0]), mode="mirror").compute()
    assert_exact(got, np.stack([np.convolve(row, v) for row in x]))
    assert_exact(filt, scipy.ndimage.correlate1d(x, np.array([1.0, 2.0]), mode="mirror"))
