"""Fixtures: the built `metricchat` binary, the fake OpenAI server (`mc-fake-llm`) playing a
script over real HTTP, and a working directory with a `metricchat.toml` pointing at it.

Paths come from the environment (scripts/test.sh sets both):
  METRICCHAT_BIN   the CLI   (default $CARGO_TARGET_DIR/debug/metricchat)
  MC_FAKE_LLM_BIN  the fake  (default $CARGO_TARGET_DIR/debug/mc-fake-llm)
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
METRICCHAT_BIN = Path(os.environ.get("METRICCHAT_BIN", TARGET / "debug" / "metricchat"))
FAKE_LLM_BIN = Path(os.environ.get("MC_FAKE_LLM_BIN", TARGET / "debug" / "mc-fake-llm"))

PLANNER = {"type": "body_contains", "text": "You are metricchat"}

# A cross join of 336,776 rows with itself: hours of work, so it is still running when cancelled.
SLOW_SQL = (
    "SELECT a.carrier, SUM(a.dep_delay * b.arr_delay) AS s "
    "FROM flights a CROSS JOIN flights b GROUP BY a.carrier"
)

ORIGIN_SQL = "SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin ORDER BY flights DESC"
ORIGIN_ANSWER = "EWR had the most departures: 120835 flights, ahead of JFK and LGA."


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _binaries():
    missing = [str(p) for p in (METRICCHAT_BIN, FAKE_LLM_BIN) if not p.exists()]
    if missing:
        pytest.skip(f"SKIPPED: build the binaries first (missing {', '.join(missing)})")


def exchange(reply, *contains):
    """A scripted exchange for planner requests whose body holds every string in `contains`."""
    matchers = [PLANNER] + [{"type": "body_contains", "text": c} for c in contains]
    return {"matcher": {"type": "all", "matchers": matchers}, "reply": reply}


def tool_call(sql, title="result", text=None):
    reply = {"type": "tool_calls", "calls": [{"name": "create_data", "arguments": {"title": title, "sql": sql}}]}
    if text:
        reply["text"] = text
    return reply


def text_reply(text):
    return {"type": "text", "text": text}


def ask_exchanges(question_tag, sql, answer):
    """The two planner turns of one question: run `sql`, then answer."""
    return [
        exchange(tool_call(sql), question_tag),
        exchange(text_reply(answer), question_tag),
    ]


def _lines(stream, q):
    for line in iter(stream.readline, ""):
        q.put(line)
    q.put(None)


def wait_line(q, needle, timeout=60.0):
    import time

    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        try:
            line = q.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r}; saw {seen!r}")


@contextmanager
def fake_llm(tmp_path: Path, script):
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    proc = subprocess.Popen(
        [str(FAKE_LLM_BIN), "--script", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        q: queue.Queue = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, q), daemon=True).start()
        line = wait_line(q, "listening on", 30)
        yield line.split("listening on", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)


def write_workdir(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    """A working directory whose `metricchat.toml` points at the fake model; `extra` is appended
    (TOML tables such as `[approval]`)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "metricchat.toml").write_text(
        f'llm = "openai:scripted-gpt@{base_url}"\n'
        'protocol = "native_tools"\n'
        "generate_title = false\n"
        "answer_checks = false\n"
        'rules = ["Delays are in minutes; negative delays are early departures."]\n' + extra
    )
    return work


def server_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MC_LLM", "OPENAI_", "MC_CONFIG", "MC_MCP"))}
    env["MC_STORE"] = f"sqlite://{work / 'runs.db'}"
    env["HOME"] = str(work)
    return env


@contextmanager
def http_server(work: Path, *extra: str, env_extra: dict[str, str] | None = None):
    env = server_env(work)
    env.update(env_extra or {})
    proc = subprocess.Popen(
        [str(METRICCHAT_BIN), "mcp", "http", "--bind", "127.0.0.1:0", *extra],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        q: queue.Queue = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stderr, q), daemon=True).start()
        line = wait_line(q, "listening on", 60)
        yield line.split("listening on", 1)[1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def runs_show(work: Path, run_id: str) -> dict:
    out = subprocess.run(
        [str(METRICCHAT_BIN), "runs", "show", run_id, "--json"],
        cwd=work,
        env=server_env(work),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
