"""Cassettes through ``mc.llm.*(cassette=...)``: record the agent's model traffic against the fake
provider server, stop the server, and replay the same run from the file."""

from __future__ import annotations

import pytest

import metricchat as mc
from test_agent import QUESTION, worst_carrier_script

KEY = "sk-py-cassette-secret"


def _agent(server_url: str, cassette, **extra) -> mc.Agent:
    llm = mc.llm.openai(
        "scripted-gpt",
        api_key=KEY,
        base_url=server_url,
        supports_tools=True,
        max_retries=0,
        cassette=cassette,
        **extra,
    )
    return mc.Agent(llm=llm, connections=[mc.sample_url()], generate_title=False, store="memory")


def test_cassette_records_then_replays_with_the_server_stopped(fake_llm, tmp_path, monkeypatch):
    cassette = tmp_path / "cassettes" / "worst.jsonl"  # a pathlib.Path works
    server = fake_llm(worst_carrier_script())
    monkeypatch.setenv("MC_RECORD", "1")
    live = _agent(server.base_url, cassette).ask(QUESTION)
    assert live.status == "completed"
    server.stop()
    monkeypatch.delenv("MC_RECORD")

    recorded = cassette.read_text()
    assert len(recorded.strip().splitlines()) == 2
    assert KEY not in recorded, "the API key leaked into the cassette"

    # MC_RECORD unset: the default mode replays; nothing listens at the old address.
    replayed = _agent(server.base_url, cassette).ask(QUESTION)
    assert replayed.status == "completed"
    assert replayed.answer == live.answer
    assert replayed.sql == live.sql
    assert replayed.data.equals(live.data)


def test_cassette_repr_and_missing_file(tmp_path):
    llm = mc.llm.anthropic("claude-haiku-4-5", api_key=KEY, cassette=tmp_path / "x.jsonl",
                           cassette_mode="replay")
    assert KEY not in repr(llm)
    assert llm.to_dict()["cassette"] == str(tmp_path / "x.jsonl")
    with pytest.raises(mc.NotFoundError):
        mc.Agent(llm=llm, connections=[mc.sample_url()])
