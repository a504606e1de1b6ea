"""The order of the CuPy launcher's calls, against a stand-in for CuPy.

No GPU here, so these tests check only what the launcher asks CuPy to do and
in which order: one module per (device, instantiation) compiled with the
backend's options, the constant copy on the launch's stream before the
launch, and a launch on another stream waiting for the previous user of the
same constant memory. The kernels themselves are checked by the NVRTC and
emulator tests; on a GPU machine scripts/gpu-check.sh runs the real thing.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from gpuconv.backends import _launch


class FakeCupy:
    """Records every call the launcher makes, as (what, detail) tuples."""

    def __init__(self):
        self.calls, self.device, self.stream = [], 0, "A"
        calls = self.calls
        fake = self

        class Stream:
            def __init__(self, name):
                self.name = name

            def wait_event(self, event):
                calls.append(("wait", self.name, event))

            def record(self):
                calls.append(("record", self.name))
                return f"event after {self.name}"

        class Global:
            def __init__(self, symbol):
                self.symbol = symbol

            def copy_from_device_async(self, source, size, stream):
                calls.append(("copy", self.symbol, source, size, stream.name))

        class RawModule:
            def __init__(self, code, options, name_expressions):
                calls.append(("compile", fake.device, tuple(name_expressions), tuple(options)))

            def get_function(self, name):
                def launch(grid, block, args, shared_mem):
                    calls.append(("launch", name, fake.stream, shared_mem))
                return launch

            def get_global(self, symbol):
                return Global(symbol)

        self.module = types.SimpleNamespace(
            RawModule=RawModule,
            cuda=types.SimpleNamespace(Device=lambda: types.SimpleNamespace(id=fake.device),
                                       get_current_stream=lambda: Stream(fake.stream)))


class DeviceArray(np.ndarray):
    """A NumPy array with CuPy's ``.data`` device pointer (here: its address)."""

    @property
    def data(self):
        return self.ctypes.data


@pytest.fixture
def fake_cupy(monkeypatch):
    fake = FakeCupy()
    monkeypatch.setitem(sys.modules, "cupy", fake.module)
    return fake


def launches(k, kernel_rows=1):
    x, w = np.ones((2, 40), np.float32), np.ones((kernel_rows, k), np.float32).view(DeviceArray)
    out, cval = np.empty((2, 40 + k - 1), np.float32), np.zeros(1, np.float32)
    return _launch.direct_launches(x, w, out, cval, 0, "zero")


def test_constants_are_copied_on_the_launch_stream_before_the_launch(fake_cupy):
    launcher = _launch.CupyLauncher()
    (first,) = launches(5)
    ((symbol, weights),) = first.constants
    launcher(first)
    fake_cupy.stream = "B"
    launcher(first)
    kernel = first.kernel
    assert fake_cupy.calls == [
        ("compile", 0, (kernel,), _launch.NVRTC_OPTIONS),
        ("copy", symbol, weights.data, 5 * 4, "A"),
        ("launch", kernel, "A", first.shared_bytes),
        ("record", "A"),
        # Stream B's copy must not overwrite the weights A's kernel may still read.
        ("wait", "B", "event after A"),
        ("copy", symbol, weights.data, 5 * 4, "B"),
        ("launch", kernel, "B", first.shared_bytes),
        ("record", "B"),
    ]


def test_modules_are_per_device_and_instantiation(fake_cupy):
    launcher = _launch.CupyLauncher()
    (shared,) = launches(5, kernel_rows=2)
    assert shared.constants == ()
    for device in (0, 0, 1):
        fake_cupy.device = device
        launcher(shared)
    compiles = [call for call in fake_cupy.calls if call[0] == "compile"]
    assert compiles == [("compile", 0, (shared.kernel,), _launch.NVRTC_OPTIONS),
                        ("compile", 1, (shared.kernel,), _launch.NVRTC_OPTIONS)]
    # Without constants there is nothing to order: no events.
    assert [call[0] for call in fake_cupy.calls if call[0] != "compile"] == ["launch"] * 3
