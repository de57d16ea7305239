-- Hostile SQL corpus for the generic dialect: the guard does not know which engine runs the SQL,
-- so it must be strict. The cases mix the forms of every engine; each one is harmful on at least
-- one of PostgreSQL, MySQL/MariaDB, SQLite, DuckDB, Snowflake or BigQuery.

-- case: escaped-ident: PostgreSQL U&"" escapes spell pg_read_file
SELECT U&"pg\005fread\005ffile"('/tmp/mc_canary/secret.txt')

-- case: escaped-ident: backticked MySQL builtin
SELECT `sleep`(1)

-- case: escaped-ident: quoted Snowflake SYSTEM$ function
SELECT "SYSTEM$WAIT"(5)

-- case: sql-text: tablefunc crosstab runs query text
SELECT * FROM crosstab('SELECT 1, ''a'', pg_read_file(''/etc/passwd'')') AS t(r int, a text)

-- case: sql-text: DuckDB query() runs SQL text
SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')

-- case: new-connection: dblink_exec deletes over a new connection
SELECT dblink_exec('dbname=mc_hostile user=postgres host=127.0.0.1', 'DELETE FROM mc_canary')

-- case: new-connection: BigQuery EXTERNAL_QUERY
SELECT * FROM EXTERNAL_QUERY('mc-project.us.mc_conn', 'SELECT 1')

-- case: side-effect: pg_terminate_backend on the victim
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mc_victim'

-- case: side-effect: MySQL named lock
SELECT GET_LOCK('mc_canary_lock', 0)

-- case: side-effect: sequence advance
SELECT nextval('mc_canary_seq')

-- case: server-files: MySQL LOAD_FILE
SELECT LOAD_FILE('/etc/passwd')

-- case: server-files: SQLite readfile
SELECT readfile('/tmp/mc_canary/secret.txt')

-- case: server-files: DuckDB read_csv
SELECT * FROM read_csv('/etc/passwd')

-- case: server-files: file path as a table
SELECT * FROM '/tmp/mc_canary/secret.csv'

-- case: server-files: Snowflake stage as a table
SELECT $1 FROM @mc_stage/secret.csv

-- case: exec-comment: MySQL executable comment reads a file
SELECT 1 /*!50000 , LOAD_FILE('/etc/passwd') */

-- case: exec-comment: MariaDB /*M! … */ executable comment reads a file
SELECT 1 /*M!100000 , LOAD_FILE('/tmp/mc_canary/secret.txt') */

-- case: exec-comment: MariaDB /*M! … */ executable comment writes a file
SELECT note FROM mc_canary /*M! INTO OUTFILE '/tmp/mc_canary/generic_outfile.txt' */

-- case: write: DELETE
DELETE FROM mc_canary

-- case: write: data-modifying CTE
WITH d AS (DELETE FROM mc_canary RETURNING id) SELECT count(*) FROM d

-- case: write: SELECT … INTO
SELECT * INTO mc_evil FROM mc_canary

-- case: write: COPY TO a file
COPY mc_canary TO '/tmp/mc_canary/generic_copy.csv'

-- case: write: ATTACH a database file
ATTACH DATABASE '/tmp/mc_canary/generic_attach.db' AS mc_evil

-- case: write: CREATE ROLE mc_evil
CREATE ROLE mc_evil

-- case: multi-statement: SELECT then DROP
SELECT 1; DROP TABLE mc_canary

-- case: multi-statement: string with a semicolon, then DELETE
SELECT 'a;b'; DELETE FROM mc_canary

-- case: lock: FOR UPDATE
SELECT * FROM mc_canary FOR UPDATE

-- case: lock: LOCK TABLE
LOCK TABLE mc_canary IN EXCLUSIVE MODE

-- case: parser-differential: `--` then NO-BREAK SPACE is code to MySQL/MariaDB
SELECT x -- , load_file('/tmp/mc_canary/secret.txt')
FROM (SELECT 1 AS x, 0 AS ` `) AS t

-- case: parser-differential: nested block comment (PostgreSQL) ends at the second */
SELECT 1 /* /* */ */ , pg_read_file('/etc/passwd')

-- case: resource: sleep
SELECT sleep(5)

-- case: resource: pg_sleep
SELECT pg_sleep(5)

-- case: resource: BENCHMARK
SELECT BENCHMARK(5000000, MD5('x'))

-- case: catalog-secrets: PostgreSQL password hashes
SELECT usename, passwd FROM pg_shadow

-- case: catalog-secrets: MySQL password hashes
SELECT User, authentication_string FROM mysql.user

-- case: catalog-secrets: DuckDB secrets
SELECT * FROM duckdb_secrets()
