"""The `auto` cost models: the CPU table and the GPU roofline (no GPU needed)."""

import types

import pytest
import scipy.fft

from gpuconv._algorithms.choose import (KNOWN_DEVICES, choose_method, crossover_taps,
                                        estimate, fft_passes, gpu_estimate)
from gpuconv._plan import Request
from gpuconv.backends import backend_named


def next_fast_len(n, real):
    return scipy.fft.next_fast_len(n, real)


def same(rows, n, k):
    return Request(rows=rows, n=n, k=k, kernel_rows=1, start=(k - 1) // 2, out_len=n)


def fake_gpu(figures):
    """A backend with device figures, as CupyBackend has."""
    return types.SimpleNamespace(name="cupy", figures=figures, next_fast_len=next_fast_len)


@pytest.mark.parametrize("device", KNOWN_DEVICES)
def test_gpu_short_kernels_stay_direct_long_ones_go_fft(device):
    gpu = fake_gpu(KNOWN_DEVICES[device])
    # cupy issue 3526: CuPy takes FFT for a 7-tap kernel; a direct kernel is far faster.
    assert choose_method(gpu, same(100000, 256, 7), "float32") == "direct"
    assert choose_method(gpu, same(64, 262144, 15), "float32") == "direct"
    assert choose_method(gpu, same(16, 262144, 4095), "float32") in ("fft", "oa")
    assert choose_method(gpu, same(16, 262144, 4095), "exact") == "direct"


def test_gpu_estimate_is_used_when_the_backend_has_figures():
    figures = KNOWN_DEVICES["H100"]
    request = same(64, 262144, 127)
    assert estimate(fake_gpu(figures), request, "float32") == gpu_estimate(
        figures, request, "float32", next_fast_len)


def test_gpu_direct_is_bandwidth_bound_for_short_kernels():
    figures = KNOWN_DEVICES["H100"]
    rows, n = 64, 262144
    moved = (2 * rows * n + 3) * 4  # read each input once, write each output once
    direct = gpu_estimate(figures, same(rows, n, 3), "float32", next_fast_len)["direct"]
    assert direct == pytest.approx(moved / figures.bandwidth + figures.launch)


def test_crossover_grows_with_the_fma_to_bandwidth_ratio():
    a100, h100 = KNOWN_DEVICES["A100"], KNOWN_DEVICES["H100"]
    args = (64, 262144, "float32", next_fast_len)
    assert 16 < crossover_taps(a100, *args) < crossover_taps(h100, *args) < 1024


def test_fft_passes():
    assert [fft_passes(n) for n in (2, 4096, 4097, 2**24, 2**24 + 1)] == [1, 1, 2, 2, 3]


def test_cpu_table_picks_direct_for_short_and_fft_for_long_kernels():
    cpu = backend_named("numpy")
    assert choose_method(cpu, same(64, 65536, 7), "float32") == "direct"
    assert choose_method(cpu, same(16, 262144, 4095), "float32") in ("fft", "oa")
