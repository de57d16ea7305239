"""Cost preflight and approval from Python (issue 15, item 5): ``approval=`` thresholds, the
``approval.requested`` event, ``stream.approve`` / ``stream.deny`` on the sync and async
streams, the ``approval_handler`` callback (sync and async), and the timeout, against the fake
provider over HTTP and the bundled Parquet data (DataFusion's plan statistics give the
estimate)."""

from __future__ import annotations

import asyncio

import metricchat as mc
from conftest import text, tool_call
from test_types import _EVENT_CLASSES, _conforms

# 336,776 rows; the guard's row cap makes it `LIMIT 10000`, which the plan expects to return.
BIG = "SELECT * FROM flights"
APPROVAL = {"max_rows": 1000, "timeout": "30s"}


def make_agent(server, approval=APPROVAL, **extra):
    return mc.Agent(
        llm=server.llm(),
        connections=[mc.sample_url()],
        generate_title=False,
        answer_checks=False,
        approval=approval,
        **extra,
    )


def script_after(needle):
    """The model asks for the big query; its next request must carry ``needle``."""
    return [
        tool_call("create_data", {"title": "All flights", "sql": BIG}),
        {"matcher": {"type": "body_contains", "text": needle}, "reply": {"type": "text", "text": "Done."}},
    ]


def test_sync_stream_approve(fake_llm):
    server = fake_llm([tool_call("create_data", {"title": "All flights", "sql": BIG}), text("Done.")])
    agent = make_agent(server)
    stream = agent.stream("Every flight?")
    types, resolved = [], []
    for ev in stream:
        types.append(ev.type)
        if ev.type.startswith("approval."):
            # The generated `metricchat.types` declare exactly what arrives.
            assert _conforms(ev.to_dict(), _EVENT_CLASSES[ev.type]) == []
        if ev.type == "approval.requested":
            assert isinstance(ev, mc.events["approval.requested"])
            assert ev.estimate["rows"] > 1000, ev.to_dict()
            assert "exceeds max_rows 1000" in ev.reason
            assert ev.sql.startswith(BIG) and ev.timeout_ms == 30_000
            assert [p["approval_id"] for p in stream.pending_approvals()] == [ev.approval_id]
            stream.approve(ev.approval_id)
        if ev.type == "approval.resolved":
            resolved.append((ev.approved, ev.by, ev.to_dict().get("reason")))
    result = stream.result()
    assert types.index("query.created") < types.index("approval.requested") < types.index("query.result")
    assert resolved == [(True, "host", None)]
    assert result.data.num_rows == 10_000
    log = agent.audit_log()
    assert [r["outcome"] for r in log] == ["success"]
    assert log[0]["policy"] == ["approved by host"]


def test_async_stream_deny_reaches_the_model_and_the_audit_log(fake_llm):
    server = fake_llm(script_after("not approved: too big, aggregate first"))
    agent = make_agent(server)

    async def main():
        stream = agent.stream_async("Every flight?")
        async for ev in stream:
            if ev.type == "approval.requested":
                stream.deny(ev.approval_id, "too big, aggregate first")
        return await stream.result()

    result = asyncio.run(main())
    assert result.answer == "Done."
    assert result.data is None
    log = agent.audit_log(outcome="denied")
    assert len(log) == 1
    assert log[0]["error"] == "not approved: too big, aggregate first (by host)"
    assert server.state()["unexpected"] == []


def test_no_decision_in_time_denies(fake_llm):
    server = fake_llm(script_after("not approved: no decision within 0.3s"))
    agent = make_agent(server, approval={"max_rows": 1000, "timeout": 300})
    result = agent.ask("Every flight?")
    assert result.answer == "Done."
    log = agent.audit_log()
    assert [r["outcome"] for r in log] == ["denied"]
    assert log[0]["error"].endswith("(by timeout)")


def test_approval_callbacks_sync_and_async(fake_llm):
    seen = []

    def deny(request):
        seen.append(request)
        return (False, "ask for fewer rows")

    server = fake_llm(script_after("not approved: ask for fewer rows"))
    agent = make_agent(server, approval_handler=deny)
    assert agent.ask("Every flight?").answer == "Done."
    assert len(seen) == 1 and seen[0]["estimate"]["rows"] > 1000
    assert seen[0]["connection"] and seen[0]["sql"].startswith(BIG)

    async def approve(request):
        await asyncio.sleep(0.01)
        return True

    server = fake_llm([tool_call("create_data", {"title": "All flights", "sql": BIG}), text("Done.")])
    agent = make_agent(server, approval_handler=approve)
    events = list(agent.stream("Every flight?"))
    resolved = [e for e in events if e.type == "approval.resolved"]
    assert [(e.approved, e.by) for e in resolved] == [(True, "handler")]
    assert agent.audit_log()[0]["policy"] == ["approved by handler"]


def test_no_threshold_no_preflight(fake_llm):
    server = fake_llm([tool_call("create_data", {"title": "All flights", "sql": BIG}), text("Done.")])
    agent = make_agent(server, approval=None)
    events = list(agent.stream("Every flight?"))
    assert not [e for e in events if e.type.startswith("approval.")]
