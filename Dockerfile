# gpuconv on an NVIDIA GPU (CuPy for CUDA 12). Build and run from the repository root:
#   docker build -t gpuconv .
#   docker run --gpus all --rm gpuconv                      # gpuconv demo
#   docker run --gpus all --rm -v "$PWD:/data" gpuconv filter /data/take.wav --fir-lowpass 3000 --taps 101
# The runtime image carries the CUDA libraries CuPy loads (cuFFT, NVRTC); the host needs
# the NVIDIA driver and the NVIDIA Container Toolkit.
FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04

# Ubuntu's python3 follows the pinned base image; pinning each package's version
# would break at the archive's next security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

# Ubuntu 24.04's system Python refuses pip (PEP 668): the project gets its own venv.
ENV VIRTUAL_ENV=/opt/gpuconv \
    PATH=/opt/gpuconv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1
RUN python3 -m venv /opt/gpuconv

WORKDIR /tmp/gpuconv-src
COPY pyproject.toml README.md hatch_build.py ./
COPY gpuconv ./gpuconv
COPY kernels ./kernels
# The project itself comes from this checkout; its dependencies' ranges are in pyproject.toml.
# No build hook: it would compile the CPU kernels for the machine that builds the
# image, and the image keeps Numba's cache in NUMBA_CACHE_DIR (below) anyway.
# hadolint ignore=DL3013
RUN HATCH_BUILD_NO_HOOKS=true pip install ".[cuda12]" \
    && rm -rf /tmp/gpuconv-src

# Not root: Numba's and CuPy's compiled-kernel caches go to the user's home.
RUN groupadd --gid 10001 gpuconv \
    && useradd --uid 10001 --gid 10001 --create-home gpuconv
USER 10001:10001
WORKDIR /home/gpuconv
ENV NUMBA_CACHE_DIR=/home/gpuconv/.cache/numba \
    CUPY_CACHE_DIR=/home/gpuconv/.cache/cupy

ENTRYPOINT ["gpuconv"]
CMD ["demo"]
