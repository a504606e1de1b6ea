"""The `auto` cost models: the CPU table and the GPU roofline (no GPU needed)."""

import json
import math
import types

import pytest
import scipy.fft

import gpuconv
from gpuconv._algorithms import choose
from gpuconv._algorithms.choose import (KNOWN_DEVICES, choose_method, crossover_taps,
                                        estimate, fft_passes, gpu_estimate)
from gpuconv._algorithms.overlap import block_length
from gpuconv._plan import Request
from gpuconv.backends import backend_named
from gpuconv.backends.numpy_backend import NumpyBackend


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


def test_cpu_table_picks_direct_for_short_and_fft_for_long_kernels(default_costs):
    cpu = backend_named("numpy")
    assert choose_method(cpu, same(64, 65536, 7), "float32") == "direct"
    assert choose_method(cpu, same(16, 262144, 4095), "float32") in ("fft", "oa")


@pytest.fixture
def default_costs():
    """The built-in defaults (tests/conftest.py hides any table ``gpuconv tune`` stored)."""
    assert choose.costs_in_use()[0] == choose.DEFAULT_COSTS
    return choose.DEFAULT_COSTS


def test_cpu_estimate_is_work_times_constants(default_costs):
    costs, cpu, threads = default_costs, backend_named("numpy"), gpuconv.config.effective_threads()
    request = same(4, 1000, 5)
    times = choose.cpu_estimate(costs, request, "float64", cpu)
    direct = 4 * 1000 * (5 * costs["mac"]["float64"] + costs["output"]["float64"])
    assert times["direct"] == pytest.approx(direct + costs["call"]["direct"])
    nfft = next_fast_len(1000 + 5 - 1 - 2, True)  # 'same' needs no wrap-free tail
    lines = sum(choose.batched_lines(choose.transform_lines(count, 2, threads), threads, "float64")
                for count in (4 + 1, 4))  # rows and kernel forward, rows back
    transforms = lines * nfft * (math.log2(nfft) * costs["fft"]["float64"]
                                 + costs["fft_point"]["float64"])
    assert times["fft"] == pytest.approx(transforms + costs["call"]["fft"])
    assert estimate(cpu, request, "float64") == times


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lines_beyond_whole_simd_batches_cost_more(dtype):
    """pocketfft transforms lines in SIMD batches; a lone line costs a batch's share several times."""
    width = choose.FFT_SIMD_LINES[dtype]
    assert choose.batched_lines(2 * width, 2, dtype) == 2 * width
    assert choose.batched_lines(1, 2, dtype) == choose.FFT_LEFTOVER_COST[dtype] > 1
    assert choose.batched_lines(2 * width + 1, 2, dtype) == 2 * width + choose.FFT_LEFTOVER_COST[dtype]
    assert choose.batched_lines(width, 1, dtype) == width
    # Fewer lines than a batch per thread: one thread, a whole batch at a lone line's cost.
    assert choose.batched_lines(width, 2, dtype) == choose.FFT_LEFTOVER_COST[dtype]
    assert choose.batched_lines(width + 1, 2, dtype) == 2 * choose.FFT_LEFTOVER_COST[dtype]


def test_direct_counts_idle_threads(monkeypatch):
    """One job (a short row, a short kernel) leaves the second thread idle:
    twice the time per output; a long kernel cuts the row for both threads,
    which share it at `CUT_EFFICIENCY`."""
    monkeypatch.setattr(gpuconv.config, "threads", 2)
    cpu = backend_named("numpy")
    one_job = choose.cpu_work(same(1, 1000, 5), "float32", cpu)["direct"]
    many_jobs = choose.cpu_work(same(64, 1000, 5), "float32", cpu)["direct"]
    assert one_job[1] / 1000 == 2 * many_jobs[1] / 64000
    cut_row = choose.cpu_work(same(1, 1000, 255), "float32", cpu)["direct"]
    assert cut_row[1] / 1000 == pytest.approx(many_jobs[1] / 64000 / choose.CUT_EFFICIENCY)
    assert 0.5 < choose.CUT_EFFICIENCY <= 1


def test_remembered_choice_follows_threads_and_cost_file(default_costs, monkeypatch, tmp_path):
    """`choose_method` remembers CPU choices, keyed on what the estimate reads:
    6 x 1024 float32, K=1023 is direct on one thread and FFT on two (with
    the direct kernel's wide passes or without)."""
    cpu = backend_named("numpy")
    request = same(6, 1024, 1023)

    def estimated():
        return choose.cpu_choice(choose.estimate(cpu, request, "float32"))

    choices = []
    for threads in (1, 2, 1):
        monkeypatch.setattr(gpuconv.config, "threads", threads)
        choices.append(choose.choose_method(cpu, request, "float32"))
        assert choices[-1] == estimated()
    assert choices == ["direct", "fft", "direct"]
    # Another cache directory is another cost file, read without being told.
    monkeypatch.setenv(choose.CACHE_DIR_VARIABLE, str(tmp_path))
    cheap_fft = json.loads(json.dumps(default_costs))
    cheap_fft["fft"] = {name: 0.0 for name in choose.COST_DTYPES}
    (tmp_path / "costs.json").write_text(json.dumps({"format": choose.COSTS_FORMAT,
                                                     "costs": cheap_fft}))
    assert choose.choose_method(cpu, request, "float32") == "fft" == estimated()


def test_direct_is_kept_unless_an_fft_method_beats_it_by_the_margin(monkeypatch):
    """Estimates within `DIRECT_MARGIN` of each other keep the direct sum."""
    cpu = backend_named("numpy")
    for fft_seconds, expected in ((1 / 1.05, "direct"), (1 / 1.2, "fft")):
        times = {"direct": 1.0, "fft": fft_seconds, "oa": 2.0}
        monkeypatch.setattr(choose, "cpu_estimate", lambda *args, times=times: times)
        choose.forget_loaded_costs()  # the remembered choices
        assert choose.choose_method(cpu, same(3, 5000, 63), "float64") == expected
    choose.forget_loaded_costs()


def test_blocked_fft_counts_its_groups(default_costs, monkeypatch):
    """A long row's frames go in whole SIMD batches over both threads; the
    two frames of a short row are transformed as a whole batch on one
    thread, beside the kernel's one line, a leftover."""
    monkeypatch.setattr(gpuconv.config, "threads", 2)
    cpu = backend_named("numpy")

    def points_per_frame(n, k):
        step, nfft = block_length(cpu, n, k, True, cpu.block_fft_points)
        return choose.cpu_work(same(1, n, k), "float32", cpu)["oa"][1] / (math.ceil(n / step) * nfft)

    assert points_per_frame(2**20, 1023) < 1.2  # two transforms a frame, two threads
    assert math.ceil(16384 / block_length(cpu, 16384, 1023, True, cpu.block_fft_points)[0]) == 2
    two_frames = 2 * choose.FFT_SIMD_LINES["float32"] + choose.FFT_LEFTOVER_COST["float32"]
    assert points_per_frame(16384, 1023) == two_frames / 2


def test_one_block_a_row_is_the_blocked_fft_only_for_large_batches(default_costs):
    """A block that holds a whole row makes the blocked FFT the whole-row FFT
    done group by group in cache: slower on a small batch, not on 64 float64
    rows of 16384 (``python -m benchmarks.model_check``)."""
    cpu = backend_named("numpy")
    small, large = same(16, 4096, 511), same(64, 16384, 4095)
    assert math.ceil(4096 / block_length(cpu, 4096, 511, True, cpu.block_fft_points)[0]) == 1
    assert math.ceil(16384 / block_length(cpu, 16384, 4095, True, cpu.block_fft_points)[0]) == 1
    small_times = choose.cpu_estimate(default_costs, small, "float32", cpu)
    assert small_times["oa"] > small_times["fft"]
    assert choose.choose_method(cpu, small, "float32") != "oa"  # direct or fft: they are close
    assert choose.choose_method(cpu, large, "float64") == "oa"


def test_complex_ffts_use_complex_lengths(default_costs):
    """A complex transform may take an odd fast length that a real one may not."""
    request = same(1, 1000, 100)
    lengths = []
    fake = lambda m, real: lengths.append(real) or next_fast_len(m, real)  # noqa: E731
    cpu = NumpyBackend()
    cpu.next_fast_len = fake
    choose.cpu_estimate(default_costs, request, "complex64", cpu)
    assert lengths and not any(lengths)
