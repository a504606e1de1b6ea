"""Shared fixtures: the backend every front test runs on, and Hypothesis settings.

`backend` is parametrised over `Backend`. Each member runs the test body
under ``gpuconv.use_backend(name)``; inputs stay NumPy arrays and the
backend moves them to its device and the results back, so one test body
checks every backend against the same NumPy/SciPy reference. A member that
cannot run here skips itself with the reason. ``emulated`` runs the CUDA
direct kernel through the host emulator and never skips: CI has g++.
"""

from __future__ import annotations

import enum
import os

import hypothesis
import pytest

import gpuconv
from gpuconv._algorithms import choose

# Modest example counts: the suite must stay fast on a 2-core CI machine.
# deadline=None because the first call per dtype JIT-compiles (or loads) the
# Numba kernel; function-scoped fixtures are fine here because `backend`
# only sets a context that holds for every example of the test.
hypothesis.settings.register_profile(
    "gpuconv",
    max_examples=40,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture,
                           hypothesis.HealthCheck.too_slow],
    print_blob=True,
)
# A longer bug hunt: GPUCONV_HYPOTHESIS_PROFILE=thorough pytest tests
hypothesis.settings.register_profile("thorough", parent=hypothesis.settings.get_profile("gpuconv"),
                                     max_examples=500)
hypothesis.settings.load_profile(os.environ.get("GPUCONV_HYPOTHESIS_PROFILE", "gpuconv"))


@pytest.fixture(autouse=True, scope="session")
def built_in_cost_table(tmp_path_factory):
    """Run every test on the built-in cost table, not one ``gpuconv tune``
    stored for this user: tests that count auto's paths assume it."""
    saved = os.environ.get(choose.CACHE_DIR_VARIABLE)
    os.environ[choose.CACHE_DIR_VARIABLE] = str(tmp_path_factory.mktemp("gpuconv-cache"))
    choose.forget_loaded_costs()
    yield
    if saved is None:
        del os.environ[choose.CACHE_DIR_VARIABLE]
    else:
        os.environ[choose.CACHE_DIR_VARIABLE] = saved
    choose.forget_loaded_costs()


class Backend(enum.Enum):
    """The backends the front tests run on."""

    NUMPY = "numpy"
    EMULATED = "emulated"  # the CUDA kernels on the CPU (host emulator, g++)
    CUPY = "cupy"

    def skip_reason(self) -> str | None:
        """Why this backend cannot run here, or None when it can."""
        usable = {status.name: status.usable for status in gpuconv.backends.available()}
        if self is Backend.CUPY and not usable.get("cupy", False):
            return "no CUDA device available"
        return None


@pytest.fixture(params=list(Backend), ids=lambda member: member.value)
def backend(request):
    """Run the test body under ``gpuconv.use_backend(<member>)``; yields the member."""
    member: Backend = request.param
    reason = member.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with gpuconv.use_backend(member.value):
        yield member
