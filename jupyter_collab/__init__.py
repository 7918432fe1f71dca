"""jupyter-collab: annotated AI collaboration for Jupyter notebooks."""

from __future__ import annotations

from .version import __version__

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-collab"}]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .server.app import CollabExtension

    return [{"module": "jupyter_collab", "app": CollabExtension}]


def load_ipython_extension(ipython) -> None:
    """``%load_ext jupyter_collab``: registers the ``%%collab`` magic."""
    from .kernel.magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .kernel.magic import unload_ipython_extension as _unload

    _unload(ipython)
