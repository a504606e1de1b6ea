"""``gpuconv kernels``: registers, spills and shared memory of every CUDA kernel.

Compiles each instantiation with NVRTC (no GPU needed) for real
architectures and prints what ptxas reports, beside the dynamic shared
memory the host-side launch asks for (its largest launch: 16 taps for the
unrolled instantiations, a chunk of 256 taps for the looped ones).
Instantiations ending in ``true>`` read their weights from 64 KiB of
constant memory, which ptxas does not count per entry.
"""

from __future__ import annotations

HELP = "compile the CUDA kernels with NVRTC and show registers, spills and shared memory"

ARCHS = ("sm_80", "sm_90", "sm_100")


def add_arguments(parser) -> None:
    parser.add_argument("--cuda", type=int, choices=(12, 13), default=None,
                        help="CUDA major version of the NVRTC to use (default: newest installed)")
    parser.add_argument("--arch", action="append", default=None, type=real_architecture,
                        help=f"a real architecture, repeatable (default: {' '.join(ARCHS)})")


def real_architecture(text: str) -> str:
    """``sm_NN`` (or ``sm_90a``): ptxas reports resources only for real
    architectures; a virtual one (``compute_80``) compiles to PTX alone.

    >>> real_architecture("sm_90a")
    'sm_90a'
    """
    import argparse
    import re

    if not re.fullmatch(r"sm_\d+[a-z]?", text):
        raise argparse.ArgumentTypeError(
            f"must be a real architecture such as sm_90, got {text!r}")
    return text


def launch_shared_bytes(name: str) -> int:
    """Dynamic shared memory of the largest launch of an instantiation, as the host
    computes it: k = KT taps unrolled, a full chunk of `MAX_CHUNK` taps looped."""
    import numpy as np

    from gpuconv.backends import _launch

    dtype, taps, constant = _launch.INSTANTIATIONS[name]
    k, kernel_rows = taps or _launch.MAX_CHUNK, 1 if constant else 2
    x, w = np.zeros((kernel_rows, 1), dtype), np.zeros((kernel_rows, k), dtype)
    out, cval = np.zeros((kernel_rows, 1), dtype), np.zeros(1, dtype)
    (launch,) = _launch.direct_launches(x, w, out, cval, 0, "zero")
    assert launch.kernel == name, (launch.kernel, name)
    return launch.shared_bytes


def run(args) -> int:
    from gpuconv.backends import _launch, _nvrtc

    nvrtc = _nvrtc.load(args.cuda)  # NvrtcNotInstalled (a RuntimeError): exit 2, one line
    options = (*_launch.NVRTC_OPTIONS, "-Xptxas=-v")
    print(f"NVRTC {'.'.join(map(str, nvrtc.version))}  options: {' '.join(options)}")
    width = max(map(len, _launch.NAME_EXPRESSIONS))
    header = (f"{'kernel':{width}s} {'arch':7s} {'regs':>5s} {'spill st/ld':>12s} "
              f"{'shared/block':>13s} {'static smem':>12s} {'stack':>6s}")
    print(header)
    print("-" * len(header))
    for arch in args.arch or ARCHS:
        result = nvrtc.compile(_launch.kernel_source(), _launch.NAME_EXPRESSIONS, options, arch)
        resources = _nvrtc.ptxas_resources(result.log)
        for name in _launch.NAME_EXPRESSIONS:
            used = resources[result.lowered[name]]
            spills = f"{used.spill_stores}/{used.spill_loads}"
            print(f"{name:{width}s} {arch:7s} {used.registers:5d} {spills:>12s} "
                  f"{launch_shared_bytes(name):11d} B {used.static_shared:10d} B {used.stack:4d} B")
    return 0
