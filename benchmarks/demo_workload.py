"""The demo's conv-layer pipeline against PyTorch on the CPU, side by side, as a Markdown table.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.demo_workload``
(needs PyTorch's CPU build). Workload: the issue's pipeline input, 32
float32 signals of 65536 samples (shape (32, 1, 65536)), through
``Sequential(Conv1d(1, 16, 9, stride=2, padding=4), ReLU(), Conv1d(16, 16,
9, padding=4))`` with the weights of ``gpuconv demo``, against
``torch.nn.functional.conv1d`` / ``relu`` with the same weights (PyTorch's
oneDNN path) in the same process: medians of 5 runs after a warm-up, the
two libraries alternating run by run so both see the same machine load.
Both use every CPU this process may run on (``gpuconv.config.threads``).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import gpuconv
from gpuconv.cli.demo import build_pipeline, make_signals

REPEATS = 5


def main() -> None:
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
    print(f"| workload | gpuconv median | PyTorch median | gpuconv / PyTorch |")
    print("| --- | --- | --- | --- |")
    for name, (ours, theirs) in pairs.items():
        ours_s, theirs_s = _alternating_medians(ours, theirs)
        print(f"| {name} | {ours_s * 1e3:.1f} ms | {theirs_s * 1e3:.1f} ms | {ours_s / theirs_s:.2f} |")


def _alternating_medians(first, second):
    """Medians of `REPEATS` runs of each, after one warm-up each, alternating."""
    first(), second()
    times = ([], [])
    for _ in range(REPEATS):
        for func, bucket in zip((first, second), times):
            begin = time.perf_counter()
            func()
            bucket.append(time.perf_counter() - begin)
    return statistics.median(times[0]), statistics.median(times[1])


if __name__ == "__main__":
    main()
