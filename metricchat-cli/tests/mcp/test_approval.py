"""Approvals through the MCP server (ADR 0016, "CLI and MCP"): with an `approval` setting, a
statement of `ask` whose estimate exceeds it is put to the client's user with MCP elicitation
(`elicitation/create`); only an accepted form with `approve: true` runs it. Decline, cancel and
`approve: false` deny it and the model reads why; a client without elicitation is denied unless
the server runs with `--approve all`. The fake model checks what it is told (its next request
must contain the denial)."""

from __future__ import annotations

import anyio
import mcp.types as types
import pytest
from mcp import Client, StdioServerParameters

from conftest import (
    METRICCHAT_BIN,
    ORIGIN_SQL,
    exchange,
    fake_llm,
    http_server,
    server_env,
    text_reply,
    tool_call,
    write_workdir,
)

pytestmark = pytest.mark.anyio

# Every statement needs a decision: its estimate is above one row, or it has none.
APPROVAL = '\n[approval]\nmax_rows = 1\nrequire_estimate = true\ntimeout = "60s"\n'

APPROVED_ANSWER = "EWR had the most departures."
DENIED_ANSWER = "I could not look: running the query was not approved."
NO_ELICITATION = "the MCP client cannot approve (no elicitation support)"


def question(tag: str) -> str:
    return f"Which airport had the most departures? {tag}"


def approval_exchanges(tag: str, seen: str, answer: str):
    """The planner runs ORIGIN_SQL; its next request must hold `seen` (the result, or the
    denial)."""
    return [
        exchange(tool_call(ORIGIN_SQL), tag),
        exchange(text_reply(answer), tag, seen),
    ]


def stdio(work, *extra):
    return StdioServerParameters(
        command=str(METRICCHAT_BIN), args=["mcp", *extra], cwd=str(work), env=server_env(work)
    )


def text_of(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


class Person:
    """An elicitation callback that records each request and answers with `result`."""

    def __init__(self, result: types.ElicitResult):
        self.result = result
        self.asked: list[types.ElicitRequestFormParams] = []

    async def __call__(self, context, params):
        self.asked.append(params)
        return self.result


def check_request(params) -> None:
    """What the user is shown and asked for."""
    assert params.mode == "form"
    message = params.message
    for part in ("Approval needed:", "connection: flights", "estimate:", "SELECT origin, COUNT(*)"):
        assert part in message, message
    schema = params.requested_schema
    assert schema["type"] == "object"
    assert schema["properties"]["approve"]["type"] == "boolean"
    assert schema["properties"]["reason"]["type"] == "string"
    assert schema.get("required") == ["approve"], schema


async def ask(client, tag: str):
    with anyio.fail_after(120):
        result = await client.call_tool("ask", {"question": question(tag)})
    assert not result.is_error, text_of(result)
    return result.structured_content


async def test_stdio_elicitation_approves_and_denies(tmp_path):
    denied = "not approved: the MCP client's user"
    script = (
        approval_exchanges("[q-yes]", "120835", APPROVED_ANSWER)
        + approval_exchanges("[q-no]", f"{denied} did not approve: Too expensive", DENIED_ANSWER)
        + approval_exchanges("[q-decline]", f"{denied} declined", DENIED_ANSWER)
        + approval_exchanges("[q-cancel]", f"{denied} cancelled", DENIED_ANSWER)
    )
    with fake_llm(tmp_path, script) as base_url:
        work = write_workdir(tmp_path, base_url, APPROVAL)
        person = Person(types.ElicitResult(action="accept", content={"approve": True}))
        async with Client(stdio(work), elicitation_callback=person) as client:
            # Approved: the statement runs and its rows come back.
            data = await ask(client, "[q-yes]")
            assert data["answer"] == APPROVED_ANSWER
            assert data["table"]["rows"][0] == {"origin": "EWR", "flights": 120835}
            assert len(person.asked) == 1
            check_request(person.asked[0])
            # Accepted with approve false and a reason: denied; the agent answers without data.
            person.result = types.ElicitResult(
                action="accept", content={"approve": False, "reason": "Too expensive"}
            )
            data = await ask(client, "[q-no]")
            assert data["answer"] == DENIED_ANSWER
            assert data.get("table") is None, data
            # Declined and cancelled: denied, saying so.
            person.result = types.ElicitResult(action="decline")
            assert (await ask(client, "[q-decline]"))["answer"] == DENIED_ANSWER
            person.result = types.ElicitResult(action="cancel")
            assert (await ask(client, "[q-cancel]"))["answer"] == DENIED_ANSWER
            assert len(person.asked) == 4


async def test_stdio_client_without_elicitation_is_denied(tmp_path):
    script = approval_exchanges("[q-none]", f"not approved: {NO_ELICITATION}", DENIED_ANSWER)
    with fake_llm(tmp_path, script) as base_url:
        work = write_workdir(tmp_path, base_url, APPROVAL)
        progress: list[str] = []

        async def on_progress(value, total, message):
            progress.append(message or "")

        async with Client(stdio(work)) as client:
            with anyio.fail_after(50):
                result = await client.call_tool(
                    "ask", {"question": question("[q-none]")}, progress_callback=on_progress
                )
        assert not result.is_error, text_of(result)
        assert result.structured_content["answer"] == DENIED_ANSWER
        # The approval steps were progress notifications too.
        assert any("waiting for approval on flights" in m for m in progress), progress
        assert any(f"not approved (by host): {NO_ELICITATION}" in m for m in progress), progress


async def test_http_elicitation_and_approve_all(tmp_path):
    script = approval_exchanges("[q-http]", "120835", APPROVED_ANSWER) + approval_exchanges(
        "[q-all]", "120835", APPROVED_ANSWER
    )
    with fake_llm(tmp_path, script) as base_url:
        work = write_workdir(tmp_path, base_url, APPROVAL)
        # Over Streamable HTTP, the elicitation request reaches the client too.
        with http_server(work) as url:
            person = Person(types.ElicitResult(action="accept", content={"approve": True}))
            async with Client(url, elicitation_callback=person) as client:
                data = await ask(client, "[q-http]")
            assert data["answer"] == APPROVED_ANSWER
            assert len(person.asked) == 1
            check_request(person.asked[0])
        # `--approve all`: a client that cannot ask gets its statements approved.
        with http_server(work, "--approve", "all") as url:
            async with Client(url) as client:
                data = await ask(client, "[q-all]")
            assert data["answer"] == APPROVED_ANSWER
            assert data["table"]["rows"][0] == {"origin": "EWR", "flights": 120835}
