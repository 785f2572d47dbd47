"""The researcher notebooks run top to bottom on a real Jupyter kernel, against the installed package.

Each notebook in ``notebooks/`` is executed by nbclient on the ``python3`` kernel, which is this
venv's own python (ipykernel installs its kernelspec under ``sys.prefix``, and jupyter_client
starts a kernelspec whose command is ``python`` with the running interpreter). Any error in any cell
fails the test. Every notebook asserts at least one of its headline numbers against a closed form or
an invariant derived in its markdown; those asserts are the checks. The committed files carry no
outputs, so that diffs stay readable and a stale output can never pass for a result.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: the topics of issue 5, each covered by a notebook whose name contains the word
TOPICS = ("quick-start", "command-and-control", "allocation", "sweep", "banking", "transaction", "power", "hot-spots")


def ids(path: Path) -> str:
    return path.stem


def test_every_topic_has_a_notebook():
    names = " ".join(p.stem for p in NOTEBOOKS)
    assert [t for t in TOPICS if t not in names] == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_committed_clean_and_checks_a_number(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cells"
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert dirty == [], f"cells {dirty} carry outputs: strip them before committing"
    asserts = [c for c in code if re.search(r"^\s*assert ", c.source, flags=re.M)]
    assert asserts, "the notebook asserts none of its numbers"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "a title first"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs(path, tmp_path, monkeypatch):
    # the kernel's files (connection file, IPython profile) and anything a notebook writes go to tmp_path
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error or failed assert
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
