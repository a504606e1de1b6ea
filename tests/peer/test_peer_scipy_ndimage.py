"""SciPy's own ``scipy.ndimage`` convolve1d/correlate1d tests, run on gpuconv.

Every test of ``scipy/ndimage/tests/test_filters.py`` is imported; the conftest
deselects those that never reach ``ndimage.convolve1d`` / ``correlate1d``.
"""

import pytest

_filters = pytest.importorskip("scipy.ndimage.tests.test_filters",
                               reason="SciPy installed without its tests")

globals().update({name: obj for name, obj in vars(_filters).items()
                  if name.startswith(("Test", "test"))})
