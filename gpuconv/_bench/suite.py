"""Run the workloads against their peers; write Markdown tables and a bar chart.

Every call is timed in this one process: a median of ``repeats`` runs after
a warm-up of ``warmup`` seconds (at least one run), gpuconv and its peers
in turns (`median_in_turns`), so that a slow spell of the machine falls on
all of them alike and their ratios hold. A peer whose call would
take longer than ``cap`` seconds (timed on a sixteenth of the batch, then
scaled) is skipped and says so, so a 26-second PyTorch call does not hold
up the run. The error column is the
largest relative error of one row, ``max_rows ||y - ref||_2 / ||ref||_2``,
against the workload's higher-precision reference.
"""

from __future__ import annotations

import functools
import platform
import sys
import textwrap
from dataclasses import dataclass, field

import numpy as np

from .roofline import Machine
from .timing import FREED_BYTES, cuda_median_seconds, median_in_turns, median_seconds
from .workloads import relative_error

#: Fraction of the batch a peer is first timed on to estimate its full time.
PROBE_FRACTION = 16


@dataclass
class Timing:
    """One call of one workload: its median, its error, or why it was skipped."""

    call: str
    seconds: float | None = None
    error: float | None = None
    dtype: str | None = None
    skipped: str | None = None


@dataclass
class Outcome:
    """One workload's floor and timings (gpuconv's first)."""

    workload: object
    method: str | None  # what auto chose (None: the workload's layers choose)
    memory_floor: float
    fma_floor: float | None
    timings: list = field(default_factory=list)
    direct_floor: float | None = None  # see `direct_floor`

    @property
    def floor(self) -> float:
        return max(self.memory_floor, self.fma_floor or 0.0)

    @property
    def gpuconv(self) -> Timing:
        return self.timings[0]


def to_numpy(array) -> np.ndarray:
    """A host NumPy copy of a NumPy, CuPy or PyTorch result."""
    if hasattr(array, "detach"):  # a torch tensor
        return array.detach().cpu().numpy()
    if hasattr(array, "get") and not isinstance(array, np.ndarray):  # a CuPy array
        return array.get()
    return np.asarray(array)


def shrink(x):
    """A sixteenth of batch ``x`` (leading rows, else a prefix of each row) and its fraction."""
    if x.shape[0] >= PROBE_FRACTION:
        part = x[:x.shape[0] // PROBE_FRACTION]
    else:
        part = x[..., :max(1, x.shape[-1] // PROBE_FRACTION)]
    return part, x.size / part.size


def direct_floor(workload, method: str | None, machine: Machine) -> float | None:
    """The floor counting the direct sum's flops (2 per tap per output), where
    ``method`` is ``"direct"`` and an FFT would need fewer flops; else None.

    This is the FMA floor as the CPU-performance issue defines it; the
    bench's own floor counts the fewest flops of any method.
    """
    if method != "direct" or not machine.flop_rate or workload.direct_flops() <= workload.flops():
        return None
    return max(workload.bytes_moved() / machine.copy_bandwidth,
               workload.direct_flops() / machine.flop_rate[workload.dtype])


def run_workload(workload, machine: Machine, *, repeats: int, cap: float,
                 warmup: float = 0.0, log=None) -> Outcome:
    """Time gpuconv and every peer on ``workload`` on ``machine``'s device."""
    from gpuconv.backends import backend_named

    cuda = machine.device == "cuda"
    timer = cuda_median_seconds if cuda else median_seconds
    inputs = workload.inputs()
    reference = workload.reference(inputs)
    if cuda:
        import cupy

        inputs = {name: cupy.asarray(value) for name, value in inputs.items()}
    x = inputs["x"]
    backend = backend_named("cupy" if cuda else "numpy")
    flops = workload.flops()
    outcome = Outcome(
        workload, workload.chosen_method(backend),
        memory_floor=workload.bytes_moved() / machine.copy_bandwidth,
        fma_floor=flops / machine.flop_rate[workload.dtype] if machine.flop_rate else None)
    outcome.direct_floor = direct_floor(workload, outcome.method, machine)

    timed = {}  # label: the call on the whole batch, for the calls that run
    for index, (label, call) in enumerate(workload.calls(inputs, machine.device,
                                                         machine.threads).items()):
        if log:
            log(f"  {workload.name}: {label}")
        try:
            if index > 0:  # gpuconv itself is always timed in full
                part, scale = shrink(x)
                estimate = timer(lambda: call(part), repeats=1) * scale
                if estimate > cap:
                    outcome.timings.append(Timing(
                        label, skipped=f"skipped (>{cap:g} s: about {estimate:.3g} s a call)"))
                    continue
            result = to_numpy(call(x))
        except Exception as error:  # a peer's own failure is reported, not fatal
            if index == 0:
                raise
            outcome.timings.append(Timing(label, skipped=f"failed: {type(error).__name__}: "
                                                         f"{str(error).splitlines()[0][:80]}"))
            continue
        outcome.timings.append(Timing(label, error=relative_error(result, reference),
                                      dtype=str(result.dtype)))
        timed[label] = functools.partial(call, x)
    if log:
        log(f"  {workload.name}: timing {len(timed)} calls in turns")
    seconds = median_in_turns(timed, repeats, warmup=warmup, cuda=cuda)
    for timing in outcome.timings:
        timing.seconds = seconds.get(timing.call)
    return outcome


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------

def format_seconds(seconds: float) -> str:
    """Milliseconds with three significant digits, microseconds below 1 ms.

    >>> format_seconds(0.0123), format_seconds(2.5e-5), format_seconds(1.5)
    ('12.3 ms', '25.0 µs', '1500 ms')
    """
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds * 1e3:.0f} ms"


def outcome_markdown(outcome: Outcome, machine: Machine) -> str:
    """The Markdown section of one workload: floor, method, the table."""
    workload = outcome.workload
    memory = (f"memory {workload.bytes_moved() / 1e6:.0f} MB at "
              f"{machine.copy_bandwidth / 1e9:.1f} GB/s = {format_seconds(outcome.memory_floor)}")
    if outcome.fma_floor is not None:
        rate = machine.flop_rate[workload.dtype]
        fma = (f"; FMA {workload.flops() / 1e9:.2f} GFLOP at {rate / 1e9:.0f} GFLOP/s "
               f"{workload.dtype} = {format_seconds(outcome.fma_floor)}")
    else:
        fma = ""
    ours = outcome.gpuconv.seconds
    method = f" gpuconv's `auto` ran `{outcome.method}`." if outcome.method else ""
    if outcome.direct_floor is not None:
        method += (f" Counting the direct sum's own flops ({workload.direct_flops() / 1e9:.2f} "
                   f"GFLOP, 2 per tap per output) the floor is "
                   f"{format_seconds(outcome.direct_floor)}, and gpuconv takes "
                   f"{ours / outcome.direct_floor:.1f}× that.")
    lines = [f"### {workload.name}: {workload.title}", "",
             f"Floor {format_seconds(outcome.floor)} ({memory}{fma}).{method}", "",
             "| call | median | time / gpuconv's | floor / time | rel. error |",
             "| --- | --- | --- | --- | --- |"]
    for timing in outcome.timings:
        if timing.skipped:
            lines.append(f"| {timing.call} | {timing.skipped} | | | |")
            continue
        error = f"{timing.error:.1e}"
        if timing.dtype != str(np.dtype(workload.dtype)):
            error += f" ({timing.dtype} out)"
        lines.append(f"| {timing.call} | {format_seconds(timing.seconds)} | "
                     f"{timing.seconds / ours:.2f} | {outcome.floor / timing.seconds:.2f} | "
                     f"{error} |")
    return "\n".join(lines)


def header_markdown(machine: Machine, command: str, repeats: int, warning: str | None,
                    warmup: float = 0.0) -> str:
    """What was run, where, how it was timed and what the columns mean."""
    import numba
    import scipy

    import gpuconv

    versions = [f"gpuconv {gpuconv.__version__}", f"Python {platform.python_version()}",
                f"NumPy {np.__version__}", f"SciPy {scipy.__version__}", f"Numba {numba.__version__}"]
    for name, label in (("torch", "PyTorch"), ("cupy", "CuPy")):
        # The peers import PyTorch only when their calls run, after this header.
        module = sys.modules.get(name)
        version = module.__version__ if module is not None else _installed_version(name)
        if version:
            versions.append(f"{label} {version}")
    if machine.device == "cuda":
        floor = ("Floor: bytes moved (each input read and each output written once) at the "
                 "device-to-device copy bandwidth measured in this run, so `floor / time` is "
                 "the achieved fraction of copy bandwidth. Timed with CUDA events.")
    else:
        floor = ("Floor: the larger of the bytes moved (each input read and each output "
                 "written once) at the copy bandwidth and the fewest flops (direct, FFT or "
                 "blocked FFT) at the GEMM rate of the dtype, both measured in this run with "
                 "the library's thread count.")
    lines = [f"Command: `{command}`", "",
             f"Machine: {machine.describe()}; {', '.join(versions)}.", "",
             f"Medians of {repeats} runs after a warm-up of at least one run and "
             f"{warmup:g} s, in one process; gpuconv and its peers take turns (each turn two "
             f"runs, the second timed). The process first frees a block of "
             f"{FREED_BYTES // 2**20} MiB, so that glibc keeps temporaries under that size on "
             "its heap for every call alike, as in any program that has handled such arrays. "
             f"{floor} "
             "`time / gpuconv's` above 1 means gpuconv is faster. `rel. error`: the largest "
             "relative error of one row, max over rows of ‖y − ref‖₂ / ‖ref‖₂, against a "
             "reference computed in float64 (long double for float64 workloads)."]
    if warning:
        lines += ["", f"**{warning}**"]
    return "\n".join(lines)


def _installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, without importing it; None if absent."""
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def plot(outcomes: list, path: str) -> None:
    """A bar chart of every workload's times relative to gpuconv's (log scale)."""
    try:
        import matplotlib
    except ImportError as error:
        raise RuntimeError("--plot needs matplotlib (pip install matplotlib, or the "
                           "'notebooks' extra)") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(outcomes), 1, figsize=(8, 1.2 + 0.45 * sum(
        len(outcome.timings) for outcome in outcomes)), squeeze=False)
    for ax, outcome in zip(axes[:, 0], outcomes):
        timed = [t for t in outcome.timings if t.seconds is not None]
        ratios = [t.seconds / outcome.gpuconv.seconds for t in timed]
        colors = ["tab:green" if i == 0 else "tab:gray" for i in range(len(timed))]
        # bars grow from 1 (gpuconv's time): right when a peer is slower, left when faster
        ax.barh([t.call for t in timed][::-1], [r - 1 for r in ratios[::-1]], left=1.0,
                color=colors[::-1])
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        title = textwrap.fill(f"{outcome.workload.name}: {outcome.workload.title}", 90)
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("time / gpuconv's (log scale; above 1: gpuconv is faster)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
