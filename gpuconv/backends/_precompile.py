"""Compile the CPU kernels into Numba's on-disk cache before their first call.

Compiling the direct kernel takes 6-7 s for each dtype, and the
multi-channel kernel of ``gpuconv.nn`` about 5 s. The wheel build
(``hatch_build.py`` at the top of the repository) runs
`compile_cpu_kernels` in a scratch copy of the package and ships the files
Numba writes there beside the sources (``__pycache__/*.nbi`` and
``*.nbc``). Numba checks each file against a hash of the source file, its
own version, the Python version and the CPU it compiled for (name and
features). On the machine that ran ``pip install .`` they all match, so a
new process loads the kernels (about 0.4 s, most of it importing Numba)
instead of compiling them; anywhere else Numba finds no matching entry and
compiles on first use, as without the files.
"""

from __future__ import annotations

import numba
import numpy as np

from . import _numba_conv, _numba_kernels

#: dtypes compiled ahead of use; complex and integer kernels compile on first use.
DTYPES = ("float32", "float64")
#: Each kernel's two entry points: the parallel one, and the sequential one
#: that a call of a single job runs on the calling thread.
ENTRY_POINTS = {
    "_numba_kernels.direct_rows": _numba_kernels.direct_rows,
    "_numba_kernels._run_jobs": _numba_kernels._run_jobs,
    "_numba_conv.conv_channels_rows": _numba_conv.conv_channels_rows,
    "_numba_conv._run_jobs": _numba_conv._run_jobs,
}


def compile_cpu_kernels(dtypes=DTYPES) -> list[str]:
    """Compile (or load from the cache) the `ENTRY_POINTS` for ``dtypes``.

    They are reached the way a call reaches them, so their signatures are
    those of real calls. Numba saves what it compiles to its cache as it
    goes.

    Returns
    -------
    list of str
        ``"function[dtype]"`` for every entry point compiled or loaded.

    Raises
    ------
    RuntimeError
        Numba runs on one thread (``NUMBA_NUM_THREADS=1``), so no call
        reaches the parallel entry points.

    Examples
    --------
    >>> compile_cpu_kernels(["float32"])  # doctest: +NORMALIZE_WHITESPACE
    ['_numba_conv._run_jobs[float32]', '_numba_conv.conv_channels_rows[float32]',
     '_numba_kernels._run_jobs[float32]', '_numba_kernels.direct_rows[float32]']
    """
    if numba.config.NUMBA_NUM_THREADS < 2:
        raise RuntimeError("compiling the parallel kernels needs NUMBA_NUM_THREADS >= 2, "
                           f"got {numba.config.NUMBA_NUM_THREADS}")
    threads = numba.get_num_threads()
    numba.set_num_threads(2)  # two jobs reach the parallel entry points
    try:
        for dtype in map(np.dtype, dtypes):
            for rows in (1, 2):  # one job, then several (8192 outputs a row)
                x = np.ones((rows, 64 if rows == 1 else 8192), dtype)
                _numba_kernels.direct(x, np.ones((1, 9), dtype), 4, x.shape[1])
                _numba_conv.conv_channels(x[:, None], np.ones((4, 1, 9), dtype),
                                          np.zeros(4, dtype), stride=1, dilation=1, groups=1,
                                          left=4, out_len=x.shape[1])
    finally:
        numba.set_num_threads(threads)
    return sorted({f"{name}[{signature[0].dtype}]" for name, dispatcher in ENTRY_POINTS.items()
                   for signature in dispatcher.signatures if str(signature[0].dtype) in dtypes})
