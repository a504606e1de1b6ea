"""Backend registry: which backends exist here, which one computes a call.

Backends are probed once, lazily, and the answer is kept with its reason, so
``import gpuconv`` never imports CuPy or touches a CUDA driver. A call runs on
the backend of its input arrays (device follows data) unless
`use_backend` or the ``GPUCONV_BACKEND`` environment variable says otherwise.

>>> import gpuconv
>>> [status.name for status in gpuconv.backends.available()]
['numpy', 'cupy']
>>> gpuconv.get_backend([1.0, 2.0]).name
'numpy'
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import NamedTuple

__all__ = ["BackendStatus", "NAMES", "available", "default_device", "get_backend", "kernels_dir",
           "use_backend"]

NAMES = ("numpy", "cupy")

_override: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gpuconv_backend", default=None)


class BackendStatus(NamedTuple):
    """Whether a backend can run here and, if not, why not."""

    name: str
    usable: bool
    reason: str


@functools.cache
def _load(name: str):
    """Build backend ``name`` once; return ``(backend or None, reason)``."""
    if name == "numpy":
        from .numpy_backend import NumpyBackend
        return NumpyBackend(), "NumPy, scipy.fft and Numba on the CPU"
    if name == "emulated":
        from ._emulator import EmulatedBackend
        return EmulatedBackend(), "the CUDA kernels on the CPU through the host emulator (tests)"
    if importlib.util.find_spec("cupy") is None:
        return None, "CuPy is not installed (pip install 'gpuconv[cuda12]' or 'gpuconv[cuda13]')"
    try:
        import cupy
    except Exception as error:  # a broken CUDA install raises many kinds
        return None, f"CuPy failed to import: {error}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:
        return None, f"CuPy is installed but no CUDA driver or device is usable: {error}"
    if count == 0:
        return None, "CuPy is installed but no CUDA device is visible"
    from .cupy_backend import CupyBackend
    backend = CupyBackend()
    return backend, f"CuPy {cupy.__version__} on {backend.device_name}"


def available() -> tuple[BackendStatus, ...]:
    """Every backend with whether it is usable here and why (not).

    Probing CuPy imports it and asks the driver for devices; the answer is
    cached for the life of the process.

    Examples
    --------
    >>> import gpuconv
    >>> numpy_status = gpuconv.backends.available()[0]
    >>> numpy_status.name, numpy_status.usable
    ('numpy', True)
    """
    return tuple(BackendStatus(name, _load(name)[0] is not None, _load(name)[1])
                 for name in NAMES)


def backend_named(name: str):
    """The usable backend ``name``; ``RuntimeError`` saying why if it is not."""
    if name not in NAMES + ("emulated",):
        raise ValueError(f"unknown backend {name!r}; known backends are {', '.join(NAMES)} "
                         "(and 'emulated', the CUDA kernels on the CPU, for tests)")
    backend, reason = _load(name)
    if backend is None:
        raise RuntimeError(f"the {name} backend is not usable here: {reason}")
    return backend


def _requested() -> str | None:
    name = _override.get()
    if name is None:
        name = os.environ.get("GPUCONV_BACKEND") or None
    return name


def get_backend(x=None):
    """The backend a call with array ``x`` runs on.

    ``use_backend`` and ``GPUCONV_BACKEND`` override the choice; otherwise a
    CuPy array gives the CuPy backend and anything else the NumPy one. CuPy
    is never imported to answer: an array can only be a CuPy array if CuPy
    is already in ``sys.modules``.

    Examples
    --------
    >>> import numpy as np, gpuconv
    >>> backend = gpuconv.get_backend(np.ones(3))
    >>> backend.name, backend.device
    ('numpy', 'cpu')
    """
    name = _requested()
    if name is None:
        name = "cupy" if _is_cupy(x) else "numpy"
    return backend_named(name)


def default_device() -> str:
    """What ``device='auto'`` means: ``'cuda'`` where `use_backend` or
    ``GPUCONV_BACKEND`` selects ``'cupy'`` (whether or not it is usable: using
    it then raises the reason) or, with neither set, where CuPy is usable;
    else ``'cpu'``."""
    name = _requested()
    if name is not None:
        return "cuda" if name == "cupy" else "cpu"
    return "cuda" if _load("cupy")[0] is not None else "cpu"


def _is_cupy(x) -> bool:
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(x, cupy.ndarray)


@contextlib.contextmanager
def use_backend(name: str):
    """Run the calls inside the ``with`` block on backend ``name``.

    Inputs are moved to that backend's device and results moved back, so
    the returned arrays keep their caller's type.

    >>> import gpuconv, numpy as np
    >>> with gpuconv.use_backend("numpy"):
    ...     gpuconv.convolve(np.ones(3), np.ones(2))
    array([1., 2., 2., 1.])
    """
    backend_named(name)  # fail early, with the reason, if it cannot run
    token = _override.set(name)
    try:
        yield
    finally:
        _override.reset(token)


def kernels_dir() -> Path:
    """Folder of the CUDA sources: inside the package in a wheel, at the top
    of the repository in a source checkout or editable install.

    >>> (kernels_dir() / "README.md").is_file()
    True
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "kernels", package.parent / "kernels"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the CUDA kernel sources are missing: looked in {package / 'kernels'} "
                            f"and {package.parent / 'kernels'}")
