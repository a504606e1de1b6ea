"""The ``gpuconv`` command, driven as a user would: in a subprocess."""

import subprocess
import sys

import pytest

import gpuconv


def gpuconv_cli(*args):
    return subprocess.run([sys.executable, "-m", "gpuconv.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_demo_runs_and_checks_against_numpy():
    result = gpuconv_cli("demo", "--device", "cpu", "--batch", "3", "--length", "5000",
                         "--repeat", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("gpuconv demo: 3 signals x 5000 samples")
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"]
    assert lines[-1].startswith("OK: max relative error")


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


def test_info_lists_every_backend_with_a_reason():
    result = gpuconv_cli("info")
    assert result.returncode == 0, result.stderr
    for status in gpuconv.backends.available():
        assert status.reason in result.stdout
