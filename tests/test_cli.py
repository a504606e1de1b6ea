"""The ``gpuconv`` command, driven as a user would: in a subprocess."""

import subprocess
import sys

import numpy as np
import pytest

import gpuconv
import gpuconv.cli
from tolerances import assert_within, direct_bound


def gpuconv_cli(*args):
    return subprocess.run([sys.executable, "-m", "gpuconv.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_demo_runs_and_checks_against_numpy():
    result = gpuconv_cli("demo", "--device", "cpu", "--batch", "3", "--length", "5000",
                         "--repeat", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("gpuconv demo: 3 signals x 5000 samples")
    assert [line.split()[:2] for line in lines[2:5]] == [["0", "Conv1d(1,"], ["1", "ReLU()"],
                                                         ["2", "Conv1d(16,"]]
    assert "(3, 16, 2500)" in lines[2] and "(3, 16, 2500)" in lines[4]
    assert lines[-1].startswith("OK: max relative error")


def test_demo_exits_1_when_a_layer_does_not_match(monkeypatch, capsys):
    """A reference that disagrees (here: shifted by 1e-3) fails the check."""
    from gpuconv.cli import demo

    exact = demo.reference_conv
    monkeypatch.setattr(demo, "reference_conv", lambda *args: exact(*args) + 1e-3)
    assert gpuconv.cli.main(["demo", "--device", "cpu", "--batch", "2", "--length", "300",
                             "--repeat", "1"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("MISMATCH")


def test_demo_plot_draws_every_layer_with_labelled_axes(tmp_path, monkeypatch):
    """``--plot`` writes a PNG whose axes are titled and labelled, one line per layer."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from gpuconv.cli import demo

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to inspect it
    path = tmp_path / "demo.png"
    assert gpuconv.cli.main(["demo", "--device", "cpu", "--batch", "2", "--length", "600",
                             "--repeat", "1", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (figure,) = figures
    top, bottom = figure.axes
    assert len(top.lines) == 1 + len(demo.CONV_LAYERS) + 1  # input, two convs, the ReLU
    assert len(bottom.lines) == demo.CONV_LAYERS[0][1]      # one response per filter
    for ax in (top, bottom):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_demo_reference_is_the_definition():
    """The demo's NumPy reference against a loop over the definition."""
    from gpuconv.cli import demo

    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 20)), rng.standard_normal((4, 3, 5)), rng.standard_normal(4)

    def definition(x, w, b):
        xpad = np.pad(x, ((0, 0), (0, 0), (2, 2)))
        return np.array([[[b[o] + np.sum(w[o] * xpad[n, :, 2 * t:2 * t + 5]) for t in range(10)]
                          for o in range(4)] for n in range(2)])

    # Two float64 sums of 3 * 5 products and a bias, in different orders.
    scale = definition(np.abs(x), np.abs(w), np.abs(b))
    assert_within(demo.reference_conv(x, w, b, 2, 2), definition(x, w, b),
                  direct_bound(scale, 3 * 5 + 1, np.float64), dtype=np.float64)


@pytest.mark.skipif(any(s.name == "cupy" and s.usable for s in gpuconv.backends.available()),
                    reason="a CUDA device is usable here")
def test_demo_on_cuda_without_a_gpu_says_why():
    result = gpuconv_cli("demo", "--device", "cuda")
    assert result.returncode == 2
    assert "cupy backend is not usable here" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_rejects_a_bad_batch():
    result = gpuconv_cli("demo", "--batch", "0")
    assert result.returncode == 2
    assert "--batch: must be a positive integer, got '0'" in result.stderr


def test_demo_checks_seed_and_plot_before_the_run(tmp_path, capsys):
    from gpuconv.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["demo", "--seed", "-1"])
    assert exited.value.code == 2
    assert "--seed: must be a non-negative integer, got '-1'" in capsys.readouterr().err
    assert main(["demo", "--plot", str(tmp_path / "x.txt")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"gpuconv demo: error: --plot must name a .png file, got {str(tmp_path / 'x.txt')!r}"]


def test_info_lists_every_backend_with_a_reason():
    result = gpuconv_cli("info")
    assert result.returncode == 0, result.stderr
    for status in gpuconv.backends.available():
        assert status.reason in result.stdout
    assert f"threads: {gpuconv.config.effective_threads()} " in result.stdout


def test_a_closed_pipe_ends_the_command_quietly():
    """``gpuconv info | head -3``: a reader that leaves early gets no traceback.

    The pipe's read end is closed before the command starts, so its first write fails.
    """
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "gpuconv.cli", "info"], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 1


def test_info_says_where_the_caches_live(tmp_path):
    """The cost table's place follows GPUCONV_CACHE_DIR, as `gpuconv tune` writes it."""
    import os

    env = dict(os.environ, GPUCONV_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "gpuconv.cli", "info"], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'costs.json'} (not measured)" in result.stdout
    assert "Numba kernels" in result.stdout and "CUDA kernels (CuPy)" in result.stdout
