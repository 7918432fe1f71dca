"""The one reader of notebook files on local disk (core.notebook.read_notebook_file)."""

from __future__ import annotations

import pytest

from jupyter_collab.core import notebook as core_notebook
from jupyter_collab.core.notebook import NotebookFileError, read_notebook_file
from jupyter_collab.kernel.discovery import read_notebook_json


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff{}", "not UTF-8 text (byte 0)"),
        (b'{"cells": [}', "not a valid notebook: invalid JSON at line 1 column 12"),
        (b'{"metadata": {}}', "not a valid notebook: no list of cells"),
        (b'{"cells": [], "metadata": []}', "not a valid notebook: metadata is not an object"),
        (b"[" * 100000 + b"]" * 100000, "not a valid notebook"),
    ],
)
def test_bad_notebooks_name_the_problem(tmp_path, content, message):
    path = tmp_path / "a.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookFileError) as info:
        read_notebook_file(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert read_notebook_json(path) is None


def test_missing_and_too_large(tmp_path, monkeypatch):
    path = tmp_path / "a.ipynb"
    with pytest.raises(NotebookFileError, match="cannot be read"):
        read_notebook_file(path)
    path.write_text('{"cells": [], "metadata": {}}', encoding="utf-8")
    assert read_notebook_file(path) == {"cells": [], "metadata": {}}
    monkeypatch.setattr(core_notebook, "MAX_NOTEBOOK_BYTES", 10)
    with pytest.raises(NotebookFileError, match="the notebook is too large"):
        read_notebook_file(path)
    assert read_notebook_json(path) is None
