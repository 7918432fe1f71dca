"""The kernel door's exceptions: raised, never printed, with a short notebook display.

Every failure of a ``%%collab`` cell raises one of these, so ``jupyter nbconvert
--execute`` and papermill stop with a ``CellExecutionError`` naming the class
and the message. ``_render_traceback_`` is IPython's hook for a custom
traceback: the notebook shows one readable line instead of a stack of frames
inside this package.
"""

from __future__ import annotations

from ..core.errors import (
    CollabError,
    ConfigurationError,
    ContextFileError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ReplayMissError,
    StaleRevisionError,
)


class _ShortTraceback:
    """Mixin: IPython shows ``Name: message`` (plus the message's own lines) only."""

    def _render_traceback_(self) -> list[str]:
        name = type(self).__name__
        lines = str(self).splitlines() or [""]
        return [f"\x1b[0;31m{name}\x1b[0m: {lines[0]}", *lines[1:]]


class CollabCellError(_ShortTraceback, CollabError):
    """A collaborator cell failed for a reason not covered by a subclass."""


class CollabProviderError(_ShortTraceback, ProviderError):
    """The model provider failed (the provider's own message is kept)."""


class CollabReplayError(_ShortTraceback, ReplayMissError):
    """Replay mode and no stored answer for the current inputs."""


class CollabContextError(_ShortTraceback, CollabError):
    """The notebook's context cannot be used (bad file, untrusted embedded copy...)."""


class CollabNotebookError(_ShortTraceback, NotFoundError):
    """The notebook named by an override or by JUPYTER_COLLAB_NOTEBOOK is not usable."""


class CollabUsageError(_ShortTraceback, InvalidRequestError):
    """Bad options or an empty prompt."""


class CollabCheckError(_ShortTraceback, CollabError):
    """The check run before the notebook's collaborator cells found an amendment that
    does not hold (``JUPYTER_COLLAB_CHECK``)."""


class CollabConfigError(_ShortTraceback, ConfigurationError):
    """The kernel's configuration cannot work (provider, model, run mode...)."""


def for_kernel(error: CollabError) -> CollabError:
    """The kernel door's version of a core error (same message, short display)."""
    if isinstance(error, _ShortTraceback):
        return error
    message = str(error)
    if isinstance(error, ProviderError):
        return CollabProviderError(message, status=error.status, retryable=error.retryable)
    if isinstance(error, ReplayMissError):
        return CollabReplayError(message)
    if isinstance(error, (ContextFileError, StaleRevisionError)):
        return CollabContextError(message)
    if isinstance(error, InvalidRequestError):
        return CollabUsageError(message)
    if isinstance(error, ConfigurationError):
        return CollabConfigError(message)
    if isinstance(error, NotFoundError):
        return CollabNotebookError(message)
    return CollabCellError(message)
