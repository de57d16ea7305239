-- metricchat store schema for PostgreSQL, version 7: the audit log's `denied` outcome (a
-- statement whose cost estimate needed approval and was denied; see
-- `metricchat_core::approval`). The append-only triggers fire on rows, not on ALTER TABLE.

ALTER TABLE audit_log DROP CONSTRAINT audit_log_outcome_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_outcome_check
    CHECK (outcome IN ('success', 'error', 'refused', 'denied'));
