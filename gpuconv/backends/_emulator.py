"""The CUDA kernels on the CPU: a host emulator for CI machines without a GPU.

`EmulatedLauncher` compiles ``kernels/*.cu`` with g++ and OpenMP against
``cuda_emulation.h`` (one OpenMP team per block, ``__syncthreads()`` a team
barrier, shared memory one poisoned buffer, ``__constant__`` symbols poisoned
globals) and executes the very `Launch` descriptions the CuPy backend would
send to a GPU, with NumPy arrays standing in for device memory; a misaligned
128-bit access, which a GPU would fault on, raises. `EmulatedBackend` is the CPU backend with its direct
method replaced by those kernels: ``gpuconv.use_backend("emulated")``.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from ._launch import (CONSTANT_SYMBOL, CONSTANT_WEIGHT_BYTES, NAME_EXPRESSIONS, CudaDirect, Launch,
                      kernel_source)
from .numpy_backend import NumpyBackend

HEADER = Path(__file__).with_name("cuda_emulation.h")
#: A launch owns the emulation's process-wide state (the shared-memory buffer,
#: constant symbols, blockDim, the alignment counter): one at a time, though
#: ctypes releases the GIL and Dask's threads may launch together.
_LAUNCH_LOCK = threading.Lock()
#: ``__constant__`` symbols of the kernel source and their sizes in bytes.
CONSTANT_SYMBOLS = {CONSTANT_SYMBOL: CONSTANT_WEIGHT_BYTES}
COMPILER = ("g++", "-std=c++17", "-O2", "-fopenmp", "-fPIC", "-shared", "-Wno-unknown-pragmas")


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "gpuconv" / "emulator"


def translation_unit(source: str, name_expressions) -> str:
    """The kernel source made host C++, with one C entry point per instantiation.

    ``extern __shared__`` arrays become the header's block buffer and static
    ``__shared__`` ones team-shared statics.
    """
    source = re.sub(r"extern\s+__shared__", "extern", source)
    source = re.sub(r"__shared__", "static", source)
    entries = "\n".join(
        f'extern "C" void gc_launch_{i}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, '
        f"unsigned by, unsigned bz, std::size_t shared, void** args) {{\n"
        f"    gc_emu::launch(&{name}, dim3(gx, gy, gz), dim3(bx, by, bz), shared, args);\n}}"
        for i, name in enumerate(name_expressions))
    return f'#include "{HEADER.name}"\n\n{source}\n\n{entries}\n'


class EmulatedLauncher:
    """Executes `Launch` records with the kernels compiled for the host."""

    def __init__(self, source: str | None = None, name_expressions=NAME_EXPRESSIONS):
        self.source = kernel_source() if source is None else source
        self.name_expressions = tuple(name_expressions)

    @functools.cached_property
    def library(self) -> ctypes.CDLL:
        """The compiled emulation, cached on disk by the hash of what went in."""
        unit = translation_unit(self.source, self.name_expressions)
        key = hashlib.sha256("\0".join((unit, HEADER.read_text(), *COMPILER)).encode()).hexdigest()[:16]
        target = _cache_dir() / f"kernels-{key}.so"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as scratch:
                cpp = Path(scratch) / "kernels.cpp"
                cpp.write_text(unit)
                built = Path(scratch) / target.name
                result = subprocess.run([*COMPILER, f"-I{HEADER.parent}", str(cpp), "-o", str(built)],
                                        capture_output=True, text=True)
                if result.returncode:
                    raise RuntimeError(f"the host emulator could not compile the kernels:\n{result.stderr}")
                os.replace(built, target)  # atomic: concurrent test workers may race
        return ctypes.CDLL(str(target))

    def __call__(self, launch: Launch) -> None:
        library = self.library
        entry = getattr(library, f"gc_launch_{self.name_expressions.index(launch.kernel)}")
        holders = [_argument(value) for value in launch.args]
        pointers = (ctypes.c_void_p * len(holders))(*(ctypes.addressof(h) for h in holders))
        with _LAUNCH_LOCK:
            for symbol, values in launch.constants:
                self._write_constant(symbol, values)
            misaligned = ctypes.c_int.in_dll(library, "gc_emu_misaligned")
            misaligned.value = 0
            entry(*(ctypes.c_uint(v) for v in (*launch.grid, *launch.block)),
                  ctypes.c_size_t(launch.shared_bytes), pointers)
            count = misaligned.value
        if count:
            raise RuntimeError(f"{launch.kernel} made {count} misaligned 128-bit "
                               f"accesses (a GPU faults on them)")

    def _write_constant(self, symbol: str, values) -> None:
        """Poison a ``__constant__`` symbol, then copy ``values`` to its start."""
        size = CONSTANT_SYMBOLS[symbol]
        if not isinstance(values, np.ndarray) or not values.flags.c_contiguous:
            raise TypeError(f"constant {symbol} must be a C-contiguous NumPy array")
        if values.nbytes > size:
            raise ValueError(f"{values.nbytes} bytes do not fit constant symbol {symbol} "
                             f"({size} bytes)")
        target = (ctypes.c_ubyte * size).in_dll(self.library, symbol)
        ctypes.memset(target, 0xFF, size)
        ctypes.memmove(target, values.ctypes.data, values.nbytes)


def _argument(value):
    """A ctypes object holding what the kernel parameter receives."""
    if isinstance(value, np.ndarray):
        # The kernel walks rows by their stride; within a row it needs unit stride.
        if value.ndim == 2 and value.shape[1] > 1 and value.strides[1] != value.itemsize \
                or value.ndim != 2 and not value.flags.c_contiguous:
            raise ValueError("kernel array arguments must have contiguous rows")
        return ctypes.c_void_p(value.ctypes.data)
    if isinstance(value, np.generic):
        return (ctypes.c_char * value.nbytes).from_buffer_copy(value.tobytes())
    raise TypeError(f"kernel arguments must be NumPy arrays or NumPy scalars with an explicit "
                    f"dtype, got {type(value).__name__} {value!r}")


def poisoned(shape, dtype):
    """An output buffer full of 0xFF bytes (NaN, -1): unwritten outputs show."""
    out = np.empty(shape, dtype=dtype)
    out.view(np.uint8)[...] = 0xFF
    return out


class EmulatedBackend(NumpyBackend):
    """The CPU backend with the CUDA direct kernel run by the host emulator."""

    name = "emulated"
    device = "cpu (CUDA emulation)"
    direct_boundaries = True

    def __init__(self):
        self.direct = CudaDirect(self.xp, EmulatedLauncher(), allocate=poisoned)
