-- metricchat store schema for PostgreSQL, version 1: runs and everything they record.
--
-- The tables live in their own schema (default `metricchat`, chosen by the store), so the store
-- can share the user's database; the store sets `search_path` to that schema, so the names
-- here are unqualified.
--
-- Conventions:
-- * ids are UUID; timestamps are TIMESTAMPTZ (microsecond precision);
-- * JSON values are JSONB (query them with ->, ->> and @>);
-- * statuses are the `as_str` forms of RunStatus, ExecutionStatus and QueryStatus;
-- * counts and token usage are BIGINT so they can be summed in SQL;
-- * `ord` keeps insertion order for rows that share a timestamp.
-- Every child table references runs(id) and deletes with its run.

CREATE TABLE runs (
    id                  UUID             NOT NULL PRIMARY KEY,
    ord                 BIGINT           GENERATED ALWAYS AS IDENTITY,
    question            TEXT             NOT NULL,
    title               TEXT,
    status              TEXT             NOT NULL,
    model               TEXT             NOT NULL,
    created_at          TIMESTAMPTZ      NOT NULL,
    updated_at          TIMESTAMPTZ      NOT NULL,
    finished_at         TIMESTAMPTZ,
    iterations          BIGINT           NOT NULL DEFAULT 0,
    input_tokens        BIGINT           NOT NULL DEFAULT 0,
    output_tokens       BIGINT           NOT NULL DEFAULT 0,
    cached_input_tokens BIGINT           NOT NULL DEFAULT 0,
    cost_usd            DOUBLE PRECISION,
    answer              TEXT,
    error_kind          TEXT,
    error_message       TEXT
);

CREATE INDEX runs_created_at ON runs (created_at);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE decisions (
    run_id     UUID        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    iteration  BIGINT      NOT NULL,
    decision   JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, iteration)
);

CREATE TABLE tool_executions (
    id          UUID        NOT NULL PRIMARY KEY,
    ord         BIGINT      GENERATED ALWAYS AS IDENTITY,
    run_id      UUID        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    iteration   BIGINT      NOT NULL,
    tool        TEXT        NOT NULL,
    arguments   JSONB       NOT NULL,
    status      TEXT        NOT NULL,
    observation JSONB,
    error       TEXT,
    attempts    BIGINT      NOT NULL DEFAULT 0,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);

CREATE INDEX tool_executions_run_id ON tool_executions (run_id, started_at);

CREATE TABLE queries (
    id           UUID        NOT NULL PRIMARY KEY,
    ord          BIGINT      GENERATED ALWAYS AS IDENTITY,
    run_id       UUID        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    execution_id UUID,
    connection   TEXT        NOT NULL,
    sql          TEXT        NOT NULL,
    executed_sql TEXT,
    attempt      BIGINT      NOT NULL,
    status       TEXT        NOT NULL,
    error        TEXT,
    row_count    BIGINT,
    duration_ms  BIGINT,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX queries_run_id ON queries (run_id, created_at);
CREATE INDEX queries_execution_id ON queries (execution_id);

CREATE TABLE visualizations (
    id         UUID        NOT NULL PRIMARY KEY,
    ord        BIGINT      GENERATED ALWAYS AS IDENTITY,
    run_id     UUID        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    query_id   UUID        NOT NULL,
    spec       JSONB       NOT NULL,
    echarts    JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX visualizations_run_id ON visualizations (run_id, created_at);
CREATE INDEX visualizations_query_id ON visualizations (query_id);

CREATE TABLE snapshots (
    run_id     UUID        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step       BIGINT      NOT NULL,
    status     TEXT        NOT NULL,
    state      JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE events (
    run_id  UUID        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq     BIGINT      NOT NULL,
    type    TEXT        NOT NULL,
    ts      TIMESTAMPTZ NOT NULL,
    payload JSONB       NOT NULL,
    PRIMARY KEY (run_id, seq)
);
