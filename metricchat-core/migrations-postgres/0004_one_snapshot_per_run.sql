-- metricchat store schema for PostgreSQL, version 4: one snapshot per run, the run's state
-- updated in place (`ON CONFLICT (run_id)`). Older versions kept a row per step, each with the whole conversation.

DELETE FROM snapshots
WHERE step < (SELECT MAX(s.step) FROM snapshots AS s WHERE s.run_id = snapshots.run_id);

CREATE UNIQUE INDEX snapshots_one_per_run ON snapshots (run_id);
