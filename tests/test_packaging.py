"""The built wheel carries the CUDA sources, the console script and the compiled CPU kernels."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A new process's first calls through the public API, float32 and float64:
# one job and many for the direct kernel and for gpuconv.nn's, on writable and
# read-only inputs. It prints each kernel entry point's cache hits and misses
# (Numba's counters).
FIRST_CALLS = """
import json
import numpy as np
import gpuconv
from gpuconv import nn
from gpuconv.backends._precompile import ENTRY_POINTS

gpuconv.config.threads = 2
for dtype in (np.float32, np.float64):
    for x in (np.ones((1, 100), dtype), np.ones((8, 20000), dtype)):
        for writeable in (True, False):
            x.flags.writeable = writeable
            gpuconv.convolve(x, np.ones(31, dtype), "same", method="direct")
            nn.functional.conv1d(x[:, None], np.ones((4, 1, 7), dtype), padding=3)
print(json.dumps({name: [sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())]
                  for name, d in ENTRY_POINTS.items()}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling", reason="the wheel is built with hatchling (the test extra)")
    directory = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(directory), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (built,) = directory.glob("gpuconv-*.whl")
    return built


@pytest.mark.slow
def test_wheel_contains_kernels_and_entry_point(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    kernel_files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "kernels").rglob("*") if p.is_file()}
    assert kernel_files and {f"gpuconv/{name}" for name in kernel_files} <= names
    assert "gpuconv = gpuconv.cli:main" in scripts


@pytest.mark.slow
def test_installed_wheel_loads_the_cpu_kernels_compiled(wheel, tmp_path):
    """`hatch_build.py` compiled every entry point into the wheel, for the
    signatures real calls use: installed, a new process compiles none."""
    with zipfile.ZipFile(wheel) as archive:
        cached = {Path(name).name.split("-")[0] for name in archive.namelist()
                  if name.startswith("gpuconv/backends/__pycache__/") and name.endswith(".nbi")}
    assert cached == {"_numba_kernels.direct_rows", "_numba_kernels._run_jobs",
                      "_numba_conv.conv_channels_rows", "_numba_conv._run_jobs"}
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(site), str(wheel)], check=True, capture_output=True,
                   timeout=300)
    environment = {name: value for name, value in os.environ.items()
                   if name != "NUMBA_CACHE_DIR"}  # a cache of the user's would hide the wheel's
    environment.update(PYTHONPATH=str(site), NUMBA_NUM_THREADS="2")  # parallel entries too
    result = subprocess.run([sys.executable, "-c", FIRST_CALLS], env=environment, cwd=tmp_path,
                            check=True, capture_output=True, text=True, timeout=300)
    counts = json.loads(result.stdout)
    # Two dtypes each; the two direct_rows of a dtype differ in nothing that Numba types.
    assert counts == {name: [2, 0] for name in counts}, counts
