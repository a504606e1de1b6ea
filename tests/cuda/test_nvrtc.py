"""Every CUDA kernel instantiation compiles with NVRTC, and agrees with its host side.

No GPU is needed: NVRTC comes from the ``nvidia-cuda-nvrtc`` (CUDA 13) and
``nvidia-cuda-nvrtc-cu12`` wheels of the ``test`` extra. On Linux a missing
library fails these tests rather than skipping them (DESIGN.md §4, item 3).
"""

from __future__ import annotations

import functools
import itertools
import re
import subprocess
import sys

import numpy as np
import pytest

from gpuconv.backends import _launch, _nvrtc
from gpuconv.cli import kernels as kernels_cli

pytestmark = [
    pytest.mark.nvrtc,
    pytest.mark.skipif(sys.platform != "linux", reason="the NVRTC wheels are a Linux-only test extra"),
]

#: (CUDA major, architecture): CUDA 13 refuses compute_70; sm_* give CUBINs.
TARGETS = [(12, "compute_70"), (12, "compute_80"), (12, "compute_90"),
           (13, "compute_75"), (13, "compute_80"), (13, "compute_90"),
           (13, "sm_90"), (13, "sm_100")]
PTX_TARGETS = [target for target in TARGETS if target[1].startswith("compute_")]
CUBIN_TARGETS = [target for target in TARGETS if target[1].startswith("sm_")]


def target_id(target):
    return f"cuda{target[0]}-{target[1]}"


@functools.cache
def compiled(cuda: int, arch: str) -> _nvrtc.Result:
    """The whole module, compiled as the CuPy backend does (plus ptxas -v for CUBINs)."""
    verbose = ("-Xptxas=-v",) if arch.startswith("sm_") else ()
    return _nvrtc.compile(_launch.kernel_source(), _launch.NAME_EXPRESSIONS,
                          _launch.NVRTC_OPTIONS + verbose, arch, cuda=cuda)


@functools.cache
def host_launches() -> dict:
    """A real launch description per instantiation, as the backend builds them:
    k = 3 (unrolled) and 40 (looped), one kernel (constant memory) and one per
    row (shared memory), for every dtype."""
    launches = {}
    for dtype in _launch.CTYPES:
        for k, kernel_rows in itertools.product((3, 40), (1, 2)):
            x, w = np.zeros((2, 10), dtype), np.zeros((kernel_rows, k), dtype)
            out, cval = np.zeros((2, 12), dtype), np.zeros(1, dtype)
            (launch,) = _launch.direct_launches(x, w, out, cval, 2, "zero")
            launches[launch.kernel] = launch
    return launches


def entry_body(ptx: bytes, entry: str) -> str:
    """The PTX text of one entry point, up to the next one."""
    text = ptx.decode()
    begin = text.index(f".entry {entry}(")
    following = text.find(".entry ", begin + 1)
    return text[begin:following if following > 0 else len(text)]


def ptx_types(arg) -> set:
    """PTX parameter types that can receive ``arg``: pointers are .u64."""
    if isinstance(arg, np.ndarray):
        return {"u64"}
    assert isinstance(arg, np.integer), f"bare Python scalar {arg!r} in a launch"
    return {f"u{arg.dtype.itemsize * 8}", f"s{arg.dtype.itemsize * 8}"}


@pytest.mark.parametrize("cuda", [12, 13])
def test_libraries_load_from_their_wheels(cuda):
    nvrtc = _nvrtc.load(cuda)
    assert nvrtc.version[0] == cuda
    assert "nvidia" in nvrtc.path.parts


def test_cuda13_refuses_compute_70():
    with pytest.raises(_nvrtc.NvrtcError, match="INVALID_OPTION"):
        compiled(13, "compute_70")


def test_compile_errors_carry_the_log():
    with pytest.raises(_nvrtc.NvrtcError, match="undefined_thing"):
        _nvrtc.compile("__global__ void k() { undefined_thing(); }", [], (), "compute_80", cuda=13)


def test_a_missing_library_names_its_package(monkeypatch):
    monkeypatch.setitem(_nvrtc.PACKAGES, 12, ("nvidia-cuda-nvrtc-cu12", ("no/such/libnvrtc.so",)))
    with pytest.raises(_nvrtc.NvrtcNotInstalled, match="pip install nvidia-cuda-nvrtc-cu12"):
        _nvrtc.library_path(12)


def test_the_host_launches_every_instantiation_and_no_other():
    assert sorted(host_launches()) == sorted(_launch.NAME_EXPRESSIONS)


def test_constant_memory_size_matches_the_source():
    define = re.search(r"#define GC_CONSTANT_WEIGHT_BYTES (\d+)", _launch.kernel_source())
    assert int(define.group(1)) == _launch.CONSTANT_WEIGHT_BYTES
    assert f"unsigned char {_launch.CONSTANT_SYMBOL}[GC_CONSTANT_WEIGHT_BYTES]" in _launch.kernel_source()


@pytest.mark.parametrize("name", _launch.NAME_EXPRESSIONS)
@pytest.mark.parametrize("target", PTX_TARGETS, ids=target_id)
def test_ptx_parameters_match_the_host_arguments(target, name):
    launch = host_launches()[name]
    scalars = launch.args[4:]
    assert [type(arg) for arg in scalars] == [kind for _, kind in _launch.SCALAR_PARAMETERS]

    result = compiled(*target)
    params = _nvrtc.ptx_parameters(result.code, result.lowered[name])
    assert len(params) == len(launch.args) == 4 + len(_launch.SCALAR_PARAMETERS)
    for position, (param, arg) in enumerate(zip(params, launch.args)):
        assert param in ptx_types(arg), (position, param, arg)


@pytest.mark.parametrize("target", PTX_TARGETS, ids=target_id)
def test_ptx_loads_are_vectorised_and_weights_where_the_host_puts_them(target):
    """Every entry stages its input with 128-bit loads and stores; the entries
    the host gives constants to read weights from constant memory, the
    others do not touch it."""
    result = compiled(*target)
    for name, launch in host_launches().items():
        body = entry_body(result.code, result.lowered[name])
        assert "ld.global.nc.v4" in body and "st.shared.v4" in body, name
        reads_constant = "ld.const" in body and _launch.CONSTANT_SYMBOL in body
        assert reads_constant == bool(launch.constants), name


@pytest.mark.parametrize("target", CUBIN_TARGETS, ids=target_id)
def test_cubins_use_registers_only(target):
    result = compiled(*target)
    assert result.code[:4] == b"\x7fELF"
    resources = _nvrtc.ptxas_resources(result.log)
    for name in _launch.NAME_EXPRESSIONS:
        used = resources[result.lowered[name]]
        assert 0 < used.registers <= 255, name
        assert (used.spill_stores, used.spill_loads) == (0, 0), f"{name} spills: {used}\n{result.log}"


# ---------------------------------------------------------------------------
# gpuconv kernels
# ---------------------------------------------------------------------------

ROW = re.compile(r"^(?P<name>conv1d_direct<.*>)\s+(?P<arch>sm_\d+)\s+(?P<regs>\d+)\s+"
                 r"(?P<stores>\d+)/(?P<loads>\d+)\s+(?P<shared>\d+) B\s+(?P<static>\d+) B\s+"
                 r"(?P<stack>\d+) B$")


def test_cli_kernels_prints_a_row_per_instantiation():
    # One architecture: the module's three-architecture compile costs about a
    # minute here, and the tests above already compile every target.
    result = subprocess.run([sys.executable, "-m", "gpuconv.cli", "kernels", "--arch", "sm_90"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("NVRTC 13.")
    rows = {(m["name"], m["arch"]): m for m in map(ROW.match, result.stdout.splitlines()) if m}
    assert sorted(rows) == sorted((name, "sm_90") for name in _launch.NAME_EXPRESSIONS)
    for name, launch in host_launches().items():
        row = rows[name, "sm_90"]
        assert int(row["shared"]) == kernels_cli.launch_shared_bytes(name)
        assert (row["stores"], row["loads"]) == ("0", "0")
        assert 0 < int(row["regs"]) <= 255
    # The largest launch of each instantiation: k = 16 unrolled, MAX_CHUNK looped.
    chunk, itemsize = _launch.MAX_CHUNK, np.dtype(np.complex128).itemsize
    assert kernels_cli.launch_shared_bytes(_launch.name_expression(np.complex128)) == \
        (_launch.TILE + 2 * chunk - 1) * itemsize
    assert kernels_cli.launch_shared_bytes(_launch.name_expression(np.float32, 16, True)) == \
        (3 + _launch.TILE + 16 - 1) * 4


def test_cli_kernels_without_nvrtc_says_what_to_install(monkeypatch, capsys):
    from gpuconv.cli import main

    monkeypatch.setattr(_nvrtc, "installed", lambda: [])
    _nvrtc.load.cache_clear()
    try:
        assert main(["kernels"]) == 2
    finally:
        _nvrtc.load.cache_clear()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "pip install nvidia-cuda-nvrtc" in err


def test_cli_kernels_refuses_what_ptxas_cannot_report_on_one_line(capsys):
    """A virtual architecture compiles to PTX without ptxas' resource lines;
    one NVRTC rejects is named with its log joined into the one error line."""
    from gpuconv.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["kernels", "--arch", "compute_80"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "gpuconv kernels: error: argument --arch: must be a real architecture such as sm_90, "
        "got 'compute_80'")
    assert main(["kernels", "--arch", "sm_1"]) == 2  # no such GPU: NVRTC says so, with a log
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("gpuconv kernels: error: NVRTC ")
    assert "sm_1" in err[0] and "invalid value for --gpu-architecture" in err[0]
