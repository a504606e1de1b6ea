"""The benchmark workloads W1-W6, their float64 references and the peers each is timed against.

W1-W5 are the CPU-performance issue's batches (zero-padded ``'same'``
convolution of every row with one odd kernel, so every peer computes the
same numbers); W6 is the deep-learning issue's two-layer pipeline, present
when `gpuconv.nn` is. Each workload gives its inputs (seeded), a float64
reference, the bytes and flops its roofline floor counts, and the calls to
time: gpuconv's first, then the peers installed here for the device.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, replace

import numpy as np

from .._plan import Request, fft_block, ndimage_window

#: Flops of a real FFT of ``L`` points, per ``L log2 L`` (half a complex one's 5).
REAL_FFT_FLOPS = 2.5


def has_module(name: str) -> bool:
    """Whether ``name`` can be imported here, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def has_nn() -> bool:
    """Whether `gpuconv.nn` (the pipeline of W6) exists and imports."""
    try:
        importlib.import_module("gpuconv.nn")
    except ImportError:
        return False
    return True


def relative_error(got, reference) -> float:
    """Largest relative error of one row: ``max_rows ||got - ref||_2 / ||ref||_2``.

    Rows are the last axis (one signal, or one channel of one batch item).

    >>> ref = np.array([[3.0, 4.0], [1.0, 0.0]])
    >>> relative_error(ref + [[0.0, 0.5], [0.0, 0.0]], ref)
    0.1
    """
    reference = np.asarray(reference, dtype=np.float64)
    got = np.asarray(got).astype(np.float64)
    if got.shape != reference.shape:
        raise ValueError(f"result has shape {got.shape}, the reference {reference.shape}")
    rows = reference.reshape(-1, reference.shape[-1])
    diff = got.reshape(rows.shape) - rows
    norms = np.linalg.norm(rows, axis=1)
    return float(np.max(np.linalg.norm(diff, axis=1) / np.where(norms > 0, norms, 1.0)))


def _with_workers(workers: int, func, *args, **kwargs):
    import scipy.fft

    with scipy.fft.set_workers(workers):
        return func(*args, **kwargs)


# --------------------------------------------------------------------------
# W1-W5: one kernel for every row, 'same' output, zero boundary
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvWorkload:
    """Every row of a ``(rows, n)`` batch convolved with one odd ``k``-tap kernel, ``'same'``.

    ``front`` is the gpuconv call that runs it: ``"convolve"`` for
    ``gpuconv.convolve(x, w, "same")``, ``"ndimage"`` for
    ``gpuconv.ndimage.convolve1d(x, w, mode="constant")`` (the same numbers).
    """

    name: str
    rows: int
    n: int
    k: int
    dtype: str
    front: str = "convolve"

    def __post_init__(self):
        if self.k % 2 == 0:  # even kernels centre differently in NumPy, SciPy and PyTorch
            raise ValueError(f"workload kernels must have an odd length, got k={self.k}")

    @property
    def title(self) -> str:
        front = ("gpuconv.convolve 'same'" if self.front == "convolve"
                 else "ndimage.convolve1d, mode='constant'")
        return f"{self.rows} × {self.n} {self.dtype}, K={self.k} ({front})"

    def scaled(self, rows: int, n: int) -> ConvWorkload:
        """The same workload on a smaller batch (``--quick``)."""
        return replace(self, rows=rows, n=n)

    def inputs(self, seed: int = 0) -> dict:
        """Normal random signals and kernel of the workload's dtype."""
        rng = np.random.default_rng(seed)
        return {"x": rng.standard_normal((self.rows, self.n)).astype(self.dtype),
                "w": rng.standard_normal(self.k).astype(self.dtype)}

    def reference(self, inputs: dict) -> np.ndarray:
        """The result in higher precision than the workload's dtype.

        float32 workloads: ``scipy.signal.fftconvolve`` in float64 (its error,
        about 1e-15 of the row's scale, is far below float32's). float64
        workloads: ``numpy.convolve`` row by row in long double where the
        direct sum is affordable, else float64 FFT.
        """
        import scipy.signal

        x, w = inputs["x"], inputs["w"]
        start = (self.k - 1) // 2
        if self.dtype == "float64" and self.rows * self.n * self.k <= 2**30:
            rows = [np.convolve(row.astype(np.longdouble), w.astype(np.longdouble))
                    for row in x]
            return np.stack(rows)[:, start:start + self.n].astype(np.float64)
        full = scipy.signal.fftconvolve(x.astype(np.float64), w.astype(np.float64)[None, :],
                                        axes=1)
        return full[:, start:start + self.n]

    def request(self) -> Request:
        """The canonical request gpuconv's front makes of the call."""
        if self.front == "ndimage":
            return Request(rows=self.rows, n=self.n, k=self.k, kernel_rows=1,
                           start=ndimage_window(self.k, 0, correlate=False), out_len=self.n,
                           boundary="constant", cval=0.0)
        return Request(rows=self.rows, n=self.n, k=self.k, kernel_rows=1,
                       start=(self.k - 1) // 2, out_len=self.n)

    def chosen_method(self, backend) -> str:
        """The method ``auto`` picks for this workload on ``backend``."""
        from .._algorithms.choose import choose_method

        return choose_method(backend, self.request(), self.dtype)

    def bytes_moved(self) -> int:
        """Each input read once and each output written once."""
        return 2 * self.rows * self.n * np.dtype(self.dtype).itemsize

    def direct_flops(self) -> float:
        """Flops of the direct sum: 2 per tap per output (the issue's FMA floor counts these)."""
        return 2.0 * self.k * self.rows * self.n

    def flops(self) -> float:
        """Fewest flops of a direct sum (2 per tap per output), whole-row FFT or blocked FFT.

        An FFT convolution counts a forward and an inverse real transform per
        row (``2.5 L log2 L`` flops each) and the spectral product (3 flops per
        point); the kernel's transform is done once.
        """
        import scipy.fft

        def fft_flops(transforms: int, length: int) -> float:
            per = REAL_FFT_FLOPS * length * math.log2(length)
            return transforms * (2 * per + 3 * length) + per

        whole = fft_flops(self.rows, scipy.fft.next_fast_len(self.n + self.k - 1, True))
        step, nfft = fft_block(self.n, self.k, lambda m: scipy.fft.next_fast_len(m, True))
        blocks = self.rows * math.ceil(self.n / step)
        return min(self.direct_flops(), whole, fft_flops(blocks, nfft))

    def gpuconv_call(self, w):
        import gpuconv

        if self.front == "ndimage":
            return lambda x: gpuconv.ndimage.convolve1d(x, w, axis=-1, mode="constant")
        return lambda x: gpuconv.convolve(x, w, "same")

    def calls(self, inputs: dict, device: str, threads: int) -> dict:
        """``{label: call(x)}``: gpuconv's call first, then the peers installed here."""
        w = inputs["w"]
        label = ("gpuconv.ndimage.convolve1d" if self.front == "ndimage" else "gpuconv.convolve")
        calls = {label: self.gpuconv_call(w)}
        if device == "cuda":
            calls.update(self._cuda_peers(w))
        else:
            calls.update(self._cpu_peers(w, threads))
        return calls

    def _cpu_peers(self, w, threads: int) -> dict:
        import scipy.ndimage
        import scipy.signal

        kernel = w[None, :]
        peers = {
            "numpy.convolve, row by row": lambda x: np.stack([np.convolve(row, w, "same")
                                                              for row in x]),
            f"scipy.signal.convolve (workers={threads})": lambda x: _with_workers(
                threads, scipy.signal.convolve, x, kernel, "same"),
            f"scipy.signal.fftconvolve (workers={threads})": lambda x: _with_workers(
                threads, scipy.signal.fftconvolve, x, kernel, "same", axes=1),
            f"scipy.signal.oaconvolve (workers={threads})": lambda x: _with_workers(
                threads, scipy.signal.oaconvolve, x, kernel, "same", axes=1),
            "scipy.ndimage.convolve1d (constant)": lambda x: scipy.ndimage.convolve1d(
                x, w, axis=-1, mode="constant"),
        }
        if has_module("torch"):
            import torch
            import torch.nn.functional as F

            torch.set_num_threads(threads)
            # conv1d correlates: the flipped kernel convolves; padding (k-1)/2 gives 'same'
            weight = torch.from_numpy(np.ascontiguousarray(w[::-1]))[None, None, :]
            padding = (self.k - 1) // 2

            def torch_conv(x):
                with torch.no_grad():
                    return F.conv1d(torch.from_numpy(x)[:, None, :], weight,
                                    padding=padding)[:, 0].numpy()

            peers[f"torch.nn.functional.conv1d (threads={threads})"] = torch_conv
        return peers

    def _cuda_peers(self, w) -> dict:
        import cupy
        import cupyx.scipy.ndimage
        import cupyx.scipy.signal

        kernel = w[None, :]
        peers = {
            "cupy.convolve, row by row": lambda x: cupy.stack([cupy.convolve(row, w, "same")
                                                               for row in x]),
            "cupyx.scipy.signal.fftconvolve": lambda x: cupyx.scipy.signal.fftconvolve(
                x, kernel, "same", axes=1),
            "cupyx.scipy.signal.oaconvolve": lambda x: cupyx.scipy.signal.oaconvolve(
                x, kernel, "same", axes=1),
            "cupyx.scipy.ndimage.convolve1d (constant)": lambda x: cupyx.scipy.ndimage.convolve1d(
                x, w, axis=-1, mode="constant"),
        }
        if has_module("torch"):
            import torch
            import torch.nn.functional as F

            if torch.cuda.is_available():
                weight = torch.from_dlpack(cupy.ascontiguousarray(w[::-1]))[None, None, :]
                padding = (self.k - 1) // 2

                def torch_conv(x):
                    with torch.no_grad():
                        return F.conv1d(torch.from_dlpack(x)[:, None, :], weight,
                                        padding=padding)[:, 0]

                peers["torch.nn.functional.conv1d (CUDA)"] = torch_conv
        return peers


# --------------------------------------------------------------------------
# W6: the two-layer pipeline of the deep-learning issue
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class PipelineWorkload:
    """``Conv1d(1, C, K, stride=2, padding=K//2) -> ReLU -> Conv1d(C, C, K, padding=K//2)``."""

    name: str = "W6"
    batch: int = 32
    length: int = 65536
    channels: int = 16
    k: int = 9
    dtype: str = "float32"

    @property
    def padding(self) -> int:
        return self.k // 2

    @property
    def title(self) -> str:
        c, k, p = self.channels, self.k, self.padding
        return (f"({self.batch}, 1, {self.length}) {self.dtype} through Conv1d(1, {c}, {k}, "
                f"stride=2, padding={p}) → ReLU → Conv1d({c}, {c}, {k}, padding={p})")

    def scaled(self, batch: int, length: int) -> PipelineWorkload:
        return replace(self, batch=batch, length=length)

    def hidden_length(self) -> int:
        return (self.length + 2 * self.padding - self.k) // 2 + 1

    def inputs(self, seed: int = 0) -> dict:
        """Normal signals; weights and biases uniform in PyTorch's default range."""
        rng = np.random.default_rng(seed)
        c, k = self.channels, self.k

        def uniform(shape, fan_in):
            bound = 1 / math.sqrt(fan_in)
            return rng.uniform(-bound, bound, shape).astype(self.dtype)

        return {"x": rng.standard_normal((self.batch, 1, self.length)).astype(self.dtype),
                "w1": uniform((c, 1, k), k), "b1": uniform(c, k),
                "w2": uniform((c, c, k), c * k), "b2": uniform(c, c * k)}

    def reference(self, inputs: dict) -> np.ndarray:
        """The pipeline in float64 with NumPy (windows times weights, a few items at a time)."""
        f64 = {name: value.astype(np.float64) for name, value in inputs.items()}
        hidden = np.maximum(_conv1d_reference(f64["x"], f64["w1"], f64["b1"], 2, self.padding), 0)
        return _conv1d_reference(hidden, f64["w2"], f64["b2"], 1, self.padding)

    def bytes_moved(self) -> int:
        """Each conv layer's input read and output written once (ReLU fused)."""
        hidden = self.batch * self.channels * self.hidden_length()
        items = self.batch * self.length + hidden + hidden + hidden
        return items * np.dtype(self.dtype).itemsize

    def flops(self) -> float:
        outputs = self.batch * self.channels * self.hidden_length()
        return 2.0 * self.k * outputs * (1 + self.channels)

    def chosen_method(self, backend) -> None:
        """None: each layer of `gpuconv.nn` picks its own path."""
        del backend

    def calls(self, inputs: dict, device: str, threads: int) -> dict:
        import gpuconv.nn as nn

        model = nn.Sequential(
            nn.Conv1d.from_weights(inputs["w1"], inputs["b1"], stride=2, padding=self.padding,
                                   device=device),
            nn.ReLU(),
            nn.Conv1d.from_weights(inputs["w2"], inputs["b2"], padding=self.padding,
                                   device=device))
        calls = {"gpuconv.nn.Sequential": model}
        if has_module("torch"):
            import torch
            import torch.nn.functional as F

            if device == "cuda":
                if not torch.cuda.is_available():
                    return calls
                tensor, label = torch.from_dlpack, "torch.nn.functional.conv1d ×2 (CUDA)"
            else:
                torch.set_num_threads(threads)
                tensor, label = torch.from_numpy, f"torch.nn.functional.conv1d ×2 (threads={threads})"
            weights = {name: tensor(value) for name, value in inputs.items() if name != "x"}
            padding = self.padding

            def torch_pipeline(x):
                with torch.no_grad():
                    hidden = F.relu(F.conv1d(tensor(x), weights["w1"], weights["b1"],
                                             stride=2, padding=padding))
                    out = F.conv1d(hidden, weights["w2"], weights["b2"], padding=padding)
                return out if device == "cuda" else out.numpy()

            calls[label] = torch_pipeline
        return calls


def _conv1d_reference(x, weight, bias, stride: int, padding: int, items: int = 4):
    """``torch.nn.functional.conv1d`` (NCL, cross-correlation) in NumPy, ``items`` at a time."""
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    windows = sliding_window_view(padded, weight.shape[-1], axis=-1)[:, :, ::stride, :]
    out = np.empty((x.shape[0], weight.shape[0], windows.shape[2]))
    for lo in range(0, x.shape[0], items):
        out[lo:lo + items] = np.einsum("nclk,ock->nol", windows[lo:lo + items], weight,
                                       optimize=True)
    return out + bias[None, :, None]


# --------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------

WORKLOADS = {
    "W1": ConvWorkload("W1", 64, 262144, 15, "float32"),
    "W2": ConvWorkload("W2", 64, 262144, 127, "float32"),
    "W3": ConvWorkload("W3", 16, 262144, 4095, "float32"),
    "W4": ConvWorkload("W4", 100000, 256, 7, "float32", front="ndimage"),
    "W5": ConvWorkload("W5", 1, 2**24, 31, "float64"),
    "W6": PipelineWorkload(),
}

#: ``--quick`` sizes: the same kernels and dtypes on batches small enough
#: for a CI smoke run.
QUICK_SIZES = {
    "W1": (8, 32768), "W2": (8, 32768), "W3": (4, 32768), "W4": (8192, 256),
    "W5": (1, 2**20), "W6": (4, 8192),
}


def workload(name: str, *, quick: bool = False):
    """Workload ``name`` (``"W1"``..``"W6"``), at ``--quick`` size when asked.

    >>> workload("W1").title
    "64 × 262144 float32, K=15 (gpuconv.convolve 'same')"
    >>> workload("W3", quick=True).rows
    4
    """
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    chosen = WORKLOADS[name]
    return chosen.scaled(*QUICK_SIZES[name]) if quick else chosen
