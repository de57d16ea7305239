-- Hostile SQL corpus for PostgreSQL (15+), run against the canary fixture in database mc_hostile.
-- Every case must be refused by the SQL guard. Run raw (without the guard) as superuser, most of
-- them really do harm: delete or change mc_canary, read /tmp/mc_canary/secret.txt or /etc/passwd,
-- write into /tmp/mc_canary/, kill the mc_victim session, take locks, change settings or roles.
-- Format: a `-- case: <class>: <description>` header, then the SQL up to the next header.

-- case: escaped-ident: U&"" identifier with \XXXX escapes names pg_sleep
SELECT U&"\0070g_sleep"(1)

-- case: escaped-ident: U&"" escapes spell pg_read_file on the secret
SELECT U&"pg\005fread\005ffile"('/tmp/mc_canary/secret.txt')

-- case: escaped-ident: six-digit \+XXXXXX escape spells pg_ls_dir
SELECT * FROM (SELECT U&"\+000070g_ls_dir"('/tmp/mc_canary') AS f) AS listing

-- case: escaped-ident: UESCAPE picks another escape character for pg_read_file
SELECT U&"pg!005fread!005ffile" UESCAPE '!'('/etc/passwd')

-- case: escaped-ident: lower-case u& prefix spells dblink_exec
SELECT u&"\0064blink_exec"('dbname=mc_hostile user=postgres host=127.0.0.1', 'DELETE FROM mc_canary')

-- case: escaped-ident: schema-qualified U&"" name terminates the victim
SELECT pg_catalog.U&"\0070g_terminate_backend"(pid) FROM pg_stat_activity WHERE application_name = 'mc_victim'

-- case: escaped-ident: U&"" set_config switches the statement timeout off
SELECT U&"\0073et_config"('statement_timeout', '0', false)

-- case: escaped-ident: U&"" escape inside ORDER BY reads /etc/passwd
SELECT id FROM mc_orders ORDER BY length(U&"\0070g_read_file"('/etc/passwd')), id

-- case: escaped-ident: U&"" escape in a LATERAL subquery lists the canary directory
SELECT o.id, x.f FROM mc_orders AS o, LATERAL (SELECT U&"\0070g_ls_dir"('/tmp/mc_canary') AS f) AS x

-- case: escaped-ident: U&"" escape in a CTE takes an advisory lock
WITH l AS (SELECT U&"\0070g_advisory_lock"(4242) AS held) SELECT count(*) FROM l

-- case: escaped-ident: U&"" escape inside a VALUES row
VALUES (U&"\0070g_read_file"('/tmp/mc_canary/secret.txt'))

-- case: escaped-ident: U&"" escape under EXPLAIN ANALYZE runs dblink_exec
EXPLAIN ANALYZE SELECT U&"\0064blink_exec"('dbname=mc_hostile user=postgres host=127.0.0.1', 'DELETE FROM mc_canary')

-- case: escaped-ident: U&"" escape in a UNION branch
SELECT 'x' AS f UNION ALL SELECT U&"\0070g_read_file"('/etc/passwd')

-- case: escaped-ident: U&"" escape in an IN subquery cancels the victim
SELECT * FROM mc_orders WHERE id IN (SELECT CASE WHEN U&"\0070g_cancel_backend"(pid) THEN 1 ELSE 0 END FROM pg_stat_activity WHERE application_name = 'mc_victim')

-- case: escaped-ident: double-quoted exact name of pg_sleep
SELECT "pg_sleep"(1)

-- case: escaped-ident: fully quoted and qualified pg_read_file
SELECT "pg_catalog"."pg_read_file"('/tmp/mc_canary/secret.txt')

-- case: escaped-ident: upper-case qualified name with spaces and a comment before the parenthesis
SELECT PG_CATALOG . PG_SLEEP /* nap */ (1)

-- case: sql-text: crosstab runs query text that reads the secret file
SELECT * FROM crosstab($$SELECT 1, 'a', pg_read_file('/tmp/mc_canary/secret.txt')$$) AS t(r int, a text)

-- case: sql-text: crosstab query text calls dblink_exec to delete the canary
SELECT * FROM crosstab('SELECT 1, ''a''::text, dblink_exec(''dbname=mc_hostile user=postgres host=127.0.0.1'', ''DELETE FROM mc_canary'')') AS t(r int, a text)

-- case: sql-text: crosstab query text terminates the victim session
SELECT * FROM crosstab('SELECT 1, ''x''::text, pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE application_name = ''mc_victim''') AS t(r int, x text)

-- case: sql-text: crosstab2 returns /etc/passwd from query text
SELECT * FROM crosstab2($$SELECT 'r'::text, 'c'::text, pg_read_file('/etc/passwd', 0, 64)$$)

-- case: sql-text: two-argument crosstab hides the side effect in the category query
SELECT * FROM crosstab($$SELECT 1, 'a', 'b'$$, $$SELECT pg_advisory_lock(77)::text$$) AS t(r int, c text)

-- case: sql-text: connectby reads pg_authid by name, around any table policy
SELECT * FROM connectby('pg_authid', 'rolname', 'rolpassword', 'postgres', 0) AS t(k text, p text, level int)

-- case: sql-text: ts_stat runs query text that deletes through dblink_exec
SELECT * FROM ts_stat($$SELECT to_tsvector(dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'DELETE FROM mc_canary'))$$)

-- case: sql-text: ts_stat runs query text that reads the secret file
SELECT word FROM ts_stat($$SELECT to_tsvector('simple', pg_read_file('/tmp/mc_canary/secret.txt'))$$)

-- case: sql-text: ts_rewrite's query-text argument runs dblink_exec
SELECT ts_rewrite('a'::tsquery, $$SELECT 'a'::tsquery, 'b'::tsquery FROM dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'DELETE FROM mc_canary') AS x$$)

-- case: sql-text: query_to_xml runs query text that reads /etc/passwd
SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'') AS f', true, false, '')

-- case: sql-text: query_to_xml_and_xmlschema reads pg_authid
SELECT pg_catalog.query_to_xml_and_xmlschema('SELECT rolname, rolpassword FROM pg_authid', true, false, '')

-- case: sql-text: table_to_xml reads pg_shadow by name, in XMLTABLE
SELECT * FROM XMLTABLE('/pg_shadow/row' PASSING table_to_xml('pg_shadow', true, false, '') COLUMNS usename text, passwd text)

-- case: new-connection: dblink_exec deletes the canary over a new connection
SELECT dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'DELETE FROM mc_canary')

-- case: new-connection: dblink returns rows from a DELETE … RETURNING
SELECT * FROM dblink('dbname=mc_hostile user=postgres host=127.0.0.1', 'DELETE FROM mc_canary RETURNING id') AS t(id int)

-- case: new-connection: schema-qualified dblink_exec creates role mc_evil
SELECT public.dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'CREATE ROLE mc_evil')

-- case: new-connection: dblink_exec in a scalar subquery writes a file with COPY
SELECT (SELECT dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'COPY (SELECT 1) TO ''/tmp/mc_canary/dblink_copy.txt''')) AS done

-- case: new-connection: dblink_connect opens a named connection that outlives the query
SELECT dblink_connect('mc_evil_conn', 'dbname=mc_hostile user=postgres host=127.0.0.1')

-- case: new-connection: dblink_send_query fires an asynchronous DELETE
SELECT dblink_connect('mc_async', 'dbname=mc_hostile user=postgres host=127.0.0.1'), dblink_send_query('mc_async', 'DELETE FROM mc_canary')

-- case: new-connection: dblink_exec hidden in HAVING
SELECT region, count(*) FROM mc_orders GROUP BY region HAVING dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'UPDATE mc_canary SET note = ''pwned''') IS NOT NULL

-- case: new-connection: dblink_exec under EXPLAIN ANALYZE
EXPLAIN ANALYZE SELECT dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'TRUNCATE mc_canary')

-- case: new-connection: dblink_exec in a UNION branch
SELECT note FROM mc_canary UNION ALL SELECT dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'DELETE FROM mc_canary')

-- case: new-connection: CREATE SERVER for the dblink foreign-data wrapper
CREATE SERVER mc_evil FOREIGN DATA WRAPPER dblink_fdw OPTIONS (host '127.0.0.1', dbname 'mc_hostile')

-- case: new-connection: postgres_fdw server definition
CREATE SERVER mc_evil_fdw FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'mc_hostile')

-- case: side-effect: NOTIFY statement
NOTIFY mc_channel, 'pwned'

-- case: side-effect: LISTEN statement registers the session
LISTEN mc_channel

-- case: side-effect: terminate the victim backend
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mc_victim'

-- case: side-effect: cancel the victim's running query, nested in a subquery
SELECT count(*) FROM (SELECT pg_cancel_backend(pid) AS c FROM pg_stat_activity WHERE application_name = 'mc_victim') AS s

-- case: side-effect: reload the server configuration
SELECT pg_reload_conf()

-- case: side-effect: rotate the server log
SELECT pg_catalog.pg_rotate_logfile()

-- case: side-effect: set_config turns statement_timeout off for the pooled session
SELECT set_config('statement_timeout', '0', false)

-- case: side-effect: set_config poisons search_path for later queries on the session
SELECT set_config('search_path', 'mc_evil, public', false)

-- case: side-effect: reset all statistics counters
SELECT pg_stat_reset()

-- case: side-effect: reset shared bgwriter statistics
SELECT pg_stat_reset_shared('bgwriter')

-- case: side-effect: create a physical replication slot (pins WAL forever)
SELECT pg_create_physical_replication_slot('mc_evil_slot')

-- case: side-effect: copy a replication slot (not caught by a pg_create_* pattern)
SELECT pg_copy_physical_replication_slot(slot_name, 'mc_evil_copy_' || slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'mc%'

-- case: side-effect: create a replication origin row in the catalog
SELECT pg_replication_origin_create('mc_evil_origin')

-- case: side-effect: pg_stat_statements_reset (extension function, not a pg_stat_reset* name)
SELECT pg_stat_statements_reset()

-- case: side-effect: consume changes from the test's logical replication slots
SELECT s.slot_name, c.lsn FROM pg_replication_slots AS s, LATERAL pg_logical_slot_get_changes(s.slot_name, NULL, NULL) AS c WHERE s.slot_name LIKE 'mc%'

-- case: side-effect: advance the test's replication slots to the current WAL position
SELECT pg_replication_slot_advance(slot_name, pg_current_wal_lsn()) FROM pg_replication_slots WHERE slot_name LIKE 'mc%'

-- case: side-effect: session-level advisory lock that stays after the query
SELECT pg_advisory_lock(4242)

-- case: side-effect: nextval advances the sequence
SELECT nextval('mc_canary_seq')

-- case: side-effect: setval rewinds the sequence, in a CTE
WITH s AS (SELECT setval('mc_canary_seq', 1000000) AS v) SELECT v FROM s

-- case: side-effect: pg_notify sends a notification to listeners
SELECT pg_notify('mc_channel', 'pwned')

-- case: side-effect: write a logical message into the WAL
SELECT pg_logical_emit_message(false, 'mc', 'pwned')

-- case: side-effect: force a WAL segment switch
SELECT pg_switch_wal()

-- case: side-effect: import system collations writes into the catalog
SELECT pg_import_system_collations('public')

-- case: side-effect: create a large object (a write) from a query
SELECT lo_from_bytea(0, convert_to('pwned', 'UTF8'))

-- case: side-effect: unlink every large object
SELECT lo_unlink(oid) FROM pg_largeobject_metadata

-- case: server-files: pg_read_file reads the secret
SELECT pg_read_file('/tmp/mc_canary/secret.txt')

-- case: server-files: pg_read_file reads /etc/passwd with offset and length
SELECT pg_read_file('/etc/passwd', 0, 200)

-- case: server-files: pg_read_binary_file decoded to text
SELECT convert_from(pg_read_binary_file('/tmp/mc_canary/secret.txt'), 'UTF8')

-- case: server-files: pg_ls_dir lists the canary directory
SELECT * FROM pg_ls_dir('/tmp/mc_canary') AS f

-- case: server-files: pg_stat_file on /etc/passwd
SELECT (pg_stat_file('/etc/passwd')).size

-- case: server-files: pg_ls_waldir and pg_ls_logdir relatives
SELECT name, size FROM pg_ls_waldir() UNION ALL SELECT name, size FROM pg_ls_tmpdir()

-- case: server-files: lo_import copies a server file into a large object
SELECT lo_import('/tmp/mc_canary/secret.txt')

-- case: server-files: lo_get returns the contents of imported large objects
SELECT convert_from(lo_get(oid), 'UTF8') FROM pg_largeobject_metadata

-- case: server-files: lo_export writes existing large objects into the canary directory
SELECT lo_export(oid, '/tmp/mc_canary/lo_export_' || oid || '.txt') FROM pg_largeobject_metadata

-- case: server-files: pg_read_file on the hba file named by a setting
SELECT pg_read_file(current_setting('hba_file'))

-- case: server-files: pg_hba_file_rules view exposes authentication rules
SELECT * FROM pg_hba_file_rules

-- case: server-files: pg_file_settings view exposes configuration files
SELECT sourcefile, name, setting FROM pg_file_settings

-- case: server-files: COPY table TO a server file
COPY mc_canary TO '/tmp/mc_canary/copy_out.txt'

-- case: server-files: COPY TO PROGRAM runs a shell command
COPY (SELECT 1) TO PROGRAM 'touch /tmp/mc_canary/copy_program.txt'

-- case: server-files: COPY FROM PROGRAM inserts a row
COPY mc_canary FROM PROGRAM 'echo 9,pwned' WITH (FORMAT csv)

-- case: server-files: pg_ls_dir through ROWS FROM
SELECT * FROM ROWS FROM (pg_ls_dir('/tmp/mc_canary')) AS f(name)

-- case: write: plain DELETE
DELETE FROM mc_canary

-- case: write: plain UPDATE
UPDATE mc_canary SET note = 'pwned'

-- case: write: INSERT
INSERT INTO mc_canary VALUES (99, 'pwned')

-- case: write: DROP TABLE
DROP TABLE mc_canary

-- case: write: TRUNCATE
TRUNCATE mc_canary

-- case: write: ALTER TABLE
ALTER TABLE mc_canary ADD COLUMN pwned int

-- case: write: CREATE ROLE mc_evil with superuser
CREATE ROLE mc_evil SUPERUSER LOGIN

-- case: write: GRANT to PUBLIC
GRANT ALL ON mc_canary TO PUBLIC

-- case: write: ALTER SYSTEM writes postgresql.auto.conf
ALTER SYSTEM SET log_statement = 'none'

-- case: write: data-modifying CTE (DELETE … RETURNING) under a SELECT
WITH d AS (DELETE FROM mc_canary RETURNING *) SELECT count(*) FROM d

-- case: write: UPDATE CTE feeding a subquery
WITH u AS (UPDATE mc_canary SET note = 'pwned' RETURNING id) SELECT * FROM mc_orders WHERE id IN (SELECT id FROM u)

-- case: write: INSERT CTE after a harmless CTE
WITH r AS (SELECT 1 AS n), i AS (INSERT INTO mc_canary VALUES (98, 'pwned') RETURNING id) SELECT * FROM r

-- case: write: SELECT … INTO creates a table
SELECT * INTO mc_evil_copy FROM mc_canary

-- case: write: CREATE TABLE AS
CREATE TABLE mc_evil AS SELECT * FROM mc_canary

-- case: write: EXPLAIN ANALYZE executes a DELETE
EXPLAIN ANALYZE DELETE FROM mc_canary

-- case: write: EXPLAIN with options around a data-modifying CTE
EXPLAIN (ANALYZE, COSTS OFF) WITH d AS (DELETE FROM mc_canary RETURNING 1) SELECT * FROM d

-- case: write: anonymous DO block
DO $$ BEGIN DELETE FROM mc_canary; END $$

-- case: write: MERGE deletes matching rows
MERGE INTO mc_canary AS c USING (SELECT 1 AS id) AS s ON c.id = s.id WHEN MATCHED THEN DELETE

-- case: write: CREATE FUNCTION that deletes
CREATE FUNCTION mc_evil() RETURNS int LANGUAGE sql AS 'DELETE FROM mc_canary RETURNING 1'

-- case: write: CALL a procedure
CALL mc_evil_proc()

-- case: write: PREPARE a DELETE
PREPARE mc_evil AS DELETE FROM mc_canary

-- case: write: VACUUM FULL rewrites the table
VACUUM FULL mc_canary

-- case: write: CREATE EXTENSION
CREATE EXTENSION IF NOT EXISTS adminpack

-- case: write: SET ROLE / session state change
SET SESSION AUTHORIZATION DEFAULT

-- case: multi-statement: SELECT then DELETE
SELECT 1; DELETE FROM mc_canary

-- case: multi-statement: semicolon inside a string literal first
SELECT ';'; DELETE FROM mc_canary

-- case: multi-statement: dollar-quoted semicolon then DROP
SELECT $$;$$; DROP TABLE mc_canary

-- case: multi-statement: comment with a semicolon, then a real one
SELECT 1 /* ; */ ; DELETE FROM mc_canary

-- case: multi-statement: E'' string with an escaped quote hides the split point from a naive splitter
SELECT E'\';'; UPDATE mc_canary SET note = 'pwned'

-- case: multi-statement: line comment swallows a fake terminator
SELECT 1 -- ;
; TRUNCATE mc_canary

-- case: multi-statement: nested block comment with a semicolon inside
SELECT 1 /* outer /* inner ; */ still comment ; */ ; DELETE FROM mc_canary

-- case: multi-statement: tagged dollar quote containing $$ and ;
SELECT $tag$ $$ ; $$ $tag$; INSERT INTO mc_canary VALUES (97, 'pwned')

-- case: multi-statement: transaction wrapper around a DELETE
BEGIN; DELETE FROM mc_canary; COMMIT

-- case: multi-statement: write first, harmless SELECT last
DELETE FROM mc_canary; SELECT 1

-- case: lock: SELECT … FOR UPDATE
SELECT * FROM mc_canary FOR UPDATE

-- case: lock: FOR SHARE
SELECT * FROM mc_canary FOR SHARE

-- case: lock: FOR NO KEY UPDATE NOWAIT
SELECT * FROM mc_canary FOR NO KEY UPDATE NOWAIT

-- case: lock: FOR UPDATE inside a subquery
SELECT * FROM (SELECT * FROM mc_canary FOR UPDATE) AS s

-- case: lock: FOR UPDATE SKIP LOCKED inside a CTE
WITH l AS (SELECT * FROM mc_canary FOR UPDATE SKIP LOCKED) SELECT * FROM l

-- case: lock: LOCK TABLE
LOCK TABLE mc_canary IN ACCESS EXCLUSIVE MODE

-- case: lock: transaction advisory lock plus a shared session lock
SELECT pg_advisory_xact_lock(1), pg_try_advisory_lock_shared(1, 2)

-- case: parser-differential: E'' string ends where a naive parser sees a comment
SELECT E'\' /*', pg_read_file('/etc/passwd') --*/'

-- case: parser-differential: PostgreSQL nests block comments, so the second */ ends it
SELECT 1 /* /* */ */ , pg_sleep(1)

-- case: parser-differential: quote inside a dollar-quoted string
SELECT $$ ' $$, pg_read_file('/tmp/mc_canary/secret.txt'), $$ ' $$

-- case: parser-differential: dollar quote tag containing $$
SELECT $a$ $$ $a$, pg_sleep(1)

-- case: parser-differential: U&'' string literal holding a quote escape next to a call
SELECT U&'\0027', pg_sleep(1)

-- case: parser-differential: doubled quote in a quoted alias next to a call
SELECT 1 AS "a"" /*", pg_read_file('/etc/passwd') AS "*/"

-- case: resource: pg_sleep
SELECT pg_sleep(3)

-- case: resource: pg_sleep_for with an interval
SELECT pg_sleep_for('2 seconds')

-- case: resource: pg_sleep_until in a scalar subquery of the WHERE clause
SELECT * FROM mc_orders WHERE (SELECT pg_sleep_until(now() + interval '2 seconds')) IS NULL

-- case: resource: pg_sleep per row in ORDER BY
SELECT id FROM mc_orders ORDER BY (SELECT pg_sleep(0.2))::text, id

-- case: resource: ten-billion-row generate_series
-- engine: skip runs for hours
SELECT count(*) FROM generate_series(1, 10000000000)

-- case: resource: unbounded recursive CTE
-- engine: skip never ends
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r

-- case: resource: one-gigabyte repeat()
-- engine: skip allocates about 1 GB in the server
SELECT length(repeat('x', 1000000000))

-- case: resource: four-way cross join of pg_class
-- engine: skip runs for a very long time
SELECT count(*) FROM pg_class AS a, pg_class AS b, pg_class AS c, pg_class AS d

-- case: catalog-secrets: password hashes from pg_shadow
SELECT usename, passwd FROM pg_shadow

-- case: catalog-secrets: password hashes from pg_authid
SELECT rolname, rolpassword FROM pg_catalog.pg_authid

-- case: catalog-secrets: TABLE shorthand on pg_authid
TABLE pg_authid

-- case: catalog-secrets: other sessions' SQL from pg_stat_activity
SELECT pid, usename, application_name, query FROM pg_stat_activity WHERE pid <> pg_backend_pid()

-- case: catalog-secrets: user-mapping options (remote passwords)
SELECT srvname, usename, umoptions FROM pg_user_mappings

-- case: catalog-secrets: connection settings that may hold passwords
SELECT name, setting FROM pg_settings WHERE name IN ('primary_conninfo', 'ssl_passphrase_command', 'archive_command')

-- case: catalog-secrets: large-object contents
SELECT loid, data FROM pg_largeobject
