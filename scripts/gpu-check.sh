#!/usr/bin/env bash
# The GPU run CI cannot do: on a machine with an NVIDIA GPU, install the CUDA
# extra and run the whole test suite (the `cupy` member of the backend fixture
# enables itself when a device is usable), the demo on the GPU, the static
# kernel report, and the benchmark against CuPy (and PyTorch CUDA when
# installed), whose tables land in gpu-bench.md.
# Usage: scripts/gpu-check.sh [cuda12|cuda13]
set -euo pipefail
cd "$(dirname "$0")/.."

extra="${1:-cuda12}"
venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet -e ".[test,$extra]"

"$venv/bin/gpuconv" info
"$venv/bin/python" -c "import gpuconv, sys; sys.exit(0 if dict((s.name, s.usable) for s in gpuconv.backends.available())['cupy'] else 'no usable CUDA device: nothing to check')"
"$venv/bin/python" -m pytest
"$venv/bin/gpuconv" demo --device cuda
"$venv/bin/gpuconv" kernels
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/gpuconv" bench --device cuda --markdown gpu-bench.md
