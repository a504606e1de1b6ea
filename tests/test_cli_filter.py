"""``gpuconv filter`` on files the tests make, against SciPy.

Most runs call ``gpuconv.cli.main`` in this process (a subprocess costs
about a second of imports); a few run ``python -m gpuconv.cli`` as a user
would. Chunked runs use a tiny ``--chunk-size`` so that the memory-mapped,
streamed path runs on small files.

Bounds: every comparison uses ``--method direct`` (or says which method),
so the error of one output is that of a sum of ``k`` products,
``(k + 2) * eps * conv(|x|, |w|)`` (tests/tolerances.py), and
``conv(|x|, |w|) <= max|x| * sum|w|`` gives one bound per array.
"""

from __future__ import annotations

import os
import signal
import stat
import struct
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
import scipy.io.wavfile
import scipy.ndimage
import scipy.signal

import gpuconv
from gpuconv.cli import filter as filter_cli
from gpuconv.cli import main

from tolerances import assert_within, direct_bound, fft_bound

RNG = np.random.default_rng(20261122)
GPU_USABLE = any(s.name == "cupy" and s.usable for s in gpuconv.backends.available())


def run_in_process(capsys, *args):
    """``gpuconv filter ARGS`` in this process: ``(exit status, stderr)``."""
    try:
        status = main(["filter", *map(str, args)])
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    return status, capsys.readouterr().err


def run_subprocess(*args):
    return subprocess.run([sys.executable, "-m", "gpuconv.cli", "filter", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def bound_for(x, weights, dtype, cval=0.0):
    """The direct-sum bound, one value for the whole array (see module docstring)."""
    scale = max(np.max(np.abs(x)), abs(cval)) * np.sum(np.abs(weights))
    return direct_bound(scale, len(weights), dtype)


def along(func, x, axis):
    """``func`` of every 1-D slice of float64 ``x`` along ``axis``."""
    return np.apply_along_axis(func, axis, np.asarray(x, dtype=np.float64))


def signal_reference(x, taps, mode, axis=-1):
    """``scipy.signal`` for a kernel: convolve (full/same/valid) or lfilter (causal)."""
    if mode == "causal":
        return scipy.signal.lfilter(taps, [1.0], np.asarray(x, np.float64), axis=axis)
    return along(lambda row: scipy.signal.convolve(row, taps, mode), x, axis)


def write_wav(path, rate, data):
    scipy.io.wavfile.write(path, rate, data)
    return path


# --------------------------------------------------------------------------
# WAV
# --------------------------------------------------------------------------

def loud_stereo_int16(frames=4000, rate=8000):
    """Two channels near full scale: a square wave (its FIR overshoot clips) and noise."""
    t = np.arange(frames) / rate
    square = np.where(np.sin(2 * np.pi * 50 * t) >= 0, 32000, -32000)
    noise = RNG.normal(0, 6000, frames)
    return np.stack([square, noise], axis=1).astype(np.int16)


def check_int_wav(got, ref_float, bound, dtype=np.int16):
    """``got = clip(rint(y))`` with ``|y - ref| <= bound``, so it lies within
    ``1/2 + bound`` of ``clip(ref)`` (clipping moves no value further)."""
    info = np.iinfo(dtype)
    assert got.dtype == dtype and got.shape == ref_float.shape
    error = np.abs(got.astype(np.float64) - np.clip(ref_float, info.min, info.max))
    assert np.all(error <= 0.5 + bound), float(np.max(error))


def test_stereo_int16_wav_lowpass_in_hz_as_a_user_runs_it(tmp_path):
    rate, data = 8000, loud_stereo_int16()
    source = write_wav(tmp_path / "take.wav", rate, data)
    before = source.read_bytes()

    result = run_subprocess(source, "--fir-lowpass", 1000, "--taps", 51, "--method", "direct")

    assert result.returncode == 0, result.stderr
    out_rate, got = scipy.io.wavfile.read(tmp_path / "take.filtered.wav")
    taps = scipy.signal.firwin(51, 1000, fs=rate)
    ref = signal_reference(data, taps, "same", axis=0)
    assert out_rate == rate
    check_int_wav(got, ref, bound_for(data, taps, np.float64))
    assert np.max(ref) > 32767 and np.all(got[ref > 32767.5] == 32767)  # overshoot clipped
    assert source.read_bytes() == before
    # stderr is not a terminal here: no progress bar, one line saying where it wrote
    assert result.stderr.splitlines() == [f"gpuconv filter: wrote {tmp_path / 'take.filtered.wav'}"]


@pytest.mark.parametrize("mode", ["same", "causal", "reflect"])
def test_wav_in_chunks_gives_the_one_call_result(tmp_path, capsys, mode):
    rate, data = 44100, loud_stereo_int16(frames=3000, rate=44100)
    source = write_wav(tmp_path / "take.wav", rate, data)
    taps = scipy.signal.firwin(40, [500, 4000], pass_zero=False, fs=rate)
    if mode == "reflect":
        ref = scipy.ndimage.convolve1d(data.astype(np.float64), taps, axis=0, mode="reflect")
    else:
        ref = signal_reference(data, taps, mode, axis=0)
    for chunk, name in [("1M", "one.wav"), ("1K", "chunked.wav")]:
        status, err = run_in_process(capsys, source, "--out", tmp_path / name, "--fir-bandpass",
                                     500, 4000, "--taps", 40, "--mode", mode,
                                     "--method", "direct", "--chunk-size", chunk)
        assert status == 0, err
        got_rate, got = scipy.io.wavfile.read(tmp_path / name)
        assert got_rate == rate
        check_int_wav(got, ref, bound_for(data, taps, np.float64))


def test_unsigned_8bit_wav_is_filtered_about_its_128_offset(tmp_path, capsys):
    data = np.clip(128 + RNG.normal(0, 60, 900), 0, 255).astype(np.uint8)
    source = write_wav(tmp_path / "mono8.wav", 11025, data)
    status, err = run_in_process(capsys, source, "--moving-average", 5, "--method", "direct",
                                 "--chunk-size", 256)
    assert status == 0, err
    _, got = scipy.io.wavfile.read(tmp_path / "mono8.filtered.wav")
    ref = scipy.ndimage.uniform_filter1d(data.astype(np.float64) - 128, 5) + 128
    check_int_wav(got, ref, bound_for(data - 128.0, np.full(5, 0.2), np.float64), dtype=np.uint8)


def write_pcm24_wav(path, rate, samples):
    """A 24-bit PCM WAV, which ``scipy.io.wavfile.write`` cannot write.
    ``samples``: (frames, channels) integers in [-2**23, 2**23)."""
    channels = samples.shape[1]
    data = samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 3 * channels, 3 * channels, 24)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_24bit_wav_which_cannot_be_mapped_is_read_whole(tmp_path, capsys):
    samples = RNG.integers(-2**23, 2**23, (600, 2))
    source = write_pcm24_wav(tmp_path / "deep.wav", 16000, samples)
    _, data = scipy.io.wavfile.read(source)  # int32, the 24 bits at the top
    assert data.dtype == np.int32 and np.array_equal(data >> 8, samples)
    status, err = run_in_process(capsys, source, "--moving-average", 5, "--method", "direct",
                                 "--chunk-size", "1K")
    assert status == 0, err
    _, got = scipy.io.wavfile.read(tmp_path / "deep.filtered.wav")
    ref = scipy.ndimage.uniform_filter1d(data.astype(np.float64), 5, axis=0)
    check_int_wav(got, ref, bound_for(data, np.full(5, 0.2), np.float64), dtype=np.int32)


def test_int64_wav_clips_at_its_maximum(tmp_path, capsys):
    """2**63 - 1 rounds up to 2**63 in float64: clipped, not wrapped to -2**63."""
    top = np.iinfo(np.int64).max
    write_wav(tmp_path / "big.wav", 8000, np.array([2**62, top, -5, np.iinfo(np.int64).min]))
    np.save(tmp_path / "double.npy", np.array([2.0]))
    status, err = run_in_process(capsys, tmp_path / "big.wav", "--kernel", tmp_path / "double.npy")
    assert status == 0 and "Warning" not in err, err
    _, got = scipy.io.wavfile.read(tmp_path / "big.filtered.wav")
    np.testing.assert_array_equal(got, [top, top, -10, np.iinfo(np.int64).min])


@pytest.mark.parametrize("bits", [16, 24])
def test_truncated_wav_is_an_error(tmp_path, capsys, bits):
    """A data chunk shorter than its header says: refused, not filtered short
    (SciPy reads 24-bit samples, which it cannot map, short without a word)."""
    if bits == 16:
        full = write_wav(tmp_path / "full.wav", 8000, np.arange(100, dtype=np.int16))
    else:
        full = write_pcm24_wav(tmp_path / "full.wav", 8000, np.arange(100)[:, None])
    cut = full.read_bytes()[:-60]  # 30 or 20 whole frames fewer than the data chunk says
    # The RIFF size matching the file: SciPy does not even warn of an early end then.
    (tmp_path / "cut.wav").write_bytes(cut[:4] + struct.pack("<I", len(cut) - 8) + cut[8:])
    status, err = run_in_process(capsys, tmp_path / "cut.wav", "--moving-average", 3)
    assert status == 2
    assert err.splitlines() == [
        f"gpuconv filter: error: cannot read {str(tmp_path / 'cut.wav')!r} as a .wav file: "
        "the file holds fewer samples than its header says (truncated?)"]


def as_rf64(riff: bytes, *, data_size=None) -> bytes:
    """A RIFF WAV file's bytes as RF64: sizes in a ds64 chunk, 0xFFFFFFFF in the old fields."""
    chunks, at = [], 12
    while at < len(riff):
        name, size = riff[at:at + 4], struct.unpack("<I", riff[at + 4:at + 8])[0]
        if name == b"data":
            data_size = size if data_size is None else data_size
            size_field = 0xFFFFFFFF
        else:
            size_field = size
        chunks.append(name + struct.pack("<I", size_field) + riff[at + 8:at + 8 + size + size % 2])
        at += 8 + size + size % 2
    body = b"".join(chunks)
    ds64 = struct.pack("<QQQI", 4 + 36 + len(body), data_size, 0, 0)
    return b"RF64" + b"\xff" * 4 + b"WAVE" + b"ds64" + struct.pack("<I", len(ds64)) + ds64 + body


def test_rf64_wav_is_read_and_checked_like_riff(tmp_path, capsys):
    data = RNG.integers(-1000, 1000, (300, 2)).astype(np.int16)
    riff = write_wav(tmp_path / "riff.wav", 8000, data).read_bytes()
    (tmp_path / "rf64.wav").write_bytes(as_rf64(riff))
    np.testing.assert_array_equal(scipy.io.wavfile.read(tmp_path / "rf64.wav")[1], data)  # SciPy reads it
    for name in ("riff", "rf64"):
        status, err = run_in_process(capsys, tmp_path / f"{name}.wav", "--moving-average", 3)
        assert status == 0, err
    rate, got = scipy.io.wavfile.read(tmp_path / "rf64.filtered.wav")
    assert rate == 8000
    np.testing.assert_array_equal(got, scipy.io.wavfile.read(tmp_path / "riff.filtered.wav")[1])

    (tmp_path / "cut64.wav").write_bytes(as_rf64(riff, data_size=data.nbytes + 40))
    # The RIFF size too small to reach the data chunk: SciPy fails with UnboundLocalError.
    (tmp_path / "short.wav").write_bytes(riff[:4] + struct.pack("<I", 20) + riff[8:])
    for name in ("cut64.wav", "short.wav"):
        status, err = run_in_process(capsys, tmp_path / name, "--moving-average", 3)
        assert status == 2
        reason = ("the file holds fewer samples than its header says (truncated?)"
                  if name == "cut64.wav" else
                  "no data chunk within the 20 bytes the RIFF header gives")
        assert err.splitlines() == [f"gpuconv filter: error: cannot read "
                                    f"{str(tmp_path / name)!r} as a .wav file: {reason}"]


def riff_wav(*chunks, fmt=(1, 1, 8000, 16000, 2, 16)) -> bytes:
    """A RIFF WAV file's bytes: a PCM ``fmt`` chunk, then ``chunks`` (name, payload, size)."""
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + struct.pack("<HHIIHH", *fmt)
    for name, payload, size in chunks:
        body += name + struct.pack("<I", size) + payload + b"\0" * (len(payload) % 2)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def with_riff_size(riff: bytes, size: int) -> bytes:
    return riff[:4] + struct.pack("<I", size) + riff[8:]


SAMPLES = np.arange(1, 5, dtype="<i2").tobytes()


@pytest.mark.parametrize("layout, reason", [
    # SciPy reads the last data chunk; it announces 1000 bytes and holds 2.
    (riff_wav((b"data", SAMPLES, 8), (b"data", b"\7\0", 1000)),
     "the file holds fewer samples than its header says (truncated?)"),
    (riff_wav((b"data", SAMPLES, 8), fmt=(1, 0, 8000, 0, 0, 16)),
     "the fmt chunk gives 0 channels in blocks of 0 bytes"),
    (riff_wav((b"LIST", b"abcd", 4)), "no data chunk within the 40 bytes the RIFF header gives"),
    (riff_wav((b"data", SAMPLES, 8))[:-10], "the file ends inside a chunk's header (truncated?)"),
    # Half a sample announced past the last whole one: SciPy reads the 4 whole ones.
    (riff_wav((b"data", SAMPLES, 9)), None),
    (riff_wav((b"LIST", b"abc", 3), (b"data", SAMPLES, 8)), None),
    # A streaming writer's RIFF size: SciPy warns of an early end, twice (probe and read).
    (with_riff_size(riff_wav((b"data", SAMPLES, 8)), 0xFFFFFFFF), None),
], ids=["last data chunk cut", "no channels", "no data chunk", "cut in a header",
        "half a sample more", "odd chunk padded", "RIFF size unknown"])
def test_wav_layouts(tmp_path, capsys, layout, reason):
    path = tmp_path / "in.wav"
    path.write_bytes(layout)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, err = run_in_process(capsys, path, "--moving-average", 1)
    assert [str(warning.message) for warning in caught] == []
    if reason is None:
        assert status == 0, err
        np.testing.assert_array_equal(scipy.io.wavfile.read(tmp_path / "in.filtered.wav")[1],
                                      [1, 2, 3, 4])
    else:
        assert status == 2
        assert err.splitlines() == [f"gpuconv filter: error: cannot read {str(path)!r} as a "
                                    f".wav file: {reason}"]


def test_wav_whose_byte_rate_overflows_the_output_header(tmp_path, capsys):
    """SciPy reads a float WAV at 2**30 Hz (it does not check the byte rate
    field, 0 here); the output's header cannot hold its byte rate."""
    path = tmp_path / "fast.wav"
    path.write_bytes(riff_wav((b"data", np.zeros(8, "<f4").tobytes(), 32),
                              fmt=(3, 1, 2**30, 0, 4, 32)))
    assert scipy.io.wavfile.read(path)[0] == 2**30
    status, err = run_in_process(capsys, path, "--moving-average", 3)
    assert status == 2
    assert err.splitlines() == ["gpuconv filter: error: a sample rate of 1073741824 Hz with 1 "
                                "channel of 4-byte samples overflows the WAV header's byte "
                                "rate (at most 2**32 - 1 bytes a second); write .npy instead"]


def test_float32_wav_stays_float32(tmp_path, capsys):
    data = RNG.uniform(-1, 1, (700, 3)).astype(np.float32)
    source = write_wav(tmp_path / "f.wav", 48000, data)
    status, err = run_in_process(capsys, source, "--gaussian", 3, "--mode", "nearest",
                                 "--method", "direct", "--chunk-size", "2K")
    assert status == 0, err
    _, got = scipy.io.wavfile.read(tmp_path / "f.filtered.wav")
    ref = scipy.ndimage.gaussian_filter1d(data.astype(np.float64), 3, axis=0, mode="nearest")
    weights = gpuconv.ndimage.gaussian_weights(3)
    assert_within(got, ref, bound_for(data, weights, np.float32), dtype=np.float32)


# --------------------------------------------------------------------------
# .npy: one call, blocks of rows, streamed along time — every mode
# --------------------------------------------------------------------------

MODES = ["same", "full", "valid", "causal", "reflect", "mirror", "nearest", "wrap", "constant"]


@pytest.mark.parametrize("taps", [6, 7])
@pytest.mark.parametrize("mode", MODES)
def test_npy_streamed_in_chunks_equals_scipy_in_every_mode(tmp_path, capsys, mode, taps):
    x = RNG.standard_normal((3, 2500)).astype(np.float32)
    kernel = RNG.standard_normal(taps)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", kernel)
    cval = ["--cval", 1.5] if mode == "constant" else []
    # 1K of float32 is 256 samples: each signal goes through in 10 steps
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--kernel", tmp_path / "k.npy",
                                 "--mode", mode, *cval, "--method", "direct",
                                 "--chunk-size", "1K")
    assert status == 0, err
    got = np.load(tmp_path / "x.filtered.npy")
    if mode in filter_cli.SIGNAL_MODES:
        ref = signal_reference(x, kernel, mode)
    else:
        ref = scipy.ndimage.convolve1d(x.astype(np.float64), kernel, mode=mode,
                                       cval=1.5 if cval else 0.0)
    assert_within(got, ref, bound_for(x, kernel, np.float32, 1.5 if cval else 0.0),
                  dtype=np.float32, what=mode)


@pytest.mark.parametrize("mode", ["reflect", "wrap", "mirror"])
def test_smoothing_kernel_longer_than_a_chunk_and_than_the_signal(tmp_path, capsys, mode):
    # 301 weights on 200 samples: the boundary extends periodically, as SciPy's
    x = RNG.standard_normal((2, 200))
    np.save(tmp_path / "x.npy", x)
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--moving-average", 301,
                                 "--mode", mode, "--method", "direct", "--chunk-size", 512)
    assert status == 0, err
    ref = scipy.ndimage.uniform_filter1d(x, 301, mode=mode)
    assert_within(np.load(tmp_path / "x.filtered.npy"), ref,
                  bound_for(x, np.full(301, 1 / 301), np.float64), dtype=np.float64)


def test_big_npy_file_through_the_command(tmp_path):
    x = RNG.standard_normal((2, 30000)).astype(np.float32)
    np.save(tmp_path / "big.npy", x)
    assert x.nbytes > 16 * 1024
    result = run_subprocess(tmp_path / "big.npy", "--out", tmp_path / "smooth.npy",
                            "--gaussian", 4, "--method", "direct", "--chunk-size", "16K")
    assert result.returncode == 0, result.stderr
    ref = scipy.ndimage.gaussian_filter1d(x.astype(np.float64), 4)
    assert_within(np.load(tmp_path / "smooth.npy"), ref,
                  bound_for(x, gpuconv.ndimage.gaussian_weights(4), np.float32), dtype=np.float32)


def test_blocks_of_rows_give_the_one_call_result_exactly(tmp_path, capsys):
    x = RNG.standard_normal((50, 100))
    np.save(tmp_path / "x.npy", x)
    outputs = []
    for chunk in ("1M", "2K"):  # all 50 rows at once; 2 rows (1600 bytes) per block
        out = tmp_path / f"y{chunk}.npy"
        status, err = run_in_process(capsys, tmp_path / "x.npy", "--out", out,
                                     "--moving-average", 9, "--method", "direct",
                                     "--chunk-size", chunk)
        assert status == 0, err
        outputs.append(np.load(out))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], gpuconv.ndimage.uniform_filter1d(x, 9, method="direct"))


@pytest.mark.parametrize("order", ["C", "F"])
def test_middle_axis_of_a_3d_array_in_either_memory_order(tmp_path, capsys, order):
    x = np.asarray(RNG.standard_normal((3, 800, 2)), order=order)
    np.save(tmp_path / "x.npy", x)
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--axis", 1, "--gaussian", 2.5,
                                 "--mode", "mirror", "--method", "direct", "--chunk-size", "2K")
    assert status == 0, err
    got = np.load(tmp_path / "x.filtered.npy")
    ref = scipy.ndimage.gaussian_filter1d(x, 2.5, axis=1, mode="mirror")
    assert_within(got, ref, bound_for(x, gpuconv.ndimage.gaussian_weights(2.5), np.float64),
                  dtype=np.float64)
    assert got.flags.f_contiguous == (order == "F")


def test_fft_method_within_the_fft_bound(tmp_path, capsys):
    x = RNG.standard_normal((2, 4000)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--fir-lowpass", 0.1, "--taps", 201,
                                 "--method", "fft", "--chunk-size", "8K")
    assert status == 0, err
    taps = scipy.signal.firwin(201, 0.1)
    ref = signal_reference(x, taps, "same")
    # streamed: each step convolves the K - 1 history samples and a chunk
    scale = np.max(np.abs(x)) * np.sum(np.abs(taps))
    assert_within(np.load(tmp_path / "x.filtered.npy"), ref,
                  fft_bound(np.full((1, 1), scale), x.shape[1], 201, np.float32), dtype=np.float32)


def test_integer_npy_is_filtered_in_float64(tmp_path, capsys):
    x = RNG.integers(-1000, 1000, (4, 300), dtype=np.int32)
    np.save(tmp_path / "x.npy", x)
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--moving-average", 4,
                                 "--method", "direct")
    assert status == 0, err
    ref = scipy.ndimage.uniform_filter1d(x.astype(np.float64), 4)
    assert_within(np.load(tmp_path / "x.filtered.npy"), ref,
                  bound_for(x, np.full(4, 0.25), np.float64), dtype=np.float64)


# --------------------------------------------------------------------------
# .npz and .csv
# --------------------------------------------------------------------------

def make_npz(path, compressed=False):
    arrays = {"left": RNG.standard_normal((4, 300)),
              "right": RNG.standard_normal((2, 500)).astype(np.float32)}
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return arrays


def test_npz_every_array_is_filtered(tmp_path, capsys):
    arrays = make_npz(tmp_path / "pair.npz")
    status, err = run_in_process(capsys, tmp_path / "pair.npz", "--moving-average", 11,
                                 "--mode", "wrap", "--method", "direct", "--chunk-size", "1K")
    assert status == 0, err
    with np.load(tmp_path / "pair.filtered.npz") as got:
        assert sorted(got.files) == ["left", "right"]
        for name, x in arrays.items():
            ref = scipy.ndimage.uniform_filter1d(x.astype(np.float64), 11, mode="wrap")
            assert_within(got[name], ref, bound_for(x, np.full(11, 1 / 11), x.dtype),
                          dtype=x.dtype, what=name)


def test_npz_key_filters_one_array_and_copies_the_others(tmp_path, capsys):
    arrays = make_npz(tmp_path / "pair.npz", compressed=True)
    status, err = run_in_process(capsys, tmp_path / "pair.npz", "--key", "right",
                                 "--fir-lowpass", 0.3, "--taps", 15, "--mode", "causal",
                                 "--method", "direct")
    assert status == 0, err
    with np.load(tmp_path / "pair.filtered.npz") as got:
        np.testing.assert_array_equal(got["left"], arrays["left"])
        taps = scipy.signal.firwin(15, 0.3)
        assert_within(got["right"], signal_reference(arrays["right"], taps, "causal"),
                      bound_for(arrays["right"], taps, np.float32), dtype=np.float32)
    with zipfile.ZipFile(tmp_path / "pair.filtered.npz") as zipped:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zipped.infolist())


def test_npz_key_copies_members_that_are_not_arrays_and_names_a_damaged_one(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.arange(8.0))
    with zipfile.ZipFile(tmp_path / "mixed.npz", "w") as zipped:
        zipped.write(tmp_path / "a.npy", "a.npy")
        zipped.writestr("notes.txt", "recorded on Tuesday")
    status, err = run_in_process(capsys, tmp_path / "mixed.npz", "--key", "a",
                                 "--moving-average", 3, "--method", "direct")
    assert status == 0, err
    with zipfile.ZipFile(tmp_path / "mixed.filtered.npz") as zipped:
        assert zipped.read("notes.txt") == b"recorded on Tuesday"
    with np.load(tmp_path / "mixed.filtered.npz") as got:
        assert_within(got["a"], scipy.ndimage.uniform_filter1d(np.arange(8.0), 3),
                      bound_for(np.arange(8.0), np.full(3, 1 / 3), np.float64), dtype=np.float64)
    # A member whose bytes no longer match its CRC: named, one line, no output.
    data = (tmp_path / "mixed.npz").read_bytes()
    at = data.index(b"recorded")
    (tmp_path / "damaged.npz").write_bytes(data[:at] + b"R" + data[at + 1:])
    status, err = run_in_process(capsys, tmp_path / "damaged.npz", "--key", "a",
                                 "--moving-average", 3)
    assert status == 2
    assert err.splitlines() == [
        f"gpuconv filter: error: cannot copy 'notes.txt' from {str(tmp_path / 'damaged.npz')!r}: "
        "Bad CRC-32 for file 'notes.txt'"]
    assert not (tmp_path / "damaged.filtered.npz").exists()


def test_an_array_with_an_empty_axis_besides_time(tmp_path, capsys):
    np.save(tmp_path / "empty.npy", np.zeros((5, 0)))
    status, err = run_in_process(capsys, tmp_path / "empty.npy", "--axis", 0,
                                 "--moving-average", 3)
    assert status == 0, err
    assert np.load(tmp_path / "empty.filtered.npy").shape == (5, 0)


@pytest.mark.parametrize("header", [True, False])
def test_csv_columns_are_signals(tmp_path, capsys, header):
    x = RNG.standard_normal((400, 3))
    path = tmp_path / "log.csv"
    np.savetxt(path, x, delimiter=",", fmt="%.17g", header="a,b,c" if header else "",
               comments="")
    status, err = run_in_process(capsys, path, "--gaussian", 1.5, "--method", "direct",
                                 "--chunk-size", "1K")
    assert status == 0, err
    out = tmp_path / "log.filtered.csv"
    assert (out.read_text().splitlines()[0] == "a,b,c") == header
    got = np.loadtxt(out, delimiter=",", skiprows=1 if header else 0)
    ref = scipy.ndimage.gaussian_filter1d(x, 1.5, axis=0)
    assert_within(got, ref, bound_for(x, gpuconv.ndimage.gaussian_weights(1.5), np.float64),
                  dtype=np.float64)


def test_csv_comment_line_first_is_kept_as_the_header(tmp_path, capsys):
    """NumPy's savetxt writes ``# names`` first; any comment line is written back as it is."""
    path = tmp_path / "saved.csv"
    path.write_text("# recorded on Tuesday\n1,2,3\n4,5,6\n7,8,9\n")
    status, err = run_in_process(capsys, path, "--moving-average", 3, "--method", "direct")
    assert status == 0, err
    out = (tmp_path / "saved.filtered.csv").read_text().splitlines()
    assert out[0] == "# recorded on Tuesday" and len(out) == 4
    path.write_text('"time, s",volts\n1,2\n3,4\n')  # a quoted comma is part of a name
    status, err = run_in_process(capsys, path, "--moving-average", 2, "--force")
    assert status == 0, err
    assert (tmp_path / "saved.filtered.csv").read_text().splitlines()[0] == '"time, s",volts'


def test_csv_first_row_with_a_comment_is_data(tmp_path, capsys):
    """NumPy's loadtxt reads ``1,2 # note`` as a row of numbers: so must the
    header test, or the row is copied out unfiltered as a "header"."""
    path = tmp_path / "notes.csv"
    path.write_text("1,2 # note\n3,4\n5,6\n")
    status, err = run_in_process(capsys, path, "--moving-average", 3, "--method", "direct")
    assert status == 0, err
    got = np.loadtxt(tmp_path / "notes.filtered.csv", delimiter=",")
    x = np.array([[1.0, 2], [3, 4], [5, 6]])
    assert_within(got, scipy.ndimage.uniform_filter1d(x, 3, axis=0),
                  bound_for(x, np.full(3, 1 / 3), np.float64), dtype=np.float64)


def test_npz_members_that_are_not_arrays_are_copied_without_key(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.arange(8.0))
    with zipfile.ZipFile(tmp_path / "mixed.npz", "w") as zipped:
        zipped.write(tmp_path / "a.npy", "a.npy")
        zipped.writestr("notes.txt", "recorded on Tuesday")
    status, err = run_in_process(capsys, tmp_path / "mixed.npz", "--moving-average", 3,
                                 "--method", "direct")
    assert status == 0, err
    with zipfile.ZipFile(tmp_path / "mixed.filtered.npz") as zipped:
        assert sorted(zipped.namelist()) == ["a.npy", "notes.txt"]
        assert zipped.read("notes.txt") == b"recorded on Tuesday"
    with np.load(tmp_path / "mixed.filtered.npz") as got:
        assert_within(got["a"], scipy.ndimage.uniform_filter1d(np.arange(8.0), 3),
                      bound_for(np.arange(8.0), np.full(3, 1 / 3), np.float64), dtype=np.float64)


def test_csv_with_a_byte_order_mark(tmp_path, capsys):
    """Spreadsheets write a BOM: the first row is still numbers, not a header."""
    x = np.arange(12.0).reshape(6, 2)
    path = tmp_path / "sheet.csv"
    rows = "\n".join(",".join(f"{value:g}" for value in row) for row in x)
    path.write_bytes(b"\xef\xbb\xbf" + rows.encode())
    status, err = run_in_process(capsys, path, "--moving-average", 3, "--method", "direct")
    assert status == 0, err
    got = np.loadtxt(tmp_path / "sheet.filtered.csv", delimiter=",")
    assert got.shape == x.shape
    assert_within(got, scipy.ndimage.uniform_filter1d(x, 3, axis=0),
                  bound_for(x, np.full(3, 1 / 3), np.float64), dtype=np.float64)


# --------------------------------------------------------------------------
# Output files: never half-written, never clobbered, input untouched
# --------------------------------------------------------------------------

def test_existing_output_is_kept_without_force_and_replaced_with_it(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.arange(10.0))
    out = tmp_path / "y.npy"
    out.write_bytes(b"precious")
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--out", out, "--moving-average", 3)
    assert status == 2
    assert err.splitlines() == [f"gpuconv filter: error: {str(out)!r} exists; "
                                "pass --force to overwrite it"]
    assert out.read_bytes() == b"precious"
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--out", out, "--moving-average", 3,
                                 "--force")
    assert status == 0, err
    assert_within(np.load(out), scipy.ndimage.uniform_filter1d(np.arange(10.0), 3),
                  bound_for(np.arange(10.0), np.full(3, 1 / 3), np.float64), dtype=np.float64)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_a_failure_midway_leaves_no_output_and_no_temporary_file(tmp_path, capsys):
    # "left" is filtered and written to the temporary file; "flat" then fails
    np.savez(tmp_path / "a.npz", left=np.ones((2, 50)), flat=np.ones(50))
    status, err = run_in_process(capsys, tmp_path / "a.npz", "--axis", 1, "--moving-average", 3)
    assert status == 2
    assert err.splitlines() == ["gpuconv filter: error: --axis 1 is out of range for array "
                                "'flat' of shape (50,)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]


def test_an_interrupted_run_leaves_no_output(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "x.npy", np.ones(100))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(filter_cli, "filter_source", interrupted)
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--moving-average", 3)
    assert status == 130
    assert err.splitlines() == ["gpuconv filter: interrupted; no output written"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "x.npy", np.ones((2, 5000)))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--moving-average", 3,
                                 "--chunk-size", "8K")
    assert status == 0, err
    # tqdm's bar, counting the 10 000 output samples (the subprocess tests see none)
    assert "/10.0k [" in err and "sample/s]" in err


def test_a_terminated_run_leaves_no_output(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "x.npy", np.ones(100))
    real_filter_source = filter_cli.filter_source

    def terminated(*args, **kwargs):
        real_filter_source(*args, **kwargs)  # the temporary file holds the output now
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(filter_cli, "filter_source", terminated)
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--moving-average", 3)
    assert status == 130
    assert err.splitlines() == ["gpuconv filter: interrupted; no output written"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handler restored


def test_a_read_only_input_is_enough(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.arange(100.0))
    (tmp_path / "x.npy").chmod(0o444)
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--moving-average", 3,
                                 "--chunk-size", 128)
    assert status == 0, err


# --------------------------------------------------------------------------
# Errors: exit status 2 and one line, never a traceback
# --------------------------------------------------------------------------

def error_cases(tmp_path):
    """``(arguments, message)``: each must fail with exactly that message."""
    x = tmp_path / "x.npy"
    np.save(x, RNG.standard_normal((2, 64)))
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(x.read_bytes()[:300])
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    np.save(tmp_path / "objects.npy", np.array([1, None], dtype=object))
    np.save(tmp_path / "k2d.npy", np.ones((2, 3)))
    np.savez(tmp_path / "pair.npz", a=np.ones(10), b=np.ones(10))
    write_wav(tmp_path / "w.wav", 8000, np.zeros((100, 2), np.int16))
    (tmp_path / "cut.wav").write_bytes((tmp_path / "w.wav").read_bytes()[:30])
    (tmp_path / "noise.wav").write_bytes(b"this is not a wav file at all")
    write_wav(tmp_path / "rate0.wav", 0, np.zeros(10, np.int16))
    (tmp_path / "folder.npy").mkdir()
    (tmp_path / "dangling.npy").symlink_to(tmp_path / "nowhere.npy")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    (tmp_path / "x.txt").write_text("1\n")
    (tmp_path / "names.csv").write_text("a,b,c,d\n1,2,3\n4,5,6\n")
    np.savez_compressed(tmp_path / "deflated.npz", a=np.zeros(2000), b=np.arange(50.0))
    deflated = bytearray((tmp_path / "deflated.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "deflated.npz") as zipped:
        info = zipped.getinfo("a.npy")
    names, extra = struct.unpack("<HH", deflated[info.header_offset + 26:info.header_offset + 30])
    deflated[info.header_offset + 30 + names + extra] = 0x07  # an invalid deflate block type
    (tmp_path / "inflate.npz").write_bytes(bytes(deflated))
    missing = tmp_path / "missing.npy"
    return [
        ([tmp_path / "inflate.npz", "--moving-average", 3],
         f"cannot read {str(tmp_path / 'inflate.npz')!r} as a .npz file: Error -3 while "
         "decompressing data: invalid block type"),
        ([tmp_path / "inflate.npz", "--key", "b", "--moving-average", 3],
         f"cannot copy 'a.npy' from {str(tmp_path / 'inflate.npz')!r}: Error -3 while "
         "decompressing data: invalid block type"),
        ([tmp_path / "names.csv", "--moving-average", 3],
         f"cannot read {str(tmp_path / 'names.csv')!r} as a .csv file: the header names 4 "
         "columns and the rows hold 3"),
        ([x, "--out", "", "--moving-average", 3], "--out must name a file, got ''"),
        ([missing, "--moving-average", 3], f"cannot read {str(missing)!r}: no such file"),
        ([truncated, "--moving-average", 3],
         f"cannot read {str(truncated)!r} as a .npy file: mmap length is greater than file size"),
        ([tmp_path / "text.npy", "--moving-average", 3],
         f"cannot read {str(tmp_path / 'text.npy')!r} as a .npy file: the array has dtype <U1; "
         "only numeric arrays can be filtered"),
        ([tmp_path / "objects.npy", "--moving-average", 3],
         f"cannot read {str(tmp_path / 'objects.npy')!r} as a .npy file: Array can't be "
         "memory-mapped: Python objects in dtype."),
        ([tmp_path / "pair.npz", "--key", "c", "--moving-average", 3],
         f"cannot read {str(tmp_path / 'pair.npz')!r} as a .npz file: --key 'c' is not in the "
         "archive; its arrays are a, b"),
        ([x, "--key", "a", "--moving-average", 3],
         f"--key selects an array of an .npz file; {str(x)!r} is a .npy file"),
        ([tmp_path / "cut.wav", "--moving-average", 3], None),
        ([tmp_path / "noise.wav", "--moving-average", 3], None),
        ([tmp_path / "ragged.csv", "--moving-average", 3], None),
        ([tmp_path / "x.txt", "--moving-average", 3],
         f"IN {str(tmp_path / 'x.txt')!r} has extension '.txt'; supported: .npy, .npz, .wav, .csv"),
        ([x, "--out", x, "--moving-average", 3, "--force"],
         f"--out {str(x)!r} is the input file; the input is never written"),
        ([x, "--out", tmp_path / "." / "x.npy", "--moving-average", 3, "--force"],
         f"--out {str(tmp_path / '.' / 'x.npy')!r} is the input file; the input is never written"),
        ([x, "--out", tmp_path / "y.wav", "--moving-average", 3],
         f"--out must have the input's extension .npy, got {str(tmp_path / 'y.wav')!r}"),
        ([x, "--out", tmp_path / "no" / "y.npy", "--moving-average", 3],
         f"--out {str(tmp_path / 'no' / 'y.npy')!r}: its directory does not exist"),
        ([x, "--out", tmp_path / "dangling.npy", "--moving-average", 3],
         f"{str(tmp_path / 'dangling.npy')!r} exists; pass --force to overwrite it"),
        ([x, "--out", tmp_path / "folder.npy", "--moving-average", 3, "--force"],
         f"--out {str(tmp_path / 'folder.npy')!r} is a directory; --force replaces only files"),
        ([x, "--fir-lowpass", 0.2], "--fir-lowpass and --fir-bandpass need --taps N"),
        ([x, "--moving-average", 3, "--taps", 5], "--taps goes with --fir-lowpass or --fir-bandpass"),
        ([x, "--gaussian", 2, "--mode", "same"],
         "--mode same is for kernels; --moving-average and --gaussian take a boundary mode: "
         "reflect, constant, nearest, mirror, wrap"),
        ([x, "--gaussian", 2, "--cval", 1], "--cval goes with --mode constant"),
        ([x, "--gaussian", 2, "--rate", 100], "--rate goes with --fir-lowpass or --fir-bandpass"),
        ([x, "--fir-lowpass", 1.5, "--taps", 11],
         "--fir-lowpass (sample rate 2, cutoffs as a fraction of Nyquist): Invalid cutoff "
         "frequency: frequencies must be greater than 0 and less than fs/2."),
        ([tmp_path / "w.wav", "--fir-lowpass", 100, "--taps", 11, "--rate", 8000],
         "--rate is for files without a sample rate; this WAV file has 8000 Hz and its rate is used"),
        ([tmp_path / "w.wav", "--axis", 1, "--moving-average", 3],
         "--axis applies to .npy/.npz arrays; .wav files hold one signal per column"),
        ([x, "--axis", 2, "--moving-average", 3],
         "--axis 2 is out of range for the array of shape (2, 64)"),
        ([x, "--kernel", tmp_path / "k2d.npy"], "--kernel must hold a non-empty 1-D array, got shape (2, 3)"),
        ([x, "--kernel", missing],
         f"cannot read --kernel {str(missing)!r}: [Errno 2] No such file or directory: "
         f"{str(missing)!r}"),
        ([x, "--fir-lowpass", 0.2, "--taps", 65, "--mode", "valid"],
         "--mode valid needs signals at least as long as the kernel: 64 samples, 65 taps"),
        ([x, "--gaussian", 1e-300],
         "sigma must be at least 1.5e-154 (its square a normal float64), got 1e-300"),
        ([tmp_path / "folder.npy", "--moving-average", 3],
         f"cannot read {str(tmp_path / 'folder.npy')!r}: a directory, not a file"),
        ([tmp_path / "rate0.wav", "--moving-average", 3],
         f"cannot read {str(tmp_path / 'rate0.wav')!r} as a .wav file: the header gives a "
         "sample rate of 0 Hz"),
        ([x, "--moving-average", 10**14],  # NumPy's message: the size, shape and dtype
         "Unable to allocate 728. TiB for an array with shape (100000000000000,) and data "
         "type float64"),
    ]


def test_every_error_is_one_line_with_exit_status_2(tmp_path, capsys):
    for args, message in error_cases(tmp_path):
        status, err = run_in_process(capsys, *args)
        lines = err.splitlines()
        assert status == 2, (args, err)
        assert len(lines) == 1 and lines[0].startswith("gpuconv filter: error: "), (args, err)
        if message is not None:
            assert lines[0] == f"gpuconv filter: error: {message}", (args, err)
        else:  # the parsers' own words; the file is named
            assert f"cannot read {str(args[0])!r} as a " in lines[0], (args, err)
    assert not list(tmp_path.glob("*.filtered.*")) and not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("where", ["opening", "writing"])
def test_an_os_error_on_the_output_side_is_one_line_and_leaves_no_file(tmp_path, capsys,
                                                                        monkeypatch, where):
    """A directory the user may not write to (the temporary file cannot be
    created), or a disk that fills up while the output is written."""
    x = tmp_path / "x.npy"
    np.save(x, RNG.standard_normal((2, 64)))
    if where == "opening":
        error = PermissionError(13, "Permission denied", str(tmp_path / ".x.filtered.npy.part"))

        def refuse(*args, **kwargs):
            raise error

        monkeypatch.setattr(filter_cli.tempfile, "NamedTemporaryFile", refuse)
    else:
        error = OSError(28, "No space left on device")

        def fill_the_disk(handle, *args):
            handle.write(b"partial")
            raise error

        monkeypatch.setattr(filter_cli, "_write_output", fill_the_disk)
    status, err = run_in_process(capsys, x, "--moving-average", 3)
    assert status == 2
    assert err.splitlines() == [f"gpuconv filter: error: {error}"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["x.npy"]


def test_option_errors_from_the_parser(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones(10))
    for args, message in [
        (["--moving-average", 3, "--gaussian", 2],
         "argument --gaussian: not allowed with argument --moving-average"),
        ([], "one of the arguments --kernel --moving-average --gaussian --fir-lowpass "
             "--fir-bandpass is required"),
        (["--moving-average", 0], "argument --moving-average: must be a positive integer, got '0'"),
        (["--gaussian", "nan"], "argument --gaussian: must be a positive number, got 'nan'"),
        (["--moving-average", 3, "--chunk-size", "lots"],
         "argument --chunk-size: must be a size in bytes such as 4096, 64M or 1G, got 'lots'"),
        (["--moving-average", 3, "--chunk-size", "9" * 400],  # float() gives inf
         f"argument --chunk-size: must be a size in bytes such as 4096, 64M or 1G, got "
         f"{'9' * 400!r}"),
    ]:
        status, err = run_in_process(capsys, tmp_path / "x.npy", *args)
        assert status == 2
        assert err.splitlines()[-1] == f"gpuconv filter: error: {message}"
        assert "Traceback" not in err


def test_truncated_file_from_the_command_line(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((100, 100)))
    (tmp_path / "x.npy").write_bytes((tmp_path / "x.npy").read_bytes()[:1000])
    result = run_subprocess(tmp_path / "x.npy", "--moving-average", 3)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"gpuconv filter: error: cannot read {str(tmp_path / 'x.npy')!r} as a .npy file: "
        "mmap length is greater than file size"]


def test_a_csv_without_samples_from_the_command_line(tmp_path):
    """One line: NumPy's warning that the file held no data is not printed first."""
    (tmp_path / "header.csv").write_text("time,level\n")
    result = run_subprocess(tmp_path / "header.csv", "--moving-average", 3)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"gpuconv filter: error: cannot read {str(tmp_path / 'header.csv')!r} as a .csv file: "
        "no samples"]


@pytest.mark.skipif(GPU_USABLE, reason="a CUDA device is usable here")
def test_cuda_without_a_gpu_says_why(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones(10))
    status, err = run_in_process(capsys, tmp_path / "x.npy", "--moving-average", 3,
                                 "--device", "cuda")
    assert status == 2
    assert "the cupy backend is not usable here" in err and len(err.splitlines()) == 1
