"""One read of a table by one tool, in a fresh process (issue 18, item 3).

usage: python read.py TOOL SOURCE URL SQL
  TOOL    connectorx-arrow | connectorx-pandas | adbc-arrow | adbc-pandas | pandas-read_sql |
          metricchat-pandas (the Python package: mc.connect(url).query(sql).to_pandas(); needs a
          wheel installed in the same virtualenv, see bindings-python/bench/to_pandas.py)
  SOURCE  postgres | sqlite | mysql
Imports happen first; the clock runs from connecting to holding the result. Prints one JSON
line: tool, rows, cols, seconds, peak_rss_mib (the whole process) and delta_rss_mib (peak minus
the process's size after its imports: what the read itself took).
"""

import json
import resource
import sys
import time
import warnings


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    tool, source, url, sql = sys.argv[1:5]
    warnings.simplefilter("ignore")
    import pandas as pd  # noqa: F401  (every pandas path needs it; import outside the clock)
    import pyarrow  # noqa: F401

    if tool == "metricchat-pandas":
        import metricchat as mc
    elif tool.startswith("connectorx"):
        import connectorx as cx
    elif tool.startswith("adbc"):
        if source == "postgres":
            import adbc_driver_postgresql.dbapi as dbapi
        elif source == "sqlite":
            import adbc_driver_sqlite.dbapi as dbapi
        else:
            print(json.dumps({"tool": tool, "skipped": "no ADBC driver for " + source}))
            return
    elif source == "postgres":
        import psycopg
    elif source == "sqlite":
        import sqlite3
    else:
        import sqlalchemy
    base = rss_mib()

    start = time.perf_counter()
    if tool == "metricchat-pandas":
        out = mc.connect(url, max_rows=None, timeout_secs=None).query(sql).to_pandas()
    elif tool.startswith("connectorx"):
        out = cx.read_sql(url, sql, return_type="arrow" if tool.endswith("arrow") else "pandas")
    elif tool.startswith("adbc"):
        conn = dbapi.connect(url.removeprefix("sqlite://") if source == "sqlite" else url)
        cur = conn.cursor()
        cur.execute(sql)
        table = cur.fetch_arrow_table()
        out = table if tool.endswith("arrow") else table.to_pandas()
        cur.close()
        conn.close()
    elif tool == "pandas-read_sql":
        if source == "postgres":
            with psycopg.connect(url) as conn:
                out = pd.read_sql(sql, conn)
        elif source == "sqlite":
            with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
                out = pd.read_sql(sql, conn)
        else:
            engine = sqlalchemy.create_engine(url.replace("mysql://", "mysql+pymysql://", 1))
            with engine.connect() as conn:
                out = pd.read_sql(sql, conn)
    else:
        raise SystemExit(f"unknown tool {tool}")
    seconds = time.perf_counter() - start
    rows, cols = (out.num_rows, out.num_columns) if hasattr(out, "num_rows") else out.shape
    peak = rss_mib()
    print(json.dumps({"tool": tool, "rows": rows, "cols": cols, "seconds": round(seconds, 3),
                      "peak_rss_mib": round(peak, 1), "delta_rss_mib": round(peak - base, 1)}))


if __name__ == "__main__":
    main()
