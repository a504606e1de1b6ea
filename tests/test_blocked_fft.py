"""The blocked FFT (method 'oa'): frames in groups, groups on the CPU's threads."""

import collections
import multiprocessing
import threading

import numpy as np
import pytest
import scipy.fft
import scipy.signal

import gpuconv
from gpuconv import _plan
from gpuconv._plan import GROUP_MULTIPLE, MIN_TASK_BYTES, frame_groups, group_sizes
from gpuconv.backends import numpy_backend
from gpuconv.backends.numpy_backend import NumpyBackend

from tolerances import assert_conv

MODES = ("full", "same", "valid")


@pytest.fixture
def small_groups(monkeypatch):
    """Frames of at most 64 points in groups of one to a few frames, so
    that short test signals cross every kind of group boundary."""
    monkeypatch.setattr(NumpyBackend, "block_fft_points", 64)
    monkeypatch.setattr(NumpyBackend, "block_group_bytes", 3 * 64 * 8)
    monkeypatch.setattr(_plan, "MIN_TASK_BYTES", 64 * 8)  # and shared between threads
    monkeypatch.setattr(gpuconv.config, "threads", 2)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("mode", MODES)
def test_groups_of_frames_give_the_convolution(backend, small_groups, dtype, mode):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((5, 301)).astype(dtype)
    v = rng.standard_normal((5, 13)).astype(dtype)  # a kernel per row
    if a.dtype.kind == "c":
        a = a + 1j * rng.standard_normal(a.shape).astype(dtype)
    got = gpuconv.convolve(a, v, mode, method="oa")
    assert got.dtype == a.dtype
    assert_conv(got, lambda x, w: np.convolve(x, w, mode), a, v, method="oa")


@pytest.mark.parametrize("rows, n, k", [(1, 5000, 20), (40, 30, 7), (3, 2, 9), (2, 100, 33)])
def test_shapes_of_groups_against_scipy(small_groups, rows, n, k):
    """Long rows cut into runs of blocks, short rows grouped whole, kernels
    longer than the signal, and a kernel half the frame."""
    rng = np.random.default_rng(rows)
    a, v = rng.standard_normal((rows, n)), rng.standard_normal(k)
    for mode in MODES:
        if mode == "valid" and k > n:
            continue
        assert_conv(gpuconv.signal.oaconvolve(a, v[None], mode, axes=-1),
                    lambda x, w: scipy.signal.convolve(x, w, mode, method="direct"),
                    a, np.broadcast_to(v, (rows, k)), method="oa")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_rows_frames_go_in_whole_simd_batches(small_groups, monkeypatch, dtype):
    """A run of one row's blocks is transformed in whole SIMD batches of
    frames, the last past the row's end, and only the row's own are stored:
    18 blocks in groups of 4 leave 2, transformed as 4 in single precision."""
    shapes = []
    forward = NumpyBackend.rfft
    monkeypatch.setattr(NumpyBackend, "rfft",
                        lambda self, x, n: shapes.append(x.shape[:-1]) or forward(self, x, n))
    rng = np.random.default_rng(3)
    a, v = rng.standard_normal((1, 900)).astype(dtype), rng.standard_normal((1, 13)).astype(dtype)
    assert_conv(gpuconv.convolve(a, v, "same", method="oa"),
                lambda x, w: np.convolve(x, w, "same"), a, v, method="oa")
    groups = [frames for rows, frames in (s for s in shapes if len(s) == 2)]  # not the kernel's
    assert len(groups) == 5
    assert all(frames % _plan.FFT_SIMD_LINES[dtype] == 0 for frames in groups)
    assert sum(groups) == {"float32": 20, "float64": 18}[dtype]


def test_inputs_are_left_alone(small_groups):
    a = np.random.default_rng(0).standard_normal((3, 700))
    v = np.arange(1.0, 12.0)
    a_before, v_before = a.copy(), v.copy()
    gpuconv.convolve(a, v, "same", method="oa")
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(v, v_before)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("rows, blocks, group_bytes", [(1, 1, 2**16), (3, 10, 2**16), (7, 2, 2**18),
                                                       (4, 9, 3 * 2**16), (16, 1, 2**30), (5, 5, None)])
def test_frame_groups_cover_every_frame_once(rows, blocks, group_bytes, threads):
    groups = frame_groups(rows, blocks, MIN_TASK_BYTES // 4, group_bytes, threads)
    covered = np.zeros((rows, blocks), int)
    for (r0, r1), (b0, b1) in groups:
        assert r1 - r0 == 1 or (b0, b1) == (0, blocks)  # a run of one row, or whole rows
        covered[r0:r1, b0:b1] += 1
    assert (covered == 1).all()
    if group_bytes is not None and rows * blocks >= 4 * threads:
        assert len(groups) >= threads  # no thread left idle where each gets a task's worth


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("rows, blocks, group_bytes", [(1, 1, 2**16), (3, 10, 2**16), (7, 2, 2**18),
                                                       (4, 9, 3 * 2**16), (16, 1, 2**30), (5, 5, None),
                                                       (64, 300, 2**20), (9, 1, 2**20), (2, 1000, 2**16),
                                                       (3, 10, 2**14)])
def test_group_sizes_count_the_groups_frame_groups_lists(rows, blocks, group_bytes, threads):
    listed = collections.Counter((r1 - r0) * (b1 - b0) for (r0, r1), (b0, b1)
                                 in frame_groups(rows, blocks, 4000, group_bytes, threads))
    assert group_sizes(rows, blocks, 4000, group_bytes, threads) == dict(listed)


@pytest.mark.parametrize("rows, blocks, frame_bytes", [(16, 1, 80000), (1, 38, 32000),
                                                       (1, 22, 65536)])
def test_frame_groups_share_frames_evenly(rows, blocks, frame_bytes):
    # Two threads, a few pieces: one piece much larger than another idles a thread.
    groups = frame_groups(rows, blocks, frame_bytes, 2**20, threads=2)
    sizes = [(r1 - r0) * (b1 - b0) for (r0, r1), (b0, b1) in groups]
    assert 2 <= len(sizes) <= 3
    assert max(sizes) - min(sizes) <= GROUP_MULTIPLE, sizes
    assert min(sizes) * frame_bytes >= MIN_TASK_BYTES  # each worth handing to a thread


@pytest.mark.parametrize("rows, blocks, frame_bytes", [(16, 1, 20000), (1, 38, 8000),
                                                       (16, 2, 9216), (16, 2, 18432)])
def test_too_little_work_is_one_piece(rows, blocks, frame_bytes):
    # Two pieces would each be under MIN_TASK_BYTES: waking a thread for one costs more.
    assert rows * blocks * frame_bytes < 2 * MIN_TASK_BYTES
    assert len(frame_groups(rows, blocks, frame_bytes, 2**20, threads=2)) == 1


# --------------------------------------------------------------------------
# NumpyBackend.run_tasks
# --------------------------------------------------------------------------

#: Arguments of `numpy_backend._fft_workers` for a call that takes every thread
#: outside a task: 64 lines of 2^16 float64 points.
LARGE_TRANSFORM = (np.empty((64, 0)), 2**16, 8)


def test_run_tasks_runs_each_task_once_on_the_threads(monkeypatch):
    monkeypatch.setattr(gpuconv.config, "threads", 2)
    seen, threads, workers = [], set(), set()
    both_running = threading.Barrier(2, timeout=30)  # broken unless two tasks overlap

    def task(index):
        seen.append(index)
        threads.add(threading.get_ident())
        workers.add(numpy_backend._fft_workers(*LARGE_TRANSFORM))
        if index < 2:
            both_running.wait()

    NumpyBackend().run_tasks(task, 50)
    assert sorted(seen) == list(range(50))
    assert len(threads) == 2
    assert workers == {1}  # a transform inside a task takes one thread
    assert numpy_backend._fft_workers(*LARGE_TRANSFORM) == 2  # and outside takes them all again


@pytest.mark.parametrize("transform, shape, dtype, workers", [
    ("rfft", (16, 4096), np.float32, 1),         # work 3.1e6: waking a helper costs more
    ("irfft", (16, 2049), np.complex64, 1),      # its inverse
    ("fft", (16, 4096), np.complex64, 1),        # 6.3e6
    ("rfft", (64, 65536), np.float64, 2),        # 5.4e8: every thread
    ("irfft", (64, 32769), np.complex128, 2),
    ("ifft", (16, 65536), np.complex64, 2),      # 6.7e7
])
def test_small_transforms_take_one_thread(monkeypatch, transform, shape, dtype, workers):
    monkeypatch.setattr(gpuconv.config, "threads", 2)
    passed = []
    original = getattr(scipy.fft, transform)

    def recording(*args, workers, **kwargs):
        passed.append(workers)
        return original(*args, workers=workers, **kwargs)

    monkeypatch.setattr(scipy.fft, transform, recording)
    x = np.zeros(shape, dtype)
    n = 2 * (shape[1] - 1) if transform == "irfft" else shape[1]
    getattr(NumpyBackend(), transform)(x, n)
    assert passed == [workers]


def test_run_tasks_with_one_thread_stays_on_the_caller(monkeypatch):
    monkeypatch.setattr(gpuconv.config, "threads", 1)
    threads = []
    NumpyBackend().run_tasks(lambda index: threads.append(threading.get_ident()), 5)
    assert threads == [threading.get_ident()] * 5


def test_run_tasks_raises_what_a_task_raised(monkeypatch):
    monkeypatch.setattr(gpuconv.config, "threads", 2)

    def task(index):
        if index == 7:
            raise ZeroDivisionError("task 7")

    with pytest.raises(ZeroDivisionError, match="task 7"):
        NumpyBackend().run_tasks(task, 20)
    assert numpy_backend._fft_workers(*LARGE_TRANSFORM) == 2  # the caller's flag was reset


def _blocked_in_child(queue):
    a = np.arange(4000.0).reshape(2, 2000)
    queue.put(gpuconv.convolve(a, np.ones(31), "same", method="oa"))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
def test_a_forked_child_gets_its_own_pool(small_groups):
    a = np.arange(4000.0).reshape(2, 2000)
    expected = gpuconv.convolve(a, np.ones(31), "same", method="oa")  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_blocked_in_child, args=(queue,))
    child.start()
    got = queue.get(timeout=60)  # a child using the parent's dead threads would hang here
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, expected)
