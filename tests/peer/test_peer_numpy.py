"""NumPy's own ``np.convolve`` / ``np.correlate`` tests, run on gpuconv (see conftest)."""

import pytest

_numeric = pytest.importorskip("numpy._core.tests.test_numeric",
                               reason="NumPy installed without its tests")

TestConvolve = _numeric.TestConvolve
TestCorrelate = _numeric.TestCorrelate
