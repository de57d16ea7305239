"""Many users on one agent from Python (issue 15): ``user=`` on ask/stream/query, the data
policy from the spec, the audit log."""

from __future__ import annotations

import pytest

import metricchat as mc
from conftest import text, tool_call

POLICY = {"tables": {"flights": {"row_filter": "carrier = :carrier", "denied_columns": ["tailnum"]}}}
SQL = "SELECT carrier, count(*) AS n FROM flights GROUP BY carrier"


def make_agent(server):
    return mc.Agent(
        llm=server.llm(),
        connections=[mc.sample_url()],
        generate_title=False,
        answer_checks=False,
        guard={"policy": POLICY},
    )


def user(carrier):
    return {"id": f"user-{carrier}", "roles": ["analyst"], "attributes": {"carrier": carrier}}


def test_query_and_ask_for_a_user_see_only_their_rows_and_are_audited(fake_llm):
    server = fake_llm([tool_call("create_data", {"title": "Flights", "sql": SQL}), text("Done.")])
    agent = make_agent(server)
    table = agent.query(SQL, user=user("UA"))
    assert [r["carrier"] for r in table.to_pylist()] == ["UA"]
    with pytest.raises(mc.InvalidInputError, match="tailnum"):
        agent.query("SELECT tailnum FROM flights", user=user("UA"))
    result = agent.ask("Flights per carrier?", user=user("AA"))
    assert [r["carrier"] for r in result.data.to_pylist()] == ["AA"]
    log = agent.audit_log()
    assert [r["outcome"] for r in log] == ["success", "refused", "success"]
    assert log[0]["user_id"] == "user-AA" and log[0]["run_id"] == str(result.run_id)
    assert "carrier = ('AA')" in log[0]["sql"]
    assert log[0]["policy"] == ["flights: rows filtered -tailnum"]
    assert [r["user_id"] for r in agent.audit_log(user_id="user-UA")] == ["user-UA"] * 2
    assert agent.audit_table().num_rows == 3


def test_a_user_without_the_attribute_fails_before_anything_runs(fake_llm):
    agent = make_agent(fake_llm([]))
    with pytest.raises(mc.InvalidInputError, match="carrier"):
        agent.query(SQL, user={"id": "nobody"})
    with pytest.raises(mc.InvalidInputError, match="user"):
        agent.query(SQL, user={"id": "x", "tenant": 1})
    assert agent.audit_log() == []
