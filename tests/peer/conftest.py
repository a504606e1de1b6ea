"""Run NumPy's and SciPy's own convolution tests against gpuconv.

The ``test_peer_*.py`` files next to this one import the selected test classes
from the test modules installed with NumPy and SciPy.  This plugin

* keeps only the tests that reach a substituted function (a static scan of the
  test's source, or a parameter that *is* one of the originals) and marks them
  ``peer``; the rest are deselected so the counts mean something;
* swaps the originals for gpuconv's functions while the test body runs, and
  only then (fixtures and parametrisation still see NumPy/SciPy);
* reports a gpuconv ``NotImplementedError`` (the documented multi-axis case)
  as xfail; every other failure stays a failure;
* stands in for the bits of SciPy's conftest those modules need: the ``xp``
  fixture (NumPy only, as SciPy gives without ``SCIPY_ARRAY_API``) and the
  marker names.  SciPy's conftest itself is not loaded: importing it changes
  the hypothesis profile and multiprocessing start method for the whole run.
"""

import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

import gpuconv
import gpuconv.ndimage
import gpuconv.signal

HERE = Path(__file__).parent
GPUCONV_DIR = str(Path(gpuconv.__file__).parent)
XFAIL_REASON = "outside gpuconv's one-axis contract"

# Source test module -> (namespaces its tests reach the functions through,
#                        {name: gpuconv substitute}).
_SIGNAL = {name: getattr(gpuconv.signal, name) for name in
           ("convolve", "correlate", "fftconvolve", "oaconvolve", "choose_conv_method")}
SUITES = {
    "numpy._core.tests.test_numeric": (
        ["numpy"], {"convolve": gpuconv.convolve, "correlate": gpuconv.correlate}),
    "scipy.signal.tests.test_signaltools": (
        ["scipy.signal.tests.test_signaltools", "scipy.signal"], _SIGNAL),
    "scipy.ndimage.tests.test_filters": (
        ["scipy.ndimage"], {"convolve1d": gpuconv.ndimage.convolve1d,
                            "correlate1d": gpuconv.ndimage.correlate1d}),
}


def _suite(item):
    """(module objects to patch, {name: substitute}, {original: substitute})."""
    fn = getattr(item, "function", None)
    spec = SUITES.get(getattr(fn, "__module__", None))
    if spec is None:
        return None
    modules = [sys.modules[name] for name in spec[0]]
    originals = {getattr(mod, name): new for mod in modules
                 for name, new in spec[1].items() if hasattr(mod, name)}
    return modules, spec[1], originals


def _reaches_substitute(item, names, originals):
    fn = item.function
    if any(name in fn.__name__ for name in names):
        return True
    if re.search(r"\b(%s)\b" % "|".join(names), inspect.getsource(fn)):
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(_is_original(v, originals) for v in params.values())


def _is_original(value, originals):
    try:
        return value in originals
    except TypeError:  # unhashable parameter values
        return False


def pytest_configure(config):
    # Markers SciPy's conftest registers; --strict-markers needs them at import.
    for marker in ("skip_xp_backends(backend, reason=None, ...): SciPy backend skip",
                   "xfail_xp_backends(backend, reason=None, ...): SciPy backend xfail",
                   "xslow: SciPy's very slow tests",
                   "xfail_on_32bit(reason): SciPy's 32-bit xfail",
                   "fail_slow(duration): SciPy's pytest-fail-slow marker",
                   "array_api_backends: SciPy's xp-parametrised tests",
                   "thread_unsafe: SciPy's single-threaded marker",
                   "parallel_threads_limit(n): SciPy's pytest-run-parallel marker"):
        config.addinivalue_line("markers", marker)


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        suite = _suite(item) if HERE in Path(item.path).parents else None
        if suite is None:
            keep.append(item)
        elif _reaches_substitute(item, suite[1], suite[2]):
            item.add_marker(pytest.mark.peer)
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    suite = _suite(pyfuncitem)
    if suite is None:
        return (yield)
    modules, subs, originals = suite
    with pytest.MonkeyPatch.context() as mp:
        for mod in modules:
            for name, new in subs.items():
                if hasattr(mod, name):
                    mp.setattr(mod, name, new)
        # Parametrised callables (e.g. ``convapproach``) were bound at import.
        for arg, value in pyfuncitem.funcargs.items():
            if _is_original(value, originals):
                mp.setitem(pyfuncitem.funcargs, arg, originals[value])
        try:
            return (yield)
        except NotImplementedError as exc:
            if _raised_in_gpuconv(exc):
                pytest.xfail(XFAIL_REASON)
            raise


def _raised_in_gpuconv(exc):
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename.startswith(GPUCONV_DIR)


@pytest.fixture(params=[np], ids=["numpy"])
def xp(request):
    """SciPy's ``xp`` fixture without SCIPY_ARRAY_API: NumPy only."""
    from scipy._lib._array_api import array_namespace
    for kind in ("skip", "xfail"):
        for mark in request.node.iter_markers(f"{kind}_xp_backends"):
            if mark.args[:1] == ("numpy",):
                getattr(pytest, kind)(mark.kwargs.get("reason") or
                                      "do not run with array API backend: numpy")
    return array_namespace(np.empty(0))
