"""What every public front shares: input namespaces, checks, rows in and out.

A front calls `prepare` once (the namespace and backend of its inputs, the
dtype checks, the move to the compute device), `as_rows` to turn its N-D
signal and kernel into the canonical ``(rows, n)`` / ``(1 or rows, k)``
pair, builds a `~gpuconv._plan.Request`, and hands everything to
`~gpuconv._algorithms.execute`; `from_rows` and ``restore`` give the result
the caller's shape and array type.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import array_api_compat
import numpy as np

from . import backends
from ._plan import broadcast_batch, normalize_axis


class Prepared(NamedTuple):
    backend: object
    xp: object
    arrays: tuple
    restore: Callable  # result array -> the caller's array type


def check_numeric(xp, dtype, what: str) -> None:
    """``TypeError`` unless ``dtype`` is boolean or numeric, the dtypes every
    front computes with; the message starts with ``what`` ("x must have").
    NumPy's extended precision (``longdouble``) is not one: no kernel computes in it."""
    if not (xp.isdtype(dtype, "numeric") or dtype == xp.bool):
        raise TypeError(f"{what} a boolean, integer, floating or complex dtype, got {dtype}")
    widest = {"f": 8, "c": 16}.get(np.dtype(dtype).kind)  # float64, complex128
    if widest and np.dtype(dtype).itemsize > widest:
        raise TypeError(f"{what} a dtype of at most double precision, got {dtype} "
                        f"(extended precision: cast to float64 or complex128 first)")


def prepare(**named) -> Prepared:
    """Resolve the inputs' library, check their dtypes, move them to the backend.

    Keyword names are the public argument names, so errors can name them.
    Non-arrays (lists, scalars) become arrays of the library the array
    arguments come from (NumPy if none is an array), like ``numpy.asarray``.
    """
    given = {name: value for name, value in named.items()
             if array_api_compat.is_array_api_obj(value)}
    # NumPy arrays are host data, like lists: they follow an array of another
    # library (a CPU kernel with a GPU signal moves to the signal's device).
    others = {name: value for name, value in given.items()
              if not array_api_compat.is_numpy_array(value)}
    first = next(iter((others or given).values()), None)
    if others:  # NumPy arrays alone need no check: one library, all on the host
        try:
            array_api_compat.array_namespace(*others.values())
        except TypeError:
            kinds = ", ".join(f"{name} is a {type(value).__module__}.{type(value).__name__}"
                              for name, value in others.items())
            raise TypeError(f"all array arguments must come from one array library "
                            f"(NumPy arrays aside): {kinds}") from None
        _check_same_device(others)

    backend = backends.get_backend(first)
    arrays = []
    for name, value in named.items():
        array = to_backend(backend, value, name)
        check_numeric(backend.xp, array.dtype, f"{name} must have")
        arrays.append(array)

    if first is None:  # lists and scalars are host data: results come back as NumPy
        restore = _unchanged if backend.is_native(np.empty(0)) else _restorer(np, None)
    elif backend.is_native(first):
        restore = _unchanged
    else:  # another library, or moved by use_backend: give the caller its own type back
        restore = _restorer(array_api_compat.array_namespace(first), first)
    return Prepared(backend, backend.xp, tuple(arrays), restore)


def to_backend(backend, value, name: str):
    """``backend.asarray(value)``, its errors naming the argument."""
    try:
        return backend.asarray(value)
    except TypeError as error:  # a dtype NumPy lacks, a tensor that requires grad
        raise TypeError(f"{name}: {error}") from None


def _unchanged(result):
    return result


def _restorer(caller_xp, like):
    """Convert results back to the caller's library and device.

    Through DLPack where both sides speak it (a CuPy result becomes a torch
    CUDA tensor without a copy); through the host otherwise.
    """
    def restore(result):
        if isinstance(result, np.generic):  # a 0-d result NumPy made a scalar: no DLPack
            result = np.asarray(result)
        if like is not None and not array_api_compat.is_numpy_array(like):
            same_side = array_api_compat.is_cupy_array(result) == _on_gpu(like)
            if same_side and hasattr(caller_xp, "from_dlpack"):
                return caller_xp.from_dlpack(result)
        if hasattr(result, "get"):  # CuPy -> host
            result = result.get()
        if like is None:
            return caller_xp.asarray(result)
        return caller_xp.asarray(result, device=array_api_compat.device(like))
    return restore


def _on_gpu(array) -> bool:
    """Whether ``array`` lives in CUDA memory (DLPack device type 2)."""
    try:
        return array.__dlpack_device__()[0] == 2
    except (AttributeError, TypeError):
        return False


def _check_same_device(given: dict) -> None:
    devices = {name: array_api_compat.device(value) for name, value in given.items()}
    if len({str(d) for d in devices.values()}) > 1:
        where = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise ValueError(f"all array arguments must be on one device: {where}")


class Rows(NamedTuple):
    x: object           # (rows, n) signal rows
    w: object           # (1 or rows, k) kernel rows
    batch: tuple        # broadcast batch shape (every axis but the convolved one)
    axis: int           # the convolved axis as a negative index into the output


def as_rows(xp, a, v, axis: int, *, names=("a", "v")) -> Rows:
    """Move ``axis`` last and flatten the broadcast batch of ``a`` and ``v``.

    ``v`` is one kernel (1-D) for every row, or an array aligned with ``a``
    from the right (NumPy broadcasting) whose length along ``axis`` is the
    kernel length and whose other axes broadcast against ``a``'s.
    """
    axis = normalize_axis(axis, a.ndim) - a.ndim  # negative: aligns a and v
    x = a if axis == -1 else xp.moveaxis(a, axis, -1)
    if v.ndim == 1:
        w = xp.reshape(v, (1, v.shape[0]))
        batch = tuple(x.shape[:-1])
    else:
        if v.ndim + axis < 0:
            raise ValueError(f"{names[1]} has {v.ndim} dimensions, too few to hold axis "
                             f"{axis} of {names[0]}: give a 1-D kernel or one aligned with "
                             f"{names[0]} from the right")
        w = v if axis == -1 else xp.moveaxis(v, axis, -1)
        batch = broadcast_batch(tuple(x.shape[:-1]), tuple(w.shape[:-1]), names)
        if math.prod(w.shape[:-1]) == 1:
            w = xp.reshape(w, (1, w.shape[-1]))
        else:
            w = xp.reshape(xp.broadcast_to(w, batch + (w.shape[-1],)), (-1, w.shape[-1]))
    if tuple(x.shape[:-1]) != batch:
        x = xp.broadcast_to(x, batch + (x.shape[-1],))
    x = xp.reshape(x, (math.prod(batch), x.shape[-1]))
    return Rows(x, w, batch, axis)


def from_rows(xp, out, rows: Rows):
    """Give ``(rows, out_len)`` results the batch shape and axis of the input."""
    out = xp.reshape(out, rows.batch + (out.shape[-1],))
    return out if rows.axis == -1 else xp.moveaxis(out, -1, rows.axis)


def check_not_empty(n: int, k: int, names=("a", "v")) -> None:
    """NumPy's rule: neither input may be empty along the convolved axis."""
    for name, length in zip(names, (n, k)):
        if length == 0:
            raise ValueError(f"{name} cannot be empty")


def conj_flip(xp, v, axis):
    """``v`` reversed along ``axis`` (every axis for None) and conjugated:
    correlation as convolution."""
    v = xp.flip(v, axis=axis)
    return xp.conj(v) if xp.isdtype(v.dtype, "complex floating") else v

