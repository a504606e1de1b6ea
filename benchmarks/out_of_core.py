"""A batch larger than a memory limit, filtered through Dask, against the in-memory call.

Run: ``python -m benchmarks.out_of_core [--quick]`` from the repository root
(needs the ``dask`` extra); ``gpuconv bench`` includes it as the ``dask``
workload. Workload: float32 signals in a ``.npy`` file on disk (2 GiB, rows of
128 MiB; 32 MiB with ``--quick``), a 129-tap kernel, `scipy.ndimage` 'reflect'
boundaries along the last axis.

* **in memory**: ``np.load`` the whole file, `gpuconv.ndimage.convolve1d`,
  ``np.save`` the result.
* **dask**: the file read chunk by chunk (`NpyFile`), `gpuconv.dask.convolve1d`,
  each output chunk written into a ``.npy`` made by ``open_memmap``, one
  group of rows after another. Chunks are sized from the memory limit
  (`chunk_shape`), Dask's threaded scheduler runs one task per core, and each
  task's gpuconv calls use one thread and a workspace of three chunks.

Each call runs in a fresh child process (``MALLOC_MMAP_THRESHOLD_`` fixed
at 128 KiB, so freed arrays leave the resident set), whose peak resident
memory (Linux ``VmHWM``; ``getrusage``'s ``ru_maxrss`` would carry the
parent's peak over ``fork`` and ``exec``) minus its resident memory before
the data is touched (after imports and a small warm-up run of both paths) is
``peak_MB``. ``MB/s`` is
the input size over the wall time, reading and writing the files included.
Reads and writes map the file only for the one slice they touch and unmap it
at once, so file pages do not stay in the resident set: the measured peak is
the arrays the computation holds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

#: (rows, samples per row) of the batch and the memory limit, in bytes.
FULL = {"shape": (16, 2**25), "limit": 2**30}
QUICK = {"shape": (8, 2**20), "limit": 16 * 2**20}
TAPS = 129
DTYPE = np.float32
#: Arrays one Dask task holds besides the input chunks of its group of rows,
#: in chunks: the halo and chunk concatenated, the block call's temporaries
#: (5.4 chunks measured with tracemalloc at `eed071d` for one 15M-sample row,
#: when the chunks ran the FFT: padded row, spectrum and inverse, the output),
#: the copy the rechunk makes of a row's first and last chunk (the pads
#: merged in), and the mapped file pages of a read or a write; rounded up.
CHUNKS_PER_TASK = 10


class NpyFile:
    """A ``.npy`` file read and written slice by slice, for `dask.array`.

    Each access maps the file, copies one slice in or out, and unmaps it:
    unlike one long-lived ``np.load(..., mmap_mode='r')``, the pages touched
    do not pile up in the process's resident set.
    """

    def __init__(self, path):
        self.path = str(path)
        header = np.load(self.path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = header.shape, header.dtype, header.ndim
        del header

    def __getitem__(self, index):
        mapped = np.load(self.path, mmap_mode="r")
        try:
            return np.array(mapped[index])
        finally:
            mapped._mmap.close()

    def __setitem__(self, index, value):
        mapped = np.load(self.path, mmap_mode="r+")
        try:
            mapped[index] = value
            mapped.flush()
        finally:
            mapped._mmap.close()


def chunk_shape(shape, itemsize: int, limit: int, tasks: int, taps: int):
    """Chunks for ``tasks`` tasks at a time to fit in ``limit`` bytes.

    Rows are stored a group of ``tasks`` rows at a time and Dask may load
    every chunk of a group at once, so a group holds ``tasks * pieces``
    input chunks plus ``CHUNKS_PER_TASK`` per task: rows are cut into the
    fewest ``pieces`` for which that fits (whole rows, if they do).

    >>> chunk_shape((16, 2**25), 4, 2**30, 2, 129)
    (1, 8388608)
    >>> chunk_shape((4096, 1000), 4, 2**30, 2, 129)
    (4096, 1000)
    """
    rows, samples = shape
    row_bytes = samples * itemsize
    # Several whole rows per chunk while a chunk of them fits.
    whole = limit // (tasks * (1 + CHUNKS_PER_TASK) * row_bytes)
    if whole >= 1:
        return min(rows, whole), samples
    pieces = 2
    while row_bytes / pieces * tasks * (pieces + CHUNKS_PER_TASK) > limit:
        pieces += 1
    return 1, max(-(-samples // pieces), 4 * taps)


def _rss_bytes() -> int:
    """Resident memory now (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    """Peak resident memory of this process image (Linux ``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that over ``fork`` and
    ``exec``, so a spawned child reports its parent's peak when that is
    higher.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run(call: str, source: str, target: str, limit: int, results) -> None:
    """Child process: one call from ``source`` to ``target``; puts a result row."""
    import dask
    import dask.array as da

    import gpuconv
    import gpuconv.dask
    import gpuconv.ndimage

    weights = np.hanning(TAPS + 2)[1:-1].astype(DTYPE)
    weights /= weights.sum()
    # Warm-up on a small array: JIT compilation, FFT plans, Dask's thread pool
    # and lazily imported modules are not the call's memory.
    small = np.ones((2, 8 * TAPS), DTYPE)
    gpuconv.ndimage.convolve1d(small, weights)
    with dask.config.set(scheduler="threads", num_workers=gpuconv.config.threads):
        da.store(gpuconv.dask.convolve1d(da.from_array(small, chunks=(1, 3 * TAPS)), weights),
                 np.empty_like(small), lock=False)
    baseline = _rss_bytes()
    begin = time.perf_counter()
    if call == "in memory":
        x = np.load(source)
        np.save(target, gpuconv.ndimage.convolve1d(x, weights, mode="reflect"))
        nbytes = x.nbytes
    else:
        tasks = gpuconv.config.threads
        gpuconv.config.threads = 1  # one core per Dask task
        infile = NpyFile(source)
        chunks = chunk_shape(infile.shape, infile.dtype.itemsize, limit, tasks, TAPS)
        gpuconv.config.max_workspace_bytes = 3 * int(np.prod(chunks)) * infile.dtype.itemsize
        x = da.from_array(infile, chunks=chunks, asarray=False)
        y = gpuconv.dask.convolve1d(x, weights, mode="reflect")
        np.lib.format.open_memmap(target, mode="w+", dtype=y.dtype, shape=y.shape)._mmap.close()
        # Row groups in turn: within one store, Dask's order may load a
        # chunk of every row before it finishes any (gpuconv.dask's Notes).
        group = chunks[0] * tasks  # the group chunk_shape assumed
        with dask.config.set(scheduler="threads", num_workers=tasks):
            for lo in range(0, y.shape[0], group):
                rows = slice(lo, min(lo + group, y.shape[0]))
                da.store(y[rows], NpyFile(target), regions=(rows,), lock=False)
        nbytes = int(np.prod(infile.shape)) * infile.dtype.itemsize
    seconds = time.perf_counter() - begin
    peak = _peak_rss_bytes()
    results.put({"call": call, "seconds": seconds, "MB/s": nbytes / seconds / 1e6,
                 "peak_MB": (peak - baseline) / 1e6, "limit_MB": limit / 1e6,
                 "input_MB": nbytes / 1e6})


def _in_child(call: str, source, target, limit: int) -> dict:
    # glibc raises its mmap threshold each time a large block is freed, after
    # which freed arrays stay in the heap and in the resident set; a fixed
    # threshold returns them, so the peak RSS counts arrays in use.
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_run, args=(call, str(source), str(target), limit, results))
    child.start()
    row = results.get()
    child.join()
    return row


def _write_batch(path: Path, shape, seed: int = 0) -> None:
    """Random float32 rows written a row at a time (never the whole batch in memory)."""
    np.lib.format.open_memmap(path, mode="w+", dtype=DTYPE, shape=shape)._mmap.close()
    out, rng = NpyFile(path), np.random.default_rng(seed)
    for row in range(shape[0]):
        out[row] = rng.standard_normal(shape[1], dtype=DTYPE)


def _max_difference(a_path, b_path, rows: int = 2) -> float:
    """Largest ``|a - b|`` over the first rows, relative to the largest ``|a|``."""
    a, b = np.load(a_path, mmap_mode="r"), np.load(b_path, mmap_mode="r")
    a_part, b_part = np.asarray(a[:rows], np.float64), np.asarray(b[:rows], np.float64)
    return float(np.max(np.abs(a_part - b_part)) / np.max(np.abs(a_part)))


def measure(quick: bool) -> list[dict]:
    """Rows ``{"call", "seconds", "MB/s", "peak_MB", "limit_MB", "input_MB",
    "throughput ratio", "max rel diff"}`` for the in-memory and the Dask call."""
    setup = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="gpuconv-out-of-core-") as folder:
        folder = Path(folder)
        source = folder / "batch.npy"
        _write_batch(source, setup["shape"])
        rows = []
        for call in ("in memory", "dask"):
            rows.append(_in_child(call, source, folder / f"{call.replace(' ', '_')}.npy",
                                  setup["limit"]))
        difference = _max_difference(folder / "in_memory.npy", folder / "dask.npy")
    for row in rows:
        row["throughput ratio"] = row["MB/s"] / rows[0]["MB/s"]
        row["max rel diff"] = difference if row["call"] == "dask" else 0.0
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 32 MiB batch, 16 MiB limit")
    rows = measure(parser.parse_args().quick)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + " --- |" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v)
                                for v in row.values()) + " |")


if __name__ == "__main__":
    main()
