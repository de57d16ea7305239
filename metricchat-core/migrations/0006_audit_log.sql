-- metricchat store schema, version 6: the audit log (see `metricchat_core::store::AuditRecord`).
--
-- Same conventions as version 1 (UUID text ids, fixed-width RFC 3339 UTC text timestamps).
-- One row per statement the agent, a tool or a binding ran or the guard refused. Append-only:
-- the triggers refuse UPDATE and DELETE.

CREATE TABLE audit_log (
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
    outcome     TEXT    NOT NULL CHECK (outcome IN ('success', 'error', 'refused')),
    error       TEXT
);

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

-- The user a run was for (`RunRecord::user`, a `UserContext` as JSON text).
ALTER TABLE runs ADD COLUMN user_json TEXT;
