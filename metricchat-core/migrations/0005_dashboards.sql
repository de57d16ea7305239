-- metricchat store schema, version 5: dashboards and re-run query results (issue 16).
--
-- Same conventions as version 1 (UUID text ids, fixed-width RFC 3339 UTC text timestamps, JSON
-- as text). A dashboard is kept whole as JSON (`metricchat_core::dashboard::Dashboard`), one
-- row per version; `title` repeats its title for listing. A query result row is one re-run of
-- a stored query (`Agent::rerun_query`), numbered from 1; `charts` holds the query's charts
-- re-rendered over the new data.

CREATE TABLE dashboards (
    id         TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE INDEX dashboards_created_at ON dashboards (created_at);

CREATE TABLE query_results (
    query_id     TEXT    NOT NULL REFERENCES queries (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL CHECK (version > 0),
    status       TEXT    NOT NULL,
    executed_sql TEXT,
    row_count    INTEGER CHECK (row_count >= 0),
    duration_ms  INTEGER CHECK (duration_ms >= 0),
    error        TEXT,
    charts       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (query_id, version)
);
