"""``gpuconv demo``: the main job, a batch of noisy signals through the two-layer conv pipeline.

The pipeline is ``gpuconv.nn.Sequential(Conv1d(1, 16, 9, stride=2,
padding=4), ReLU(), Conv1d(16, 16, 9, padding=4))`` with seeded weights, run
on the chosen device layer by layer (a timed first call, then the median of
``--repeat`` calls). Every layer's output is checked against a float64 NumPy
reference computed here from the definition (one matrix product per tap over
strided views; it shares no code with gpuconv), elementwise within the
float32 bound of a direct sum, and the command exits 1 on a mismatch.

`run_pipeline` does the work and returns a `DemoResult` (inputs, every
layer's output and reference, timings); `run` prints it, and with ``--plot``
`plot` draws it: the input, every layer's output and the frequency response
of the first layer's filters.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

HELP = "run the two-layer conv pipeline on a batch of noisy signals and check it against NumPy"

#: The pipeline: (in_channels, out_channels, kernel_size, stride, padding) per conv layer.
CONV_LAYERS = ((1, 16, 9, 2, 4), (16, 16, 9, 1, 4))
#: Signals checked against the float64 reference (the first, the last and
#: evenly spaced ones between): the reference costs more than the pipeline.
CHECKED_SIGNALS = 4


def add_arguments(parser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to compute (default: the GPU when usable, else the CPU)")
    parser.add_argument("--batch", type=_positive, default=32,
                        help="number of signals (default 32)")
    parser.add_argument("--length", type=_positive, default=65536,
                        help="samples per signal (default 65536)")
    parser.add_argument("--repeat", type=_positive, default=5,
                        help="timed runs per layer; the median is shown (default 5)")
    parser.add_argument("--seed", type=_non_negative, default=0, help="random seed (default 0)")
    parser.add_argument("--plot", metavar="PATH.png",
                        help="also draw the input, the layer outputs and the first layer's "
                             "frequency response (needs matplotlib)")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


def _non_negative(text: str) -> int:
    if not text.isdigit():  # NumPy's generator takes no negative seed
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return int(text)


def make_signals(batch: int, length: int, seed: int) -> np.ndarray:
    """Noisy sums of two sinusoids per signal, float32, shape (batch, 1, length)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / length
    freqs = rng.uniform(2, 40, size=(batch, 2, 1))
    clean = np.sin(2 * np.pi * freqs[:, 0] * t) + 0.5 * np.sin(2 * np.pi * freqs[:, 1] * t)
    noisy = clean + 0.3 * rng.standard_normal((batch, length))
    return noisy.astype(np.float32)[:, None, :]


def build_pipeline(seed: int, device: str):
    """The demo's `gpuconv.nn.Sequential`, weights seeded from ``seed``."""
    from gpuconv import nn

    (a_in, a_out, a_k, a_stride, a_pad), (b_in, b_out, b_k, b_stride, b_pad) = CONV_LAYERS
    return nn.Sequential(
        nn.Conv1d(a_in, a_out, a_k, stride=a_stride, padding=a_pad, seed=seed, device=device),
        nn.ReLU(),
        nn.Conv1d(b_in, b_out, b_k, stride=b_stride, padding=b_pad, seed=seed + 1, device=device))


def reference_conv(x, weight, bias, stride: int, padding: int) -> np.ndarray:
    """float64 cross-correlation from the definition: one (C_out, C_in) product per tap.

    ``out[n, :, t] = bias + sum_k weight[:, :, k] @ xpad[n, :, t * stride + k]``,
    each tap one matrix product over every signal at once.
    """
    x, weight = np.asarray(x, np.float64), np.asarray(weight, np.float64)
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    k = weight.shape[-1]
    out_len = (xpad.shape[-1] - k) // stride + 1
    out = np.empty((weight.shape[0], x.shape[0], out_len))  # (C_out, N, L_out)
    out[...] = np.asarray(bias, np.float64)[:, None, None]
    for tap in range(k):
        window = xpad[:, :, tap:tap + (out_len - 1) * stride + 1:stride]
        out += np.tensordot(weight[:, :, tap], window, axes=([1], [1]))
    return np.ascontiguousarray(np.moveaxis(out, 0, 1))


@dataclass
class LayerRun:
    """One layer's output, its reference and error bound, and its timings."""

    name: str
    output: np.ndarray        # on the host, the checked signals
    reference: np.ndarray     # float64, the checked signals
    bound: np.ndarray         # elementwise bound on |output - reference|
    first: float              # seconds, first call
    times: list = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def relative_error(self) -> float:
        scale = float(np.max(np.abs(self.reference))) or 1.0
        return float(np.max(np.abs(self.output - self.reference))) / scale

    @property
    def within_bound(self) -> bool:
        return bool(np.all(np.abs(self.output - self.reference) <= self.bound))


@dataclass
class DemoResult:
    """Everything the demo computed (what `run` prints, or a plot could show)."""

    signals: np.ndarray
    checked: np.ndarray       # indices of the signals checked against the reference
    device: str
    backend: str
    pipeline: object
    layers: list

    @property
    def ok(self) -> bool:
        return all(layer.within_bound for layer in self.layers)


def run_pipeline(args) -> DemoResult:
    """Run the pipeline layer by layer on ``args.device`` and check every output."""
    from gpuconv import backends

    device = backends.default_device() if args.device == "auto" else args.device
    backend = backends.backend_named("cupy" if device == "cuda" else "numpy")
    net = build_pipeline(args.seed, device)
    signals = make_signals(args.batch, args.length, args.seed)
    checked = np.linspace(0, args.batch - 1, min(args.batch, CHECKED_SIGNALS))
    checked = np.unique(checked.astype(int))
    references = _references(net, signals[checked])
    inp = backend.asarray(signals)
    runs = []
    for layer, (reference, bound) in zip(net, references):
        first, out = _timed(layer, inp)
        times = [_timed(layer, inp)[0] for _ in range(args.repeat)]
        runs.append(LayerRun(repr(layer), _to_host(out)[checked], reference, bound, first, times))
        inp = out
    return DemoResult(signals, checked, device, backend.name, net, runs)


def _references(net, signals):
    """(reference, bound) per layer: float64 values and the float32 error bound.

    A direct sum of ``m`` products in float32 is within ``(m + 2) * eps *
    S`` of the exact value, ``S`` the same sum over absolute values
    (``tests/tolerances.py``); the second convolution adds its own to the
    first one's, carried through ``|w2|``, and ReLU changes no bound.
    """
    conv1, _relu, conv2 = net
    eps = float(np.finfo(np.float32).eps)
    params = [(np.asarray(_to_host(c.weight), np.float64), np.asarray(_to_host(c.bias), np.float64),
               c.stride, c.padding) for c in (conv1, conv2)]
    (w1, b1, s1, p1), (w2, b2, s2, p2) = params
    hidden = reference_conv(signals, w1, b1, s1, p1)
    abs_hidden = reference_conv(np.abs(signals), np.abs(w1), np.abs(b1), s1, p1)
    bound1 = (w1.shape[1] * w1.shape[2] + 3) * eps * abs_hidden
    relu = np.maximum(hidden, 0)
    out = reference_conv(relu, w2, b2, s2, p2)
    abs_out = reference_conv(abs_hidden, np.abs(w2), np.abs(b2), s2, p2)
    bound2 = (w1.shape[1] * w1.shape[2] + 3 + w2.shape[1] * w2.shape[2] + 3) * eps * abs_out
    return [(hidden, bound1), (relu, bound1), (out, bound2)]


def run(args) -> int:
    if args.plot:
        from ._formats import check_later_output

        check_later_output(args.plot, "--plot", ".png")
        _pyplot()  # fail before the run, not after it
    result = run_pipeline(args)
    samples = args.batch * args.length
    print(f"gpuconv demo: {args.batch} signals x {args.length} samples, float32, "
          f"backend {result.backend} ({result.device})")
    print(f"{'layer':50s} {'output shape':>18s} {'first call':>11s} {'median':>10s} "
          f"{'Msamples/s':>11s} {'max rel err':>12s}")
    for index, layer in enumerate(result.layers):
        rate = samples / layer.median / 1e6
        shape = str((args.batch,) + tuple(layer.output.shape[1:]))
        print(f"{index} {layer.name:48s} {shape:>18s} {layer.first * 1e3:9.1f}ms "
              f"{layer.median * 1e3:8.2f}ms {rate:11.1f} {layer.relative_error:12.2e}")
    total = sum(layer.median for layer in result.layers)
    print(f"{'pipeline':50s} {'':>18s} {'':>11s} {total * 1e3:8.2f}ms "
          f"{samples / total / 1e6:11.1f}")
    worst = max(layer.relative_error for layer in result.layers)
    verdict = "OK" if result.ok else "MISMATCH"
    signals = ", ".join(str(i) for i in result.checked)
    print(f"{verdict}: max relative error {worst:.2e} against NumPy float64 (signals {signals}); "
          f"every output {'within' if result.ok else 'NOT within'} the float32 bound of its sums")
    if args.plot:
        plot(result, args.plot)
        print(f"plot written to {args.plot}")
    return 0 if result.ok else 1


def plot(result: DemoResult, path) -> None:
    """Save a figure of ``result``: the first checked signal through the pipeline.

    Top: its input and every layer's channel 0 (time axes in input samples,
    so the stride-2 layers line up). Bottom: the magnitude response of each
    of the first layer's 16 filters, in dB against normalised frequency.
    """
    import scipy.signal

    plt = _pyplot()
    signal = result.checked[0]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7))
    shown = min(result.signals.shape[-1], 2000)
    top.plot(np.arange(shown), result.signals[signal, 0, :shown], lw=0.5, color="0.6", label="input")
    for index, layer in enumerate(result.layers):
        step = result.signals.shape[-1] / layer.output.shape[-1]
        points = int(shown / step)
        top.plot(np.arange(points) * step, layer.output[0, 0, :points], lw=1,
                 label=f"{index}: {layer.name.split('(')[0]}, channel 0")
    top.set_xlabel("input sample")
    top.set_ylabel("amplitude")
    top.set_title(f"Signal {signal} through the pipeline ({result.backend}, {result.device})")
    top.legend(fontsize="small", loc="upper right")

    weights = _to_host(result.pipeline.layers[0].weight)
    for taps in weights[:, 0, :]:
        frequencies, response = scipy.signal.freqz(taps, worN=512)
        bottom.plot(frequencies / np.pi, 20 * np.log10(np.maximum(np.abs(response), 1e-12)), lw=0.8)
    bottom.set_xlabel("frequency (fraction of Nyquist)")
    bottom.set_ylabel("magnitude (dB)")
    bottom.set_title(f"Frequency response of the first layer's {weights.shape[0]} filters")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _pyplot():
    try:
        import matplotlib
    except ImportError as error:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib "
                           "(or gpuconv[notebooks])") from error
    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt

    return plt


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
