"""`mc.connect`: real DataFusion, SQLite and PostgreSQL; the guard; zero-copy Arrow."""

from __future__ import annotations

import _thread
import threading
import time

import pyarrow as pa
import pytest

import metricchat as mc
from metricchat._loop import background
from conftest import text, tool_call


def test_datafusion_query_is_zero_copy():
    conn = mc.connect(mc.sample_url())
    assert conn.name == "flights" and conn.dialect
    names = {t["name"] for t in conn.tables()}
    assert {"flights", "airlines", "airports", "planes", "weather"} <= names

    # The native query is async; the sync API runs it on its background loop.
    sql = "SELECT year, month, day, dep_delay FROM flights WHERE origin = 'JFK'"
    native = background.run(conn._native.query, sql)
    table = native.table()
    assert isinstance(table, pa.Table) and table.num_rows == 10_000  # the default row cap
    # The pyarrow buffers are the Rust buffers: same addresses, no copy.
    chunk = table.column("year").chunks[0]
    assert chunk.buffers()[1].address == native._buffer_address(0)

    full = mc.connect(mc.sample_url(), max_rows=None).query(
        "SELECT COUNT(*) AS n FROM flights WHERE origin = 'JFK'"
    )
    assert full.to_pylist() == [{"n": 111279}]


def test_guard_refuses_writes_and_caps_rows():
    conn = mc.connect(mc.sample_url(), max_rows=5)
    assert conn.query("SELECT * FROM flights").num_rows == 5
    for sql in ("DELETE FROM flights", "SELECT 1; SELECT 2", "CREATE TABLE t AS SELECT 1"):
        with pytest.raises(mc.InvalidInputError):
            conn.query(sql)


def test_sqlite_file(sqlite_db):
    conn = mc.connect(sqlite_db)
    assert [t["name"] for t in conn.tables()] == ["sales"]
    described = conn.describe("sales")
    assert [c["name"] for c in described["columns"]][:2] == ["id", "region"]
    t = conn.query("SELECT region, SUM(amount) AS total FROM sales GROUP BY region ORDER BY total DESC")
    assert t.to_pylist()[0] == {"region": "US", "total": 300.25}
    with pytest.raises(mc.InvalidInputError):
        conn.query("UPDATE sales SET amount = 0")


def test_agent_over_sqlite(fake_llm, sqlite_db):
    sql = "SELECT region, SUM(amount) AS total FROM sales GROUP BY region ORDER BY total DESC"
    server = fake_llm([tool_call("create_data", {"title": "Sales by region", "sql": sql}),
                       text("US leads with 300.25.")])
    agent = mc.Agent(llm=server.llm(), connections=[sqlite_db], generate_title=False)
    result = agent.ask("Which region sells most?")
    assert result.data.to_pylist()[0] == {"region": "US", "total": 300.25}
    assert result.answer == "US leads with 300.25."


def test_postgres_types_and_agent(fake_llm, pg_url):
    conn = mc.connect(pg_url)
    t = conn.query("SELECT id, region, amount FROM mc_py_sales ORDER BY id")
    assert t.schema.field("amount").type == pa.decimal128(10, 2)  # precision and scale kept
    assert t.schema.field("id").type == pa.int32()
    assert [str(r["amount"]) for r in t.to_pylist()] == ["120.50", "80.00", "300.25"]
    with pytest.raises(mc.InvalidInputError):
        conn.query("DELETE FROM mc_py_sales")

    sql = "SELECT COUNT(*) AS n FROM mc_py_sales WHERE region = 'EU'"
    server = fake_llm([tool_call("create_data", {"title": "EU sales", "sql": sql}), text("There are 2 EU sales.")])
    agent = mc.Agent(llm=server.llm(), connections=[pg_url], generate_title=False)
    result = agent.ask("How many EU sales?")
    assert result.data.to_pylist() == [{"n": 2}]


def test_a_superuser_login_is_refused_unless_allowed(pg_dsn):
    # The test server logs in as its superuser: model-written SQL does not run there.
    with pytest.raises(mc.UnauthorizedError) as e:
        mc.connect(pg_dsn).query("SELECT 1 AS one")
    assert e.value.kind == "Unauthorized"
    assert "allow_privileged_login=true" in str(e.value)


# Minutes of work for PostgreSQL (pg_sleep itself is refused by the guard).
LONG_SQL = "SELECT count(*) AS n FROM generate_series(1, 3000000000) AS g"


def test_keyboard_interrupt_cancels_a_postgres_query(pg_url, pg_dsn):
    import psycopg

    conn = mc.connect(pg_url)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        conn.query(LONG_SQL)
    assert time.monotonic() - started < 5
    # The query was cancelled at the engine, not just abandoned.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with psycopg.connect(pg_dsn, autocommit=True) as c:
            running = c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 3000000000)%' "
                "AND state = 'active' AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        if running == 0:
            break
        time.sleep(0.1)
    assert running == 0
    # And the connection still works.
    assert conn.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]


def test_statement_timeout(pg_url):
    conn = mc.connect(pg_url, timeout_secs=0.5)
    with pytest.raises(mc.TimeoutError) as e:
        conn.query(LONG_SQL)
    assert e.value.kind == "Timeout"


def _query_in_child(conn_url, out):
    out.put(mc.connect(conn_url).query("SELECT COUNT(*) AS n FROM airlines").to_pylist())


def test_a_forked_child_gets_a_runtime_and_loop_of_its_own():
    import multiprocessing

    url = mc.sample_url()
    # The parent's runtime and background loop are running before the fork.
    assert mc.connect(url).query("SELECT 1 AS one").to_pylist() == [{"one": 1}]
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_query_in_child, args=(url, out))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert out.get(timeout=5) == [{"n": 16}]
