"""A pytest plugin: ``pytest --collab-check examples/`` collects each notebook's
enabled amendments as test items, the way nbval collects cells, so a research
group's CI runs them with its other tests.

Each notebook is checked once (the first of its items runs the check of the
whole constitution, as ``jupyter collab check`` does, since a conflict is
between amendments); each item then passes when its amendment holds, is
skipped when it has no probe (untested), and fails with the evidence otherwise.

Nothing happens without ``--collab-check``: no notebook is collected and
nothing is imported beyond this module. Options: ``--collab-check-model M``,
``--collab-check-replay`` (from the recorded answers, no model call) and
``--collab-check-answers FILE``. The provider is chosen as for every door
(``ANTHROPIC_API_KEY``, ``JUPYTER_COLLAB_PROVIDER``...). Results are not
written to the context files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("collab-check", "jupyter-collab constitution check")
    group.addoption(
        "--collab-check",
        action="store_true",
        default=False,
        help="collect the enabled amendments of each notebook's context as tests",
    )
    group.addoption("--collab-check-model", metavar="M", help="model for the answers")
    group.addoption(
        "--collab-check-replay",
        action="store_true",
        default=False,
        help="check from the recorded answers: no model call",
    )
    group.addoption(
        "--collab-check-answers",
        metavar="FILE",
        help="the recording of answers (default: check-answers.json in the cache folder)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("collab_check"):
        return None
    if file_path.suffix != ".ipynb" or ".ipynb_checkpoints" in file_path.parts:
        return None
    return CollabNotebook.from_parent(parent, path=file_path)


class CollabCheckFailure(Exception):
    """An amendment that does not hold, with its evidence."""


def _config():
    from .core.config import CollabConfig

    values = {
        "provider": os.environ.get("JUPYTER_COLLAB_PROVIDER") or "auto",
        "model": os.environ.get("JUPYTER_COLLAB_MODEL") or None,
        "ops_model": os.environ.get("JUPYTER_COLLAB_OPS_MODEL") or None,
        "openai_base_url": os.environ.get("JUPYTER_COLLAB_OPENAI_BASE_URL") or None,
        "local_model_path": os.environ.get("JUPYTER_COLLAB_LOCAL_MODEL_PATH") or None,
    }
    return CollabConfig(**{k: v for k, v in values.items() if v is not None})


class CollabNotebook(pytest.File):
    """A notebook whose context's enabled amendments are test items."""

    def _context(self):
        from .core.layers import context_in_effect
        from .core.notebook import read_notebook_file, reconcile, shared_context
        from .core.store import LocalContextStore

        sidecar = LocalContextStore(self.path).load()
        embedded = shared_context(
            read_notebook_file(self.path), str(self.path), has_sidecar=sidecar is not None
        )
        # With the project and personal layers, as the notebook's prompts are assembled.
        return context_in_effect(self.path, reconcile(sidecar, embedded).context)

    def collect(self):
        context = self._context()
        if context is None:
            return
        self.context = context
        self.report = None
        for amendment in context.enabled_amendments():
            yield CollabAmendment.from_parent(
                self, name=amendment.id, amendment_id=amendment.id, text=amendment.text
            )

    def check_report(self):
        """The check of this notebook's constitution (run once, by the first item)."""
        if self.report is None:
            self.report = _run_check(self.config, self.context)
        return self.report


def _run_check(config: pytest.Config, context):
    import asyncio

    from .core.broker import Broker
    from .core.config import CHECK_ANSWERS_FILE, cache_dir
    from .core.operations.check_records import replay_identity
    from .core.operations.fanout import BaselineCache
    from .core.providers.recorded import RecordedProvider

    settings = _config()
    model = config.getoption("collab_check_model") or settings.model
    replay = config.getoption("collab_check_replay")
    answers = Path(config.getoption("collab_check_answers") or cache_dir() / CHECK_ANSWERS_FILE)
    record = BaselineCache.load(answers, maxsize=50_000)
    if replay:
        provider = settings.provider if settings.provider != "auto" else None
        name, model = replay_identity(context, provider, model, settings.resolved_provider())
        broker = Broker(
            settings.model_copy(update={"model": model}), provider=RecordedProvider(name, model)
        )
    else:
        broker = Broker(settings)

    async def run():
        try:
            return await broker.check_report(context, model=model, record=record, replay=replay)
        finally:
            await broker.aclose()

    report = asyncio.run(run())
    if not replay:
        record.save(answers)
    return report


class CollabAmendment(pytest.Item):
    def __init__(self, *, amendment_id: str, text: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.amendment_id = amendment_id
        self.text = text

    def runtest(self) -> None:
        from .core.context_model import Health

        report = self.parent.check_report()
        check = next((a for a in report.amendments if a.amendment_id == self.amendment_id), None)
        if check is None:
            pytest.skip(f"{self.amendment_id} was not checked")
        if check.health == Health.untested:
            pytest.skip(check.summary)
        if check.health != Health.holds:
            lines = [f"{check.health.value}: {check.summary}"]
            for probe in check.probes:
                if probe.outcome != "pass":
                    lines.append(
                        f"  probe {probe.index + 1} [{probe.expectation.value}] {probe.outcome} "
                        f"({probe.decided_by}): {probe.prompt!r}: {probe.reason}"
                    )
            lines.append(f"  ({report.provider} · {report.model})")
            raise CollabCheckFailure("\n".join(lines))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CollabCheckFailure):
            return f"{self.amendment_id}: {self.text}\n{excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, self.amendment_id
