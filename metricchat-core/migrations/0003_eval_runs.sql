-- metricchat store schema, version 3: eval runs (see `metricchat_core::eval`).
--
-- Same conventions as version 1 (UUID text ids, fixed-width RFC 3339 UTC text timestamps).
-- `report` is the whole `EvalReport` as JSON text; `passed`/`total` repeat its figures so runs
-- can be listed without reading it.

CREATE TABLE eval_runs (
    id         TEXT    NOT NULL PRIMARY KEY,
    suite      TEXT    NOT NULL,
    mode       TEXT    NOT NULL,
    label      TEXT,
    passed     INTEGER NOT NULL CHECK (passed >= 0),
    total      INTEGER NOT NULL CHECK (total >= passed),
    created_at TEXT    NOT NULL,
    report     TEXT    NOT NULL
);

CREATE INDEX eval_runs_suite ON eval_runs (suite, created_at);
