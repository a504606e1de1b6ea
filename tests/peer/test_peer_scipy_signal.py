"""SciPy's own ``scipy.signal`` convolution tests, run on gpuconv (see conftest)."""

import pytest

_signaltools = pytest.importorskip("scipy.signal.tests.test_signaltools",
                                   reason="SciPy installed without its tests")

_CLASSES = {"TestConvolve", "TestFFTConvolve", "TestOAConvolve", "TestAllFreqConvolves"}
globals().update({name: obj for name, obj in vars(_signaltools).items()
                  if name in _CLASSES or name.startswith("TestCorrelate")})
