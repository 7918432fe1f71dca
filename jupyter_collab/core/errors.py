"""Domain errors. Each door maps these to its own surface in one place
(HTTP status codes in the server door, raised exceptions in the kernel door)."""

from __future__ import annotations


class CollabError(Exception):
    """Base class: the message is a complete sentence meant for the user."""


class ConfigurationError(CollabError):
    """The setup cannot work (no key and no local model, unknown provider...)."""


class ContextFileError(CollabError):
    """A context file (or embedded context) that does not parse or validate.

    The file is never overwritten while it is in this state.
    """

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class StaleRevisionError(CollabError):
    """A write made against an older revision than the one stored."""

    def __init__(self, source: str, expected: int, actual: int):
        self.source = source
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{source} changed since it was read (revision {actual} on disk, "
            f"write was based on revision {expected}); reload and apply the change again."
        )


class NotFoundError(CollabError):
    """A notebook, entry or response that does not exist."""


class InvalidRequestError(CollabError):
    """Input that names a field or value that cannot be used."""


class ProviderError(CollabError):
    """The model provider failed; carries the provider's own message."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        self.status = status
        self.retryable = retryable
        super().__init__(message)


class StructuredOutputError(ProviderError):
    """A model returned output that does not validate against the expected schema."""

    def __init__(self, what: str, raw: str, problem: str):
        self.raw = raw
        quoted = raw if len(raw) <= 400 else raw[:400] + "…"
        super().__init__(
            f"the model returned {what} that does not match the expected structure "
            f"({problem}); it answered: {quoted!r}"
        )


class ReplayMissError(CollabError):
    """Replay mode found no stored answer for the current inputs."""
