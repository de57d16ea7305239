"""Fixtures: the fake OpenAI-compatible server (the `mc-fake-llm` binary from metricchat-testkit,
speaking the real wire format over HTTP), SQLite files and the local PostgreSQL."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from typing import Any, Callable, Dict, List

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

# The KeyboardInterrupt tests raise SIGINT with `_thread.interrupt_main()`, which does nothing
# while SIGINT is ignored — as it is for a command a non-interactive shell started in the
# background (`scripts/test.sh &`). Python then installs no handler; put the default back.
if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL):
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _fake_llm_bin() -> pathlib.Path:
    env = os.environ.get("MC_FAKE_LLM_BIN")
    candidates = [pathlib.Path(env)] if env else []
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        candidates.append(pathlib.Path(target) / "debug" / "mc-fake-llm")
    candidates.append(pathlib.Path.home() / ".cache" / "metricchat-target" / "debug" / "mc-fake-llm")
    candidates.append(REPO / "target" / "debug" / "mc-fake-llm")
    for c in candidates:
        if c.exists():
            return c
    pytest.fail(
        "mc-fake-llm not found: build it with `cargo build -p metricchat-testkit --bin mc-fake-llm` "
        "or set MC_FAKE_LLM_BIN",
        pytrace=False,
    )


class FakeLlm:
    """A running fake provider server with a script."""

    def __init__(self, script: List[Dict[str, Any]], tmp: pathlib.Path) -> None:
        path = tmp / f"script-{id(self)}.json"
        path.write_text(json.dumps(script))
        self.proc = subprocess.Popen(
            [str(_fake_llm_bin()), "--script", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "listening on" not in line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"mc-fake-llm did not start: {line!r} {err!r}")
        self.base_url = line.strip().split("listening on ", 1)[1]

    def state(self) -> Dict[str, Any]:
        root = self.base_url.rsplit("/v1", 1)[0]
        with urllib.request.urlopen(f"{root}/_fake/state", timeout=5) as r:
            return json.loads(r.read())

    def llm(self, **extra: Any) -> Dict[str, Any]:
        spec = {
            "provider": "openai",
            "model": "scripted-gpt",
            "base_url": self.base_url,
            "api_key": "sk-test-secret-key",
            "supports_tools": True,
            "max_retries": 0,
        }
        spec.update(extra)
        return spec

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)


@pytest.fixture
def fake_llm(tmp_path: pathlib.Path) -> Callable[[List[Dict[str, Any]]], FakeLlm]:
    servers: List[FakeLlm] = []

    def start(script: List[Dict[str, Any]]) -> FakeLlm:
        server = FakeLlm(script, tmp_path)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def planner() -> Dict[str, Any]:
    """Matches the agent's planner requests (not title requests)."""
    return {"type": "body_contains", "text": "You are metricchat"}


def tool_call(name: str, arguments: Dict[str, Any], text: str = "") -> Dict[str, Any]:
    reply: Dict[str, Any] = {
        "type": "tool_calls",
        "calls": [{"id": f"call_{name}", "name": name, "arguments": arguments}],
    }
    if text:
        reply["text"] = text
    return {"matcher": planner(), "reply": reply}


def text(answer: str, **extra: Any) -> Dict[str, Any]:
    return {"matcher": planner(), "reply": {"type": "text", "text": answer, **extra}}


@pytest.fixture
def sqlite_db(tmp_path: pathlib.Path) -> str:
    """A SQLite file made with Python's own sqlite3: a `sales` table."""
    path = tmp_path / "shop.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE sales (id INTEGER PRIMARY KEY, region TEXT NOT NULL, amount REAL, sold_on TEXT);
        INSERT INTO sales (region, amount, sold_on) VALUES
          ('EU', 120.5, '2024-01-03'), ('EU', 80.0, '2024-02-10'),
          ('US', 300.25, '2024-01-15'), ('APAC', 42.0, '2024-03-01');
        """
    )
    db.commit()
    db.close()
    return f"sqlite://{path}"


def with_param(url: str, param: str) -> str:
    """`url` with `param` (`key=value`) added to its query string."""
    return f"{url}{'&' if '?' in url else '?'}{param}"


def on_ci() -> bool:
    """Whether the tests run on CI (`CI=true`, or `CI=1`, as CI runners set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def service_url_or_skip(var: str, what: str) -> str:
    """The URL in `var` as set. Unset or empty: a failure on CI (a missing service must not pass
    as skipped), else a loud SKIPPED line and a skip."""
    url = os.environ.get(var, "").strip()
    if url:
        return os.environ[var]
    if on_ci():
        pytest.fail(f"{var} is not set but CI is: {what} must run on CI (.ci/run sets {var})", pytrace=False)
    print(f"\n*** SKIPPED: {var} not set; {what} did not run ***", file=sys.stderr)
    pytest.skip(f"{var} not set")


@pytest.fixture
def pg_dsn() -> str:
    """MC_TEST_POSTGRES_URL as set, for psycopg (libpq refuses parameters it does not know)."""
    return service_url_or_skip("MC_TEST_POSTGRES_URL", "the PostgreSQL tests")


@pytest.fixture
def pg_url(pg_dsn: str) -> str:
    """The metricchat URL of the test database, with a `mc_py_sales` table.

    The test server logs in as its superuser, on which connectors refuse model-written SQL
    unless `allow_privileged_login=true` is set.
    """
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS mc_py_sales")
        c.execute("CREATE TABLE mc_py_sales (id serial PRIMARY KEY, region text NOT NULL, amount numeric(10,2))")
        c.execute("INSERT INTO mc_py_sales (region, amount) VALUES ('EU', 120.50), ('EU', 80.00), ('US', 300.25)")
    return with_param(pg_dsn, "allow_privileged_login=true")
