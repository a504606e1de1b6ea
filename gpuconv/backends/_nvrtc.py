"""A ctypes binding of NVRTC, to compile the CUDA kernels without a GPU.

NVRTC is the compiler CuPy's ``RawModule`` uses; it needs no driver, so the
tests and ``gpuconv kernels`` compile every instantiation on a CPU-only
machine and read PTX parameter lists, registers and spills. ctypes (rather
than ``cuda-bindings``) lets CUDA 12's and CUDA 13's libraries live side by
side in one process: each comes from its own PyPI wheel (`PACKAGES`) and is
found inside the ``nvidia`` namespace package the wheels install into.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

#: CUDA major version -> (PyPI wheel, glob of the library inside ``nvidia/``).
PACKAGES = {
    12: ("nvidia-cuda-nvrtc-cu12", ("cuda_nvrtc/lib/libnvrtc.so.12", "cuda_nvrtc/bin/nvrtc64_12*.dll")),
    13: ("nvidia-cuda-nvrtc", ("cu13/lib/libnvrtc.so.13", "cu13/bin/**/nvrtc64_13*.dll")),
}


class NvrtcNotInstalled(RuntimeError):
    """The NVRTC library of a CUDA version is not installed."""


class NvrtcError(RuntimeError):
    """An NVRTC call failed; for a compilation, the message holds the log."""


@dataclass(frozen=True)
class Result:
    """What one compilation produced.

    ``code`` is PTX text (for ``compute_XX``) or a CUBIN (for ``sm_XX``);
    ``lowered`` maps each name expression to its mangled entry point name.
    """

    arch: str
    code: bytes
    log: str
    lowered: dict


def library_path(cuda: int) -> Path:
    """The libnvrtc of CUDA major version ``cuda`` installed from its wheel.

    Raises
    ------
    NvrtcNotInstalled
        With the pip package to install, when no such library is found.
    """
    package, patterns = PACKAGES[cuda]
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for pattern in patterns:
            found = sorted(Path(root).glob(pattern))
            if found:
                return found[-1]
    raise NvrtcNotInstalled(f"NVRTC for CUDA {cuda} is not installed: pip install {package}")


def installed() -> list[int]:
    """CUDA major versions whose NVRTC is installed, newest first."""
    return [cuda for cuda in sorted(PACKAGES, reverse=True) if _has(cuda)]


def _has(cuda: int) -> bool:
    try:
        library_path(cuda)
    except NvrtcNotInstalled:
        return False
    return True


class Nvrtc:
    """One loaded libnvrtc (see `load`)."""

    def __init__(self, path: Path):
        self.path = path
        self._lib = lib = ctypes.CDLL(str(path))  # RTLD_LOCAL: versions don't clash
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        self.version = (major.value, minor.value)

    def _check(self, status: int, call: str) -> None:
        if status:
            message = self._lib.nvrtcGetErrorString(status).decode()
            raise NvrtcError(f"{call} failed: {message}")

    def _bytes(self, program, what: str) -> bytes:
        """Read a sized output (``Program Log``, ``PTX``, ``CUBIN``) of a program."""
        size = ctypes.c_size_t()
        self._check(getattr(self._lib, f"nvrtcGet{what}Size")(program, ctypes.byref(size)),
                    f"nvrtcGet{what}Size")
        buffer = ctypes.create_string_buffer(size.value)
        self._check(getattr(self._lib, f"nvrtcGet{what}")(program, buffer), f"nvrtcGet{what}")
        return buffer.raw

    def compile(self, source: str, name_expressions, options, arch: str) -> Result:
        """Compile ``source`` with ``options`` plus ``-arch=ARCH``; see `compile`."""
        lib, program = self._lib, ctypes.c_void_p()
        self._check(lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"gpuconv.cu",
                                           0, None, None), "nvrtcCreateProgram")
        try:
            for name in name_expressions:
                self._check(lib.nvrtcAddNameExpression(program, name.encode()),
                            "nvrtcAddNameExpression")
            argv = [option.encode() for option in (*options, f"-arch={arch}")]
            status = lib.nvrtcCompileProgram(program, len(argv), (ctypes.c_char_p * len(argv))(*argv))
            # The log ends with a NUL; on failure it is the error message.
            log = self._bytes(program, "ProgramLog").rstrip(b"\0").decode(errors="replace")
            if status:
                message = lib.nvrtcGetErrorString(status).decode()
                raise NvrtcError(f"NVRTC {self.version} {arch}: {message}\n{log}")
            lowered = {}
            for name in name_expressions:
                mangled = ctypes.c_char_p()
                self._check(lib.nvrtcGetLoweredName(program, name.encode(), ctypes.byref(mangled)),
                            "nvrtcGetLoweredName")
                lowered[name] = mangled.value.decode()
            # A real architecture gives a CUBIN (no PTX); a virtual one PTX.
            code = self._bytes(program, "CUBIN" if arch.startswith("sm_") else "PTX")
            return Result(arch, code.rstrip(b"\0") if arch.startswith("compute_") else code,
                          log, lowered)
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(program))


@functools.cache
def load(cuda: int | None = None) -> Nvrtc:
    """Load the NVRTC of CUDA major version ``cuda`` (default: the newest installed).

    Raises
    ------
    NvrtcNotInstalled
        When that NVRTC (or, by default, any) is not installed; the message
        names the pip package.
    """
    if cuda is None:
        versions = installed()
        if not versions:
            raise NvrtcNotInstalled("no NVRTC is installed: pip install "
                                    + " or ".join(package for package, _ in PACKAGES.values()))
        cuda = versions[0]
    return Nvrtc(library_path(cuda))


def compile(source: str, name_expressions, options, arch: str, cuda: int | None = None) -> Result:
    """Compile CUDA C++ with NVRTC, as ``cupy.RawModule`` would.

    Parameters
    ----------
    source : str
        The CUDA C++ source.
    name_expressions : sequence of str
        Template instantiations to emit, e.g. ``"conv1d_direct<float, 128, 4>"``.
    options : sequence of str
        NVRTC options; ``-arch=ARCH`` is appended.
    arch : str
        ``compute_XX`` (the result is PTX) or ``sm_XX`` (a CUBIN).
    cuda : int, optional
        CUDA major version of the NVRTC to use; default the newest installed.

    Returns
    -------
    Result
        The code, the program log and the lowered (mangled) names.

    Raises
    ------
    NvrtcNotInstalled
        When the NVRTC asked for is not installed.
    NvrtcError
        When compilation fails; the message holds NVRTC's log.
    """
    return load(cuda).compile(source, name_expressions, options, arch)


# ---------------------------------------------------------------------------
# Reading the results
# ---------------------------------------------------------------------------

def ptx_parameters(ptx: bytes | str, entry: str) -> list[str]:
    """PTX types of the parameters of kernel ``entry`` (its lowered name).

    >>> ptx_parameters(".entry _Z1kPfi(\\n .param .u64 .ptr .align 4 a,\\n .param .u32 b\\n)", "_Z1kPfi")
    ['u64', 'u32']
    """
    text = ptx.decode() if isinstance(ptx, bytes) else ptx
    match = re.search(rf"\.entry\s+{re.escape(entry)}\s*\((.*?)\)", text, re.DOTALL)
    if match is None:
        raise ValueError(f"no entry {entry} in the PTX")
    return re.findall(r"\.param\s+\.(\w+)", match.group(1))


@dataclass(frozen=True)
class Resources:
    """What ptxas reports for one entry point (``-Xptxas=-v``)."""

    registers: int
    spill_stores: int
    spill_loads: int
    stack: int
    static_shared: int


def ptxas_resources(log: str) -> dict:
    """Per-entry `Resources` from a program log compiled with ``-Xptxas=-v``.

    >>> log = '''ptxas info    : Compiling entry function '_Z1kPf' for 'sm_90'
    ... ptxas info    : Function properties for _Z1kPf
    ...     8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
    ... ptxas info    : Used 40 registers, used 1 barriers, 2048 bytes smem, 380 bytes cmem[0]'''
    >>> ptxas_resources(log)['_Z1kPf']
    Resources(registers=40, spill_stores=4, spill_loads=4, stack=8, static_shared=2048)
    """
    resources = {}
    for block in re.split(r"(?=Compiling entry function)", log)[1:]:
        entry = re.search(r"entry function '([^']+)'", block).group(1)

        def number(pattern):
            found = re.search(pattern, block)
            return int(found.group(1)) if found else 0

        resources[entry] = Resources(
            registers=number(r"Used (\d+) registers"),
            spill_stores=number(r"(\d+) bytes spill stores"),
            spill_loads=number(r"(\d+) bytes spill loads"),
            stack=number(r"(\d+) bytes stack frame"),
            static_shared=number(r"(\d+) bytes smem"))
    return resources
