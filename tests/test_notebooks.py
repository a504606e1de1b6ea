"""The notebooks run top to bottom on the CPU, are stored clean, and label every plot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("matplotlib")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))

# Run after the notebook's own cells, in its kernel: every figure still open
# (the Agg backend keeps them) must have a title and labelled axes.
CHECK_FIGURES = """
import matplotlib.pyplot as plt
unlabelled = []
for number in plt.get_fignums():
    figure = plt.figure(number)
    for ax in figure.axes:
        if not ax.has_data():
            continue
        titled = ax.get_title() or figure.get_suptitle()
        if not (titled and ax.get_xlabel() and ax.get_ylabel()):
            unlabelled.append((number, ax.get_title(), ax.get_xlabel(), ax.get_ylabel()))
assert plt.get_fignums(), "the notebook drew no figure"
assert not unlabelled, f"axes without a title or axis labels: {unlabelled}"
"""


def test_the_notebooks_are_there():
    assert [path.name[:2] for path in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_stored_without_outputs(path):
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_runs_top_to_bottom_with_labelled_plots(path, monkeypatch, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(CHECK_FIGURES))
    # The kernel inherits the environment: Agg keeps figures open for the
    # check, and the notebook's relative paths resolve in a scratch folder.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("GPUCONV_NOTEBOOK_SCRATCH", os.fspath(tmp_path))
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": os.fspath(path.parent)}})
    client.execute()
