"""`gpuconv bench` as CI runs it: every workload's rows, errors at the method's level.

Never asserts on a time or a ratio: benchmarks do not decide whether CI
passes. The error bounds are the project's (`tests/tolerances.py`), turned
into the bench's metric: ``|err| <= bound`` elementwise gives
``||err||_2 / ||ref||_2 <= ||bound||_2 / ||ref||_2`` for every row.
"""

from __future__ import annotations

import platform
import re
import resource
import time

import numpy as np
import pytest
import scipy.signal

import gpuconv
from gpuconv._bench import regret, suite
from gpuconv._bench.roofline import Machine
from gpuconv._bench.timing import (FREED_BYTES, fastest_in_turns, keep_temporaries,
                                   median_in_turns)
from gpuconv._bench.workloads import ConvWorkload, has_module, has_nn, relative_error, workload
from gpuconv.cli import main
from tolerances import direct_bound, fft_bound

CONV_WORKLOADS = ["W1", "W2", "W3", "W4", "W5"]


def sections(markdown: str) -> dict:
    """``{workload name: (auto's method, {call: (median cell, error cell)})}``."""
    found = {}
    for block in re.split(r"^### ", markdown, flags=re.M)[1:]:
        name = block.split(":", 1)[0]
        method = re.search(r"`auto` ran `(\w+(?:\.\w+)?)`", block)
        rows = {}
        for line in block.splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if line.startswith("| ") and len(cells) == 5 and cells[0] not in ("call", "---"):
                rows[cells[0]] = (cells[1], cells[4])
        found[name] = (method.group(1) if method else None, rows)
    return found


def row_bound(w: ConvWorkload, method: str) -> float:
    """Largest ``||bound||_2 / ||ref||_2`` over the rows, for ``method`` on ``w``'s inputs."""
    inputs = w.inputs()
    ref = w.reference(inputs)
    x, k = np.abs(inputs["x"].astype(np.float64)), w.k
    full = scipy.signal.fftconvolve(x, np.abs(inputs["w"].astype(np.float64))[None, :], axes=1)
    start = (k - 1) // 2
    if method == "direct":
        bound = direct_bound(full[:, start:start + w.n], k, w.dtype)
    else:  # fft or oa: the bound of either FFT path
        bound = np.broadcast_to(fft_bound(full, w.n, k, w.dtype), ref.shape)
    return float(np.max(np.linalg.norm(bound, axis=1) / np.linalg.norm(ref, axis=1)))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.md"
    status = main(["bench", "--quick", "--repeats", "1", "--cap", "0.2", "--markdown", str(path)])
    assert status == 0
    return path.read_text(encoding="utf-8")


def test_quick_run_has_every_workload_and_every_peer(quick_run):
    found = sections(quick_run)
    assert list(found) == ["W1", "W2", "W3", "W4", "W5", "W6"]
    for name in CONV_WORKLOADS:
        method, rows = found[name]
        assert method in ("direct", "fft", "oa")
        labels = list(rows)
        assert labels[0] == ("gpuconv.ndimage.convolve1d" if name == "W4" else "gpuconv.convolve")
        assert any(label.startswith("numpy.convolve") for label in labels)
        for peer in ("convolve", "fftconvolve", "oaconvolve"):
            assert any(label.startswith(f"scipy.signal.{peer} ") for label in labels), peer
        assert any(label.startswith("scipy.ndimage.convolve1d") for label in labels)
        for median, error in rows.values():  # timed with an error, or skipped saying why
            assert re.fullmatch(r"[\d.]+ (ms|µs)", median) or median.startswith(("skipped (>", "failed")), median
            assert error == "" or re.fullmatch(r"\d\.\de[-+]\d+", error), error
        assert "Floor " in quick_run
    if has_module("torch"):  # a peer, imported after the header is written
        import torch

        assert f"PyTorch {torch.__version__}" in quick_run.split("### ")[0]


@pytest.mark.parametrize("name", CONV_WORKLOADS)
def test_quick_run_errors_are_at_the_method_level(quick_run, name):
    method, rows = sections(quick_run)[name]
    w = workload(name, quick=True)
    ours = float(next(iter(rows.values()))[1])
    assert ours <= row_bound(w, method)
    # Every peer computes the same numbers by direct sums or FFTs: the looser bound.
    loosest = max(row_bound(w, "direct"), row_bound(w, "fft"))
    for label, (_, error) in rows.items():
        if error:
            assert float(error) <= loosest, label


def test_quick_run_pipeline(quick_run):
    method, rows = sections(quick_run)["W6"]
    if not has_nn():
        assert "gpuconv.nn is not importable" in quick_run
        return
    w = workload("W6", quick=True)
    inputs = w.inputs()
    # |err| <= gamma_(m+2) S per layer, S the pipeline of absolute values
    # (ReLU is 1-Lipschitz); m = K + 1 (layer 1) + C*K + 1 (layer 2) terms,
    # each layer's bias added after its products.
    absolute = w.reference({name: np.abs(value) for name, value in inputs.items()})
    ref = w.reference(inputs)
    eps = np.finfo(np.float32).eps
    bound = (w.k + 1 + 2 + w.channels * w.k + 1 + 2) * eps * absolute
    rows_ref, rows_bound = ref.reshape(-1, ref.shape[-1]), bound.reshape(-1, ref.shape[-1])
    limit = np.max(np.linalg.norm(rows_bound, axis=1) / np.linalg.norm(rows_ref, axis=1))
    assert list(rows)[0] == "gpuconv.nn.Sequential"
    for label, (_, error) in rows.items():
        if error:
            assert float(error) <= limit, label


def test_direct_floor_counts_the_direct_sums_flops_where_auto_ran_direct():
    machine = Machine("cpu", "test CPU", 2, 30e9, {"float32": 200e9, "float64": 100e9})
    w2 = workload("W2")  # K=127: an FFT needs fewer flops than the direct sum
    assert w2.flops() < w2.direct_flops() == 2 * 127 * 64 * 262144
    floor = suite.direct_floor(w2, "direct", machine)
    assert floor == pytest.approx(w2.direct_flops() / 200e9)  # above the memory floor
    outcome = suite.Outcome(w2, "direct", memory_floor=w2.bytes_moved() / 30e9,
                            fma_floor=w2.flops() / 200e9, direct_floor=floor,
                            timings=[suite.Timing("gpuconv.convolve", 2 * floor, 1e-7, "float32")])
    assert ("Counting the direct sum's own flops (4.26 GFLOP, 2 per tap per output) the floor "
            "is 21.3 ms, and gpuconv takes 2.0× that.") in suite.outcome_markdown(outcome, machine)
    # Not where auto ran an FFT, nor where the direct sum is the fewest flops already.
    assert suite.direct_floor(w2, "fft", machine) is None
    assert suite.direct_floor(workload("W4"), "direct", machine) is None


def test_relative_error_is_the_worst_row():
    ref = np.array([[1.0, 0.0], [0.0, 2.0]])
    got = np.array([[1.0, 0.1], [0.0, 2.0]], dtype=np.float32)
    assert relative_error(got, ref) == pytest.approx(0.1, rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        relative_error(got[:1], ref)


def test_plot_and_blas_warning(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    png = tmp_path / "bench.png"
    assert main(["bench", "--quick", "--workloads", "W1", "--repeats", "1", "--cap", "0",
                 "--plot", str(png)]) == 0
    captured = capsys.readouterr()
    assert "warning: OPENBLAS_CORETYPE=Haswell is set" in captured.err
    assert "OPENBLAS_CORETYPE=Haswell" in captured.out  # the tables say so too
    assert "skipped (>0 s" in captured.out  # --cap 0: every peer skipped, gpuconv timed
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_options_are_clear_errors(capsys):
    assert main(["bench", "--workloads", "W1,W9"]) == 2
    assert "unknown workload 'W9'" in capsys.readouterr().err
    assert main(["bench", "--repeats", "0"]) == 2
    assert "--repeats must be at least 1" in capsys.readouterr().err


def test_output_paths_are_refused_before_the_run(tmp_path, capsys, monkeypatch):
    """A full bench takes minutes: its outputs are checked before the first workload."""
    from gpuconv._bench import roofline

    monkeypatch.setattr(roofline, "measure_cpu", lambda *a, **k: pytest.fail("the run started"))
    missing = tmp_path / "no" / "x.md"
    for args, message in [
        (["--markdown", str(missing)], f"--markdown {str(missing)!r}: its directory does not exist"),
        (["--plot", str(tmp_path / "x.txt")], f"--plot must name a .png file, got "
                                              f"{str(tmp_path / 'x.txt')!r}"),
        (["--workloads", "regret", "--plot", str(tmp_path / "r.png")],
         "--plot draws the W1..W6 workloads, and none is selected"),
    ]:
        assert main(["bench", "--quick", *args]) == 2
        assert capsys.readouterr().err.splitlines() == [f"gpuconv bench: error: {message}"]


def test_cuda_without_a_device_exits_2_with_the_reason(capsys):
    status = {s.name: s for s in gpuconv.backends.available()}["cupy"]
    if status.usable:
        pytest.skip("a CUDA device is usable here")
    assert main(["bench", "--device", "cuda", "--quick"]) == 2
    assert status.reason in capsys.readouterr().err


# --------------------------------------------------------------------------
# Auto regret
# --------------------------------------------------------------------------

def measured(times, chosen):
    return regret.Measured(regret.Case(1, 4096, 15, "float32"), times, chosen)


def test_regret_is_chosen_time_over_best():
    m = measured({"direct": 3.0, "fft": 2.0, "oa": 4.0}, "direct")
    assert (m.best, m.regret) == ("fft", 1.5)
    assert measured({"direct": 3.0, "fft": 2.0, "oa": 4.0}, "fft").regret == 1.0


def test_regret_summary():
    cases = [measured({"direct": 1.0, "fft": 1.2, "oa": 2.0}, "direct"),
             measured({"direct": 1.0, "fft": 1.2, "oa": 2.0}, "fft"),
             measured({"direct": 5.0, "fft": 1.0, "oa": 2.0}, "fft"),
             measured({"direct": 5.0, "fft": 1.0, "oa": 1.5}, "oa")]
    summary = regret.summarize(cases)
    assert summary["median"] == pytest.approx(1.1)
    assert summary["worst"] == pytest.approx(1.5)
    assert summary["worst_case"] is cases[3]
    assert (summary["best_picked"], summary["cases"]) == (2, 4)
    assert summary["goals_met"] is False
    text = regret.markdown(cases, show=2)
    assert "median 1.10, worst 1.50" in text and "NOT met" in text
    assert text.count("| 1 × 4096 float32, K=15 |") == 2
    with pytest.raises(ValueError, match="no measured cases"):
        regret.summarize([])


def test_regret_grid_and_one_measured_case():
    cases = regret.grid(quick=True)
    assert all(case.k <= case.n for case in cases)
    assert all(case.k <= case.n for case in regret.grid())
    m = regret.measure_case(regret.Case(2, 2048, 15, "float64"), gpuconv.get_backend(), repeats=1)
    assert set(m.times) == set(regret.METHODS) and m.chosen in regret.METHODS
    assert all(t > 0 for t in m.times.values())


def test_fastest_in_turns_warms_each_up_then_times_them_in_rounds():
    calls = []
    times = fastest_in_turns({name: lambda name=name: calls.append(name) for name in "ab"},
                             repeats=3, warmups=2)
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3
    assert set(times) == {"a", "b"} and all(t > 0 for t in times.values())
    calls.clear()
    # A round of two 10 ms calls against 15 ms a function: one round only.
    fastest_in_turns({name: lambda name=name: (calls.append(name), time.sleep(0.01))
                      for name in "ab"}, repeats=5, warmups=1, budget=0.015)
    assert calls == ["a", "b", "a", "b"]
    calls.clear()
    fastest_in_turns({name: lambda name=name: calls.append(name) for name in "ab"},
                     repeats=2, warmups=1, runs_per_turn=2)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 2
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        fastest_in_turns({"a": lambda: None}, repeats=0)


def test_median_in_turns_times_the_second_run_of_each_turn():
    calls = []
    log = {name: lambda name=name: calls.append(name) for name in "ab"}
    times = median_in_turns(log, repeats=3)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert set(times) == {"a", "b"}
    # The first run of each turn sleeps 50 ms; the median is of the second runs.
    runs = iter(range(100))
    slow_first = median_in_turns({"a": lambda: next(runs) % 2 and time.sleep(0.05)},
                                 repeats=3)
    assert slow_first["a"] < 0.05
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        median_in_turns({"a": lambda: None}, repeats=0)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc thresholds")
def test_keep_temporaries_keeps_smaller_blocks_on_the_heap():
    keep_temporaries()
    pages = (FREED_BYTES // 2) // resource.getpagesize()

    def temporary():
        np.ones(FREED_BYTES // 2, dtype=np.uint8)  # written, so every page is touched

    temporary()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        temporary()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # Given back to the kernel after each call, each would fault in all its pages again.
    assert faults < pages // 10


def test_shrink_takes_a_sixteenth():
    part, scale = suite.shrink(np.zeros((64, 10)))
    assert part.shape == (4, 10) and scale == 16
    part, scale = suite.shrink(np.zeros((1, 1024)))
    assert part.shape == (1, 64) and scale == 16
