-- metricchat store schema for PostgreSQL, version 6: the audit log (see
-- `metricchat_core::store::AuditRecord`). One row per statement the agent, a tool or a binding
-- ran or the guard refused. Append-only: the trigger refuses UPDATE, DELETE and TRUNCATE.

CREATE TABLE audit_log (
    id          UUID        NOT NULL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    user_id     TEXT,
    run_id      UUID,
    query_id    UUID,
    source      TEXT        NOT NULL,
    connection  TEXT        NOT NULL,
    sql_text    TEXT        NOT NULL,
    policy      JSONB       NOT NULL,
    row_count   BIGINT CHECK (row_count >= 0),
    byte_count  BIGINT CHECK (byte_count >= 0),
    duration_ms BIGINT      NOT NULL CHECK (duration_ms >= 0),
    outcome     TEXT        NOT NULL CHECK (outcome IN ('success', 'error', 'refused')),
    error       TEXT
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user ON audit_log (user_id, at);
CREATE INDEX audit_log_run ON audit_log (run_id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The user a run was for (`RunRecord::user`, a `UserContext`).
ALTER TABLE runs ADD COLUMN user_json JSONB;
