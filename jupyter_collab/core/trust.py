"""Whether this machine trusts a notebook: nbformat's signature check, the one
``jupyter trust X.ipynb`` writes and JupyterLab reads.

A context that arrives inside a notebook (entries only its embedded copy holds)
is applied, or exported, only when the notebook is trusted or the user accepted
it explicitly (``jupyter collab context import``, which writes the sidecar).
"""

from __future__ import annotations

from typing import Any


def is_trusted(notebook: Any) -> bool:
    """nbformat's signature check of ``notebook``, as ``nbformat.read`` gives it
    (multi-line strings joined: the signature is computed over that form)."""
    try:
        from nbformat import from_dict
        from nbformat.sign import NotebookNotary

        # from_dict: the notary wants attribute access, and works on a copy (it
        # takes the signature out of the metadata while it hashes).
        return bool(NotebookNotary().check_signature(from_dict(notebook)))
    except Exception:  # no signature database, unreadable secret...: not trusted
        return False


def is_text_trusted(text: str) -> bool:
    """:func:`is_trusted` of a notebook file's text, read the way nbformat reads it."""
    try:
        import nbformat

        notebook = nbformat.reads(text, as_version=4)
    except Exception:  # a notebook nbformat cannot read is not one anybody signed
        return False
    return is_trusted(notebook)
