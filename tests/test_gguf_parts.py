"""Joining a GGUF from its part packages (core/providers/gguf_parts.py)."""

from __future__ import annotations

import hashlib
import importlib
import sys

import pytest

from jupyter_collab.core.errors import ConfigurationError
from jupyter_collab.core.providers import gguf_parts
from jupyter_collab.core.providers.gguf_parts import Part, PartedGGUF, assemble

SLICES = [b"GGUF" + b"a" * 1000, b"b" * (gguf_parts.CHUNK_BYTES + 7), b"c" * 3]


@pytest.fixture
def parts_on_path(tmp_path, monkeypatch):
    """Three part packages (``fakepart1..3/data/model.gguf.partNN``) importable from tmp."""
    site = tmp_path / "site"
    for index, data in enumerate(SLICES):
        package = site / f"fakepart{index + 1}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"model.gguf.part{index:02d}").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    for index in range(len(SLICES)):
        sys.modules.pop(f"fakepart{index + 1}", None)


def model(sha256: str | None = None) -> PartedGGUF:
    whole = b"".join(SLICES)
    return PartedGGUF(
        filename="model.gguf",
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        parts=tuple(Part(f"fakepart{i + 1}", f"model.gguf.part{i:02d}") for i in range(3)),
        install="fake-model",
    )


def test_parts_are_joined_in_order_and_checked(parts_on_path, tmp_path):
    cache = tmp_path / "cache"
    path = assemble(model(), cache)
    assert path == cache / "model.gguf"
    assert path.read_bytes() == b"".join(SLICES)
    assert [p.name for p in cache.iterdir()] == ["model.gguf"]  # no temporary left


def test_an_assembled_file_is_reused(parts_on_path, tmp_path):
    cache = tmp_path / "cache"
    first = assemble(model(), cache)
    mtime = first.stat().st_mtime_ns
    assert assemble(model(), cache).stat().st_mtime_ns == mtime


def test_a_truncated_file_is_assembled_again(parts_on_path, tmp_path):
    cache = tmp_path / "cache"
    path = assemble(model(), cache)
    path.write_bytes(b"GGUF")
    assert assemble(model(), cache).read_bytes() == b"".join(SLICES)


def test_missing_parts_are_named_with_the_install_command(parts_on_path, tmp_path):
    (parts_on_path / "fakepart2" / "data" / "model.gguf.part01").unlink()
    broken = PartedGGUF(
        filename="model.gguf",
        sha256="0" * 64,
        parts=(*model().parts, Part("not_installed_part4", "model.gguf.part03")),
        install="fake-model",
    )
    with pytest.raises(ConfigurationError) as err:
        assemble(broken, tmp_path / "cache")
    message = str(err.value)
    assert "2 of them are missing" in message
    assert "fakepart2 (model.gguf.part01)" in message
    assert "not-installed-part4 (model.gguf.part03)" in message
    assert "pip install fake-model" in message
    assert not (tmp_path / "cache").exists()


def test_a_damaged_part_leaves_no_file(parts_on_path, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ConfigurationError, match="damaged or of another version"):
        assemble(model(sha256="f" * 64), cache)
    assert list(cache.iterdir()) == []


def test_gemma_is_described_as_four_parts():
    assert [p.filename for p in gguf_parts.GEMMA3_270M.parts] == [
        f"gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)
    ]
    assert len(gguf_parts.GEMMA3_270M.sha256) == 64
