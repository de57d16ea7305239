"""1,000,000 rows x 10 columns into pandas: metricchat (Arrow, zero-copy into pyarrow) versus
``pandas.read_sql`` with the standard drivers (psycopg for PostgreSQL, sqlite3 for SQLite).

    python bindings-python/bench/to_pandas.py [--rows N] [--repeat R] [--only postgres|sqlite]

Each measurement runs in a fresh Python process, so peak memory (ru_maxrss, minus the process's
own size after imports) belongs to that method alone. Time is wall-clock from issuing the query
to holding the DataFrame, best of R runs. Ratios are taken within this one run.
Needs MC_TEST_POSTGRES_URL for the PostgreSQL half.

The figures reported for issue 6 come from a release wheel in its own virtualenv and target
directory (so the CI's dev build is left alone; the first build compiles DataFusion in release,
20+ minutes on two cores), run from the repository root:

    python3 -m venv /tmp/mc-bench
    /tmp/mc-bench/bin/pip install "maturin>=1.9,<2" "pyarrow>=14" pandas "psycopg[binary]>=3.1"
    (cd bindings-python && CARGO_TARGET_DIR=$HOME/.cache/mc-release-target \
        /tmp/mc-bench/bin/maturin build --release --auditwheel skip \
        -i /tmp/mc-bench/bin/python -o /tmp/mc-bench/dist)
    /tmp/mc-bench/bin/pip install --force-reinstall --no-deps /tmp/mc-bench/dist/metricchat-*.whl
    MC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
        /tmp/mc-bench/bin/python bindings-python/bench/to_pandas.py
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

COLUMNS = "id, i32, i64, f64, price, name, flag, day, ts, note"
SQL_PG = f"SELECT {COLUMNS} FROM mc_bench_rows"
SQL_SQLITE = f"SELECT {COLUMNS} FROM mc_bench_rows"

CHILD = r"""
import json, resource, sys, time
method, url, sql = sys.argv[1], sys.argv[2], sys.argv[3]
import pandas as pd
if method.startswith("metricchat"):
    import metricchat as mc
    conn = mc.connect(url, max_rows=None, timeout_secs=None)
    conn.query("SELECT 1 AS warm")
elif method == "pandas+psycopg":
    import psycopg
    conn = psycopg.connect(url)
else:
    import sqlite3
    conn = sqlite3.connect(url)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if method.startswith("metricchat"):
    df = conn.query(sql).to_pandas()
else:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = pd.read_sql(sql, conn)
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": len(df), "cols": len(df.columns), "seconds": elapsed, "peak_mib": (peak - base) / 1024}))
"""


def prepare_postgres(url: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        have = c.execute("SELECT to_regclass('mc_bench_rows') IS NOT NULL").fetchone()[0]
        if have and c.execute("SELECT count(*) FROM mc_bench_rows").fetchone()[0] == rows:
            return
        c.execute("DROP TABLE IF EXISTS mc_bench_rows")
        c.execute(
            f"""CREATE TABLE mc_bench_rows AS SELECT
                 g::bigint AS id, (g % 100000)::int AS i32, g::bigint * 7919 AS i64,
                 g / 3.0::float8 AS f64, (g % 10000)::numeric(12,2) / 100 AS price,
                 'customer_' || (g % 5000) AS name, g % 2 = 0 AS flag,
                 DATE '2020-01-01' + (g % 1500) AS day,
                 TIMESTAMP '2020-01-01' + g * INTERVAL '1 second' AS ts,
                 md5(g::text) AS note
               FROM generate_series(1, {int(rows)}) AS g"""
        )
        c.execute("ANALYZE mc_bench_rows")


def prepare_sqlite(path: pathlib.Path, rows: int) -> None:
    import sqlite3

    if path.exists():
        db = sqlite3.connect(path)
        try:
            if db.execute("SELECT count(*) FROM mc_bench_rows").fetchone()[0] == rows:
                return
        except sqlite3.Error:
            pass
        db.close()
        path.unlink()
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE mc_bench_rows (id INTEGER, i32 INTEGER, i64 INTEGER, f64 REAL, price REAL, "
        "name TEXT, flag BOOLEAN, day DATE, ts TIMESTAMP, note TEXT)"
    )
    db.execute(
        f"""WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows})
            INSERT INTO mc_bench_rows SELECT n, n % 100000, n * 7919, n / 3.0, (n % 10000) / 100.0,
              'customer_' || (n % 5000), n % 2 = 0, date('2020-01-01', '+' || (n % 1500) || ' days'),
              datetime('2020-01-01', '+' || n || ' seconds'), hex(randomblob(16)) FROM g"""
    )
    db.commit()
    db.close()


def measure(method: str, url: str, sql: str, repeat: int) -> dict:
    best = None
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, method, url, sql], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise SystemExit(f"{method} failed:\n{out.stderr}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or r["seconds"] < best["seconds"]:
            best = r
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["postgres", "sqlite"])
    args = ap.parse_args()

    results = []
    pg = os.environ.get("MC_TEST_POSTGRES_URL")
    if args.only in (None, "postgres"):
        if not pg:
            print("SKIPPED postgres: MC_TEST_POSTGRES_URL not set", file=sys.stderr)
        else:
            prepare_postgres(pg, args.rows)
            # The bench logs in as whoever the URL names (often a superuser): metricchat refuses
            # model-written SQL on such a login unless told otherwise; libpq knows no such flag.
            sep = "&" if "?" in pg else "?"
            mc_pg = f"{pg}{sep}allow_privileged_login=true"
            for m, url in (("metricchat (postgres)", mc_pg), ("pandas+psycopg", pg)):
                results.append((m, measure(m, url, SQL_PG, args.repeat)))
    if args.only in (None, "sqlite"):
        path = pathlib.Path(tempfile.gettempdir()) / f"mc_bench_{args.rows}.db"
        prepare_sqlite(path, args.rows)
        for m, url in (("metricchat (sqlite)", f"sqlite://{path}"), ("pandas+sqlite3", str(path))):
            results.append((m, measure(m, url, SQL_SQLITE, args.repeat)))

    print(f"\n{args.rows:,} rows x 10 columns into a pandas DataFrame (best of {args.repeat}, fresh process each)")
    print(f"{'method':<24} {'seconds':>8} {'peak MiB':>9}")
    for name, r in results:
        assert r["rows"] == args.rows and r["cols"] == 10, r
        print(f"{name:<24} {r['seconds']:>8.2f} {r['peak_mib']:>9.0f}")
    by = dict(results)
    for engine, ours, theirs in (("postgres", "metricchat (postgres)", "pandas+psycopg"),
                                 ("sqlite", "metricchat (sqlite)", "pandas+sqlite3")):
        if ours in by and theirs in by:
            t = by[theirs]["seconds"] / by[ours]["seconds"]
            m = by[theirs]["peak_mib"] / max(by[ours]["peak_mib"], 1)
            print(f"{engine}: metricchat is {t:.1f}x the speed and uses 1/{m:.1f} of the memory of pandas.read_sql")


if __name__ == "__main__":
    main()
