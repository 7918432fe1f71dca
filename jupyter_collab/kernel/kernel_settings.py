"""What the kernel door runs with: the configuration, the run mode and the check before a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..core.config import CollabConfig
from ..core.replay import RunMode
from .variables import DEFAULT_MAX_CHARS

CheckBeforeRun = Literal["off", "live", "replay"]


@dataclass
class KernelSettings:
    config: CollabConfig = field(default_factory=CollabConfig)
    run_mode: RunMode = RunMode.auto
    #: Check the notebook's constitution before its first collaborator cell runs:
    #: "live" calls the model, "replay" reads the check's recorded answers.
    check: CheckBeforeRun = "off"
    check_answers: str | None = None
    trust_embedded: bool = False
    update_interval: float = 0.05
    value_max_chars: int = DEFAULT_MAX_CHARS
    notebook_path: str | None = None
