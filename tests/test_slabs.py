"""Batches processed in slabs of rows under a workspace cap give the same results."""

import numpy as np
import pytest

import gpuconv
import gpuconv.ndimage
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
