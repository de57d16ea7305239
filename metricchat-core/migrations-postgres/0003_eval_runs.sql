-- metricchat store schema for PostgreSQL, version 3: eval runs (see `metricchat_core::eval`).
--
-- `report` is the whole `EvalReport`; `passed`/`total` repeat its figures so runs can be listed
-- without reading it.

CREATE TABLE eval_runs (
    id         UUID        NOT NULL PRIMARY KEY,
    suite      TEXT        NOT NULL,
    mode       TEXT        NOT NULL,
    label      TEXT,
    passed     BIGINT      NOT NULL CHECK (passed >= 0),
    total      BIGINT      NOT NULL CHECK (total >= passed),
    created_at TIMESTAMPTZ NOT NULL,
    report     JSONB       NOT NULL
);

CREATE INDEX eval_runs_suite ON eval_runs (suite, created_at);
