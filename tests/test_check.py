"""``jupyter collab check`` through the ``anthropic`` SDK against the wire-level
Messages API server: an ignored fact, an amendment with no effect, two amendments
in conflict, a format rule that holds, JUnit output, replay with zero calls, exit
codes, and the expectations the CLI edits."""

from __future__ import annotations

import json

import nbformat
import pytest
from junitparser import Failure, JUnitXml, Skipped

from jupyter_collab.cli import main
from jupyter_collab.core.context_model import (
    Amendment,
    CollabContext,
    Expectation,
    Health,
    PreviewResult,
    ProbeKind,
    Verdict,
)
from jupyter_collab.core.store import LocalContextStore
from tests.wire.anthropic_server import Reply, echo_text, message_text

GL = "Report every yield in grams per litre (g/L)."
MG = "Report every yield in milligrams per millilitre (mg/mL)."
OSLO = "The HPLC instrument is in the Oslo lab."
TERSE = "Answer in at most two sentences."


def probe(prompt: str, kind: ProbeKind = ProbeKind.should_change) -> PreviewResult:
    return PreviewResult(
        probe=prompt, probe_kind=kind, baseline_hash="", amended_hash="", verdict=Verdict.intended
    )


def system_text(body: dict) -> str:
    return "\n".join(block["text"] for block in body.get("system") or [])


def judge_requests(server) -> list:
    """The judge's calls (structured output); a speculative sample cancelled while it
    was being sent may be logged with no body, so answers are not told by ``stream``."""
    return [
        r
        for r in server.message_requests()
        if isinstance(r.body, dict) and (r.body.get("output_config") or r.body.get("tool_choice"))
    ]


def last_user(body: dict) -> str:
    return message_text(body["messages"][-1])


def lab_model(body: dict) -> Reply | None:
    """A model that knows units from its instructions: mg/mL wins over g/L; a terse
    rule makes it answer in one sentence; the Oslo fact it never mentions."""
    if body.get("tool_choice") or (body.get("output_config") or {}).get("format"):
        return None  # the judge: the server's schema-built example
    system, prompt = system_text(body), last_user(body)
    if "yield" in prompt:
        unit = "mg/mL" if MG in system else "g/L" if GL in system else "units"
        text = f"The yield of that run is 4.2 {unit}."
    else:
        text = f"Here is a plain answer about {prompt}"
    if TERSE not in system:
        text += " It was measured twice. Both runs agree. The column was fine."
    return Reply.text(text)


def notebook_with(tmp_path, amendments: list[Amendment]):
    path = tmp_path / "analysis.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%%collab\nWhat is the yield of run 1?")]
    nbformat.write(nb, str(path))
    LocalContextStore(path).save(CollabContext(amendments=amendments))
    return path


@pytest.fixture
def cli_env(anthropic_env, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_COLLAB_CACHE_DIR", str(tmp_path / "cache"))
    anthropic_env.responder = lab_model
    return anthropic_env


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["check", *argv, "--json", "--quiet"])
    return code, json.loads(capsys.readouterr().out)


def healths(payload: dict, index: int = 0) -> dict[str, str]:
    report = payload["notebooks"][index]["report"]
    return {a["amendment_id"]: a["health"] for a in report["amendments"]}


def test_an_ignored_fact_and_an_amendment_with_no_effect_are_broken(cli_env, tmp_path, capsys):
    path = notebook_with(
        tmp_path,
        [
            Amendment(id="a-oslo", kind="fact", text=OSLO, preview=[probe("Where was it run?")]),
            Amendment(
                id="a-gl",
                kind="fact",
                text=GL,
                preview=[
                    probe("What is the yield of run 1?"),
                    probe("Summarize the method.", ProbeKind.should_not_change),
                ],
            ),
        ],
    )
    code, payload = run_json(capsys, str(path))
    assert code == 3 and payload["all_hold"] is False
    assert healths(payload) == {"a-oslo": "broken", "a-gl": "holds"}
    [oslo, gl] = payload["notebooks"][0]["report"]["amendments"]
    # The answer does not change with the Oslo fact: no effect, and none of its terms.
    [evidence] = oslo["probes"]
    assert evidence["outcome"] == "fail" and evidence["decided_by"] == "identical"
    assert "No effect" in evidence["reason"] and "ignores the fact" in evidence["reason"]
    assert "Oslo" in evidence["measures"]["key_terms"]
    # g/L appears only with the amendment: decided without the judge.
    changed, kept = gl["probes"]
    assert changed["outcome"] == "pass" and changed["decided_by"] == "deterministic"
    assert kept["outcome"] == "pass" and kept["expectation"] == "no_change"
    assert not judge_requests(cli_env)
    # The default model takes no temperature, so none is sent (it samples: the normal case).
    answers = [r.body for r in cli_env.message_requests() if isinstance(r.body, dict) and r.body]
    assert answers and all("temperature" not in body for body in answers)

    # The result is kept on the amendments, with date and model.
    stored = LocalContextStore(path).load()
    assert stored.amendment("a-oslo").check.health == Health.broken
    assert stored.amendment("a-gl").check.health == Health.holds
    assert stored.amendment("a-gl").check.model == payload["notebooks"][0]["report"]["model"]
    assert stored.amendment("a-gl").check.probes_passed == 2


def test_a_fact_the_model_ignores_while_its_answer_changes_is_broken(cli_env, tmp_path, capsys):
    # The echo model's answer changes with the system prompt but never says HPLC or Oslo.
    cli_env.responder = lambda body: (
        None
        if body.get("output_config") or body.get("tool_choice")
        else Reply.text(echo_text(body))
    )
    path = notebook_with(
        tmp_path,
        [Amendment(id="a-oslo", kind="fact", text=OSLO, preview=[probe("Where was it run?")])],
    )
    code, payload = run_json(capsys, str(path))
    assert code == 3
    [check] = payload["notebooks"][0]["report"]["amendments"]
    [evidence] = check["probes"]
    assert check["health"] == "broken"
    assert evidence["decided_by"] == "deterministic"
    assert "ignores the fact" in evidence["reason"]
    # Decided without the judge, so without the noise floor (which is for the judge).
    assert evidence["noise"] is None
    assert not judge_requests(cli_env)


def test_over_reach_is_judged_with_the_noise_floor(cli_env, tmp_path, capsys):
    # The g/L fact changes an answer it should not: the judge decides, seeing the measure.
    path = notebook_with(
        tmp_path,
        [
            Amendment(
                id="a-gl",
                kind="fact",
                text=GL,
                preview=[probe("What was the yield of the control?", ProbeKind.should_not_change)],
            )
        ],
    )
    code, payload = run_json(capsys, str(path))
    assert code == 3
    [check] = payload["notebooks"][0]["report"]["amendments"]
    [evidence] = check["probes"]
    assert check["health"] == "broken" and evidence["expectation"] == "no_change"
    assert evidence["decided_by"] == "judge" and evidence["verdict"] == "intended"
    assert evidence["noise"]["baseline_samples"] == 2  # the baseline answered twice
    [judge] = judge_requests(cli_env)
    content = message_text(judge.body["messages"][0])
    assert "MEASURE:" in content and "should not change" in content


def test_two_contradicting_amendments_are_a_conflict(cli_env, tmp_path, capsys):
    path = notebook_with(
        tmp_path,
        [
            Amendment(
                id="a-gl", kind="fact", text=GL, preview=[probe("What is the yield of run 1?")]
            ),
            Amendment(
                id="a-mg", kind="fact", text=MG, preview=[probe("What is the yield of run 2?")]
            ),
        ],
    )
    code, payload = run_json(capsys, str(path))
    assert code == 3
    assert healths(payload) == {"a-gl": "conflict", "a-mg": "conflict"}
    gl, mg = payload["notebooks"][0]["report"]["amendments"]
    assert gl["conflicts_with"] == ["a-mg"] and mg["conflicts_with"] == ["a-gl"]
    assert gl["probes"][0]["conflict_with"] == "a-mg"
    assert "passes once a-mg is removed" in gl["summary"]


def test_a_format_rule_holds_and_junit_is_readable(cli_env, tmp_path, capsys):
    path = notebook_with(
        tmp_path,
        [
            Amendment(id="a-terse", kind="process", text=TERSE, preview=[probe("Describe run 3.")]),
            Amendment(id="a-oslo", kind="fact", text=OSLO, preview=[probe("Where was it run?")]),
            Amendment(id="a-new", kind="fact", text="Runs are numbered from 1."),
        ],
    )
    junit = tmp_path / "check.xml"
    assert main(["check", str(path), "--junit", str(junit), "--quiet"]) == 3
    out = capsys.readouterr().out
    assert "holds" in out and "broken" in out and "untested" in out

    xml = JUnitXml.fromfile(str(junit))
    [suite] = list(xml)
    assert suite.tests == 3 and suite.failures == 1 and suite.skipped == 1
    cases = {case.name.split(" ")[0]: case for case in suite}
    assert cases["a-terse"].is_passed
    [failure] = cases["a-oslo"].result
    assert isinstance(failure, Failure) and failure.type == "broken"
    assert "ignores the fact" in failure.message
    assert isinstance(cases["a-new"].result[0], Skipped)


def test_replay_makes_no_call_and_gives_the_same_result(cli_env, tmp_path, capsys):
    path = notebook_with(
        tmp_path,
        [
            Amendment(
                id="a-gl", kind="fact", text=GL, preview=[probe("What is the yield of run 1?")]
            ),
            Amendment(
                id="a-mg", kind="fact", text=MG, preview=[probe("What is the yield of run 2?")]
            ),
        ],
    )
    answers = tmp_path / "answers.json"
    code, live = run_json(capsys, str(path), "--answers", str(answers))
    assert code == 3 and live["notebooks"][0]["report"]["calls"] > 0
    calls = len(cli_env.message_requests())
    cli_env.responder = lambda body: Reply.error(500, "the model must not be called")

    code, replayed = run_json(capsys, str(path), "--answers", str(answers), "--replay")
    assert code == 3
    assert len(cli_env.message_requests()) == calls  # zero calls
    report = replayed["notebooks"][0]["report"]
    assert report["replayed"] is True and report["calls"] == 0
    assert healths(replayed) == healths(live)

    # A changed context has no recording: a clear error, still no call.
    LocalContextStore(path).update(lambda c: c.amendments[1].preview.append(probe("New yield?")))
    assert main(["check", str(path), "--answers", str(answers), "--replay", "--quiet"]) == 1
    assert "replay: no recorded answer" in capsys.readouterr().err
    assert len(cli_env.message_requests()) == calls


def test_all_hold_exits_0_and_against_model_shows_both(cli_env, tmp_path, capsys):
    path = notebook_with(
        tmp_path,
        [
            Amendment(
                id="a-gl", kind="fact", text=GL, preview=[probe("What is the yield of run 1?")]
            )
        ],
    )
    assert main(["check", str(path), "--quiet"]) == 0
    assert "1 holds" in capsys.readouterr().out

    code = main(["check", str(path), "--quiet", "--against-model", "claude-opus-5-5"])
    out = capsys.readouterr().out
    assert code == 0
    assert "holds     -> holds" in out and "claude-opus-5-5" in out
    models = {
        r.body["model"] for r in cli_env.message_requests() if isinstance(r.body, dict) and r.body
    }
    assert "claude-opus-5-5" in models and len(models) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "{dir}/missing.ipynb"], "no such notebook"),
        (["check", "{nb}", "--replay", "--answers", "{dir}/none.json"], "no recorded answers"),
        (["check", "{nb}", "--amendment", "a-nope"], "no amendment with id 'a-nope'"),
        (["check", "{nb}", "--concurrency", "0"], "check_concurrency"),
        (["context", "expect", "{nb}", "a-gl", "5", "--no-change"], "has 1 probe(s)"),
        (["context", "expect", "{nb}", "a-gl", "1"], "give --change or --no-change"),
        (["context", "expect", "{nb}", "a-gl", "--add", " "], "the probe prompt is empty"),
    ],
)
def test_user_errors_exit_1_with_a_message(cli_env, tmp_path, capsys, argv, message):
    path = notebook_with(
        tmp_path,
        [Amendment(id="a-gl", kind="fact", text=GL, preview=[probe("What is the yield?")])],
    )
    args = [a.format(nb=path, dir=tmp_path) for a in argv]
    assert main(args) == 1
    assert message in capsys.readouterr().err
    assert not cli_env.message_requests()


def test_expectations_are_edited_from_the_cli_and_change_the_check(cli_env, tmp_path, capsys):
    path = notebook_with(
        tmp_path,
        [
            Amendment(
                id="a-gl", kind="fact", text=GL, preview=[probe("What is the yield of run 1?")]
            )
        ],
    )
    assert main(["context", "expect", str(path), "a-gl"]) == 0
    assert "1. [change, from the preview] (should_change)" in capsys.readouterr().out

    # The researcher says this probe should not change: now the check fails on it.
    assert main(["context", "expect", str(path), "a-gl", "1", "--no-change"]) == 0
    assert "now expects no_change" in capsys.readouterr().out
    stored = LocalContextStore(path).load().amendment("a-gl")
    assert stored.preview[0].expectation == Expectation.no_change and stored.rev == 2

    assert main(["context", "expect", str(path), "a-gl", "--add", "Summarize run 2."]) == 0
    assert "added probe 2" in capsys.readouterr().out
    code, payload = run_json(capsys, str(path))
    assert code == 3
    [check] = payload["notebooks"][0]["report"]["amendments"]
    assert [p["outcome"] for p in check["probes"]] == ["fail", "fail"]  # 2: no effect

    assert main(["context", "expect", str(path), "a-gl", "2", "--remove"]) == 0
    assert main(["context", "expect", str(path), "a-gl", "1", "--change"]) == 0
    capsys.readouterr()
    assert main(["check", str(path), "--quiet"]) == 0
