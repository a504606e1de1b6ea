"""`gpuconv tune`: measured cost tables written to the cache directory and read back."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import gpuconv
from gpuconv._algorithms import choose
from gpuconv._algorithms.fft import transform_length
from gpuconv._bench import calibrate
from gpuconv._plan import Request
from gpuconv.backends import backend_named
from gpuconv.backends.numpy_backend import _fft_workers
from gpuconv.cli import main


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache directory; the loaded table is forgotten before and after."""
    monkeypatch.setenv("GPUCONV_CACHE_DIR", str(tmp_path))
    choose.forget_loaded_costs()
    yield tmp_path
    choose.forget_loaded_costs()


def write_table(cache: Path, costs, **extra) -> Path:
    path = cache / "costs.json"
    path.write_text(json.dumps({"format": choose.COSTS_FORMAT, "costs": costs, **extra}))
    return path


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("GPUCONV_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert choose.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("GPUCONV_CACHE_DIR")
    assert choose.cache_dir() == tmp_path / "xdg" / "gpuconv"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert choose.cache_dir() == Path.home() / ".cache" / "gpuconv"
    assert choose.costs_path() == Path.home() / ".cache" / "gpuconv" / "costs.json"


def test_no_file_means_the_defaults(cache):
    costs, source = choose.costs_in_use()
    assert costs == choose.DEFAULT_COSTS and "built-in defaults" in source


def test_tune_stores_a_table_that_is_read_back(cache, capsys):
    assert main(["tune", "--quick"]) == 0
    path = cache / "costs.json"
    assert f"stored {path}" in capsys.readouterr().out
    document = json.loads(path.read_text())
    assert document["format"] == choose.COSTS_FORMAT and document["backend"] == "numpy"
    assert choose.validate_costs(document["costs"]) == document["costs"]
    # the direct kernel does measurable work per multiply-add in every dtype
    assert all(document["costs"]["mac"][name] > 0 for name in choose.COST_DTYPES)
    assert choose.costs_in_use() == (document["costs"], str(path))

    assert main(["tune", "--show"]) == 0
    shown = capsys.readouterr().out
    assert f"cost table in use: {path}" in shown and "measured " in shown

    assert main(["tune", "--reset"]) == 0
    assert not path.exists()
    assert choose.costs_in_use()[0] == choose.DEFAULT_COSTS


def test_dry_run_stores_nothing(cache, capsys):
    assert main(["tune", "--quick", "--dry-run"]) == 0
    assert "dry run: nothing stored" in capsys.readouterr().out
    assert not (cache / "costs.json").exists()


def test_a_cache_dir_that_is_a_file_is_refused_before_measuring(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("GPUCONV_CACHE_DIR", str(tmp_path / "afile"))
    assert main(["tune", "--quick"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"gpuconv tune: error: cannot store the cost table in {tmp_path / 'afile'}: "
        "not a directory"]


def test_show_without_a_file_names_the_defaults(cache, capsys):
    assert main(["tune", "--show"]) == 0
    out = capsys.readouterr().out
    assert "cost table in use: built-in defaults" in out
    assert str(cache / "costs.json") in out


@pytest.mark.parametrize("text, reason", [
    ("{not json", "Expecting property name"),
    ("[1, 2]", "not a gpuconv cost table"),
    (json.dumps({"format": 1, "costs": {}}), "not a gpuconv cost table of format"),
    (json.dumps({"format": choose.COSTS_FORMAT, "costs": {"mac": {}}}),
     "costs['mac']['float32'] must be a finite number"),
    ("\udcff\udcfe", "'utf-8' codec can't decode"),  # bytes 0xff 0xfe
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    (json.dumps({"format": choose.COSTS_FORMAT, "costs": {
        **choose.DEFAULT_COSTS, "mac": {name: 10**400 for name in choose.COST_DTYPES}}}),
     "costs['mac']['float32'] must be a finite number"),
])
def test_a_corrupt_file_warns_and_the_defaults_are_used(cache, text, reason):
    path = cache / "costs.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.warns(RuntimeWarning, match="ignoring the cost table") as warned:
        costs, source = choose.costs_in_use()
    assert str(path) in str(warned[0].message) and reason in str(warned[0].message)
    assert costs == choose.DEFAULT_COSTS and "built-in defaults" in source


@pytest.mark.parametrize("value", [-1e-9, math.nan, math.inf, True, "1e-9", None, 2.0])
def test_validate_rejects_each_bad_entry(value):
    table = json.loads(json.dumps(choose.DEFAULT_COSTS))
    table["fft"]["complex64"] = value
    with pytest.raises(ValueError, match=r"costs\['fft'\]\['complex64'\] must be a finite number"):
        choose.validate_costs(table)


def test_validate_rejects_missing_call_costs():
    table = {key: value for key, value in choose.DEFAULT_COSTS.items() if key != "call"}
    with pytest.raises(ValueError, match=r"costs\['call'\] must be an object"):
        choose.validate_costs(table)
    with pytest.raises(ValueError, match="must be a JSON object"):
        choose.validate_costs([])


def test_auto_follows_the_loaded_table(cache):
    """A table in which direct sums are very dear sends even a 3-tap kernel to FFT."""
    numpy_backend = backend_named("numpy")
    request = Request(rows=8, n=4096, k=3, kernel_rows=1, start=1, out_len=4096)
    assert choose.choose_method(numpy_backend, request, "float32") == "direct"
    dear = json.loads(json.dumps(choose.DEFAULT_COSTS))
    dear["mac"] = {name: 1e-3 for name in choose.COST_DTYPES}
    write_table(cache, dear)
    choose.forget_loaded_costs()
    assert choose.choose_method(numpy_backend, request, "float32") in ("fft", "oa")
    assert choose.choose_method(numpy_backend, request, "exact") == "direct"


@pytest.mark.parametrize("sizes", [calibrate.SIZES, calibrate.QUICK_SIZES], ids=["full", "quick"])
def test_fft_calibration_calls_use_every_thread(sizes, monkeypatch):
    """The whole-row FFT's constants are per line of a threaded call, so every
    calibration call transforms its signals on all threads (work over
    `gpuconv.backends.numpy_backend.FFT_SPLIT_WORK`), whatever the dtype."""
    monkeypatch.setattr(gpuconv.config, "threads", 2)
    backend = backend_named("numpy")
    for dtype in choose.COST_DTYPES:
        for rows, n, k in sizes["fft"]:
            start = (k - 1) // 2
            nfft = backend.next_fast_len(transform_length(n, k, start, n),
                                         real=not dtype.startswith("complex"))
            signals = np.empty((rows, 0), dtype)
            assert _fft_workers(signals, nfft, signals.itemsize) == 2, (rows, n, dtype)
