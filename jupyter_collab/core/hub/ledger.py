"""Each hub user's token usage and budget, kept in one JSON file by the broker service.

Every field of a response's usage counts against the budget: input, output,
cache writes and cache reads. A call is refused once a user has used their
budget; calls in flight when the budget runs out finish (their tokens are
recorded), so the overrun is at most the answers in flight at that moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from ..errors import CollabError, ConfigurationError
from ..local_files import atomic_write_text
from ..providers.base import Usage

#: The broker service's settings, named in messages so an administrator finds them.
BUDGET_SETTING = "CollabBrokerService.budget_tokens"
USER_BUDGETS_SETTING = "CollabBrokerService.user_budgets"


class BudgetExceededError(CollabError):
    """A user's token budget is used up."""

    def __init__(self, user: str, used: int, budget: int, setting: str):
        self.user = user
        self.used = used
        self.budget = budget
        super().__init__(
            f"The jupyter-collab token budget of {budget:,} tokens for hub user {user!r} "
            f"is used up ({used:,} tokens used; {setting}); ask the hub's administrator "
            "to raise it."
        )


class UserUsage(BaseModel):
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    updated: datetime | None = None

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_input_tokens
            + self.cache_creation_input_tokens
        )


class UsageFile(BaseModel):
    users: dict[str, UserUsage] = Field(default_factory=dict)


class UsageLedger:
    """Usage per user in ``path``; ``budget`` for everyone, ``user_budgets`` per name
    (0 or None: no limit)."""

    def __init__(
        self,
        path: Path,
        budget: int | None = None,
        user_budgets: Mapping[str, int] | None = None,
    ):
        self.path = path
        self.budget = budget or None
        self.user_budgets = dict(user_budgets or {})
        self._file = self._read()

    def _read(self) -> UsageFile:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return UsageFile()
        try:
            return UsageFile.model_validate_json(raw)
        except ValidationError as err:
            # Never start over on a file that does not read: that would reset budgets.
            raise ConfigurationError(
                f"{self.path}: the usage file does not validate ({err.errors()[0]['msg']}); "
                "fix or move it"
            ) from None

    def usage(self, user: str) -> UserUsage:
        return self._file.users.get(user, UserUsage())

    def budget_for(self, user: str) -> tuple[int | None, str]:
        """The user's budget (None: no limit) and the setting it comes from."""
        if user in self.user_budgets:
            return (self.user_budgets[user] or None), f"{USER_BUDGETS_SETTING}[{user!r}]"
        return self.budget, BUDGET_SETTING

    def check(self, user: str) -> None:
        """Raise :class:`BudgetExceededError` when ``user`` may make no more calls."""
        budget, setting = self.budget_for(user)
        used = self.usage(user).total_tokens
        if budget is not None and used >= budget:
            raise BudgetExceededError(user, used, budget, setting)

    def record(self, user: str, usage: Usage) -> UserUsage:
        """Add one response's usage to ``user``'s and save the file."""
        before = self.usage(user)
        after = UserUsage(
            requests=before.requests + 1,
            input_tokens=before.input_tokens + usage.input_tokens,
            output_tokens=before.output_tokens + usage.output_tokens,
            cache_read_input_tokens=before.cache_read_input_tokens + usage.cache_read_input_tokens,
            cache_creation_input_tokens=before.cache_creation_input_tokens
            + usage.cache_creation_input_tokens,
            updated=datetime.now(timezone.utc),
        )
        self._file.users[user] = after
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, self._file.model_dump_json(indent=1))
        return after
