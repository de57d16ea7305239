-- metricchat store schema for PostgreSQL, version 5: dashboards and re-run query results
-- (issue 16). A dashboard is kept whole as JSONB, one row per version; `title` repeats its title
-- for listing. A query result row is one re-run of a stored query (`Agent::rerun_query`),
-- numbered from 1; `charts` holds the query's charts re-rendered over the new data.

CREATE TABLE dashboards (
    id         UUID        NOT NULL,
    version    BIGINT      NOT NULL CHECK (version > 0),
    title      TEXT        NOT NULL,
    body       JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE INDEX dashboards_created_at ON dashboards (created_at);

CREATE TABLE query_results (
    query_id     UUID        NOT NULL REFERENCES queries (id) ON DELETE CASCADE,
    version      BIGINT      NOT NULL CHECK (version > 0),
    status       TEXT        NOT NULL,
    executed_sql TEXT,
    row_count    BIGINT      CHECK (row_count >= 0),
    duration_ms  BIGINT      CHECK (duration_ms >= 0),
    error        TEXT,
    charts       JSONB       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (query_id, version)
);
