-- metricchat store schema, version 1.
--
-- Conventions:
-- * ids are UUIDs as lowercase hyphenated TEXT;
-- * timestamps are RFC 3339 UTC TEXT with nanoseconds and a `Z` suffix
--   (`2026-11-25T20:39:41.123456789Z`): fixed width, so text order is time order and values
--   round-trip exactly;
-- * JSON values are TEXT (use SQLite's json_* functions to look inside);
-- * statuses are the `as_str` forms of RunStatus, ExecutionStatus and QueryStatus;
-- * token usage is kept in plain INTEGER columns so it can be summed in SQL.
-- Every child table references runs(id) and deletes with its run.

CREATE TABLE runs (
    id                  TEXT    NOT NULL PRIMARY KEY,
    question            TEXT    NOT NULL,
    title               TEXT,
    status              TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    finished_at         TEXT,
    iterations          INTEGER NOT NULL DEFAULT 0,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd            REAL,
    answer              TEXT,
    error_kind          TEXT,
    error_message       TEXT
);

CREATE INDEX runs_created_at ON runs (created_at);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE decisions (
    run_id     TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    iteration  INTEGER NOT NULL,
    decision   TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (run_id, iteration)
);

CREATE TABLE tool_executions (
    id          TEXT    NOT NULL PRIMARY KEY,
    run_id      TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    iteration   INTEGER NOT NULL,
    tool        TEXT    NOT NULL,
    arguments   TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    observation TEXT,
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT    NOT NULL,
    finished_at TEXT
);

CREATE INDEX tool_executions_run_id ON tool_executions (run_id, started_at);

CREATE TABLE queries (
    id           TEXT    NOT NULL PRIMARY KEY,
    run_id       TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    execution_id TEXT,
    connection   TEXT    NOT NULL,
    sql          TEXT    NOT NULL,
    executed_sql TEXT,
    attempt      INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    error        TEXT,
    row_count    INTEGER,
    duration_ms  INTEGER,
    created_at   TEXT    NOT NULL
);

CREATE INDEX queries_run_id ON queries (run_id, created_at);
CREATE INDEX queries_execution_id ON queries (execution_id);

CREATE TABLE visualizations (
    id         TEXT NOT NULL PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    query_id   TEXT NOT NULL,
    spec       TEXT NOT NULL,
    echarts    TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX visualizations_run_id ON visualizations (run_id, created_at);
CREATE INDEX visualizations_query_id ON visualizations (query_id);

CREATE TABLE snapshots (
    run_id     TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE events (
    run_id  TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    type    TEXT    NOT NULL,
    ts      TEXT    NOT NULL,
    payload TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq)
);
