"""The demo's conv-layer pipeline against PyTorch on the CPU, and a smoothing
filter against SciPy and NumPy, as Markdown tables.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.demo_workload
[pipeline | smoothing]`` (default: both; the pipeline needs PyTorch's CPU build).

Pipeline. Workload: the issue's pipeline input, 32
float32 signals of 65536 samples (shape (32, 1, 65536)), through
``Sequential(Conv1d(1, 16, 9, stride=2, padding=4), ReLU(), Conv1d(16, 16,
9, padding=4))`` with the weights of ``gpuconv demo``, against
``torch.nn.functional.conv1d`` / ``relu`` with the same weights (PyTorch's
oneDNN path) in the same process: medians of 5 runs after a warm-up, every
gpuconv workload first, then PyTorch's (PyTorch's OpenMP threads keep
spinning for a while after each call and slow whatever runs next).
Both use every CPU this process may run on (``gpuconv.config.threads``).

Smoothing (the previous demo's first layer). 64 float32 signals of 65536
samples, a 31-tap Gaussian, 'same' output with zero padding; medians of 7
runs after a warm-up. The roofline floor is the larger of the memory floor
(each input read and each output written once at the 2-core copy bandwidth,
about 66 GB/s on this machine class) and the FMA floor (2 flops per tap per
output at about 460 GFLOP/s float32), the figures of the CPU-performance issue.
"""

from __future__ import annotations

import sys

import numpy as np

import gpuconv
from benchmarks._timing import median_seconds
from gpuconv.cli.demo import build_pipeline, make_signals

REPEATS = 5
SMOOTHING_TAPS = 31
COPY_BANDWIDTH = 66e9
FMA_PEAK_FLOAT32 = 460e9


def main(argv=None) -> None:
    parts = (argv if argv is not None else sys.argv[1:]) or ["pipeline", "smoothing"]
    for part in parts:
        {"pipeline": pipeline, "smoothing": smoothing}[part]()
        print()


def pipeline() -> None:
    import torch

    torch.set_num_threads(gpuconv.config.threads)
    F = torch.nn.functional
    net = build_pipeline(seed=0, device="cpu")
    x = make_signals(32, 65536, seed=0)
    conv1, _relu, conv2 = net
    w1, b1, w2, b2 = (torch.from_numpy(np.asarray(a)) for a in (conv1.weight, conv1.bias,
                                                                 conv2.weight, conv2.bias))
    tx = torch.from_numpy(x)
    hidden = net[1](net[0](x))
    t_hidden = torch.from_numpy(hidden)

    def torch_pipeline():
        with torch.no_grad():
            return F.conv1d(F.relu(F.conv1d(tx, w1, b1, stride=2, padding=4)), w2, b2, padding=4)

    def torch_layer1():
        with torch.no_grad():
            return F.conv1d(tx, w1, b1, stride=2, padding=4)

    def torch_layer2():
        with torch.no_grad():
            return F.conv1d(t_hidden, w2, b2, padding=4)

    pairs = {
        "pipeline": (lambda: net(x), torch_pipeline),
        "layer 1: Conv1d(1, 16, 9, stride=2, padding=4)": (lambda: conv1(x), torch_layer1),
        "layer 2: Conv1d(16, 16, 9, padding=4)": (lambda: conv2(hidden), torch_layer2),
    }
    ours = {name: median_seconds(pair[0], REPEATS) for name, pair in pairs.items()}
    theirs = {name: median_seconds(pair[1], REPEATS) for name, pair in pairs.items()}
    print("| workload | gpuconv median | PyTorch median | gpuconv / PyTorch |")
    print("| --- | --- | --- | --- |")
    for name in pairs:
        print(f"| {name} | {ours[name] * 1e3:.1f} ms | {theirs[name] * 1e3:.1f} ms "
              f"| {ours[name] / theirs[name]:.2f} |")


def smoothing() -> None:
    import scipy.ndimage
    import scipy.signal

    x = make_signals(64, 65536, seed=0)[:, 0, :]
    g = _gaussian_taps(SMOOTHING_TAPS)
    threads = gpuconv.config.threads
    calls = {
        "gpuconv.convolve (auto)": lambda: gpuconv.convolve(x, g, "same"),
        "scipy.ndimage.convolve1d (constant)": lambda: scipy.ndimage.convolve1d(
            x, g, mode="constant"),
        f"scipy.signal.fftconvolve (workers={threads})": lambda: _with_workers(
            threads, lambda: scipy.signal.fftconvolve(x, g[None, :], "same", axes=1)),
        f"scipy.signal.oaconvolve (workers={threads})": lambda: _with_workers(
            threads, lambda: scipy.signal.oaconvolve(x, g[None, :], "same", axes=1)),
        "numpy.convolve, row by row": lambda: [np.convolve(row, g, "same") for row in x],
    }
    floor = max(2 * x.nbytes / COPY_BANDWIDTH, 2 * SMOOTHING_TAPS * x.size / FMA_PEAK_FLOAT32)
    times = {name: median_seconds(call) for name, call in calls.items()}
    ours = times["gpuconv.convolve (auto)"]
    print(f"| call | median | time / gpuconv's | roofline fraction (floor {floor * 1e3:.2f} ms) |")
    print("| --- | --- | --- | --- |")
    for name, seconds in times.items():
        print(f"| {name} | {seconds * 1e3:.2f} ms | {seconds / ours:.2f} | {floor / seconds:.2f} |")


def _gaussian_taps(taps: int) -> np.ndarray:
    sigma = taps / 6
    x = np.arange(taps) - (taps - 1) / 2
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return (g / g.sum()).astype(np.float32)


def _with_workers(workers: int, call):
    import scipy.fft

    with scipy.fft.set_workers(workers):
        return call()


if __name__ == "__main__":
    main()
