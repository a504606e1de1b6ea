"""The backend registry: available(), get_backend, use_backend, GPUCONV_BACKEND, import cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage

import gpuconv
from gpuconv import backends


def test_available_lists_numpy_and_cupy_with_reasons():
    statuses = backends.available()
    assert [s.name for s in statuses] == ["numpy", "cupy"]
    by_name = {s.name: s for s in statuses}
    assert by_name["numpy"].usable
    for status in statuses:
        assert isinstance(status.usable, bool)
        assert isinstance(status.reason, str) and status.reason
    if not by_name["cupy"].usable:
        assert "CuPy" in by_name["cupy"].reason   # says why: not installed, no driver, no device
    assert backends.available() == statuses      # probed once, same answer


def test_get_backend_follows_the_data():
    assert gpuconv.get_backend(np.ones(3)).name == "numpy"
    assert gpuconv.get_backend([1.0, 2.0]).name == "numpy"
    assert gpuconv.get_backend().name == "numpy"


def test_backend_fixture_sets_the_backend(backend):
    assert gpuconv.get_backend(np.ones(3)).name == backend.value


def test_use_backend_restores_on_exit_and_on_error(monkeypatch):
    monkeypatch.delenv("GPUCONV_BACKEND", raising=False)
    with gpuconv.use_backend("numpy"):
        assert gpuconv.get_backend().name == "numpy"
        out = gpuconv.convolve(np.ones(3), np.ones(2))
    assert type(out) is np.ndarray
    assert backends._override.get() is None
    with pytest.raises(KeyError):
        with gpuconv.use_backend("numpy"):
            raise KeyError("boom")
    assert backends._override.get() is None


def test_use_backend_unknown_and_unusable():
    with pytest.raises(ValueError, match="unknown backend 'bogus'; known backends are numpy, cupy"):
        with gpuconv.use_backend("bogus"):
            pass
    cupy = {s.name: s for s in backends.available()}["cupy"]
    if cupy.usable:
        pytest.skip("CuPy is usable here")
    with pytest.raises(RuntimeError, match="the cupy backend is not usable here: " + cupy.reason[:20]):
        with gpuconv.use_backend("cupy"):
            pass


def test_env_var_is_honoured(monkeypatch):
    monkeypatch.setenv("GPUCONV_BACKEND", "numpy")
    assert gpuconv.get_backend(np.ones(3)).name == "numpy"
    np.testing.assert_array_equal(gpuconv.convolve(np.ones(3), np.ones(2)), [1.0, 2.0, 2.0, 1.0])


def test_env_var_unknown_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GPUCONV_BACKEND", "tpu")
    with pytest.raises(ValueError, match="unknown backend 'tpu'; known backends are numpy, cupy"):
        gpuconv.convolve(np.ones(3), np.ones(2))


def test_env_var_unusable_backend_says_why(monkeypatch):
    if {s.name: s for s in backends.available()}["cupy"].usable:
        pytest.skip("CuPy is usable here")
    monkeypatch.setenv("GPUCONV_BACKEND", "cupy")
    with pytest.raises(RuntimeError, match="the cupy backend is not usable here"):
        gpuconv.convolve(np.ones(3), np.ones(2))


def test_use_backend_beats_env_var(monkeypatch):
    monkeypatch.setenv("GPUCONV_BACKEND", "tpu")
    with gpuconv.use_backend("numpy"):
        assert gpuconv.get_backend().name == "numpy"


IMPORT_PROBE = """
import json, sys
import gpuconv
print(json.dumps(sorted(m for m in ("cupy", "cupyx", "numba", "scipy", "torch") if m in sys.modules)))
"""


def test_import_is_light():
    """`import gpuconv` loads no CuPy, Numba or SciPy (nor touches a CUDA driver):
    those load on first use. What keeps the import under 0.5 s, checked without a
    timed assertion; `docs/performance.md` has the measured time."""
    env = {k: v for k, v in os.environ.items() if k != "GPUCONV_BACKEND"}
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True,
                          text=True, check=True, env=env)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


BIG_ENDIAN_CALLS = {  # (gpuconv call, reference); each front reaches the backend its own way
    "ndimage.correlate1d float64": (
        lambda x, w: gpuconv.ndimage.correlate1d(x, w, method="direct"),
        lambda x, w: scipy.ndimage.correlate1d(x, w), ">f8"),
    "ndimage.uniform_filter1d int64": (
        lambda x, w: gpuconv.ndimage.uniform_filter1d(x, 3, method="direct"),
        lambda x, w: scipy.ndimage.uniform_filter1d(x, 3), ">i8"),
    "nn.conv1d float32": (
        lambda x, w: gpuconv.nn.functional.conv1d(x[None, None], w[None, None])[0, 0],
        lambda x, w: np.correlate(x, w, "valid"), ">f4"),
    "StreamingConvolver float64": (
        lambda x, w: gpuconv.StreamingConvolver(w).process(x),
        lambda x, w: np.convolve(x, w)[:x.size], ">f8"),
}


@pytest.mark.parametrize("name", BIG_ENDIAN_CALLS)
def test_big_endian_input_is_computed_in_native_order(backend, name):
    """``'>f8'`` read from a file gives the reference's values, in native byte order
    as NumPy's and SciPy's results are (the Numba kernel takes native dtypes only)."""
    call, reference, dtype = BIG_ENDIAN_CALLS[name]
    x, w = np.arange(40).astype(dtype), np.array([1, 3, 2]).astype(dtype)
    got = call(x, w)
    want = reference(x.astype(x.dtype.newbyteorder("=")), w.astype(w.dtype.newbyteorder("=")))
    assert got.dtype.isnative and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)  # small integers: every method is exact here


@pytest.mark.parametrize("name, features, expected", [
    ("generic", "+avx512f,+avx2", False),  # another target: Numba compiles for it
    ("host", "+avx2,-avx512f", False),
    ("host", "+avx2,+avx512f", True),
])
def test_wide_direct_passes_follow_numbas_target(monkeypatch, name, features, expected):
    """The direct kernel's wide passes, and the cost model's count of them,
    need AVX-512 on the CPU Numba compiles for."""
    from gpuconv.backends.numpy_backend import wide_direct_passes

    monkeypatch.setenv("NUMBA_CPU_NAME", name)
    monkeypatch.setenv("NUMBA_CPU_FEATURES", features)
    wide_direct_passes.cache_clear()
    try:
        assert wide_direct_passes() is expected
    finally:
        wide_direct_passes.cache_clear()  # the real answer for later tests
