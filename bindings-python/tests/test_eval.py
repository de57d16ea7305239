"""Evals from Python (`mc.eval.run`): a three-case suite through an agent driven by the fake
provider server over real HTTP, on the bundled flights sample (DataFusion)."""

from __future__ import annotations

import _thread
import asyncio
import json
import threading
import time

import pytest

import metricchat as mc
from conftest import planner

SUITE = """
name: py-mini
description: Three questions on the bundled flights sample.
cases:
  - id: jfk-flights
    question: How many flights departed from JFK in 2013?
    tags: [count, filter]
    expect:
      sql: SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'
      tools: [create_data]
  - id: airline-count
    question: How many airlines are in the data?
    tags: [count]
    expect:
      answer_contains: ["16"]
  - id: best-airport
    question: Which airport is the best?
    tags: [ambiguous]
    expect:
      clarify: true
"""

CASE_IDS = ["jfk-flights", "airline-count", "best-airport"]

#: What the scripted model does for each question: its first reply, then its answer.
MODEL = {
    "How many flights departed from JFK in 2013?": (
        {"name": "create_data", "arguments": {
            "title": "JFK departures", "sql": "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'"}},
        "That many flights departed from JFK in 2013.",
    ),
    # Answers with the wrong number: this case fails (answer_missing_value).
    "How many airlines are in the data?": (
        {"name": "create_data", "arguments": {"title": "Airlines", "sql": "SELECT COUNT(*) AS n FROM airlines"}},
        "There are 15 airlines.",
    ),
    "Which airport is the best?": (
        {"name": "clarify", "arguments": {"question": "Best by what: most flights or least delay?"}},
        "Here is the result.",
    ),
}


def script(times: int = 1):
    """Exchanges keyed by question (cases may run concurrently): a tool call first, the answer
    once the tool's result is in the conversation."""
    has_tool_result = {"type": "body_contains", "text": '"role":"tool"'}
    out = []
    for _ in range(times):
        for question, (call, answer) in MODEL.items():
            asks = {"type": "body_contains", "text": question}
            out.append({
                "matcher": {"type": "all", "matchers": [planner(), asks, {"type": "not", "matcher": has_tool_result}]},
                "reply": {"type": "tool_calls", "calls": [{"id": "", **call}]},
            })
            out.append({
                "matcher": {"type": "all", "matchers": [planner(), asks, has_tool_result]},
                "reply": {"type": "text", "text": answer},
            })
    return out


def make_agent(server, **options):
    options.setdefault("generate_title", False)
    return mc.Agent(llm=server.llm(), connections=[mc.sample_url()], protocol="native_tools", **options)


def test_run_reports_checks_renders_and_stores(fake_llm, tmp_path):
    server = fake_llm(script())
    agent = make_agent(server, store="memory")
    seen = []
    result = mc.eval.run(SUITE, agent, concurrency=3, timeout=120, label="scripted", progress=seen.append)

    assert isinstance(result, mc.EvalResult)
    assert (result.passed, result.total) == (2, 3), result.to_markdown()
    assert result.pass_rate == pytest.approx(2 / 3)
    assert result.suite == "py-mini" and result.mode == "agent" and result.label == "scripted"
    assert result.model == "scripted-gpt"
    assert result.failed == ["airline-count"]
    by_id = {c["id"]: c for c in result.cases}
    assert [c["id"] for c in result.cases] == CASE_IDS  # suite order, whatever ran first
    assert by_id["jfk-flights"]["passed"] and by_id["best-airport"]["passed"]
    assert by_id["airline-count"]["failure"] == "answer_missing_value"
    assert by_id["jfk-flights"]["sql"].startswith("SELECT COUNT(*) AS flights FROM flights")
    assert by_id["best-airport"]["clarification"].startswith("Best by what")
    assert result.summary["failure_classes"] == {"answer_missing_value": 1}
    assert result.summary["by_tag"]["count"] == [1, 2]
    assert server.state()["unexpected"] == []

    # Progress came after every case, in this thread.
    assert [p["done"] for p in seen] == [1, 2, 3]
    assert seen[-1]["total"] == 3 and seen[-1]["passed"] == 2
    assert {p["last"]["id"] for p in seen} == set(CASE_IDS)

    # One row per case with the documented columns.
    df = result.to_pandas()
    assert list(df.columns) == list(mc.eval.CASE_COLUMNS) == [
        "id", "question", "tags", "passed", "failure", "seconds", "tokens", "iterations", "sql",
        "answer", "error",
    ]
    assert len(df) == 3 and list(df["id"]) == CASE_IDS
    assert list(df["passed"]) == [True, False, True]
    assert df.loc[1, "failure"] == "answer_missing_value" and df.loc[1, "answer"] == "There are 15 airlines."
    assert df.loc[0, "tags"] == ["count", "filter"]
    assert (df["tokens"] > 0).all() and (df["iterations"] >= 1).all()

    # Renderings are the core's.
    html = result.to_html()
    assert html.startswith("<!doctype html>")
    for case_id in CASE_IDS:
        assert case_id in html
        assert f"`{case_id}`" in result.to_markdown()
    saved = result.save_html(tmp_path / "eval.html")
    assert open(saved, encoding="utf-8").read() == html
    assert "2/3 correct" in result._repr_markdown_()

    # JSON round trip, and comparison with an earlier run where the failing case passed.
    again = mc.EvalResult.from_json(result.to_json())
    assert again.to_dict() == result.to_dict()
    same = result.compare(again)
    assert same["has_regressions"] is False and same["regressions"] == [] and same["fixes"] == []
    before = result.to_dict()
    before["cases"][1].update(passed=True, checks=[])
    before["cases"][1].pop("failure")
    before["summary"]["passed"] = 3
    cmp = result.compare(json.dumps(before))
    assert cmp["has_regressions"] is True
    assert [r["id"] for r in cmp["regressions"]] == ["airline-count"]
    assert cmp["regressions"][0]["after"] == "answer_missing_value"
    assert (cmp["before"], cmp["after"], cmp["total"]) == (3, 2, 3)
    assert "REGRESSION `airline-count`" in cmp["markdown"]
    path = tmp_path / "before.json"
    path.write_text(json.dumps(before))
    assert result.compare(path)["regressions"] == cmp["regressions"]
    assert result.compare(str(path))["regressions"] == cmp["regressions"]

    # store=True kept the report in the agent's store.
    stored = mc.eval.history(agent)
    assert [r.id for r in stored] == [result.id]
    assert stored[0].to_dict() == result.to_dict()
    assert mc.eval.history(agent, suite="another-suite") == []


def test_suite_from_a_file_only_some_cases_async_and_not_stored(fake_llm, tmp_path):
    server = fake_llm(script())
    agent = make_agent(server, store="memory")
    suite_file = tmp_path / "mini.yaml"
    suite_file.write_text(SUITE)

    async def main():
        return await mc.eval.run_async(suite_file, agent, only=["jfk-flights"], store=False)

    result = asyncio.run(main())
    assert (result.passed, result.total) == (1, 1)
    assert [c["id"] for c in result.cases] == ["jfk-flights"]
    assert mc.eval.history(agent) == []

    # A path given as a string works the same, here for the clarifying question only.
    result = mc.eval.run(str(suite_file), agent, only="best-airport")
    assert (result.passed, result.total) == (1, 1)
    assert len(mc.eval.history(agent, suite="py-mini")) == 1


def test_baseline_mode_checks_only_the_dataset(fake_llm):
    reply = {"type": "text", "text": "```sql\nSELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'\n```"}
    server = fake_llm([{"matcher": {"type": "body_contains", "text": "Write one SQL query"}, "reply": reply}])
    agent = make_agent(server)
    result = mc.eval.run(SUITE, agent, baseline=True, only=["jfk-flights"], store=False)
    assert result.mode == "baseline"
    assert result.cases[0]["checks"][0]["name"] == "dataset"
    assert (result.passed, result.total) == (1, 1), result.to_markdown()


def test_a_bad_suite_raises_naming_the_key(fake_llm, tmp_path):
    server = fake_llm([])
    agent = make_agent(server)
    bad = SUITE.replace("answer_contains", "answer_contain")
    with pytest.raises(mc.InvalidInputError) as e:
        mc.eval.run(bad, agent)
    message = str(e.value)
    assert "answer_contain" in message and "airline-count" in message, message
    assert e.value.kind == "InvalidInput"

    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(mc.InvalidInputError, match="answer_contain"):
        mc.eval.run(path, agent)
    with pytest.raises(mc.InvalidInputError, match="cannot read eval suite"):
        mc.eval.run(tmp_path / "missing.yaml", agent)
    with pytest.raises(mc.InvalidInputError, match="no case `nope`"):
        mc.eval.run(SUITE, agent, only=["nope"])
    with pytest.raises(TypeError):
        mc.eval.run(SUITE, "not an agent")
    assert server.state()["requests"] == []


def test_keyboard_interrupt_cancels_the_eval(fake_llm):
    server = fake_llm([{"matcher": planner(), "reply": {"type": "stall"}}])
    agent = make_agent(server, store="memory")
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        mc.eval.run(SUITE, agent, only=["jfk-flights"])
    assert time.monotonic() - started < 15
    # The run wound down before control returned; the report of what ran is stored.
    stored = mc.eval.history(agent)
    assert len(stored) == 1
    assert stored[0].cases[0]["failure"] == "cancelled"
