"""File formats of ``gpuconv filter``: ``.npy``, ``.npz``, ``.wav`` and ``.csv``.

Reading gives `Source` objects, one per signal array: its shape, dtype, time
axis and a way to reach the samples. Large ``.npy`` and ``.wav`` inputs are
memory-mapped read-only, and mapped afresh for every chunk, so the pages a
chunk touched leave the process when the chunk is done and its resident
memory stays bounded by the chunk size. Writing goes to an open temporary
file through a sink per output array; `gpuconv.cli.filter` renames the file
into place once everything is written.

Every read failure (missing, unreadable, truncated or mismatched file) comes
out as a one-line `ValueError` naming the file.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

FORMATS = (".npy", ".npz", ".wav", ".csv")

#: What NumPy, SciPy's WAV reader and zipfile raise on a bad file.
READ_ERRORS = (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, struct.error,
               zipfile.BadZipFile, zlib.error, UnicodeDecodeError, pickle.UnpicklingError)

#: WAV sample types SciPy writes (24-bit PCM is read by SciPy as int32).
WAV_DTYPES = ("uint8", "int16", "int32", "int64", "float32", "float64")
WAV_FORMAT_PCM, WAV_FORMAT_FLOAT = 1, 3


def format_of(path: str, what: str = "IN") -> str:
    """The file's format from its extension; ``ValueError`` if unsupported.

    >>> format_of("take1.WAV")
    '.wav'
    """
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise ValueError(f"{what} {path!r} has extension {suffix or '(none)'!r}; "
                         f"supported: {', '.join(FORMATS)}")
    return suffix


def one_line(error: BaseException) -> str:
    """An exception's message on one line (a CLI error is one line)."""
    return " ".join(str(error).split()) or type(error).__name__


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

@dataclass
class Source:
    """One signal array of the input file.

    ``open()`` returns the samples as an array (a fresh read-only memory map
    for ``.npy`` and ``.wav``); callers drop it after each chunk. ``offset``
    is subtracted from the samples before filtering (128 for unsigned 8-bit
    WAV, whose silence is 128).
    """

    name: str | None
    shape: tuple
    dtype: np.dtype
    axis: int
    opener: object = field(repr=False)
    offset: float = 0.0
    fortran: bool = False
    release: object = field(default=lambda: None, repr=False)

    def open(self) -> np.ndarray:
        return self.opener()


@dataclass
class Input:
    """A read input file: its signal arrays and what the writer must keep."""

    format: str
    sources: list
    rate: int | None = None         # samples per second (WAV)
    header: str | None = None       # CSV header line
    passthrough: tuple = ()         # npz member file names copied unchanged
    compressed: bool = False        # npz written with deflate


def check_later_output(path: str, option: str, suffix: str | None = None) -> None:
    """Refuse, before a long run, an output path that its end could not write."""
    if suffix and not path.lower().endswith(suffix):
        raise ValueError(f"{option} must name a {suffix} file, got {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{option} {path!r} is a directory")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise ValueError(f"{option} {path!r}: its directory does not exist")


def read_input(path: str, fmt: str, *, key: str | None = None) -> Input:
    """Open ``path`` (never for writing) and describe its signal arrays."""
    if key is not None and fmt != ".npz":
        raise ValueError(f"--key selects an array of an .npz file; {path!r} is a {fmt} file")
    try:
        reader = {".npy": _read_npy, ".npz": _read_npz, ".wav": _read_wav, ".csv": _read_csv}[fmt]
        return reader(path, key) if fmt == ".npz" else reader(path)
    except READ_ERRORS as error:
        if isinstance(error, FileNotFoundError):
            raise ValueError(f"cannot read {path!r}: no such file") from None
        raise ValueError(f"cannot read {path!r} as a {fmt} file: {one_line(error)}") from None


def _check_numeric(dtype, what: str) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind not in "biufc":
        raise ValueError(f"{what} has dtype {dtype}; only numeric arrays can be filtered")
    return dtype


def _read_npy(path: str) -> Input:
    probe = np.load(path, mmap_mode="r", allow_pickle=False)
    dtype = _check_numeric(probe.dtype, "the array")
    fortran = probe.ndim > 1 and probe.flags.f_contiguous and not probe.flags.c_contiguous
    source = Source(None, probe.shape, dtype, -1, fortran=fortran,
                    opener=lambda: np.load(path, mmap_mode="r", allow_pickle=False))
    del probe
    return Input(".npy", [source])


def _read_npz(path: str, key: str | None) -> Input:
    with zipfile.ZipFile(path) as zipped:
        compressed = any(info.compress_type != zipfile.ZIP_STORED for info in zipped.infolist())
        members = zipped.namelist()
    names = [member[:-4] for member in members if member.endswith(".npy")]  # NumPy's names
    if not names:
        raise ValueError("the archive holds no arrays")
    if key is not None and key not in names:
        raise ValueError(f"--key {key!r} is not in the archive; its arrays are {', '.join(names)}")
    filtered = names if key is None else [key]
    sources = []
    for name in filtered:
        array = _NpzMember(path, name)
        shape, dtype = array.header()
        _check_numeric(dtype, f"array {name!r}")
        sources.append(Source(name, shape, dtype, -1, opener=array.load, release=array.release))
    # Every other member, array or not, copied as it is (by its name in the zip).
    kept = {name + ".npy" for name in filtered}
    passthrough = tuple(member for member in members if member not in kept)
    return Input(".npz", sources, passthrough=passthrough, compressed=compressed)


class _NpzMember:
    """An array inside an ``.npz``: a zip member cannot be memory-mapped, so
    it is read whole, once, and kept only while it is being filtered."""

    def __init__(self, path: str, name: str):
        self.path, self.name, self._array = path, name, None

    def header(self):
        with zipfile.ZipFile(self.path) as zipped, zipped.open(self.name + ".npy") as member:
            shape, _, dtype = _array_header(member, np.lib.format.read_magic(member))
        return shape, dtype

    def load(self) -> np.ndarray:
        if self._array is None:
            with np.load(self.path, allow_pickle=False) as archive:
                self._array = np.ascontiguousarray(archive[self.name])
        return self._array

    def release(self) -> None:
        self._array = None


def _array_header(member, version):
    """``(shape, fortran_order, dtype)`` of an ``.npy`` stream's header."""
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    return shape, fortran, dtype


def _read_wav(path: str) -> Input:
    import scipy.io.wavfile

    def read(**options):
        # The layout is checked below; SciPy's warnings (an unknown chunk, a
        # RIFF size past the end, as streaming writers leave it) say no more.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)
            return scipy.io.wavfile.read(path, **options)

    def opener():
        return read(mmap=True)[1]

    _check_wav_layout(path)
    try:
        rate, probe = read(mmap=True)
    except ValueError as error:
        if not str(error).startswith("mmap=True not compatible"):
            raise
        # 24-bit PCM cannot be mapped: SciPy reads it into int32 (whole).
        rate, data = read()
        probe, opener = data, (lambda: data)
    if probe.dtype.name not in WAV_DTYPES:
        raise ValueError(f"WAV samples of dtype {probe.dtype} are not supported")
    if rate < 1:  # the FIR cutoffs would be read as fractions of Nyquist without a word
        raise ValueError(f"the header gives a sample rate of {rate} Hz")
    offset = 128.0 if probe.dtype == np.uint8 else 0.0
    source = Source(None, probe.shape, probe.dtype, 0, opener=opener, offset=offset)
    del probe
    return Input(".wav", [source], rate=int(rate))


def _check_wav_layout(path: str) -> None:
    """Refuse, with the reason, the layouts SciPy reads badly or not at all.

    * The data chunk announces more whole samples than the file holds:
      SciPy maps it with an error that does not say so, and reads 24-bit
      samples short without a word. SciPy reads the last data chunk, so
      that one is checked.
    * The fmt chunk gives no channels, or blocks of fewer bytes than
      channels: SciPy divides by both.
    * No data chunk within the RIFF size, or the file ends inside a chunk's
      header: SciPy then fails with an internal error or reads nothing.

    RIFF, big-endian RIFX and RF64 (whose sizes are in its ds64 chunk);
    other files are left to SciPy's own checks.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)
        order = {b"RIFF": "<", b"RIFX": ">", b"RF64": "<"}.get(head[:4])
        if order is None or head[8:12] != b"WAVE":
            return
        riff_size, rf64_data_size = struct.unpack(order + "I", head[4:8])[0], None
        if head[:4] == b"RF64":
            ds64 = handle.read(24)
            if len(ds64) < 24 or ds64[:4] != b"ds64":
                return
            riff_size, rf64_data_size = struct.unpack("<QQ", ds64[8:24])
            handle.seek(20 + struct.unpack("<I", ds64[4:8])[0])  # past the ds64 chunk
        file_size = os.fstat(handle.fileno()).st_size
        sample_bytes, data = None, None  # data: (start, size) of the last data chunk
        while handle.tell() < riff_size + 8:
            header = handle.read(8)
            if 0 < len(header) < 8:
                raise ValueError("the file ends inside a chunk's header (truncated?)")
            if not header:
                break
            name, size = header[:4], struct.unpack(order + "I", header[4:])[0]
            if name == b"fmt ":
                fmt = handle.read(min(size, 14))
                handle.seek(-len(fmt), os.SEEK_CUR)
                if len(fmt) == 14:
                    channels, block_align = (struct.unpack(order + "H", fmt[i:i + 2])[0]
                                             for i in (2, 12))
                    if channels == 0 or block_align < channels:
                        raise ValueError(f"the fmt chunk gives {channels} channels in blocks "
                                         f"of {block_align} bytes")
                    sample_bytes = block_align // channels
            elif name == b"data":
                size = size if rf64_data_size is None else rf64_data_size
                data = (handle.tell(), size)
            handle.seek(size + size % 2, os.SEEK_CUR)  # chunks are padded to even sizes
    if data is None:
        raise ValueError(f"no data chunk within the {riff_size} bytes the RIFF header gives")
    start, size = data
    whole = size if not sample_bytes else size // sample_bytes * sample_bytes
    if start + whole > file_size:
        raise ValueError("the file holds fewer samples than its header says (truncated?)")


def _read_csv(path: str) -> Input:
    # utf-8-sig: a byte-order mark (spreadsheets write one) is not part of the first row
    with open(path, encoding="utf-8-sig") as handle:
        first = handle.readline()
    header = None
    if first.strip() and not _is_number_row(first):
        header = first.rstrip("\r\n")
    with warnings.catch_warnings():  # "input contained no data": the error below says so
        warnings.simplefilter("ignore", UserWarning)
        data = np.loadtxt(path, delimiter=",", ndmin=2,
                          skiprows=1 if header is not None else 0, dtype=np.float64,
                          encoding="utf-8-sig")
    if data.size == 0:
        raise ValueError("no samples")
    names = (0 if header is None or header.lstrip().startswith("#")
             else len(next(csv.reader([header]))))  # "a,b" in quotes is one name
    if names and names != data.shape[1]:  # a comment line is kept as it is
        raise ValueError(f"the header names {names} columns and the rows hold {data.shape[1]}")
    source = Source(None, data.shape, data.dtype, 0, opener=lambda: data)
    return Input(".csv", [source], header=header)


def _is_number_row(line: str) -> bool:
    try:  # after a "#", a comment, as NumPy's loadtxt reads it
        [float(field) for field in line.split("#", 1)[0].split(",")]
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------
# Writing: sinks take blocks of the (outer, n, inner) view of an output array
# --------------------------------------------------------------------------

def as3d(array: np.ndarray, axis: int, fortran: bool = False) -> np.ndarray:
    """A ``(outer, n, inner)`` view with the time axis in the middle.

    Merging the axes before and after ``axis`` is a view for a C-ordered
    array; a Fortran-ordered one is seen through its transpose.

    >>> as3d(np.zeros((2, 3, 4, 5)), axis=1).shape
    (2, 3, 20)
    """
    if fortran:
        array, axis = array.T, array.ndim - 1 - axis % array.ndim
    return array.reshape(shape3(array.shape, axis))


def shape3(shape, axis: int, fortran: bool = False) -> tuple:
    """``(outer, n, inner)`` of `as3d`'s view of an array of ``shape``.

    >>> shape3((2, 3, 4), 1), shape3((2, 3, 4), 1, fortran=True)
    ((2, 3, 4), (4, 3, 2))
    """
    if fortran:
        shape, axis = tuple(shape)[::-1], len(shape) - 1 - axis % len(shape)
    axis %= len(shape)
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return outer, shape[axis], inner


class MemorySink:
    """An output array held in memory (``.npz`` members, ``.csv``)."""

    def __init__(self, shape, dtype, axis):
        self.array = np.empty(shape, dtype=dtype)
        self._view = as3d(self.array, axis)

    def write(self, rows: slice, start: int, block: np.ndarray) -> None:
        self._view[rows, start:start + block.shape[1]] = block


class NpySink:
    """An ``.npy`` output written through a memory map, mapped afresh per block."""

    def __init__(self, handle, shape, dtype, axis, fortran):
        self.path, self.axis, self.fortran = handle.name, axis, fortran
        handle.close()
        created = np.lib.format.open_memmap(self.path, mode="w+", dtype=dtype, shape=shape,
                                            fortran_order=fortran)
        del created  # the header is written; blocks map the file as they come

    def write(self, rows: slice, start: int, block: np.ndarray) -> None:
        mapped = np.load(self.path, mmap_mode="r+")
        as3d(mapped, self.axis, self.fortran)[rows, start:start + block.shape[1]] = block
        # Unmapping hands the dirty pages to the page cache, out of this process's
        # resident memory. No msync per block: the kernel writes each page once,
        # where syncing after every strided block rewrote whole large folios
        # (over 20 times the file's size on a 10 GiB streamed run).
        del mapped


class WavSink:
    """A WAV output in the input's sample format, written front to back.

    Integer PCM is rounded to the nearest integer and clipped to the type's
    range; unsigned 8-bit gets its 128 offset back. The header is SciPy's
    layout (``fmt`` with ``cbSize`` and a ``fact`` chunk for float), with
    the sizes known up front.
    """

    def __init__(self, handle, rate, shape, dtype, offset):
        self.handle, self.dtype, self.offset = handle, np.dtype(dtype), offset
        frames = shape[0]
        channels = 1 if len(shape) == 1 else shape[1]
        data_bytes = frames * channels * self.dtype.itemsize
        if data_bytes + 100 > 0xFFFFFFFF:
            raise ValueError(f"the filtered WAV would hold {data_bytes} bytes of samples, over "
                             "the 4 GiB a RIFF file can; write .npy instead")
        if rate * channels * self.dtype.itemsize > 0xFFFFFFFF:
            raise ValueError(f"a sample rate of {rate} Hz with {channels} channel"
                             f"{'s' if channels > 1 else ''} of {self.dtype.itemsize}-byte samples "
                             f"overflows the WAV header's byte rate (at most 2**32 - 1 bytes a "
                             f"second); write .npy instead")
        handle.write(wav_header(rate, channels, self.dtype, frames))
        self._next = 0

    def write(self, rows: slice, start: int, block: np.ndarray) -> None:
        del rows  # one outer block: the (frames, channels) array itself
        if start != self._next:
            raise RuntimeError(f"WAV frames must be written in order: got {start}, "
                               f"expected {self._next}")
        samples = block.reshape(block.shape[1], -1) + self.offset
        if self.dtype.kind in "iu":
            samples = round_and_clip(samples, self.dtype)
        self.handle.write(np.ascontiguousarray(samples, dtype=self.dtype.newbyteorder("<")).tobytes())
        self._next += block.shape[1]


def round_and_clip(samples: np.ndarray, dtype) -> np.ndarray:
    """``samples`` rounded to the nearest integer and clipped to ``dtype``'s range.

    int64's maximum rounds up to 2**63 in float64, where the cast would wrap
    it to the minimum: samples at or past it get the maximum after the cast.

    >>> round_and_clip(np.array([-1e30, 2.5, 1e30]), np.int64)
    array([-9223372036854775808,                    2,  9223372036854775807])
    """
    info = np.iinfo(dtype)
    top = float(info.max)
    rounded = np.rint(samples)
    result = np.clip(rounded, info.min, top if top <= info.max else np.nextafter(top, 0))
    result = result.astype(dtype)
    result[rounded >= top] = info.max
    return result


def wav_header(rate: int, channels: int, dtype, frames: int) -> bytes:
    """A RIFF/WAVE header for ``frames`` little-endian samples of ``dtype``.

    >>> len(wav_header(8000, 2, np.int16, 10))
    44
    """
    dtype = np.dtype(dtype)
    is_float = dtype.kind == "f"
    bits = dtype.itemsize * 8
    block_align = channels * dtype.itemsize
    fmt = struct.pack("<HHIIHH", WAV_FORMAT_FLOAT if is_float else WAV_FORMAT_PCM, channels,
                      rate, rate * block_align, block_align, bits)
    if is_float:
        fmt += b"\x00\x00"  # cbSize
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if is_float:
        chunks += b"fact" + struct.pack("<II", 4, frames)
    data_bytes = frames * block_align
    chunks += b"data" + struct.pack("<I", data_bytes)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + data_bytes) + b"WAVE" + chunks


def write_npz_member(zipped: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    """Add ``array`` as ``name.npy`` to an open archive, as ``numpy.savez`` does."""
    with zipped.open(name + ".npy", "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def copy_npz_member(source_path: str, zipped: zipfile.ZipFile, member_name: str) -> None:
    """Copy a member unchanged from the input archive (streamed, never whole)."""
    try:
        with zipfile.ZipFile(source_path) as source, source.open(member_name) as member, \
                zipped.open(member_name, "w", force_zip64=True) as target:
            while chunk := member.read(1 << 22):
                target.write(chunk)
    except (zipfile.BadZipFile, zlib.error, KeyError, EOFError) as error:  # a damaged member
        raise ValueError(f"cannot copy {member_name!r} from {source_path!r}: "
                         f"{one_line(error)}") from None


def write_csv(handle, array: np.ndarray, header: str | None) -> None:
    """Columns as signals, 17 significant digits (float64 round-trips)."""
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    np.savetxt(text, array, delimiter=",", fmt="%.17g", header=header or "", comments="")
    text.flush()
    text.detach()
