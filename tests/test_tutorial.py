"""docs/tutorial.ipynb runs from top to bottom (executed here, so it cannot rot)."""

from __future__ import annotations

import pytest

from .conftest import REPO

nbformat = pytest.importorskip("nbformat", reason="nbformat is a dev dependency (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="nbclient is a dev dependency (pip install -e '.[dev]')")


@pytest.mark.slow
def test_tutorial_notebook_executes():
    notebook = nbformat.read(REPO / "docs" / "tutorial.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(REPO)}})  # fmt: skip
    client.execute()
    outputs = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "retention %" in outputs and "valence" in outputs and "CCC" in outputs
    assert "any validation or test song among them? False" in outputs
