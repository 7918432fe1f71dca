"""The portable build of the embedded model's native library (core/providers/llama_build.py)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from jupyter_collab.core.providers import llama_build

REPO = Path(__file__).resolve().parent.parent

# Instructions a portable (x86-64-v3) build must not contain: AVX-512 registers
# and AMX tile instructions, both of which -march=native emits on such CPUs.
FORBIDDEN = ("%zmm", "tdpb", "tileloadd", "ldtilecfg")


def test_build_key_depends_on_every_input(monkeypatch):
    monkeypatch.setattr(llama_build, "compiler_identity", lambda: "c++ (Debian 12.2.0) 12.2.0")
    base = llama_build.build_key("0.3.36")
    assert base.startswith("0.3.36-")
    assert llama_build.build_key("0.3.36") == base
    assert llama_build.build_key("0.3.37") != base
    native = ("-DGGML_NATIVE=ON", *llama_build.PORTABLE_CMAKE_ARGS[1:])
    assert llama_build.build_key("0.3.36", native) != base
    monkeypatch.setattr(llama_build, "compiler_identity", lambda: "c++ (Debian 14.2.0) 14.2.0")
    assert llama_build.build_key("0.3.36") != base


def test_flags_are_portable():
    flags = set(llama_build.PORTABLE_CMAKE_ARGS)
    assert "-DGGML_NATIVE=OFF" in flags
    assert not any("AVX512" in flag or "AMX" in flag or "march" in flag for flag in flags)


def test_pinned_version_is_read_from_the_constraints(tmp_path):
    assert llama_build.pinned_version(REPO / "requirements" / "constraints.txt")
    pins = tmp_path / "c.txt"
    pins.write_text("numpy==2.0\nLlama_CPP.python == 0.3.36 ; python_version>'3'\n")
    assert llama_build.pinned_version(pins) == "0.3.36"
    pins.write_text("llama-cpp-python>=0.3\n")
    with pytest.raises(llama_build.BuildError, match="no 'llama-cpp-python==VERSION' line"):
        llama_build.pinned_version(pins)
    with pytest.raises(llama_build.BuildError, match="cannot read"):
        llama_build.pinned_version(tmp_path / "missing.txt")


def _wheel_with_library(path: Path, content: bytes) -> Path:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("llama_cpp/lib/libggml-cpu.so", content)
        archive.writestr(
            "llama_cpp_python-0.3.36.dist-info/RECORD",
            f"llama_cpp/lib/libggml-cpu.so,sha256={digest},{len(content)}\n"
            "llama_cpp_python-0.3.36.dist-info/RECORD,,\n",
        )
    return path


def test_another_build_is_never_taken_for_ours(tmp_path):
    """A wheel whose native library differs from the installed one is not 'installed'."""
    other = _wheel_with_library(tmp_path / "llama_cpp_python-0.3.36-other.whl", b"not ours")
    assert not llama_build.installed_matches(other)


def test_kept_wheel_is_found_only_in_its_own_key_folder(tmp_path):
    assert llama_build.find_wheel(tmp_path / "0.3.36-aaaa") is None
    folder = tmp_path / "0.3.36-aaaa"
    folder.mkdir()
    wheel = _wheel_with_library(folder / "llama_cpp_python-0.3.36-py3-none-any.whl", b"x")
    assert llama_build.find_wheel(folder) == wheel
    assert llama_build.find_wheel(tmp_path / "0.3.36-bbbb") is None


def _installed_cpu_library() -> Path | None:
    try:
        distribution = metadata.distribution(llama_build.DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    for file in distribution.files or []:
        if Path(str(file)).name.startswith("libggml-cpu.so"):
            return Path(str(distribution.locate_file(file))).resolve()
    return None


@pytest.mark.local_model
def test_installed_library_is_the_portable_build():
    """The development install (.ci/setup) runs the portable build, with no AVX-512 or AMX code."""
    library = _installed_cpu_library()
    objdump = shutil.which("objdump")
    if library is None or objdump is None:
        reason = "llama-cpp-python or objdump (binutils) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI checks the portable build, but {reason}")
        pytest.skip(reason)
    assembly = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {word: assembly.count(word) for word in FORBIDDEN if word in assembly}
    assert not found, f"{library} was compiled for a specific CPU: {found}"
    assert "%ymm" in assembly, "no AVX2 code at all: not the x86-64-v3 build"


class _FakeParams:
    def __init__(self) -> None:
        self.use_extra_bufts = True


class _FakeLlamaCpp:
    """The name avoid_amx_repacking touches, as llama_cpp exposes it."""

    def __init__(self) -> None:
        self.llama_cpp = self  # the low-level module, where Llama looks the defaults up
        self.llama_model_default_params = _FakeParams


def test_amx_buffer_type_is_turned_off_only_where_it_is_compiled_in():
    from jupyter_collab.core.providers.llama_worker import avoid_amx_repacking

    native = _FakeLlamaCpp()
    assert avoid_amx_repacking(native, "CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 |")
    assert native.llama_model_default_params().use_extra_bufts is False
    portable = _FakeLlamaCpp()
    assert not avoid_amx_repacking(portable, "CPU : AVX = 1 | AVX2 = 1 | FMA = 1 | REPACK = 1 |")
    assert portable.llama_model_default_params().use_extra_bufts is True
