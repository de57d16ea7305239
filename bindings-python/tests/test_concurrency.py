"""Cancelling a run stops the Python tool it is running; several consumers of one run's events."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import metricchat as mc
from metricchat import tools as mc_tools
from conftest import text, tool_call


def make_agent(server, url, **options):
    options.setdefault("generate_title", False)
    return mc.Agent(llm=server.llm(), connections=[url], **options)


def _wait_for_status(agent, run_id, status, seconds=5.0):
    deadline = time.monotonic() + seconds
    while True:
        run = agent.runs.get(run_id)
        if run["status"] == status or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_cancelling_a_run_stops_the_python_tool_it_is_running(fake_llm, sqlite_db, flavour):
    started = threading.Event()
    stopped = threading.Event()
    seen = {}

    if flavour == "sync":

        @mc.tool(name="slow_scan")
        def slow_scan(seconds: int) -> str:
            """Scans the archive slowly."""
            try:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    started.set()  # inside the loop
                    time.sleep(0.05)
                return "finished"
            except mc.ToolCancelled:
                seen["raised"] = "ToolCancelled"
                raise
            finally:
                seen["stopped_at"] = time.monotonic()
                stopped.set()

    else:

        @mc.tool(name="slow_scan")
        async def slow_scan(seconds: int) -> str:
            """Scans the archive slowly."""
            # Set once this task is suspended inside the await below.
            asyncio.get_running_loop().call_soon(started.set)
            try:
                await asyncio.sleep(seconds)
                return "finished"
            except asyncio.CancelledError:
                seen["raised"] = "CancelledError"
                raise
            finally:
                seen["stopped_at"] = time.monotonic()
                stopped.set()

    calls = []

    @mc.tool
    def quick(n: int) -> int:
        """Doubles n."""
        calls.append(n)
        time.sleep(0.3)  # long enough for a stray pending exception to fire, were one left
        return n * 2

    server = fake_llm(
        [
            tool_call("slow_scan", {"seconds": 30}),
            tool_call("quick", {"n": 21}),
            text("Done: 42."),
        ]
    )
    agent = make_agent(server, sqlite_db, tools=[slow_scan, quick])
    stream = agent.stream("Scan the archive.")
    assert started.wait(20), "the tool never started"
    cancelled_at = time.monotonic()
    stream.cancel()
    assert stopped.wait(2), "the tool kept running after the run was cancelled"
    assert seen["stopped_at"] - cancelled_at < 1.0, seen
    assert seen["raised"] == ("ToolCancelled" if flavour == "sync" else "CancelledError")
    run = _wait_for_status(agent, stream.run_id, "cancelled")
    assert run["status"] == "cancelled", run
    # Nothing left behind: no registered call, no pending exception for the worker threads.
    for _ in range(50):
        if not mc_tools._calls:
            break
        time.sleep(0.02)
    assert mc_tools._calls == {}

    # The worker threads are reused by the next run's tool; it runs to completion untouched.
    result = agent.ask("Double 21.")
    assert calls == [21]
    assert result.answer == "Done: 42."


def sales_script():
    sql = "SELECT region, SUM(amount) AS total FROM sales GROUP BY region ORDER BY total DESC"
    return [
        tool_call("create_data", {"title": "Sales by region", "sql": sql}, text="Summing."),
        text("US sold the most: 300.25."),
    ]


def _check_shared(parts, stored_seqs):
    """Each consumer got its events in order, none twice, and together all of them."""
    for part in parts:
        seqs = [e.seq for e in part]
        assert seqs == sorted(seqs), seqs
    all_seqs = [e.seq for part in parts for e in part]
    assert len(all_seqs) == len(set(all_seqs)), "an event was delivered twice"
    assert set(stored_seqs) <= set(all_seqs)
    types = {e.type for part in parts for e in part}
    assert {"run.started", "run.finished"} <= types


def test_two_asyncio_tasks_share_one_stream(fake_llm, sqlite_db):
    server = fake_llm(sales_script())
    agent = make_agent(server, sqlite_db)

    async def main():
        stream = agent.stream_async("Which region sold the most?")

        async def consume():
            got = []
            async for ev in stream:
                got.append(ev)
                await asyncio.sleep(0)
            return got

        parts = await asyncio.gather(consume(), consume())
        result = await stream.result()
        again = await stream.result()
        return parts, result, again

    parts, result, again = asyncio.run(main())
    stored = [e.seq for e in agent.runs.events(result.run_id)]
    _check_shared(parts, stored)
    assert result.answer.startswith("US") and again.run_id == result.run_id


def test_threads_and_result_share_one_sync_stream(fake_llm, sqlite_db):
    server = fake_llm(sales_script())
    agent = make_agent(server, sqlite_db)
    stream = agent.stream("Which region sold the most?")
    parts = [[], []]
    errors = []
    # Both loops are inside the stream (each holds an event) before result() is called.
    reading = threading.Barrier(3)

    def consume(i):
        try:
            for ev in stream:
                parts[i].append(ev)
                if len(parts[i]) == 1:
                    reading.wait(20)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    reading.wait(20)
    assert stream._consumers == 2
    # result() while the loops read: waits for them instead of taking their events.
    result = stream.result()
    for t in threads:
        t.join(10)
    assert not errors, errors
    stored = [e.seq for e in agent.runs.events(result.run_id)]
    _check_shared(parts, stored)
    assert result.answer.startswith("US")


def test_a_sync_and_an_async_loop_share_one_run(fake_llm, sqlite_db):
    server = fake_llm(sales_script())
    agent = make_agent(server, sqlite_db)
    sync_stream = agent.stream("Which region sold the most?")
    async_stream = mc.AsyncRunStream(sync_stream._handle)
    parts = [[], []]

    def sync_loop():
        for ev in sync_stream:
            parts[0].append(ev)

    async def main():
        thread = threading.Thread(target=sync_loop)
        thread.start()
        async for ev in async_stream:
            parts[1].append(ev)
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
        return await async_stream.result()

    result = asyncio.run(main())
    stored = [e.seq for e in agent.runs.events(result.run_id)]
    _check_shared(parts, stored)
    assert sync_stream.result().run_id == result.run_id
