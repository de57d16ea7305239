"""Instructions, memory, knowledge and the context plan from Python."""

from __future__ import annotations

import pytest

import metricchat as mc


def make_agent(server, **options):
    options.setdefault("generate_title", False)
    return mc.Agent(llm=server.llm(), connections=[mc.sample_url()], **options)


def test_instructions_need_approval_and_scope_to_reach_the_prompt(fake_llm, tmp_path):
    approved = "Count only flights that departed (dep_time IS NOT NULL)."
    script = [
        {"matcher": {"type": "all", "matchers": [
            {"type": "body_contains", "text": "You are metricchat"},
            {"type": "body_contains", "text": approved},
        ]}, "reply": {"type": "text", "text": "Noted."}},
    ]
    server = fake_llm(script)
    agent = make_agent(server, store=f"sqlite:///{tmp_path / 'runs.db'}")
    draft = agent.instructions.add(approved, scope=["flights"], status="draft", labels=["ops"])
    assert draft["status"] == "draft" and draft["scope"] == {"kind": "tables", "tables": ["flights"]}
    other = agent.instructions.add("Weather is in Fahrenheit.", scope={"connection": "elsewhere"})
    plan = agent.explain_context("How many flights left JFK?")
    assert approved not in plan.system_prompt
    assert agent.instructions.list(status="draft")[0]["id"] == draft["id"]
    agent.instructions.approve(draft["id"])
    plan = agent.explain_context("How many flights left JFK?")
    assert approved in plan.system_prompt
    assert other["text"] not in plan.system_prompt
    assert "flights" in [t["table"]["name"] for t in plan.tables]
    assert "Sections (tokens / budget)" in plan.explain()
    assert plan.total_tokens > 0
    assert agent.ask("How many flights left JFK?").answer == "Noted."
    # Usage is counted in the store; archived ones leave the prompt.
    stored = [i for i in agent.instructions.list(label="ops")][0]
    assert stored["usage_count"] >= 1
    agent.instructions.archive(draft["id"])
    assert approved not in agent.explain_context("flights from JFK").system_prompt
    agent.instructions.delete(draft["id"])
    with pytest.raises(mc.NotFoundError):
        agent.instructions.approve(draft["id"])
    with pytest.raises(mc.InvalidInputError):
        agent.instructions.add("   ")


def test_memory_is_stored_searched_and_carried(fake_llm):
    server = fake_llm([])
    agent = make_agent(server)
    agent.memory.add("'Delay' means departure delay, in minutes.")
    agent.memory.add("The busiest airport is JFK.", labels=["trivia"])
    assert len(agent.memory.list()) == 2
    hits = agent.memory.search("what does delay mean", k=1)
    assert hits[0]["text"].startswith("'Delay'")
    plan = agent.explain_context("average delay by carrier")
    assert "'Delay' means departure delay" in plan.system_prompt
    found = agent.search_knowledge("delay meaning")
    assert found and found[0]["kind"] == "memory"
    agent.memory.delete(hits[0]["id"])
    assert len(agent.memory.list()) == 1


def test_instructions_suggested_event_class():
    assert mc.events["instructions.suggested"].TYPE == "instructions.suggested"


def test_context_options_reach_the_context_hub(fake_llm):
    """`context={...}` is the core's ContextConfig, given through the agent's spec."""
    server = fake_llm([])
    question = "Average departure delay by carrier, with the airline's full name"
    default = make_agent(server).explain_context(question)
    assert len(default.tables) >= 2, default.explain()
    limited = make_agent(server, context={"max_full_tables": 1}).explain_context(question)
    assert len(limited.tables) == 1, limited.explain()
    with pytest.raises(mc.MetricChatError, match="max_full_table"):
        make_agent(server, context={"max_full_table": 1})


def test_the_async_forms_run_in_the_callers_loop(fake_llm, tmp_path):
    """``*_async`` twins of the query, connection, instruction and memory calls, awaited in a
    running loop (Jupyter, FastAPI), give what the sync calls give."""
    import asyncio

    server = fake_llm([])
    agent = make_agent(server, store=f"sqlite:///{tmp_path / 'runs.db'}")
    conn = mc.connect(mc.sample_url())

    async def main():
        table = await agent.query_async("SELECT COUNT(*) AS n FROM airlines")
        names = {t["name"] for t in await conn.tables_async()}
        described = await conn.describe_async("airlines")
        direct = await conn.query_async("SELECT carrier FROM airlines ORDER BY carrier LIMIT 2")
        draft = await agent.instructions.add_async("Delays are in minutes.", status="draft")
        drafts = await agent.instructions.list_async(status="draft")
        approved = await agent.instructions.approve_async(draft["id"])
        fact = await agent.memory.add_async("UA is United Air Lines Inc.", scope=["airlines"])
        found = await agent.memory.search_async("United", k=1)
        await agent.memory.delete_async(fact["id"])
        left = await agent.memory.list_async()
        return table, names, described, direct, drafts, approved, fact, found, left

    table, names, described, direct, drafts, approved, fact, found, left = asyncio.run(main())
    assert table.column("n").to_pylist() == [16]
    assert {"flights", "airlines"} <= names
    assert "carrier" in str(described)
    assert direct.column("carrier").to_pylist() == ["9E", "AA"]
    assert [d["text"] for d in drafts] == ["Delays are in minutes."]
    assert approved["status"] == "approved"
    assert found and found[0]["id"] == fact["id"]
    assert fact["id"] not in [m["id"] for m in left]
    # The sync API sees what the async one wrote.
    assert agent.instructions.list(status="approved")[0]["id"] == draft_id(drafts)


def draft_id(drafts):
    return drafts[0]["id"]
