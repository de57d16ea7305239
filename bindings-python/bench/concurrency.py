"""Concurrency through the Python binding (issue 18, item 2): N runs at once on one agent
(default 100), awaited together with ``asyncio.gather(agent.ask_async(...))``.

The same set-up as the Rust bench (``cargo bench --bench concurrency``): the OpenAI client over
real HTTP to the fake provider server (``mc-fake-llm``) answering every request after 50 ms,
the bundled flights sample in DataFusion, a SQLite store on disk, native tool calls, no titles.

Reports, as one JSON line and a table: how many runs completed, the wall time, the resident
memory per in-flight run (peak RSS during the burst minus RSS before it, over the runs, sampled
every 5 ms), and the process's threads, open file descriptors (sockets included) and asyncio
tasks before the burst, right after it, and after the agent is dropped. Nothing is asserted.

    python bindings-python/bench/concurrency.py [--runs N]

Needs the ``metricchat`` package installed in the running Python and the ``mc-fake-llm``
binary (``cargo build -p metricchat-testkit --bin mc-fake-llm``; found as the tests find it,
or through ``MC_FAKE_LLM_BIN``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import metricchat as mc

QUESTION = "How many flights left JFK in 2013?"
SQL = "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'"
REPO = pathlib.Path(__file__).resolve().parents[2]


def status(field: str) -> int:
    """A number field of /proc/self/status (VmRSS in KiB, Threads)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fake_llm_bin() -> pathlib.Path:
    env = os.environ.get("MC_FAKE_LLM_BIN")
    if env:
        return pathlib.Path(env)
    target = os.environ.get("CARGO_TARGET_DIR", str(pathlib.Path.home() / ".cache" / "metricchat-target"))
    for candidate in (pathlib.Path(target) / "release" / "mc-fake-llm", pathlib.Path(target) / "debug" / "mc-fake-llm"):
        if candidate.exists():
            return candidate
    sys.exit("mc-fake-llm not found: cargo build -p metricchat-testkit --bin mc-fake-llm, or set MC_FAKE_LLM_BIN")


def script(runs: int) -> list:
    """Second turns (the tool's result is in the conversation) first, so that a first turn
    never takes an answer; every reply after 50 ms."""
    delayed = lambda reply: {"type": "delay", "ms": 50, "then": reply}  # noqa: E731
    second = {
        "matcher": {"type": "json_pointer", "pointer": "/messages/3/role", "value": "tool"},
        "reply": delayed({"type": "text", "text": "111279 flights left JFK in 2013."}),
    }
    first = {
        "matcher": {"type": "body_contains", "text": "You are metricchat"},
        "reply": delayed(
            {
                "type": "tool_calls",
                "calls": [{"id": "call_1", "name": "create_data", "arguments": {"title": "Flights from JFK", "sql": SQL}}],
            }
        ),
    }
    return [second] * runs + [first] * runs


async def main(runs: int) -> dict:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="mc-bench-"))
    (tmp / "script.json").write_text(json.dumps(script(runs + 1)))
    server = subprocess.Popen(
        [str(fake_llm_bin()), "--script", str(tmp / "script.json")], stdout=subprocess.PIPE, text=True
    )
    line = server.stdout.readline() if server.stdout else ""
    base_url = line.strip().split("listening on ", 1)[1]
    try:
        agent = mc.Agent(
            llm={
                "provider": "openai",
                "model": "gpt-4.1-mini",
                "base_url": base_url,
                "api_key": "sk-bench",
                "supports_tools": True,
                "max_retries": 2,
            },
            connections=[mc.sample_url()],
            store=f"sqlite://{tmp / 'runs.db'}",
            protocol="native_tools",
            generate_title=False,
            answer_checks=False,
        )
        # Warm up: the context hub, the pools, the first HTTP connection.
        warm = await agent.ask_async(QUESTION)
        assert warm.status == "completed", warm.status
        await asyncio.sleep(0.2)
        gc.collect()
        before = {
            "threads": status("Threads:"),
            "fds": open_fds(),
            "tasks": len(asyncio.all_tasks()),
            "rss_kib": status("VmRSS:"),
        }
        peak = [before["rss_kib"]]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], status("VmRSS:"))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        results = await asyncio.gather(*(agent.ask_async(QUESTION) for _ in range(runs)), return_exceptions=True)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        completed = sum(1 for r in results if not isinstance(r, BaseException) and r.status == "completed")
        errors = [repr(r) for r in results if isinstance(r, BaseException)][:3]
        del results
        await asyncio.sleep(0.5)
        gc.collect()
        after = {
            "threads": status("Threads:"),
            "fds": open_fds(),
            "tasks": len(asyncio.all_tasks()),
            "rss_kib": status("VmRSS:"),
        }
        del agent, warm
        gc.collect()
        await asyncio.sleep(0.5)
        dropped = {"threads": status("Threads:"), "fds": open_fds(), "tasks": len(asyncio.all_tasks())}
    finally:
        server.terminate()
        server.wait()
    return {
        "runs": runs,
        "completed": completed,
        "errors": errors,
        "wall_s": round(wall, 3),
        "kib_per_run": round((peak[0] - before["rss_kib"]) / runs, 1),
        "rss_before_kib": before["rss_kib"],
        "rss_peak_kib": peak[0],
        "rss_after_kib": after["rss_kib"],
        "before": before,
        "after_burst": after,
        "after_drop": dropped,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    r = asyncio.run(main(args.runs))
    print(json.dumps(r))
    print(f"{r['runs']} concurrent runs through Python (asyncio.gather of ask_async; fake model 50 ms; DataFusion flights; SQLite store):")
    print(f"  completed                {r['completed']}/{r['runs']}  {r['errors']}")
    print(f"  wall time                {r['wall_s']:.2f} s")
    print(f"  memory per in-flight run {r['kib_per_run']:.1f} KiB  (RSS {r['rss_before_kib']} -> peak {r['rss_peak_kib']} KiB, after {r['rss_after_kib']} KiB)")
    for key in ("threads", "fds", "tasks"):
        print(f"  {key:<24} before {r['before'][key]}, after the burst {r['after_burst'][key]}, after the agent is dropped {r['after_drop'][key]}")
