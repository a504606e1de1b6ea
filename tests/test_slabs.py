"""Batches processed in slabs of rows under a workspace cap give the same results."""

import numpy as np
import pytest

import gpuconv
import gpuconv.ndimage
import gpuconv.signal
from gpuconv import _algorithms


CALLS = {  # name: (method, call)
    "fft per-row kernels": ("fft", lambda x, w: gpuconv.convolve(x, w, "same", method="fft")),
    "oa shared kernel": ("oa", lambda x, w: gpuconv.convolve(x, w[0], "full", method="oa")),
    "direct reflect": ("direct", lambda x, w: gpuconv.ndimage.convolve1d(
        x, w[0], mode="reflect", method="direct")),
    "fft wrap": ("fft", lambda x, w: gpuconv.ndimage.correlate1d(x, w[0], mode="wrap", method="fft")),
    "circular": ("fft", lambda x, w: gpuconv.circular_convolve(x, w, 300, method="fft")),
}


@pytest.mark.parametrize("name", CALLS)
def test_slabs_change_nothing(backend, name):
    method, call = CALLS[name]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((7, 1000)), rng.standard_normal((7, 33))
    unbounded = call(x, w)
    pieces = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gpuconv.config, "max_workspace_bytes", 1)  # every row its own slab
        compute = _algorithms.METHODS[method]
        patch.setitem(_algorithms.METHODS, method,
                      lambda *args: pieces.append(args[1].shape[0]) or compute(*args))
        slabbed = call(x, w)
    # A CUDA kernel staging its own boundary needs no workspace: one launch.
    staged = method == "direct" and gpuconv.get_backend(x).direct_boundaries
    assert pieces == ([7] if staged else [1] * 7)
    # Same arithmetic row by row: the results are identical, not just close.
    np.testing.assert_array_equal(slabbed, unbounded)


# --------------------------------------------------------------------------
# The workspace limit holds: peak memory, measured
# --------------------------------------------------------------------------

PEAK_CALLS = {  # name: call of a (rows, n) float64 batch and a (k,) kernel
    "fft same": lambda x, w: gpuconv.convolve(x, w, "same", method="fft"),
    "fft per-row kernels": lambda x, w: gpuconv.signal.fftconvolve(
        x, np.broadcast_to(w, (x.shape[0], w.shape[0])), "full", axes=-1),
    "oa full": lambda x, w: gpuconv.convolve(x, w, "full", method="oa"),
    "direct valid": lambda x, w: gpuconv.convolve(x, w, "valid", method="direct"),
}
# Not yet under the bound (fronts outside the slab loop): circular_convolve
# folds the whole batch into a padded copy first, and gpuconv.ndimage's final
# cast copies the output even when the dtype already matches.


@pytest.mark.parametrize("name", PEAK_CALLS)
def test_peak_memory_stays_under_the_limit(name, monkeypatch):
    """Peak traced memory of a call <= output + limit + one row's workspace + 64 KiB.

    tracemalloc sees every NumPy allocation. A slab holds at most
    ``limit // per_row`` rows (at least one), so its temporaries stay under
    the limit; the shared kernel's padded copy and spectrum are at most one
    more row's worth; 64 KiB covers Python objects. The output is not
    workspace. (FFT libraries' own scratch, which tracemalloc does not see,
    is per thread and per transform, not per batch.)
    """
    import tracemalloc

    call = PEAK_CALLS[name]
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((48, 40_000)), rng.standard_normal(65)
    unbounded = call(x, w)
    per_row = []
    workspace_per_row = _algorithms.workspace_per_row
    monkeypatch.setattr(_algorithms, "workspace_per_row",
                        lambda *args: per_row.append(workspace_per_row(*args)) or per_row[-1])
    limit = 2 * 2**20
    monkeypatch.setattr(gpuconv.config, "max_workspace_bytes", limit)
    call(x, w)  # warm: first-call caches are not the call's workspace
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        bounded = call(x, w)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    row = max(per_row, default=0)  # a staged direct kernel needs none
    assert row <= limit  # else a slab is one row, bigger than the limit
    if row:  # the limit made slabs: without it the batch is one piece
        assert x.shape[0] * row > limit
    bound = bounded.nbytes + limit + row + 64 * 2**10
    assert peak <= bound, f"peak {peak} B > output {bounded.nbytes} + limit {limit} + row {row}"
    np.testing.assert_array_equal(bounded, unbounded)


@pytest.mark.parametrize("available, expected", [
    (64 * 2**30, 256 * 2**20),  # a large machine: the cap
    (1 * 2**30, 128 * 2**20),   # an eighth
    (40 * 2**20, 16 * 2**20),   # a starved one: the floor
    (None, 256 * 2**20),        # not readable: the fixed default
])
def test_default_workspace_is_a_share_of_available_memory(available, expected, monkeypatch):
    from gpuconv.backends import numpy_backend

    monkeypatch.setattr(numpy_backend, "available_memory", lambda: available)
    monkeypatch.setattr(gpuconv.config, "max_workspace_bytes", None)
    assert numpy_backend.NumpyBackend().workspace_bytes() == expected
    monkeypatch.setattr(gpuconv.config, "max_workspace_bytes", 12345)  # the setting wins
    assert numpy_backend.NumpyBackend().workspace_bytes() == 12345


def test_available_memory_is_read_on_linux():
    from gpuconv.backends import numpy_backend

    try:
        with open("/proc/meminfo") as meminfo:
            total = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    except OSError:
        pytest.skip("no /proc/meminfo here")
    available = numpy_backend.available_memory()
    assert available is not None and 0 < available <= total * 1024
