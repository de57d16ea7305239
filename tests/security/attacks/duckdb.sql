-- Hostile SQL corpus for DuckDB (1.x), written from the DuckDB documentation (no live engine was
-- available when it was written). Every case must be refused by the SQL guard. Tables mc_canary and
-- mc_orders are the canary fixture; files live under /tmp/mc_canary/.
-- Cases marked `-- engine: skip` would make DuckDB download an extension (network) or run too long.

-- case: escaped-ident: double-quoted table function name (DuckDB folds quoted names too)
SELECT content FROM "READ_TEXT"('/tmp/mc_canary/secret.txt')

-- case: escaped-ident: FROM-first syntax with a comment before the parenthesis
FROM read_text /* x */ ('/etc/passwd') SELECT content

-- case: escaped-ident: catalog-qualified table function
SELECT content FROM system.main.read_text('/tmp/mc_canary/secret.txt')

-- case: escaped-ident: double-quoted path is a replacement scan, not a table
SELECT * FROM "/tmp/mc_canary/secret.csv"

-- case: escaped-ident: upper-case replacement-scan extension
SELECT * FROM "orders.CSV"

-- case: sql-text: query() runs SQL given as text
SELECT * FROM query('SELECT content FROM read_text(''/tmp/mc_canary/secret.txt'')')

-- case: sql-text: query_table() reads a table named in a string
SELECT * FROM query_table('mc_canary')

-- case: sql-text: query_table() over a list of names
SELECT * FROM query_table(['mc_canary', 'mc_orders'], true)

-- case: sql-text: json_execute_serialized_sql runs a serialized statement
SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT content FROM read_text(''/tmp/mc_canary/secret.txt'')'))

-- case: new-connection: ATTACH a PostgreSQL database
-- engine: skip autoloads the postgres extension from the network
ATTACH 'dbname=mc_hostile user=postgres host=127.0.0.1' AS mc_pg (TYPE postgres)

-- case: new-connection: postgres_scan opens its own connection
-- engine: skip autoloads the postgres extension from the network
SELECT * FROM postgres_scan('dbname=mc_hostile user=postgres host=127.0.0.1', 'public', 'mc_canary')

-- case: new-connection: postgres_execute runs a DELETE on an attached database
-- engine: skip autoloads the postgres extension from the network
SELECT * FROM postgres_execute('mc_pg', 'DELETE FROM mc_canary')

-- case: new-connection: postgres_query runs remote SQL text
-- engine: skip autoloads the postgres extension from the network
SELECT * FROM postgres_query('mc_pg', 'SELECT pg_read_file(''/etc/passwd'')')

-- case: new-connection: mysql_execute on an attached MySQL database
-- engine: skip autoloads the mysql extension from the network
SELECT * FROM mysql_execute('mc_my', 'DELETE FROM mc_canary')

-- case: new-connection: sqlite_scan opens another database file
-- engine: skip autoloads the sqlite extension from the network
SELECT * FROM sqlite_scan('/tmp/mc_canary/other.db', 'mc_canary')

-- case: new-connection: URL replacement scan over HTTP
-- engine: skip autoloads httpfs from the network
SELECT * FROM 'http://127.0.0.1:9/mc.csv'

-- case: side-effect: nextval moves a sequence
SELECT nextval('mc_canary_seq')

-- case: side-effect: setseed changes session state for later random() calls
SELECT setseed(0.42)

-- case: side-effect: SET log_query_path writes every later query to a file
SET log_query_path = '/tmp/mc_canary/duck_queries.log'

-- case: side-effect: SET VARIABLE
SET VARIABLE mc_evil = 'pwned'

-- case: side-effect: load_aws_credentials pulls credentials into the session
-- engine: skip autoloads the aws extension from the network
SELECT * FROM load_aws_credentials()

-- case: server-files: read_text on the secret
SELECT content FROM read_text('/tmp/mc_canary/secret.txt')

-- case: server-files: read_blob on /etc/passwd
SELECT decode(content) FROM read_blob('/etc/passwd')

-- case: server-files: read_csv with named options on /etc/passwd
SELECT * FROM read_csv('/etc/passwd', delim = ':', header = false)

-- case: server-files: read_csv_auto on a glob
SELECT * FROM read_csv_auto('/tmp/mc_canary/*', header = false)

-- case: server-files: glob lists files
SELECT file FROM glob('/tmp/mc_canary/*')

-- case: server-files: sniff_csv reads the start of a file
SELECT * FROM sniff_csv('/etc/passwd')

-- case: server-files: replacement scan on a quoted path
SELECT * FROM '/tmp/mc_canary/secret.csv'

-- case: server-files: read_text in a LATERAL join
SELECT o.id, t.content FROM mc_orders AS o, LATERAL (SELECT content FROM read_text('/etc/passwd')) AS t

-- case: server-files: read_text inside a scalar subquery in WHERE
SELECT id FROM mc_orders WHERE customer = (SELECT content FROM read_text('/tmp/mc_canary/secret.txt'))

-- case: server-files: DESCRIBE of a query sniffs the file
DESCRIBE SELECT * FROM read_csv('/etc/passwd')

-- case: server-files: SUMMARIZE of a query over a file
SUMMARIZE SELECT * FROM read_text('/etc/passwd')

-- case: server-files: COPY a table to a file
COPY mc_canary TO '/tmp/mc_canary/duck_copy.csv' (HEADER, DELIMITER ',')

-- case: server-files: COPY a query to a file
COPY (SELECT 'pwned' AS x) TO '/tmp/mc_canary/duck_query.csv'

-- case: server-files: COPY FROM a file into the canary
COPY mc_canary FROM '/tmp/mc_canary/secret.txt'

-- case: server-files: EXPORT DATABASE writes a directory
EXPORT DATABASE '/tmp/mc_canary/duck_export'

-- case: server-files: ATTACH creates a new database file
ATTACH '/tmp/mc_canary/duck_attach.duckdb' AS mc_evil

-- case: write: DELETE
DELETE FROM mc_canary

-- case: write: UPDATE … RETURNING
UPDATE mc_canary SET note = 'pwned' RETURNING id

-- case: write: INSERT OR REPLACE
INSERT OR REPLACE INTO mc_canary VALUES (1, 'pwned')

-- case: write: CREATE OR REPLACE TABLE over the canary
CREATE OR REPLACE TABLE mc_canary AS SELECT 1 AS id, 'pwned' AS note

-- case: write: DROP TABLE
DROP TABLE mc_canary

-- case: write: CREATE MACRO
CREATE MACRO mc_evil(x) AS x + 1

-- case: write: INSTALL an extension
-- engine: skip downloads from the network
INSTALL httpfs

-- case: write: LOAD an extension
LOAD httpfs

-- case: write: CREATE SECRET
-- engine: skip autoloads httpfs from the network
CREATE SECRET mc_evil (TYPE s3, KEY_ID 'mc', SECRET 'pwned')

-- case: write: CHECKPOINT
CHECKPOINT

-- case: multi-statement: SELECT then DELETE
SELECT 1; DELETE FROM mc_canary

-- case: multi-statement: dollar-quoted semicolon then DROP
SELECT $$;$$; DROP TABLE mc_canary

-- case: multi-statement: semicolon inside a quoted identifier
SELECT "a;b" FROM (SELECT 1 AS "a;b"); UPDATE mc_canary SET note = 'pwned'

-- case: lock: FOR UPDATE
SELECT * FROM mc_canary FOR UPDATE

-- case: parser-differential: E'' escape string is one literal to DuckDB but an identifier plus a string to sqlparser's DuckDB dialect
SELECT E'\', ' AS b, (SELECT content FROM read_text($$/tmp/mc_canary/secret.txt$$)) AS c --'

-- case: parser-differential: DuckDB nests block comments like PostgreSQL
SELECT 1 /* /* */ */ , (SELECT content FROM read_text('/etc/passwd'))

-- case: parser-differential: tagged dollar quote holding a quote
SELECT $t$ ' $t$, (SELECT content FROM read_text('/tmp/mc_canary/secret.txt'))

-- case: resource: huge range aggregated
-- engine: skip runs for a very long time
SELECT count(*) FROM range(1000000000000)

-- case: resource: two-gigabyte repeat
-- engine: skip allocates about 2 GB
SELECT length(repeat('x', 2000000000))

-- case: resource: unbounded recursive CTE
-- engine: skip never ends
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r

-- case: resource: cross join of ranges
-- engine: skip ten billion rows
SELECT count(*) FROM range(100000) AS a, range(100000) AS b

-- case: catalog-secrets: duckdb_secrets lists stored credentials
SELECT * FROM duckdb_secrets()

-- case: catalog-secrets: duckdb_secrets without redaction
SELECT name, secret_string FROM duckdb_secrets(redact = false)

-- case: catalog-secrets: which_secret names the credential for a path
SELECT * FROM which_secret('s3://mc-bucket/data.parquet', 's3')

-- case: catalog-secrets: settings that hold keys
SELECT name, value FROM duckdb_settings() WHERE name ILIKE '%key%' OR name ILIKE '%secret%' OR name ILIKE '%token%'

-- case: catalog-secrets: environment variable through getenv
SELECT getenv('AWS_SECRET_ACCESS_KEY')
