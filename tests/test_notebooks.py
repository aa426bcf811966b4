"""The notebooks in notebooks/ run from top to bottom without an error, so they cannot rot.

Each one runs in a fresh python3 kernel whose temporary folder is the test's own, and must leave
that folder as it found it (its data goes to a temporary folder it removes at the end).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is a test extra")
nbclient = pytest.importorskip("nbclient", reason="nbclient is a test extra")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_quickstart.ipynb", "02_chunking_lab.ipynb", "03_scanimage_layout.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # The kernel inherits the environment: its tempfile folder is ours to inspect afterwards.
    monkeypatch.setenv("TMPDIR", str(scratch))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=180,  # per cell; the whole notebook takes well under a minute
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    elapsed = time.perf_counter() - start
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    leftovers = [p.name for p in scratch.iterdir()]
    assert not leftovers, f"{path.name} left files in its temporary folder: {leftovers}"
    figures = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert figures >= 2, f"{path.name} drew {figures} figures"
    print(f"{path.name}: {elapsed:.1f} s")
