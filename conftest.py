"""Repository-level pytest settings (doctest collection of the package)."""

import importlib.util

# The CuPy backend module imports CuPy at the top: the registry loads it only
# once CuPy and a device are found. Without CuPy there is nothing to doctest.
collect_ignore = [] if importlib.util.find_spec("cupy") else ["gpuconv/backends/cupy_backend.py"]
