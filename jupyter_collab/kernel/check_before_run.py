"""The check of a notebook's constitution before its collaborator cells run.

With ``JUPYTER_COLLAB_CHECK`` set (``KernelSettings.check``), the first
collaborator cell of a session checks the notebook's enabled amendments; one that
does not hold fails that cell and every later one, so a headless run stops.
"live" calls the model and records its answers; "replay" reads the recorded
answers and calls no model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..core.broker import Broker
from ..core.config import CHECK_ANSWERS_FILE, cache_dir
from ..core.context_model import CollabContext
from ..core.layers import context_in_effect
from ..core.operation_models import CheckReport
from ..core.operations.check_records import replay_identity
from ..core.operations.fanout import BaselineCache
from ..core.providers.recorded import RecordedProvider
from .errors import CollabCheckError
from .kernel_settings import KernelSettings
from .loop_thread import LoopThread
from .notebook_state import NotebookState


def run_check(
    state: NotebookState,
    settings: KernelSettings,
    broker: Callable[[], Broker],
    runner: LoopThread,
    warn: Callable[[str], None],
) -> CheckReport:
    """Check ``state``'s constitution; ``broker`` is only called for a live check."""
    # With the project and personal layers, as the notebook's prompts are assembled.
    context = context_in_effect(state.path, state.context) or CollabContext()
    replay = settings.check == "replay"
    answers = Path(settings.check_answers or cache_dir() / CHECK_ANSWERS_FILE)
    record = BaselineCache.load(answers, maxsize=50_000)
    if replay:
        config = settings.config
        provider, model = replay_identity(
            context,
            config.provider if config.provider != "auto" else None,
            config.model,
            config.resolved_provider(),
        )
        checker = Broker(
            config.model_copy(update={"model": model}),
            provider=RecordedProvider(provider, model),
        )
    else:
        state.require_reviewed()  # the check sends the context to the model
        checker = broker()
    report = runner.run(checker.check_report(context, record=record, replay=replay))
    if not replay:
        try:
            record.save(answers)
        except OSError as err:
            warn(f"jupyter-collab: could not record the check's answers: {err}")
    return report


def require_holding(report: CheckReport, notebook_name: str) -> None:
    """Raise :class:`CollabCheckError` listing the amendments that do not hold."""
    if report.all_hold:
        return
    failing = [a for a in report.amendments if a.health.value not in ("holds", "untested")]
    lines = [
        f"the constitution of {notebook_name} does not hold "
        f"({report.provider} · {report.model}); fix or disable these amendments, or "
        "unset JUPYTER_COLLAB_CHECK:"
    ]
    lines += [f"  {a.health.value} {a.amendment_id}: {a.summary}" for a in failing]
    if report.cancelled:
        lines.append("  (the check was cancelled)")
    raise CollabCheckError("\n".join(lines))
