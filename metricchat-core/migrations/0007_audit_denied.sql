-- metricchat store schema, version 7: the audit log's `denied` outcome (a statement whose cost
-- estimate needed approval and was denied; see `metricchat_core::approval`).
--
-- SQLite cannot alter a CHECK constraint: the table is rebuilt with the wider one, its rows
-- copied, its indexes and append-only triggers re-created on the new table.

DROP TRIGGER audit_log_no_update;
DROP TRIGGER audit_log_no_delete;

CREATE TABLE audit_log_v7 (
    id          TEXT    NOT NULL PRIMARY KEY,
    at          TEXT    NOT NULL,
    user_id     TEXT,
    run_id      TEXT,
    query_id    TEXT,
    source      TEXT    NOT NULL,
    connection  TEXT    NOT NULL,
    sql_text    TEXT    NOT NULL,
    policy      TEXT    NOT NULL,
    row_count   INTEGER CHECK (row_count >= 0),
    byte_count  INTEGER CHECK (byte_count >= 0),
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    outcome     TEXT    NOT NULL CHECK (outcome IN ('success', 'error', 'refused', 'denied')),
    error       TEXT
);

INSERT INTO audit_log_v7
    (id, at, user_id, run_id, query_id, source, connection, sql_text, policy, row_count,
     byte_count, duration_ms, outcome, error)
SELECT id, at, user_id, run_id, query_id, source, connection, sql_text, policy, row_count,
       byte_count, duration_ms, outcome, error
FROM audit_log;

DROP TABLE audit_log;
ALTER TABLE audit_log_v7 RENAME TO audit_log;

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user ON audit_log (user_id, at);
CREATE INDEX audit_log_run ON audit_log (run_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
