"""``gpuconv demo``: the main job, a batch of noisy signals through two conv layers.

Layer 1 smooths every signal with a Gaussian (``convolve``, ``'same'``);
layer 2 is a 9-tap cross-correlation with 4 samples of zero padding and
stride 2, the shape of a conv layer (``correlate``, ``'same'``, every second
output). Both run on the chosen device and are checked against a NumPy
float64 reference.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

HELP = "run the two-layer pipeline on a batch of noisy signals and check it against NumPy"

SMOOTHING_TAPS = 31
LAYER2_TAPS = 9
STRIDE = 2


def add_arguments(parser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to compute (default: the GPU when usable, else the CPU)")
    parser.add_argument("--batch", type=_positive, default=64, help="number of signals (default 64)")
    parser.add_argument("--length", type=_positive, default=65536,
                        help="samples per signal (default 65536)")
    parser.add_argument("--repeat", type=_positive, default=5,
                        help="timed runs per layer; the median is shown (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


def make_signals(batch: int, length: int, seed: int) -> np.ndarray:
    """Noisy sums of two sinusoids per row, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / length
    freqs = rng.uniform(2, 40, size=(batch, 2, 1))
    clean = np.sin(2 * np.pi * freqs[:, 0] * t) + 0.5 * np.sin(2 * np.pi * freqs[:, 1] * t)
    return (clean + 0.3 * rng.standard_normal((batch, length))).astype(np.float32)


def gaussian_taps(taps: int) -> np.ndarray:
    sigma = taps / 6
    x = np.arange(taps) - (taps - 1) / 2
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return (g / g.sum()).astype(np.float32)


def layer2_taps(seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 1).standard_normal(LAYER2_TAPS).astype(np.float32) / 3


def reference(x: np.ndarray, g: np.ndarray, h: np.ndarray):
    """The same two layers in float64 with NumPy, row by row."""
    x, g, h = x.astype(np.float64), g.astype(np.float64), h.astype(np.float64)
    smooth = np.stack([np.convolve(row, g, "same") for row in x])
    layer2 = np.stack([np.correlate(row, h, "same")[::STRIDE] for row in smooth])
    return smooth, layer2


def run(args) -> int:
    import gpuconv
    from gpuconv import backends

    device = backends.default_device() if args.device == "auto" else args.device
    backend = backends.backend_named("cupy" if device == "cuda" else "numpy")
    x_host = make_signals(args.batch, args.length, args.seed)
    g_host, h_host = gaussian_taps(SMOOTHING_TAPS), layer2_taps(args.seed)
    x, g, h = (backend.asarray(a) for a in (x_host, g_host, h_host))

    layers = [
        ("1 smooth", f"{SMOOTHING_TAPS} taps, same", lambda inp: gpuconv.convolve(inp, g, "same"), g),
        ("2 conv", f"{LAYER2_TAPS} taps, pad 4, stride {STRIDE}",
         lambda inp: gpuconv.correlate(inp, h, "same")[..., ::STRIDE], h),
    ]
    refs = reference(x_host, g_host, h_host)
    print(f"gpuconv demo: {args.batch} signals x {args.length} samples, float32, "
          f"backend {backend.name} ({device})")
    print(f"{'layer':9s} {'shape':28s} {'method':7s} {'first call':>11s} {'median':>10s} "
          f"{'Msamples/s':>11s} {'max rel err':>12s}")
    inp = x
    worst = 0.0
    for (name, shape, layer, taps), ref in zip(layers, refs):
        method = gpuconv.signal.choose_conv_method(inp, taps[None, :], mode="same")
        first, out = _timed(layer, inp)
        times = [_timed(layer, inp)[0] for _ in range(args.repeat)]
        median = statistics.median(times)
        error = float(np.max(np.abs(_to_host(out) - ref)) / np.max(np.abs(ref)))
        worst = max(worst, error)
        rate = inp.shape[0] * inp.shape[1] / median / 1e6
        print(f"{name:9s} {shape:28s} {method:7s} {first * 1e3:9.1f}ms {median * 1e3:8.2f}ms "
              f"{rate:11.1f} {error:12.2e}")
        inp = out
    # float32 inputs, float32 arithmetic: errors of a few float32 ulps per tap are expected.
    bound = 4 * np.finfo(np.float32).eps * (SMOOTHING_TAPS + LAYER2_TAPS)
    verdict = "OK" if worst <= bound else "MISMATCH"
    print(f"{verdict}: max relative error {worst:.2e} (float32 bound {bound:.1e})")
    return 0 if verdict == "OK" else 1


def _timed(layer, inp):
    begin = time.perf_counter()
    out = layer(inp)
    _synchronize(out)
    return time.perf_counter() - begin, out


def _synchronize(array) -> None:
    if hasattr(array, "device") and hasattr(array.device, "synchronize"):
        array.device.synchronize()  # CuPy launches are asynchronous


def _to_host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)
