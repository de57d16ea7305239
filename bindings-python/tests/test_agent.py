"""The agent from Python: over real HTTP to the fake provider server, on real engines."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
import uuid

import pyarrow as pa
import pytest

import metricchat as mc
from conftest import text, tool_call

WORST_SQL = (
    "SELECT carrier, ROUND(AVG(dep_delay), 4) AS avg_dep_delay, COUNT(*) AS n "
    "FROM flights GROUP BY carrier ORDER BY avg_dep_delay DESC"
)
QUESTION = "Which carrier had the worst average departure delay?"


def worst_carrier_script():
    return [
        tool_call(
            "create_data",
            {
                "title": "Average departure delay by carrier",
                "sql": WORST_SQL,
                "chart": {"chart_type": "bar", "x": "carrier", "y": ["avg_dep_delay"]},
            },
            text="I'll average dep_delay per carrier.",
        ),
        text("Frontier (F9) had the worst average departure delay: 20.2155 minutes."),
    ]


def make_agent(server, **options):
    options.setdefault("generate_title", False)
    return mc.Agent(llm=server.llm(), connections=[mc.sample_url()], **options)


def test_ask_returns_answer_sql_arrow_data_and_chart(fake_llm):
    server = fake_llm(worst_carrier_script())
    agent = make_agent(server, store="memory")
    result = agent.ask(QUESTION)

    assert result.status == "completed"
    assert "F9" in result.answer and "20.2155" in result.answer
    assert result.sql.startswith(WORST_SQL) and result.sql.endswith("LIMIT 10000")  # the guard's cap
    uuid.UUID(result.run_id)

    table = result.data
    assert isinstance(table, pa.Table)
    assert table.column_names == ["carrier", "avg_dep_delay", "n"]
    assert table.num_rows == 16
    first = table.slice(0, 1).to_pylist()[0]
    assert first["carrier"] == "F9"
    assert first["avg_dep_delay"] == pytest.approx(20.2155, abs=1e-4)

    df = result.to_pandas()
    assert list(df["carrier"][:1]) == ["F9"]
    pl = result.to_polars()
    assert pl.shape == (16, 3)

    chart = result.chart
    assert isinstance(chart, mc.Chart) and chart.kind == "bar"
    assert chart.option["series"], chart.option
    assert "echarts" in chart._repr_html_()
    assert "F9" in result._repr_html_()

    assert result.usage["input_tokens"] > 0
    assert result.datasets[0]["row_count"] == 16
    assert result.to_dict()["run_id"] == result.run_id
    assert server.state()["unexpected"] == []

    # The run is in the store with its events.
    runs = agent.runs.list()
    assert runs[0]["id"] == result.run_id and runs[0]["status"] == "completed"
    stored = agent.runs.events(result.run_id)
    assert stored[0].type == "run.started" and stored[-1].type == "run.finished"


def test_stream_yields_typed_events_in_order_equal_to_rust_json(fake_llm):
    server = fake_llm(worst_carrier_script())
    agent = make_agent(server)
    stream = agent.stream(QUESTION)
    events = list(stream)
    result = stream.result()

    types = [e.type for e in events]
    assert types[0] == "run.started" and types[-1] == "run.finished"
    for t in ("tool.started", "query.created", "query.result", "tool.finished", "visualization.created"):
        assert t in types, types
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(e.run_id == result.run_id for e in events)
    assert isinstance(events[0], mc.events["run.started"])
    assert type(events[0]).__name__ == "RunStarted"
    qr = next(e for e in events if e.type == "query.result")
    assert qr.row_count == 16 and qr.get("error") is None

    # to_dict() is the core's JSON: the stored copy (written by Rust) is identical. Token-level
    # events (decision.partial, unfinished block.upsert) are streamed but not stored.
    stored = [e.to_dict() for e in agent.runs.events(result.run_id)]
    durable = [
        e.to_dict()
        for e in events
        if e.type != "decision.partial" and not (e.type == "block.upsert" and not e.done)
    ]
    assert stored == durable


def test_async_stream_and_ask(fake_llm):
    server = fake_llm(worst_carrier_script() + worst_carrier_script())
    agent = make_agent(server)

    async def main():
        seen = []
        stream = agent.stream_async(QUESTION)
        async for ev in stream:
            seen.append(ev.type)
        first = await stream.result()
        second = await agent.ask_async(QUESTION)
        return seen, first, second

    seen, first, second = asyncio.run(main())
    assert seen[0] == "run.started" and seen[-1] == "run.finished"
    assert first.data.num_rows == 16 and second.answer.startswith("Frontier")
    assert first.run_id != second.run_id


def test_sync_ask_inside_a_running_event_loop(fake_llm):
    """What a Jupyter cell does: a plain call while an event loop runs on this thread."""
    server = fake_llm(worst_carrier_script())
    agent = make_agent(server)

    async def cell():
        ticks = []

        async def ticker():
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        result = agent.ask(QUESTION)
        task.cancel()
        return result

    result = asyncio.run(cell())
    assert result.answer.startswith("Frontier")


def test_custom_python_tools_sync_async_and_raising(fake_llm):
    calls = []

    @mc.tool
    def fx_rate(currency: str, base: str = "USD") -> dict:
        """Exchange rate of a currency.

        Args:
            currency: ISO code, e.g. EUR.
            base: the base currency.
        """
        calls.append(("fx_rate", currency, base, threading.current_thread().name))
        return {"currency": currency, "base": base, "rate": 1.08}

    @mc.tool(name="holiday_calendar")
    async def holidays(year: int) -> list:
        """Public holidays of a year."""
        await asyncio.sleep(0.01)
        calls.append(("holidays", year))
        return [f"{year}-12-25"]

    @mc.tool
    def broken(x: int) -> int:
        """Always fails."""
        raise ValueError("bad input for broken")

    assert fx_rate.parameters == {
        "type": "object",
        "properties": {
            "currency": {"type": "string", "description": "ISO code, e.g. EUR."},
            "base": {"type": "string", "description": "the base currency.", "default": "USD"},
        },
        "required": ["currency"],
    }
    script = [
        tool_call("fx_rate", {"currency": "EUR"}),
        tool_call("holiday_calendar", {"year": 2024}),
        tool_call("broken", {"x": 1}),
        tool_call("broken", {"x": "not a number"}),
        text("EUR trades at 1.08 USD; 2024-12-25 is a holiday."),
    ]
    server = fake_llm(script)
    agent = make_agent(server, tools=[fx_rate, holidays, broken])
    stream = agent.stream("What is the EUR rate and the 2024 holidays?")
    events = list(stream)
    result = stream.result()

    assert result.answer.startswith("EUR trades at 1.08")
    assert ("holidays", 2024) in calls
    fx = [c for c in calls if c[0] == "fx_rate"]
    assert fx and fx[0][1:3] == ("EUR", "USD")
    assert fx[0][3] != threading.main_thread().name  # ran on a worker thread
    finished = [e for e in events if e.type == "tool.finished"]
    by_tool = {}
    for e in finished:
        by_tool.setdefault(e.tool, []).append(e)
    assert by_tool["fx_rate"][0].get("error") is None
    errors = [e.get("error") for e in by_tool["broken"]]
    assert errors[0] is not None and "ValueError: bad input for broken" in errors[0]
    assert "Traceback" not in errors[0]  # the traceback stays with the operator
    # Arguments that break the schema never reach Python.
    assert "x" in errors[1] and "integer" in errors[1]
    assert len([c for c in calls if c[0] == "broken"]) == 0


def test_rules_reach_the_prompt(fake_llm):
    rule = "Always report delays in minutes with two decimals."
    script = [
        {"matcher": {"type": "all", "matchers": [
            {"type": "body_contains", "text": "You are metricchat"},
            {"type": "body_contains", "text": rule},
        ]}, "reply": {"type": "text", "text": "Noted."}},
    ]
    server = fake_llm(script)
    agent = make_agent(server, rules=["Use UTC."])
    assert agent.rules.add(rule) is True
    assert agent.rules.add(rule) is False
    assert agent.rules.list() == ["Use UTC.", rule]
    result = agent.ask("hello")
    assert result.answer == "Noted."
    assert agent.rules.remove("Use UTC.") and len(agent.rules) == 1


def test_error_classes(fake_llm):
    with pytest.raises(mc.InvalidInputError) as e:
        mc.Agent(llm="openai:x", connections=[mc.sample_url()], max_row=5)
    assert e.value.kind == "InvalidInput" and "max_row" in str(e.value)
    assert isinstance(e.value, mc.MetricChatError)

    with pytest.raises(mc.InvalidInputError):
        mc.Agent(llm="nope:x", connections=[mc.sample_url()])

    server = fake_llm([{"reply": {"type": "status", "status": 401}}])
    agent = make_agent(server)
    with pytest.raises(mc.UnauthorizedError) as e:
        agent.ask(QUESTION)
    assert e.value.kind == "Unauthorized" and e.value.retryable is False
    assert "sk-test-secret-key" not in str(e.value)

    conn = mc.connect(mc.sample_url())
    with pytest.raises(mc.InvalidInputError) as e:
        conn.query("DROP TABLE flights")
    with pytest.raises(mc.QueryFailedError) as e:
        conn.query("SELECT no_such_column FROM flights")
    assert e.value.kind == "QueryFailed"
    # The engine's own error is chained as __cause__.
    assert isinstance(e.value.__cause__, mc.MetricChatError)
    assert "no_such_column" in str(e.value.__cause__)


def test_keyboard_interrupt_cancels_the_run(fake_llm):
    server = fake_llm([{"matcher": {"type": "body_contains", "text": "You are metricchat"},
                        "reply": {"type": "stall"}}])
    agent = make_agent(server, store="memory")
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        agent.ask(QUESTION)
    assert time.monotonic() - started < 10
    run = agent.runs.list(1)[0]
    assert run["status"] == "cancelled", run


def test_async_task_cancel_cancels_the_run(fake_llm):
    server = fake_llm([{"matcher": {"type": "body_contains", "text": "You are metricchat"},
                        "reply": {"type": "stall"}}])
    agent = make_agent(server)

    async def main():
        task = asyncio.ensure_future(agent.ask_async(QUESTION))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    for _ in range(100):
        run = agent.runs.list(1)[0]
        if run["status"] != "running":
            break
        time.sleep(0.05)
    assert run["status"] == "cancelled"


def test_follow_up_after_clarify(fake_llm):
    script = [
        tool_call("clarify", {"question": "Which year do you mean?"}),
        {"matcher": {"type": "body_contains", "text": "2013 please"},
         "reply": {"type": "text", "text": "In 2013, F9 was worst."}},
    ]
    server = fake_llm(script)
    agent = make_agent(server)
    first = agent.ask("Worst carrier?")
    assert first.status == "awaiting_input" and first.clarification == "Which year do you mean?"
    second = agent.ask("2013 please", follow_up=first)
    assert second.answer == "In 2013, F9 was worst."


def test_timeout_and_cancelled_errors_are_also_the_builtin_ones():
    import builtins

    assert issubclass(mc.TimeoutError, builtins.TimeoutError)
    assert issubclass(mc.TimeoutError, mc.MetricChatError)
    assert issubclass(mc.CancelledError, asyncio.CancelledError)
    assert issubclass(mc.CancelledError, mc.MetricChatError)


def test_query_takes_the_connection_by_keyword(fake_llm):
    agent = make_agent(fake_llm([]))
    table = agent.query("SELECT 1 AS one", connection="flights")
    assert table.to_pylist() == [{"one": 1}]
    with pytest.warns(DeprecationWarning, match="connection="):
        old = agent.query("SELECT 2 AS two", "flights")
    assert old.to_pylist() == [{"two": 2}]


def test_sql_first_with_sql_candidates_adopts_the_result_most_agree_on(fake_llm):
    # SQL-first's writer is asked for three candidates: the greedy one (temperature 0) names the
    # wrong airport, the two sampled ones agree; their result is the dataset.
    def writer(greedy, sql):
        zero = {"type": "json_pointer", "pointer": "/temperature", "value": 0.0}
        temp = zero if greedy else {"type": "not", "matcher": zero}
        return {
            "matcher": {"type": "all", "matchers": [{"type": "body_contains", "text": "You write one read-only SQL query"}, temp]},
            "reply": {"type": "text", "text": f"```sql\n{sql}\n```"},
        }

    right = "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'"
    server = fake_llm(
        [
            writer(True, "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'EWR'"),
            writer(False, right),
            writer(False, "SELECT COUNT(1) AS n FROM flights WHERE origin IN ('JFK')"),
            {"matcher": {"type": "body_contains", "text": "You are a data analyst"},
             "reply": {"type": "text", "text": "111,279 flights left JFK in 2013."}},
        ]
    )
    agent = make_agent(server, protocol="sql_first", sql_candidates=3)
    result = agent.ask("How many flights left JFK in 2013?")
    assert result.status == "completed"
    assert result.sql.startswith(right)
    assert result.data.to_pylist() == [{"flights": 111279}]
    assert "111,279" in result.answer
    with pytest.raises(mc.InvalidInputError):
        make_agent(server, sql_candidates="three")
