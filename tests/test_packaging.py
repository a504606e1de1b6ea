"""The built wheel carries the CUDA sources and the console script."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_kernels_and_entry_point(tmp_path):
    pytest.importorskip("hatchling", reason="the wheel is built with hatchling (the test extra)")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("gpuconv-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    kernel_files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "kernels").rglob("*") if p.is_file()}
    assert kernel_files and {f"gpuconv/{name}" for name in kernel_files} <= names
    assert "gpuconv = gpuconv.cli:main" in scripts
