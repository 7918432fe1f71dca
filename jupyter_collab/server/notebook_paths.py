"""Notebook paths from requests, checked before any contents manager sees them."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import unquote

from ..core.errors import InvalidRequestError

NOTEBOOK_SUFFIX = ".ipynb"
MAX_PATH_LENGTH = 4096


def validate_notebook_path(path: Any, *, allow_hidden: bool = False, field: str = "path") -> str:
    """A notebook path relative to the server root, or :class:`InvalidRequestError`.

    Refuses what the ContentsManager would refuse or what could escape the
    root: absolute paths, ``..`` and ``.`` segments, empty segments, NUL and
    other control characters, backslashes, hidden segments (unless the server
    allows hidden files), percent-encoded or Unicode look-alikes of any of these
    (``%2e%2e``, ``%252f``, fullwidth dots) and anything that is not a ``.ipynb``
    file. Symbolic links out of the root are refused later, with 403, by
    :meth:`~.contents_store.ContentsContextStore.os_path`.
    """
    if not isinstance(path, str) or not path:
        raise InvalidRequestError(f"field '{field}': a notebook path is required")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidRequestError(f"field '{field}': the path is too long")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in path):
        raise InvalidRequestError(f"field '{field}': the path contains control characters")
    if "\\" in path:
        raise InvalidRequestError(f"field '{field}': use '/' to separate folders")
    if path.startswith("/"):
        raise InvalidRequestError(
            f"field '{field}': the path must be relative to the server root, not absolute"
        )
    segments = path.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidRequestError(
                f"field '{field}': the path must not contain empty, '.' or '..' segments"
            )
        forms = _forms(segment)
        if _disguised(forms):
            raise InvalidRequestError(
                f"field '{field}': the path contains an encoded '.', '..' or folder separator"
            )
        if not allow_hidden and any(form.startswith(".") for form in forms):
            raise InvalidRequestError(f"field '{field}': hidden files and folders are not served")
    if not path.endswith(NOTEBOOK_SUFFIX) or segments[-1] == NOTEBOOK_SUFFIX:
        raise InvalidRequestError(f"field '{field}': not a notebook path (expected a .ipynb file)")
    return path


def _forms(segment: str) -> set[str]:
    """What a decoding or Unicode-normalizing layer could turn ``segment`` into:
    ``%2e%2e``, ``%252e``, ``%2f``, fullwidth full stops (U+FF0E) or solidus
    (U+FF0F) become ``..`` and ``/``."""
    forms = {segment, unicodedata.normalize("NFKC", segment)}
    for form in list(forms):
        decoded = form
        for _ in range(3):
            decoded = unquote(decoded)
            forms.add(decoded)
            forms.add(unicodedata.normalize("NFKC", decoded))
    return forms


def _disguised(forms: set[str]) -> bool:
    return any(
        form in (".", "..") or "/" in form or "\\" in form or "\x00" in form for form in forms
    )
