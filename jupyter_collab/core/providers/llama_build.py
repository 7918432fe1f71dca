"""Build llama-cpp-python portably, once per set of flags, and install that build.

``python -m jupyter_collab.core.providers.llama_build`` (or ``jupyter collab
install-local``) compiles the embedded model's native library with
:data:`PORTABLE_CMAKE_ARGS`, keeps the wheel under a key made of everything that
decides the machine code, and installs it unless the installed library is already
byte-identical to it.

Why not a plain ``pip install llama-cpp-python``: it compiles llama.cpp with
``GGML_NATIVE=ON`` (``-march=native``) for the CPU at hand, and pip caches the
wheel under name and version only, so a wheel compiled on one CPU is silently
reused on another. Version 0.3.36 built natively on an AVX-512 + AMX Xeon crashes
(SIGSEGV) in its first decode, inside the AMX weight-repacking buffer type.

Why explicit flags rather than llama.cpp's run-time choice of CPU variant
(``GGML_BACKEND_DL`` + ``GGML_CPU_ALL_VARIANTS``): with llama-cpp-python 0.3.36
its CMakeLists installs only the named targets (``ggml-cpu``, not the
``ggml-cpu-<variant>`` modules) and the binding never calls
``ggml_backend_load_all()``, so llama.cpp finds no backend ("no backends are
loaded"); the 14 x86 variants also took 770 s to compile on two cores, against
177 s for the build below.

The baseline is x86-64-v3 (AVX2, FMA, F16C, BMI2): every x86-64 CPU since 2013-15
(Haswell, Zen 1) runs it, including AVX-512 and AMX ones, and it is within a few
per cent of a native build for a 135M model (``benchmarks/bench_local.py``).
Only the standard library is used: the setup runs this before the project's
dependencies are installed.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

DISTRIBUTION = "llama-cpp-python"

#: The one owner of the flags the embedded model's library is compiled with.
PORTABLE_CMAKE_ARGS = (
    # x86-64-v3, chosen explicitly instead of -march=native.
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    # Only the library: no tests, examples, tools or server (halves the compile).
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=OFF",
    "-DLLAMA_BUILD_SERVER=OFF",
    "-DLLAVA_BUILD=OFF",
    "-DLLAMA_CURL=OFF",
    # A compiler cache on the build machine must not change what is built.
    "-DGGML_CCACHE=OFF",
)

#: Where built wheels are kept, one folder per build key.
WHEEL_DIR_ENV = "JUPYTER_COLLAB_LLAMA_WHEELS"

_VERSION_PIN = re.compile(r"^\s*llama[-_.]cpp[-_.]python\s*==\s*([^\s;#]+)", re.I | re.M)
_SDIST_NAME = re.compile(r"^llama[-_]cpp[-_]python-(.+)\.tar\.gz$")


class BuildError(Exception):
    """The portable build could not be made or installed; the message says why."""


def default_wheel_root() -> Path:
    configured = os.environ.get(WHEEL_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "jupyter-collab" / "llama-wheels"


def compiler_identity() -> str:
    """The C++ compiler's own version line: another compiler makes another build."""
    compiler = os.environ.get("CXX") or "c++"
    try:
        out = subprocess.run(
            [compiler, "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(
            f"no C++ compiler ({compiler}): the embedded model's library compiles from "
            "source; install one (Debian: apt-get install build-essential)"
        ) from exc
    return out.splitlines()[0].strip() if out else compiler


def build_key(version: str, cmake_args: tuple[str, ...] = PORTABLE_CMAKE_ARGS) -> str:
    """Everything that decides the machine code in the wheel, hashed."""
    identity = {
        "distribution": DISTRIBUTION,
        "version": version,
        "cmake_args": list(cmake_args),
        "compiler": compiler_identity(),
        "machine": platform.machine(),
        "system": platform.system(),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"{version}-{digest[:16]}"


def pinned_version(constraint_file: Path) -> str:
    """The ``llama-cpp-python==X`` pin of a requirements or constraints file."""
    try:
        text = constraint_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"cannot read {constraint_file}: {exc.strerror}") from exc
    match = _VERSION_PIN.search(text)
    if not match:
        raise BuildError(f"{constraint_file} has no 'llama-cpp-python==VERSION' line")
    return match.group(1)


def _pip(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", *args]
    print("+", " ".join(command), flush=True)
    result = subprocess.run(command, env=env)
    if result.returncode:
        raise BuildError(f"pip {args[0]} failed (exit code {result.returncode})")


def _download_sdist(spec: str, into: Path) -> Path:
    _pip("download", "--no-deps", "--no-binary", ":all:", "--no-cache-dir", spec, "-d", str(into))
    sdists = [p for p in into.iterdir() if _SDIST_NAME.match(p.name)]
    if len(sdists) != 1:
        raise BuildError(f"expected one {DISTRIBUTION} source archive, found {len(sdists)}")
    return sdists[0]


def find_wheel(folder: Path) -> Path | None:
    wheels = sorted(folder.glob("llama_cpp_python-*.whl")) if folder.is_dir() else []
    return wheels[0] if wheels else None


def build_wheel(version: str | None, root: Path) -> Path:
    """The portable wheel for ``version`` (newest when None), built unless kept already.

    The build runs without isolation (the setup installs scikit-build-core and
    cmake from the project's pins) and without pip's cache, so the wheel never
    lands in pip's name+version cache where a plain install would reuse it.
    """
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=root) as scratch_name:
        scratch = Path(scratch_name)
        source = f"{DISTRIBUTION}=={version}"
        if version is None:
            sdist = _download_sdist(DISTRIBUTION, scratch)
            match = _SDIST_NAME.match(sdist.name)
            assert match  # _download_sdist only returns matching names
            version, source = match.group(1), str(sdist)
        key = build_key(version)
        target = root / key
        kept = find_wheel(target)
        if kept:
            print(f"Portable {DISTRIBUTION} {version} build {key}: kept in {target}", flush=True)
            return kept
        print(
            f"Compiling {DISTRIBUTION} {version} portably (build {key}); "
            "about 3 minutes on two cores",
            flush=True,
        )
        env = dict(os.environ, CMAKE_ARGS=" ".join(PORTABLE_CMAKE_ARGS), FORCE_CMAKE="1")
        built = scratch / "wheel"
        started = time.monotonic()
        _pip(
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-cache-dir",
            "--no-binary",
            DISTRIBUTION,
            source,
            "-w",
            str(built),
            env=env,
        )
        wheel = find_wheel(built)
        if wheel is None:
            raise BuildError(f"pip wheel made no {DISTRIBUTION} wheel")
        print(f"Built {wheel.name} in {time.monotonic() - started:.0f} s", flush=True)
        (built / "build.json").write_text(
            json.dumps(
                {"key": key, "version": version, "cmake_args": list(PORTABLE_CMAKE_ARGS)},
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        if target.exists():  # a half-finished earlier attempt
            shutil.rmtree(target)
        built.rename(target)  # same file system: the folder appears whole or not at all
        return target / wheel.name


def _record_hashes(wheel: Path) -> dict[str, str]:
    """RECORD's ``sha256=...`` of each native library in the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        record_name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        rows = csv.reader(io.StringIO(archive.read(record_name).decode("utf-8")))
        return {
            path: digest
            for path, digest, *_ in rows
            if digest and (path.endswith(".so") or ".so." in path or path.endswith(".dylib"))
        }


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def installed_matches(wheel: Path) -> bool:
    """True when the installed llama-cpp-python's native libraries are this wheel's."""
    from importlib import metadata

    try:
        installed = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    expected = _record_hashes(wheel)
    if not expected:
        return False
    for relative, digest in expected.items():
        path = Path(str(installed.locate_file(relative)))
        if not path.is_file() or _file_hash(path) != digest:
            return False
    return True


def install(wheel: Path) -> bool:
    """Install ``wheel`` unless already installed; True when it was (re)installed."""
    if installed_matches(wheel):
        print(f"{DISTRIBUTION}: the portable build in {wheel.parent} is installed", flush=True)
        return False
    _pip("install", "--no-deps", "--force-reinstall", "--no-cache-dir", str(wheel))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jupyter_collab.core.providers.llama_build",
        description=f"Compile {DISTRIBUTION} portably (once per flags) and install it.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", help=f"the {DISTRIBUTION} version (default: newest)")
    which.add_argument("--constraint", type=Path, help="take the version from this file's '==' pin")
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        default=None,
        help=f"where builds are kept (default: ${WHEEL_DIR_ENV} or ~/.cache/jupyter-collab)",
    )
    parser.add_argument("--no-install", action="store_true", help="build only; print the path")
    parser.add_argument("--print-cmake-args", action="store_true", help="print the flags and exit")
    args = parser.parse_args(argv)
    if args.print_cmake_args:
        print(" ".join(PORTABLE_CMAKE_ARGS))
        return 0
    try:
        version = pinned_version(args.constraint) if args.constraint else args.version
        wheel = build_wheel(version, args.wheel_dir or default_wheel_root())
        if args.no_install:
            print(wheel)
        else:
            install(wheel)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
