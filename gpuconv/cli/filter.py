"""``gpuconv filter``: filter the signals of a file, in chunks when it is large.

One filter per run: a kernel from a ``.npy`` file, a moving average, a
Gaussian, or a windowed-sinc FIR low-pass or band-pass (`scipy.signal.firwin`).

``--mode`` takes two kinds of value:

* ``same`` (the default for kernels), ``full``, ``valid`` — the output of
  ``scipy.signal.convolve(x, kernel, mode)`` along the time axis, zeros past
  the ends; ``causal`` — the first ``n`` outputs of ``full``, which is
  ``scipy.signal.lfilter(kernel, 1, x)``.
* a ``scipy.ndimage`` boundary mode (``reflect``, the default for the
  smoothing filters, ``constant`` with ``--cval``, ``nearest``, ``mirror``,
  ``wrap``) — ``gpuconv.ndimage.convolve1d`` for kernels,
  ``uniform_filter1d`` and ``gaussian_filter1d`` for the smoothing filters;
  the output has the input's length.

Inputs that fit in ``--chunk-size`` are filtered by one call of those
functions. Larger ones are read through memory maps: whole signals in blocks
of rows when one signal fits, else every signal streamed along its time axis
through `gpuconv.StreamingConvolver`, with the boundary samples each mode
reads fed before and after the signal and the centre's delay trimmed, so the
result is the one-call result to the method's accuracy.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import sys
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

from . import _formats

HELP = "filter the signals of a .npy, .npz, .wav or .csv file (in chunks when it is large)"

SIGNAL_MODES = ("same", "full", "valid", "causal")
BOUNDARY_MODES = ("reflect", "constant", "nearest", "mirror", "wrap")
DEFAULT_CHUNK = "256M"
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def add_arguments(parser) -> None:
    parser.add_argument("input", metavar="IN", help="the file to filter (.npy, .npz, .wav, .csv)")
    parser.add_argument("--out", metavar="OUT",
                        help="where to write (same format as IN; default IN.filtered.EXT)")
    kinds = parser.add_mutually_exclusive_group(required=True)
    kinds.add_argument("--kernel", metavar="K.npy", help="convolve with the 1-D kernel in K.npy")
    kinds.add_argument("--moving-average", metavar="N", type=_positive_int,
                       help="moving average of N samples (scipy.ndimage.uniform_filter1d)")
    kinds.add_argument("--gaussian", metavar="SIGMA", type=_positive_float,
                       help="Gaussian of standard deviation SIGMA samples, cut at 4 SIGMA "
                            "(scipy.ndimage.gaussian_filter1d)")
    kinds.add_argument("--fir-lowpass", metavar="CUTOFF", type=_positive_float,
                       help="FIR low-pass, scipy.signal.firwin(TAPS, CUTOFF): CUTOFF in Hz for "
                            "WAV or with --rate, else as a fraction of Nyquist")
    kinds.add_argument("--fir-bandpass", metavar=("LO", "HI"), nargs=2, type=_positive_float,
                       help="FIR band-pass from LO to HI (units as --fir-lowpass)")
    parser.add_argument("--taps", type=_positive_int, help="number of FIR taps (with --fir-*)")
    parser.add_argument("--rate", type=_positive_float,
                        help="sample rate in Hz of a .npy/.npz/.csv input, for --fir-* cutoffs in Hz")
    parser.add_argument("--key", help="filter only this array of an .npz (the others are copied)")
    parser.add_argument("--axis", type=int,
                        help="time axis of .npy/.npz arrays (default -1); .wav and .csv "
                             "files hold signals in columns")
    parser.add_argument("--mode", choices=SIGNAL_MODES + BOUNDARY_MODES,
                        help="same|full|valid|causal (kernels, default same) or a boundary mode "
                             "(default reflect for --moving-average/--gaussian); see the guide")
    parser.add_argument("--cval", type=float, default=0.0,
                        help="value past the ends for --mode constant (default 0)")
    parser.add_argument("--method", choices=("auto", "direct", "fft", "oa"), default="auto",
                        help="convolution method (default auto)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to compute (default: the GPU when usable, else the CPU)")
    parser.add_argument("--chunk-size", metavar="S", type=parse_size, default=parse_size(DEFAULT_CHUNK),
                        help=f"bytes of samples filtered at once, e.g. 64M, 1G (default {DEFAULT_CHUNK}); "
                             "peak memory is a few times this")
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (value > 0 and np.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def parse_size(text: str) -> int:
    """Bytes from ``"4096"``, ``"64K"``, ``"256M"``, ``"1.5G"`` (powers of 1024).

    >>> parse_size("64M"), parse_size("1.5k"), parse_size("100")
    (67108864, 1536, 100)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    value = float(match.group(1)) * UNITS[match.group(2).upper()] if match else 0.0
    size = int(value) if math.isfinite(value) else 0  # 400 nines make inf
    if size < 1:
        raise argparse.ArgumentTypeError(
            f"must be a size in bytes such as 4096, 64M or 1G, got {text!r}")
    return size


# --------------------------------------------------------------------------
# The filter: one-call form and streaming form of the same computation
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Filter:
    """A filter as both a gpuconv call and a canonical streaming window.

    ``kind`` is ``'uniform'``, ``'gaussian'`` or ``'kernel'``; ``weights``
    are float64 (or complex) taps: the kernel, or the correlation weights of
    the smoothing filters.

    >>> taps = Filter("kernel", np.ones(5) / 5, mode="same", cval=0.0, method="direct")
    >>> taps.window(100)       # 'same': outputs 2 .. 101 of the full convolution
    (2, 100)
    >>> taps.call(np.arange(6.0), axis=0)
    array([0.6, 1.2, 2. , 3. , 2.8, 2.4])
    """

    kind: str
    weights: np.ndarray
    mode: str
    cval: float
    method: str
    size: int = 0
    sigma: float = 0.0

    @property
    def taps(self) -> int:
        return self.weights.shape[0]

    def call(self, x, axis: int):
        """The one-call result: the gpuconv function a user would call."""
        import gpuconv
        from gpuconv import ndimage

        options = dict(mode=self.mode, cval=self.cval, method=self.method)
        if self.kind == "uniform":
            return ndimage.uniform_filter1d(x, self.size, axis, **options)
        if self.kind == "gaussian":
            return ndimage.gaussian_filter1d(x, self.sigma, axis, **options)
        kernel = self.weights.astype(work_dtype(x.dtype, self.weights.dtype))
        if self.mode in BOUNDARY_MODES:
            return ndimage.convolve1d(x, kernel, axis, **options)
        full = gpuconv.convolve(x, kernel, "full", axis=axis, method=self.method)
        start, length = self.window(x.shape[axis])
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, start + length)
        return full[tuple(index)]

    def window(self, n: int) -> tuple[int, int]:
        """``(start, out_len)`` within the full convolution of the extended signal."""
        from gpuconv._plan import ndimage_window

        k = self.taps
        if self.mode in BOUNDARY_MODES:
            return ndimage_window(k, 0, correlate=self.kind != "kernel"), n
        return {"full": (0, n + k - 1), "same": ((k - 1) // 2, n),
                "valid": (k - 1, n - k + 1), "causal": (0, n)}[self.mode]

    def stream_kernel(self, dtype) -> np.ndarray:
        """The convolution kernel: correlation weights are reversed (and conjugated)."""
        weights = self.weights if self.kind == "kernel" else np.conj(self.weights[::-1])
        return np.ascontiguousarray(weights.astype(dtype))


def design_filter(args, rate) -> Filter:
    """The `Filter` the options ask for; ``ValueError`` on a bad combination."""
    fir = args.fir_lowpass is not None or args.fir_bandpass is not None
    smoothing = args.moving_average is not None or args.gaussian is not None
    if fir and args.taps is None:
        raise ValueError("--fir-lowpass and --fir-bandpass need --taps N")
    if not fir and args.taps is not None:
        raise ValueError("--taps goes with --fir-lowpass or --fir-bandpass")
    if args.rate is not None and not fir:
        raise ValueError("--rate goes with --fir-lowpass or --fir-bandpass")
    mode = args.mode or ("reflect" if smoothing else "same")
    if smoothing and mode in SIGNAL_MODES:
        raise ValueError(f"--mode {mode} is for kernels; --moving-average and --gaussian take a "
                         f"boundary mode: {', '.join(BOUNDARY_MODES)}")
    if args.cval != 0 and mode != "constant":
        raise ValueError("--cval goes with --mode constant")
    common = dict(mode=mode, cval=args.cval, method=args.method)

    if args.moving_average is not None:
        size = args.moving_average
        return Filter("uniform", np.full(size, 1.0 / size), size=size, **common)
    if args.gaussian is not None:
        from gpuconv.ndimage import gaussian_weights

        return Filter("gaussian", gaussian_weights(args.gaussian), sigma=args.gaussian, **common)
    if args.kernel is not None:
        return Filter("kernel", load_kernel(args.kernel), **common)
    return Filter("kernel", fir_taps(args, rate), **common)


def load_kernel(path: str) -> np.ndarray:
    """A 1-D numeric kernel from ``.npy``; ``ValueError`` otherwise."""
    if _formats.format_of(path, "--kernel") != ".npy":
        raise ValueError(f"--kernel must be a .npy file, got {path!r}")
    try:
        kernel = np.load(path, allow_pickle=False)
    except _formats.READ_ERRORS as error:
        raise ValueError(f"cannot read --kernel {path!r}: {_formats.one_line(error)}") from None
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 1 or kernel.shape[0] == 0:
        raise ValueError(f"--kernel must hold a non-empty 1-D array, got shape "
                         f"{getattr(kernel, 'shape', None)}")
    if kernel.dtype.kind not in "biufc":
        raise ValueError(f"--kernel must be numeric, got dtype {kernel.dtype}")
    return kernel.astype(np.complex128 if kernel.dtype.kind == "c" else np.float64)


def fir_taps(args, rate) -> np.ndarray:
    """``scipy.signal.firwin`` taps; cutoffs in Hz when a rate is known."""
    import scipy.signal

    if rate is not None and args.rate is not None:
        raise ValueError(f"--rate is for files without a sample rate; this WAV file has "
                         f"{rate} Hz and its rate is used")
    fs = rate or args.rate or 2.0  # 2.0: cutoffs as fractions of Nyquist
    option = "--fir-lowpass" if args.fir_lowpass is not None else "--fir-bandpass"
    try:
        if args.fir_lowpass is not None:
            return scipy.signal.firwin(args.taps, args.fir_lowpass, fs=fs)
        return scipy.signal.firwin(args.taps, list(args.fir_bandpass), pass_zero=False, fs=fs)
    except ValueError as error:
        unit = "Hz" if fs != 2.0 else "as a fraction of Nyquist"
        raise ValueError(f"{option} (sample rate {fs:g}, cutoffs {unit}): "
                         f"{_formats.one_line(error)}") from None


def work_dtype(dtype, kernel_dtype=np.float64) -> np.dtype:
    """The dtype samples are filtered in: the input's floating precision
    (float16 in float32), float64 for integers, complex when the kernel is.

    >>> work_dtype(np.int16), work_dtype(np.float32), work_dtype(np.float32, np.complex128)
    (dtype('float64'), dtype('float32'), dtype('complex64'))
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "fc" and dtype.itemsize > (8 if dtype.kind == "f" else 16):
        raise ValueError(f"samples of dtype {dtype} are not supported (use float64 or complex128)")
    work = np.promote_types(dtype, np.float32) if dtype.kind in "fc" else np.dtype(np.float64)
    if np.dtype(kernel_dtype).kind == "c":
        work = np.promote_types(work, np.complex64)
    return work


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------

def run(args) -> int:
    fmt = _formats.format_of(args.input)
    if args.out == "":
        raise ValueError("--out must name a file, got ''")
    out = default_output(args.input) if args.out is None else args.out
    check_paths(args.input, out, fmt, force=args.force)
    source_file = _formats.read_input(args.input, fmt, key=args.key)
    if args.axis is not None and fmt in (".wav", ".csv"):
        raise ValueError(f"--axis applies to .npy/.npz arrays; {fmt} files hold one signal per column")
    design = design_filter(args, source_file.rate)
    device = _device(args.device)

    directory = os.path.dirname(os.path.abspath(out))
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=f".{os.path.basename(out)}.",
                                         suffix=".part", delete=False)
    try:
        with _terminate_as_interrupt():
            with handle:
                _write_output(handle, source_file, args, design, device, fmt)
            _sync(handle.name)  # the data reaches the disk before the name does
        _set_default_permissions(handle.name)
        os.replace(handle.name, out)
    except KeyboardInterrupt:
        os.unlink(handle.name)
        print("gpuconv filter: interrupted; no output written", file=sys.stderr)
        return 130
    except BaseException:
        os.unlink(handle.name)
        raise
    print(f"gpuconv filter: wrote {out}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a job scheduler, ``kill``) raises KeyboardInterrupt, as Ctrl-C
    does, so the temporary file is removed either way; only SIGKILL leaves it."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sync(path: str) -> None:
    with open(path, "rb") as written:
        os.fsync(written.fileno())


def default_output(path: str) -> str:
    """``IN.filtered.EXT``.

    >>> default_output("take1.wav")
    'take1.filtered.wav'
    """
    stem, ext = os.path.splitext(path)
    return f"{stem}.filtered{ext}"


def check_paths(source: str, out: str, fmt: str, *, force: bool) -> None:
    """The input exists, the output is another file of the same format and
    is not overwritten without ``--force``."""
    if not os.path.isfile(source):
        what = "a directory, not a file" if os.path.isdir(source) else "no such file"
        raise ValueError(f"cannot read {source!r}: {what}")
    if _formats.format_of(out, "--out") != fmt:
        raise ValueError(f"--out must have the input's extension {fmt}, got {out!r}")
    if os.path.realpath(out) == os.path.realpath(source) or (
            os.path.exists(out) and os.path.samefile(out, source)):
        raise ValueError(f"--out {out!r} is the input file; the input is never written")
    if os.path.isdir(out):
        raise ValueError(f"--out {out!r} is a directory; --force replaces only files")
    if os.path.lexists(out) and not force:  # a dangling link is an entry to keep too
        raise ValueError(f"{out!r} exists; pass --force to overwrite it")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise ValueError(f"--out {out!r}: its directory does not exist")


def _device(device: str) -> str:
    from gpuconv import backends

    if device == "auto":
        return backends.default_device()
    if device == "cuda":
        backends.backend_named("cupy")  # RuntimeError saying why, before any work
    return device


def _set_default_permissions(path: str) -> None:
    # NamedTemporaryFile makes 0600 files; an output gets what open() would give.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _write_output(handle, source_file, args, design, device, fmt) -> None:
    chunk = args.chunk_size
    if fmt == ".npz":
        method = zipfile.ZIP_DEFLATED if source_file.compressed else zipfile.ZIP_STORED
        with zipfile.ZipFile(handle, "w", compression=method, allowZip64=True) as zipped:
            for source in source_file.sources:
                sink = _formats.MemorySink(*_output_layout(source, design, args.axis)[:3])
                filter_source(source, sink, design, args.axis, device, chunk)
                _formats.write_npz_member(zipped, source.name, sink.array)
                source.release()
            for name in source_file.passthrough:
                _formats.copy_npz_member(args.input, zipped, name)
        return
    source = source_file.sources[0]
    shape, dtype, axis = _output_layout(source, design, args.axis)
    if fmt == ".npy":
        sink = _formats.NpySink(handle, shape, dtype, axis, source.fortran)
    elif fmt == ".wav":
        if dtype.kind == "c":
            raise ValueError("a complex kernel gives complex samples, which WAV cannot hold")
        sink = _formats.WavSink(handle, source_file.rate, shape, source.dtype, source.offset)
    else:
        if dtype.kind == "c":
            raise ValueError("a complex kernel gives complex samples; write .npy instead of .csv")
        sink = _formats.MemorySink(shape, dtype, axis)
    filter_source(source, sink, design, args.axis, device, chunk)
    if fmt == ".csv":
        _formats.write_csv(handle, sink.array, source_file.header)


def _output_layout(source, design, axis):
    """Output ``(shape, work dtype, time axis)`` of one source."""
    axis = _time_axis(source, axis)
    n = source.shape[axis]
    start, length = design.window(n)
    if length < 1:
        raise ValueError(f"--mode valid needs signals at least as long as the kernel: "
                         f"{n} samples, {design.taps} taps")
    shape = list(source.shape)
    shape[axis] = length
    return tuple(shape), work_dtype(source.dtype, design.weights.dtype), axis


def _time_axis(source, axis) -> int:
    if not source.shape:
        raise ValueError(f"{_label(source)} is a scalar; there is no signal to filter")
    chosen = source.axis if axis is None else axis
    if not -len(source.shape) <= chosen < len(source.shape):
        raise ValueError(f"--axis {chosen} is out of range for {_label(source)} of shape "
                         f"{source.shape}")
    if source.shape[chosen] == 0:
        raise ValueError(f"{_label(source)} has no samples along axis {chosen}")
    return chosen % len(source.shape)


def _label(source) -> str:
    return "the array" if source.name is None else f"array {source.name!r}"


def filter_source(source, sink, design, axis, device, chunk_bytes) -> None:
    """Filter one array from ``source`` into ``sink``, ``chunk_bytes`` at a time.

    The array is seen as ``(outer, n, inner)`` with the time axis in the
    middle. When ``n * inner`` samples fit in a chunk, blocks of whole
    signals go through `Filter.call`; otherwise each block of rows is
    streamed along time.
    """
    from tqdm import tqdm

    axis = _time_axis(source, axis)
    work = work_dtype(source.dtype, design.weights.dtype)
    outer, n, inner = _formats.shape3(source.shape, axis, source.fortran)
    _, out_len = design.window(n)
    budget = max(1, chunk_bytes // work.itemsize)  # samples per block
    progress = tqdm(total=outer * out_len * inner, unit="sample", unit_scale=True,
                    desc=source.name or "filter", file=sys.stderr, leave=False,
                    disable=not sys.stderr.isatty())
    with progress:
        if n * inner <= budget:
            rows_per_block = max(1, budget // max(1, n * inner))  # no samples: one block
            for first in range(0, outer, rows_per_block):
                rows = slice(first, min(first + rows_per_block, outer))
                block = _read(source, axis, rows, slice(0, n), work)
                result = _to_host(design.call(_on_device(block, device), axis=1))
                sink.write(rows, 0, result)
                progress.update(result.size)
        else:
            rows_per_block = max(1, min(outer, budget // (inner * 4096)))
            step = max(1, budget // (rows_per_block * inner))
            for first in range(0, outer, rows_per_block):
                rows = slice(first, min(first + rows_per_block, outer))
                _stream_rows(source, sink, design, axis, rows, step, work, device, progress)


def _stream_rows(source, sink, design, axis, rows, step, work, device, progress) -> None:
    """Stream one block of rows along time: boundary samples, the signal,
    boundary samples, keeping outputs ``start .. start + out_len`` of the
    convolution of the extended signal."""
    from gpuconv import StreamingConvolver
    from gpuconv._algorithms.boundary import source_index
    from gpuconv._plan import BOUNDARIES, extension

    _, n, inner = _formats.shape3(source.shape, axis, source.fortran)
    start, out_len = design.window(n)
    k = design.taps
    left, right = extension(n, k, start, out_len)
    count = rows.stop - rows.start
    stream = StreamingConvolver(design.stream_kernel(work), channels=count * inner,
                                device=device, method=design.method)
    skip, written = start + left, 0

    def boundary(positions):
        if design.mode in SIGNAL_MODES or BOUNDARIES[design.mode] == "constant":
            value = 0.0 if design.mode in SIGNAL_MODES else design.cval
            return np.full((count, len(positions), inner), value, dtype=work)
        index = source_index(positions, n, BOUNDARIES[design.mode])
        return _read(source, axis, rows, index, work)

    def feed(block):  # block: (count, T, inner) samples of the extended signal
        nonlocal skip, written
        for begin in range(0, block.shape[1], step):
            piece = block[:, begin:begin + step]
            t = piece.shape[1]
            flat = np.ascontiguousarray(piece.transpose(0, 2, 1)).reshape(count * inner, t)
            out = _to_host(stream.process(_on_device(flat, device)))
            out = out.reshape(count, inner, t).transpose(0, 2, 1)
            dropped = min(skip, t)
            skip -= dropped
            kept = out[:, dropped:dropped + out_len - written]
            if kept.shape[1]:
                sink.write(rows, written, kept)
                written += kept.shape[1]
                progress.update(kept.size)

    feed(boundary(np.arange(-left, 0)))
    for begin in range(0, n, step):
        if written == out_len:
            break
        feed(_read(source, axis, rows, slice(begin, min(begin + step, n)), work))
    if written < out_len:
        feed(boundary(np.arange(n, n + right)))
    if written != out_len:  # the window arithmetic above guarantees this
        raise RuntimeError(f"internal error: {written} of {out_len} outputs produced")


def _read(source, axis, rows, along, work) -> np.ndarray:
    """Samples ``[rows, along, :]`` of the ``(outer, n, inner)`` view, as ``work``.

    The file is mapped for this read only: dropping the map afterwards keeps
    the pages it touched out of the process's resident memory.
    """
    try:
        mapped = source.open()
        view = _formats.as3d(mapped, axis, source.fortran)
        block = np.array(view[rows][:, along], dtype=work)
    except _formats.READ_ERRORS as error:
        raise ValueError(f"cannot read the input's samples: {_formats.one_line(error)}") from None
    finally:
        mapped = view = None  # noqa: F841 (unmaps)
    if source.offset:
        block -= source.offset
    return block


def _on_device(block, device):
    if device == "cuda":
        from gpuconv import backends
        return backends.backend_named("cupy").asarray(block)
    return block


def _to_host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)
