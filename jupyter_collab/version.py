"""The package's version, for the doors and the CLI to read without importing the
root package (whose entry points name both doors)."""

from __future__ import annotations

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    import warnings

    warnings.warn(
        "Importing 'jupyter_collab' outside a proper installation; run `pip install -e .`.",
        stacklevel=2,
    )
    __version__ = "dev"
