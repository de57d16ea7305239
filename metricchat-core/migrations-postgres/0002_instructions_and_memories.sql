-- metricchat store schema for PostgreSQL, version 2: the team's instructions (rules) and
-- memories.
--
-- `scope` is the JSON form of `Scope` (`{"kind": "global"}`, `{"kind": "connection",
-- "connection": "…"}`, `{"kind": "tables", "connection": "…", "tables": ["…"]}`); `labels` is
-- a JSON array of strings. `scope_connection` repeats the scope's connection (lowercased) so
-- instructions can be listed per connection with an index.
-- `run_id` names the run that suggested or recorded the row; it is not a foreign key, because
-- the team's knowledge outlives the runs it came from.

CREATE TABLE instructions (
    id               UUID        NOT NULL PRIMARY KEY,
    text             TEXT        NOT NULL CHECK (length(btrim(text)) > 0),
    status           TEXT        NOT NULL,
    scope            JSONB       NOT NULL,
    scope_connection TEXT,
    labels           JSONB       NOT NULL DEFAULT '[]',
    source           TEXT        NOT NULL,
    run_id           UUID,
    usage_count      BIGINT      NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX instructions_status ON instructions (status, created_at);
CREATE INDEX instructions_scope_connection ON instructions (scope_connection);
CREATE INDEX instructions_run_id ON instructions (run_id);

CREATE TABLE memories (
    id               UUID        NOT NULL PRIMARY KEY,
    text             TEXT        NOT NULL CHECK (length(btrim(text)) > 0),
    scope            JSONB       NOT NULL,
    scope_connection TEXT,
    labels           JSONB       NOT NULL DEFAULT '[]',
    source           TEXT        NOT NULL,
    run_id           UUID,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX memories_created_at ON memories (created_at);
CREATE INDEX memories_run_id ON memories (run_id);
