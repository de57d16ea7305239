#!/usr/bin/env python3
"""Validate the public eval suites in evals/ and run every reference SQL on its engines.

    python3 scripts/evals/check_suites.py [--show] [--tags] [--only ID_SUBSTRING] [SUITE ...]

Suites (default: all three):
  flights       evals/flights.yaml       DataFusion over data/nycflights13/*.parquet
  chinook       evals/chinook.yaml       SQLite (chinook.sqlite) and PostgreSQL (database chinook)
  csv_headers   evals/csv_headers.yaml   DataFusion over evals/data/sales.csv as table `sales`

Checks, per suite:
  * schema: required keys, unknown keys rejected (naming the case), types, unique ids;
  * every reference SQL runs on each of its engines and returns at least one row
    (clarify cases have no SQL);
  * chinook: SQLite and PostgreSQL return the same result (numbers within 1e-6 relative;
    row order compared only when the outermost query has ORDER BY);
  * every `answer_contains` value appears in the reference result (numbers with formatting
    tolerance: thousands separators stripped, the reference rounded to the decimals written;
    text case-insensitively, as a substring of a cell), written with a precision that double
    rounding keeps (not 10.3 for 10.3469, which an answer may write as 10.35 -> 10.4);
  * superlative cases (tag superlative-*) that are not top-n return exactly one row.

Prints one summary line per suite and exits non-zero on any problem. --show prints every result.

Needs: pyyaml, datafusion==55.0.0, psycopg (3). The venv the project uses:
  python3 -m venv /root/.cache/mc-evals-venv
  /root/.cache/mc-evals-venv/bin/pip install datafusion==55.0.0 'psycopg[binary]' pyyaml
The script re-executes itself with that venv's python when the packages are missing.

Environment: MC_EVALS_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/chinook),
CHINOOK_SQLITE (default data/chinook/chinook.sqlite). When database `chinook` is
missing or incomplete, scripts/evals/load_chinook_pg.sh loads it (psql; the Chinook script drops
and creates database `chinook`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import decimal
import math
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

VENV = "/root/.cache/mc-evals-venv"
VENV_PY = f"{VENV}/bin/python"

try:
    import datafusion
    import psycopg
    import yaml
except ImportError:
    if os.path.exists(VENV_PY) and os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(VENV_PY, [VENV_PY, *sys.argv])
    raise

ROOT = Path(__file__).resolve().parents[2]
FLIGHTS_DIR = ROOT / "data" / "nycflights13"
FLIGHT_TABLES = ["flights", "airlines", "airports", "planes", "weather"]
CSV_PATH = ROOT / "evals" / "data" / "sales.csv"
SQLITE_PATH = Path(os.environ.get("CHINOOK_SQLITE", str(ROOT / "data" / "chinook" / "chinook.sqlite")))
PG_URL = os.environ.get("MC_EVALS_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/chinook")
LOAD_PG = ROOT / "scripts" / "evals" / "load_chinook_pg.sh"

SUITES = {
    # suite -> (file, engines every case must have SQL for)
    "flights": (ROOT / "evals" / "flights.yaml", ["datafusion"]),
    "chinook": (ROOT / "evals" / "chinook.yaml", ["sqlite", "postgres"]),
    "csv_headers": (ROOT / "evals" / "csv_headers.yaml", ["datafusion"]),
}

TOP_KEYS = {"name", "description", "defaults", "cases"}
DEFAULT_KEYS = {"timeout_secs", "tolerance", "max_iterations", "max_tokens", "tools", "not_tools"}
CASE_KEYS = {"id", "question", "tags", "expect"}
EXPECT_KEYS = {
    "sql", "ordered", "tolerance", "answer_contains", "tables", "tools", "not_tools",
    "max_iterations", "max_tokens", "clarify", "judge",
}
DIALECTS = {"default", "datafusion", "sqlite", "postgres", "mysql", "duckdb"}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
NUM_RE = re.compile(r"^[-+]?\$?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?$")


# --------------------------------------------------------------------------------------------
# schema


def is_str_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)


def is_pos_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_schema(doc, engines: list[str]) -> list[str]:
    errs: list[str] = []
    if not isinstance(doc, dict):
        return ["top level is not a map"]
    for k in sorted(set(doc) - TOP_KEYS):
        errs.append(f"unknown top-level key {k!r}")
    if not isinstance(doc.get("name"), str) or not doc.get("name"):
        errs.append("`name` is required (string)")
    if "description" in doc and not isinstance(doc["description"], str):
        errs.append("`description` must be a string")
    d = doc.get("defaults", {})
    if not isinstance(d, dict):
        errs.append("`defaults` must be a map")
    else:
        for k in sorted(set(d) - DEFAULT_KEYS):
            errs.append(f"defaults: unknown key {k!r}")
        for k in ("timeout_secs", "max_iterations", "max_tokens"):
            if k in d and not is_pos_int(d[k]):
                errs.append(f"defaults.{k} must be a positive integer")
        if "tolerance" in d and not (is_number(d["tolerance"]) and d["tolerance"] >= 0):
            errs.append("defaults.tolerance must be a non-negative number")
        for k in ("tools", "not_tools"):
            if k in d and not is_str_list(d[k]):
                errs.append(f"defaults.{k} must be a list of strings")
    cases = doc.get("cases")
    if not isinstance(cases, list) or not cases:
        errs.append("`cases` is required (non-empty list)")
        return errs
    seen: set[str] = set()
    for i, c in enumerate(cases):
        where = f"case #{i + 1}"
        if not isinstance(c, dict):
            errs.append(f"{where}: not a map")
            continue
        cid = c.get("id")
        if not isinstance(cid, str) or not ID_RE.match(cid):
            errs.append(f"{where}: `id` is required (lowercase slug), got {cid!r}")
        else:
            where = f"case {cid}"
            if cid in seen:
                errs.append(f"{where}: duplicate id")
            seen.add(cid)
        for k in sorted(set(c) - CASE_KEYS):
            errs.append(f"{where}: unknown key {k!r}")
        if not isinstance(c.get("question"), str) or not c["question"].strip():
            errs.append(f"{where}: `question` is required (string)")
        if "tags" in c and not is_str_list(c["tags"]):
            errs.append(f"{where}: `tags` must be a list of strings")
        e = c.get("expect")
        if not isinstance(e, dict) or not e:
            errs.append(f"{where}: `expect` is required (map)")
            continue
        for k in sorted(set(e) - EXPECT_KEYS):
            errs.append(f"{where}: unknown key expect.{k!r}")
        clarify = e.get("clarify", False)
        if not isinstance(clarify, bool):
            errs.append(f"{where}: expect.clarify must be true/false")
        if clarify:
            for k in ("sql", "answer_contains", "ordered"):
                if k in e:
                    errs.append(f"{where}: a clarify case has no expect.{k}")
            if "clarify" in e.get("not_tools", []):
                errs.append(f"{where}: clarify case forbids the clarify tool")
        else:
            sql = e.get("sql")
            if sql is None:
                errs.append(f"{where}: expect.sql is required unless clarify: true")
            elif isinstance(sql, str):
                if not sql.strip():
                    errs.append(f"{where}: expect.sql is empty")
            elif isinstance(sql, dict):
                for k, v in sql.items():
                    if not isinstance(k, str) or not isinstance(v, str) or not v.strip():
                        errs.append(f"{where}: expect.sql.{k} must be non-empty SQL text")
                    elif k not in DIALECTS:
                        errs.append(f"{where}: expect.sql: unknown dialect {k!r}")
                for eng in engines:
                    if eng not in sql and "default" not in sql:
                        errs.append(f"{where}: expect.sql has no {eng!r} (or default) entry")
            else:
                errs.append(f"{where}: expect.sql must be a string or a map of dialect -> SQL")
        if "ordered" in e and not isinstance(e["ordered"], bool):
            errs.append(f"{where}: expect.ordered must be true/false")
        if "tolerance" in e and not (is_number(e["tolerance"]) and e["tolerance"] >= 0):
            errs.append(f"{where}: expect.tolerance must be a non-negative number")
        if "answer_contains" in e and not is_str_list(e["answer_contains"]):
            errs.append(f"{where}: expect.answer_contains must be a list of strings (quote numbers)")
        for k in ("tables", "tools", "not_tools"):
            if k in e and not is_str_list(e[k]):
                errs.append(f"{where}: expect.{k} must be a list of strings")
        for k in ("max_iterations", "max_tokens"):
            if k in e and not is_pos_int(e[k]):
                errs.append(f"{where}: expect.{k} must be a positive integer")
        if "judge" in e and (not isinstance(e["judge"], str) or not e["judge"].strip()):
            errs.append(f"{where}: expect.judge must be a non-empty string")
        if "tools" in e and "not_tools" in e and set(e["tools"]) & set(e["not_tools"]):
            errs.append(f"{where}: a tool is both required and forbidden")
    return errs


# --------------------------------------------------------------------------------------------
# engines


def df_flights() -> datafusion.SessionContext:
    ctx = datafusion.SessionContext()
    for t in FLIGHT_TABLES:
        ctx.register_parquet(t, str(FLIGHTS_DIR / f"{t}.parquet"))
    return ctx


def snake(name: str) -> str:
    """The name metricchat's DataFusion connector gives a CSV header (`Invoice Date` ->
    `invoice_date`, `UnitPrice` -> `unit_price`), mirrored here for headers of that shape."""
    out = ""
    for i, c in enumerate(name):
        if c.isascii() and c.isalnum():
            if c.isupper() and i > 0:
                p = name[i - 1]
                nxt = name[i + 1] if i + 1 < len(name) else ""
                if p.islower() or p.isdigit() or (p.isupper() and nxt.islower()):
                    out += "_"
            out += c.lower()
        elif not out.endswith("_"):
            out += "_"
    return out.strip("_").replace("__", "_")


def df_csv() -> datafusion.SessionContext:
    ctx = datafusion.SessionContext()
    ctx.register_csv("raw_sales", str(CSV_PATH), has_header=True)
    cols = ctx.table("raw_sales").schema().names
    select = ", ".join(f'"{c}" AS {snake(c)}' for c in cols)
    ctx.register_view("sales", ctx.sql(f"SELECT {select} FROM raw_sales"))
    return ctx


def run_df(ctx, sql: str):
    t = ctx.sql(sql).to_arrow_table()
    return list(t.column_names), [tuple(r.values()) for r in t.to_pylist()]


def run_sqlite(conn, sql: str):
    cur = conn.execute(sql)
    return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]


def run_pg(conn, sql: str):
    with conn.cursor() as cur:
        cur.execute(sql)
        cols = [d.name for d in cur.description]
        rows = [tuple(r) for r in cur.fetchall()]
    conn.rollback()
    return cols, rows


def pg_connect():
    def complete() -> bool:
        try:
            with psycopg.connect(PG_URL, connect_timeout=5) as c:
                return c.execute("SELECT count(*) FROM invoice_line").fetchone()[0] == 2240
        except psycopg.Error:
            return False

    if not complete():
        info = psycopg.conninfo.conninfo_to_dict(PG_URL)
        env = dict(os.environ)
        for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"),
                         ("password", "PGPASSWORD")):
            if info.get(key):
                env[var] = str(info[key])
        subprocess.run(["bash", str(LOAD_PG), "--force"], check=True, env=env)
    conn = psycopg.connect(PG_URL)
    conn.read_only = True
    return conn


# --------------------------------------------------------------------------------------------
# comparing


def norm(v):
    """Cell -> float | str | None, so the engines' types compare."""
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float, decimal.Decimal)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d")
    return str(v)


def cell_eq(a, b, tol: float) -> bool:
    a, b = norm(a), norm(b)
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tol * max(abs(a), abs(b)) or a == b
    if isinstance(a, str) and isinstance(b, str) and a != b:
        # SQLite keeps datetimes as text: '2021-01-01 00:00:00' vs a date '2021-01-01'.
        return a[:10] == b[:10] and (a[10:] in ("", " 00:00:00") and b[10:] in ("", " 00:00:00"))
    return a == b


def sort_key(row):
    return tuple((0, "") if v is None else (1, f"{v:.6g}") if isinstance(v, float) else (2, v)
                 for v in map(norm, row))


def same_result(r1, r2, ordered: bool, tol: float = 1e-6) -> str | None:
    (c1, rows1), (c2, rows2) = r1, r2
    if len(c1) != len(c2):
        return f"{len(c1)} vs {len(c2)} columns"
    if len(rows1) != len(rows2):
        return f"{len(rows1)} vs {len(rows2)} rows"
    if not ordered:
        rows1, rows2 = sorted(rows1, key=sort_key), sorted(rows2, key=sort_key)
    for i, (a, b) in enumerate(zip(rows1, rows2)):
        if not all(cell_eq(x, y, tol) for x, y in zip(a, b)):
            return f"row {i + 1} differs: {a!r} vs {b!r}"
    return None


def strip_sql(sql: str) -> str:
    sql = re.sub(r"--[^\n]*", " ", sql)
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return re.sub(r'"(?:[^"]|"")*"', '""', sql)


def outer_order_by(sql: str) -> bool:
    s, depth = strip_sql(sql), 0
    for m in re.finditer(r"\(|\)|\border\s+by\b", s, re.I):
        t = m.group(0)
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        elif depth == 0:
            return True
    return False


def round_to(x: float, decimals: int) -> decimal.Decimal:
    return decimal.Decimal(repr(x)).quantize(decimal.Decimal(1).scaleb(-decimals),
                                             rounding=decimal.ROUND_HALF_UP)


def contains(value: str, rows) -> tuple[bool, str | None]:
    """Is `value` in the result? Returns (found, advice): advice is set when a number is written
    with a precision that double rounding breaks (10.3 for 10.3469: an answer that writes 10.35
    rounds back to 10.4), so the case would fail an agent that rounds in two steps."""
    cells = [norm(v) for r in rows for v in r]
    v = value.strip()
    if NUM_RE.match(v):
        num_txt = v.replace(",", "").replace("$", "").rstrip("%")
        decimals = len(num_txt.split(".")[1]) if "." in num_txt else 0
        target = decimal.Decimal(num_txt)
        for c in cells:
            if isinstance(c, float):
                if round_to(c, decimals) == target:
                    if c != int(c) and any(round_to(float(round_to(c, decimals + k)), decimals)
                                           != target for k in (1, 2)):
                        return True, f"write {round_to(c, decimals + 1)} (reference {c!r})"
                    return True, None
            elif isinstance(c, str) and v.lower() in c.lower():
                return True, None
        return False, None
    return any(isinstance(c, str) and v.lower() in c.lower() for c in cells), None


# --------------------------------------------------------------------------------------------


def fmt_rows(cols, rows, n=6) -> str:
    out = [" | ".join(cols)]
    out += [" | ".join("NULL" if v is None else str(v) for v in r) for r in rows[:n]]
    if len(rows) > n:
        out.append(f"... ({len(rows)} rows)")
    return "\n      ".join(out)


def check_suite(name: str, show: bool, only: str | None,
                tag_counts: bool = False) -> tuple[bool, str]:
    path, engines = SUITES[name]
    problems: list[str] = []
    if not path.exists():
        return False, f"{name}: {path} missing"
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        return False, f"{name}: YAML error: {e}"
    problems += check_schema(doc, engines)
    if problems:
        for p in problems:
            print(f"  [{name}] {p}")
        return False, f"{name}: {len(problems)} schema problem(s)"
    if doc["name"] != name:
        problems.append(f"name is {doc['name']!r}, expected {name!r}")

    runners = {}
    if name == "flights":
        ctx = df_flights()
        runners["datafusion"] = lambda s: run_df(ctx, s)
    elif name == "csv_headers":
        if not CSV_PATH.exists():
            return False, f"{name}: {CSV_PATH} missing (scripts/evals/build_sales_csv.py)"
        ctx = df_csv()
        runners["datafusion"] = lambda s: run_df(ctx, s)
    else:
        lite = sqlite3.connect(f"file:{SQLITE_PATH}?mode=ro", uri=True)
        pg = pg_connect()
        runners["sqlite"] = lambda s: run_sqlite(lite, s)
        runners["postgres"] = lambda s: run_pg(pg, s)

    n_sql = n_clarify = 0
    tags: dict[str, int] = {}
    for c in doc["cases"]:
        cid = c["id"]
        for t in c.get("tags", []):
            tags[t] = tags.get(t, 0) + 1
        e = c["expect"]
        if only and only not in cid:
            continue
        if e.get("clarify"):
            n_clarify += 1
            continue
        n_sql += 1
        sql = e["sql"]
        results = {}
        for eng in engines:
            q = sql if isinstance(sql, str) else sql.get(eng, sql.get("default"))
            try:
                results[eng] = runners[eng](q)
            except Exception as ex:  # noqa: BLE001 - report any engine error
                problems.append(f"{cid}: {eng} error: {str(ex).splitlines()[0][:300]}")
                continue
            cols, rows = results[eng]
            if not rows:
                problems.append(f"{cid}: {eng} returned no rows")
            if show:
                print(f"  {cid} [{eng}]\n      {fmt_rows(cols, rows)}")
        if len(results) != len(engines):
            continue
        first = results[engines[0]]
        ordered = e.get("ordered", outer_order_by(sql if isinstance(sql, str)
                                                  else sql.get(engines[0], sql.get("default"))))
        for eng in engines[1:]:
            if isinstance(sql, dict) and ordered != outer_order_by(sql.get(eng, sql.get("default"))) \
                    and "ordered" not in e:
                problems.append(f"{cid}: ORDER BY differs between {engines[0]} and {eng}")
            diff = same_result(first, results[eng], ordered)
            if diff:
                problems.append(f"{cid}: {engines[0]} vs {eng}: {diff}")
        for v in e.get("answer_contains", []):
            for eng, (_, rows) in results.items():
                found, advice = contains(v, rows)
                if not found:
                    problems.append(f"{cid}: answer_contains {v!r} not in the {eng} result")
                elif advice:
                    problems.append(f"{cid}: answer_contains {v!r} is fragile under double "
                                    f"rounding; {advice}")
                    break
        t = c.get("tags", [])
        if any(x.startswith("superlative") for x in t) and "top-n" not in t and len(first[1]) != 1:
            problems.append(f"{cid}: superlative case returns {len(first[1])} rows, expected 1")
    for p in problems:
        print(f"  [{name}] {p}")
    if tag_counts:
        print(f"  [{name}] tags: " + ", ".join(
            f"{t}={n}" for t, n in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))))
    status = "OK" if not problems else f"FAIL ({len(problems)} problem(s))"
    summary = (f"{name}: {status} - {len(doc['cases'])} cases ({n_sql} with SQL run on "
               f"{'+'.join(engines)}, {n_clarify} clarify), {len(tags)} tags")
    return not problems, summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suites", nargs="*", help=f"any of {', '.join(SUITES)} (default: all)")
    ap.add_argument("--show", action="store_true", help="print every reference result")
    ap.add_argument("--only", help="run only cases whose id contains this")
    ap.add_argument("--tags", action="store_true", help="print how many cases carry each tag")
    a = ap.parse_args()
    for s in a.suites:
        if s not in SUITES:
            ap.error(f"unknown suite {s!r}; expected one of {', '.join(SUITES)}")
    ok = True
    lines = []
    for s in a.suites or list(SUITES):
        good, line = check_suite(s, a.show, a.only, a.tags)
        ok &= good
        lines.append(line)
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
