"""Per-request options and host callbacks from Python (issue 15): ``exposure=`` and
``approval=`` on ask/stream (the agent's settings stay the default for other requests), the
``credentials=`` callback (sync and async) running statements as the user's PostgreSQL role,
and an approval handler stopped when the host decides first. The fake provider over HTTP;
DataFusion on the bundled sample; PostgreSQL live for the roles."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

import metricchat as mc
from conftest import text, tool_call

SQL = "SELECT carrier, count(*) AS n FROM flights GROUP BY carrier ORDER BY n DESC LIMIT 3"
BIG = "SELECT * FROM flights"


def sample_agent(server, **extra):
    return mc.Agent(
        llm=server.llm(),
        connections=[mc.sample_url()],
        generate_title=False,
        answer_checks=False,
        **extra,
    )


def requests_text(server):
    return json.dumps(server.state()["requests"])


def test_exposure_per_request_overrides_the_agent(fake_llm):
    script = [tool_call("create_data", {"title": "Top carriers", "sql": SQL}), text("Done.")]
    # The agent shows results in full; one request asks for schema only.
    server = fake_llm(script)
    agent = sample_agent(server)
    result = agent.ask("Top carriers?", exposure="schema_only")
    assert [r["carrier"] for r in result.data.to_pylist()] == ["UA", "B6", "EV"]
    seen = requests_text(server)
    assert "values_withheld" in seen, "the model was told the values are withheld"
    for value in ("58665", "54635", "54173"):
        assert value not in seen, f"{value} reached the model under schema_only"
    # The next request, without the option, is the agent's default: the model sees the values.
    server = fake_llm(script)
    agent = sample_agent(server)
    agent.ask("Top carriers?")
    assert "58665" in requests_text(server)
    # The reverse: an agent that withholds values, one request in full.
    server = fake_llm(script)
    agent = sample_agent(server, exposure="schema_only")
    agent.ask("Top carriers?", exposure="full")
    assert "58665" in requests_text(server)
    # A bad value is a typed error before anything runs.
    with pytest.raises(mc.InvalidInputError, match="exposure"):
        agent.ask("Top carriers?", exposure="everything")


def test_approval_per_request(fake_llm):
    server = fake_llm([tool_call("create_data", {"title": "All", "sql": BIG}), text("Done.")])
    agent = sample_agent(server)
    stream = agent.stream("Every flight?", approval={"max_rows": 1000, "timeout": "30s"})
    for ev in stream:
        if ev.type == "approval.requested":
            assert "exceeds max_rows 1000" in ev.reason
            stream.deny(ev.approval_id, "not today")
    assert stream.result().data is None
    assert [r["outcome"] for r in agent.audit_log()] == ["denied"]
    with pytest.raises(mc.InvalidInputError, match="max_row"):
        agent.ask("Every flight?", approval={"max_row": 1})


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_an_approval_handler_still_running_is_stopped_when_the_host_decides(fake_llm, kind):
    started, stopped = threading.Event(), threading.Event()

    async def slow_async(request):
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return False

    def slow_sync(request):
        started.set()
        try:
            for _ in range(600):
                time.sleep(0.05)
        except mc.ToolCancelled:
            stopped.set()
            raise
        return False

    handler = slow_async if kind == "async" else slow_sync
    server = fake_llm([tool_call("create_data", {"title": "All", "sql": BIG}), text("Done.")])
    agent = sample_agent(server, approval={"max_rows": 1000, "timeout": "60s"}, approval_handler=handler)
    stream = agent.stream("Every flight?")
    t0 = time.monotonic()
    for ev in stream:
        if ev.type == "approval.requested":
            assert started.wait(10), "the handler was called"
            stream.approve(ev.approval_id)
        if ev.type == "approval.resolved":
            assert (ev.approved, ev.by) == (True, "host")
    result = stream.result()
    assert result.data.num_rows == 10_000
    assert stopped.wait(10), "the handler kept running after the host decided"
    assert time.monotonic() - t0 < 25


# ---- per-user credentials (PostgreSQL roles) ---------------------------------------------------


@pytest.fixture
def pg_roles(pg_dsn):
    """Two roles: ``mc_py_role_a`` may read ``mc_py_secret``, ``mc_py_role_b`` may not."""
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS mc_py_secret")
        c.execute("CREATE TABLE mc_py_secret (id int, note text)")
        c.execute("INSERT INTO mc_py_secret VALUES (1, 'only for A')")
        for role in ("mc_py_role_a", "mc_py_role_b"):
            c.execute(
                f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        c.execute("REVOKE ALL ON mc_py_secret FROM PUBLIC, mc_py_role_b")
        c.execute("GRANT SELECT ON mc_py_secret TO mc_py_role_a")
    return pg_dsn + ("&" if "?" in pg_dsn else "?") + "allow_privileged_login=true"


ROLES = {"alice": "mc_py_role_a", "bob": "mc_py_role_b"}


def test_credentials_callback_runs_statements_as_the_users_role(fake_llm, pg_roles):
    calls = []

    def resolve(user, connection):
        calls.append((user and user["id"], connection["backend"]))
        if user is None:
            return None
        if user["id"] == "mallory":
            raise PermissionError("mallory has no database role")
        return ROLES[user["id"]]

    agent = mc.Agent(llm=fake_llm([]).llm(), connections=[pg_roles], credentials=resolve)
    who = lambda u: agent.query("SELECT current_user AS u", user=u).to_pylist()[0]["u"]  # noqa: E731
    assert who({"id": "alice"}) == "mc_py_role_a"
    assert who({"id": "bob"}) == "mc_py_role_b"
    assert who(None) == "postgres"  # no user: the login
    assert agent.query("SELECT note FROM mc_py_secret", user={"id": "alice"}).num_rows == 1
    with pytest.raises(mc.MetricChatError, match="permission denied"):
        agent.query("SELECT note FROM mc_py_secret", user={"id": "bob"})
    with pytest.raises(mc.MetricChatError, match="mallory has no database role"):
        agent.query("SELECT 1 AS one", user={"id": "mallory"})
    assert ("alice", "postgres") in calls and (None, "postgres") in calls
    log = agent.audit_log()
    assert {r["outcome"] for r in log} >= {"success", "error"}


def test_async_credentials_in_a_run_and_a_token_a_backend_cannot_use(fake_llm, pg_roles, sqlite_db):
    async def resolve(user, connection):
        await asyncio.sleep(0.01)
        if connection["backend"] == "sqlite":
            return {"token": "tok-123"}
        return {"role": ROLES[user["id"]]}

    server = fake_llm([tool_call("create_data", {"title": "Me", "sql": "SELECT current_user AS u"}), text("Done.")])
    agent = mc.Agent(llm=server.llm(), connections=[pg_roles], credentials=resolve,
                     generate_title=False, answer_checks=False)
    result = agent.ask("Who am I?", user={"id": "bob"})
    assert result.data.to_pylist() == [{"u": "mc_py_role_b"}]
    # SQLite cannot run a query with a per-user token: refused, never run as the file's owner.
    agent = mc.Agent(llm=fake_llm([]).llm(), connections=[sqlite_db], credentials=resolve)
    with pytest.raises(mc.MetricChatError, match="token") as err:
        agent.query("SELECT 1 AS one", user={"id": "alice"})
    assert "tok-123" not in str(err.value)


def test_credentials_must_be_callable_and_answer_a_known_shape(fake_llm, pg_roles):
    with pytest.raises(TypeError, match="credentials must be callable"):
        mc.Agent(llm=fake_llm([]).llm(), connections=[pg_roles], credentials="mc_py_role_a")
    agent = mc.Agent(llm=fake_llm([]).llm(), connections=[pg_roles], credentials=lambda u, c: 42)
    with pytest.raises(mc.MetricChatError, match="credentials must return"):
        agent.query("SELECT 1 AS one", user={"id": "alice"})
