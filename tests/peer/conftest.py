"""Run NumPy's and SciPy's own convolution tests against gpuconv.

The ``test_peer_*.py`` files next to this one import the selected test classes
from the test modules installed with NumPy and SciPy.  This plugin

* keeps only the tests that reach a substituted function (a static scan of the
  test's source, or a parameter that *is* one of the originals) and marks them
  ``peer``; the rest are deselected so the counts mean something;
* swaps the originals for gpuconv's functions while the test body runs, and
  only then (fixtures and parametrisation still see NumPy/SciPy);
* reports a gpuconv ``NotImplementedError`` (the documented multi-axis case)
  as xfail, and the few documented deviations in `DEVIATIONS` as strict
  xfails; every other failure stays a failure;
* stands in for the bits of SciPy's conftest those modules need: the ``xp``
  fixture (NumPy only, as SciPy gives without ``SCIPY_ARRAY_API``) and the
  marker names.  SciPy's conftest itself is not loaded: importing it changes
  the hypothesis profile and multiprocessing start method for the whole run.
"""

import functools
import inspect
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
# Looked up in sys.modules by _suite:
import scipy.ndimage  # noqa: F401
import scipy.signal  # noqa: F401

import gpuconv
import gpuconv.ndimage
import gpuconv.signal

HERE = Path(__file__).parent
GPUCONV_DIR = str(Path(gpuconv.__file__).parent)
XFAIL_REASON = "outside gpuconv's one-axis contract"

# Documented deviations from the peers (docs/architecture.md): test id suffix ->
# (the exception gpuconv raises instead, why). Strict: a pass is reported.
DEVIATIONS = {
    "TestCorrelate::test_object": (
        TypeError, "object arrays: gpuconv computes in machine arithmetic only, and "
        "DESIGN.md §2 makes a non-numeric dtype a TypeError"),
}

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


@functools.cache
def _mentions(fn, names):
    """Does the test's name or source mention one of ``names``?"""
    return (any(name in fn.__name__ for name in names) or
            bool(re.search(r"\b(%s)\b" % "|".join(names), inspect.getsource(fn))))


def _reaches_substitute(item, names, originals):
    if _mentions(item.function, tuple(names)):
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
            for suffix, (raises, reason) in DEVIATIONS.items():
                if item.nodeid.endswith(suffix):
                    item.add_marker(pytest.mark.xfail(strict=True, raises=raises, reason=reason))
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


@pytest.fixture
def num_parallel_threads():
    """SciPy's fallback when pytest-run-parallel is not installed."""
    return 1


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    # SciPy parametrises a few tests (never selected here) with generators,
    # which pytest 9 deprecates; that is SciPy's business, not gpuconv's.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Passing a non-Collection iterable",
                                pytest.PytestRemovedIn10Warning)
        return (yield)
