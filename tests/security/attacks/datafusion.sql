-- Hostile SQL corpus for Apache DataFusion (embedded connector; tables mc_canary and mc_orders are
-- in-memory). Every case must be refused by the SQL guard. DataFusion parses with sqlparser's
-- GenericDialect, so comment hints /*! … */ and E'' strings read the same to the guard and the engine;
-- the danger here is statements (COPY, CREATE EXTERNAL TABLE, DML), file/URL tables and resource use.

-- case: escaped-ident: double-quoted path used as a table name
SELECT * FROM "/tmp/mc_canary/secret.txt"

-- case: escaped-ident: double-quoted file URL used as a table name
SELECT * FROM "file:///etc/passwd"

-- case: escaped-ident: schema-qualified quoted file name
SELECT * FROM datafusion.public."secret.csv"

-- case: server-files: single-quoted path as a URL table
SELECT * FROM '/tmp/mc_canary/secret.txt'

-- case: server-files: file:// URL table
SELECT * FROM 'file:///etc/passwd'

-- case: server-files: glob URL table
SELECT * FROM '/tmp/mc_canary/*.csv'

-- case: server-files: COPY a table to a CSV file
COPY mc_canary TO '/tmp/mc_canary/df_copy.csv' STORED AS CSV

-- case: server-files: COPY a query to Parquet
COPY (SELECT * FROM mc_canary) TO '/tmp/mc_canary/df_copy.parquet' STORED AS PARQUET

-- case: server-files: COPY with partitioning writes a directory tree
COPY mc_orders TO '/tmp/mc_canary/df_parts/' STORED AS CSV PARTITIONED BY (region)

-- case: server-files: COPY with format options
COPY mc_canary TO '/tmp/mc_canary/df_opts.csv' STORED AS CSV OPTIONS ('format.has_header' 'true')

-- case: server-files: CREATE EXTERNAL TABLE over /etc/passwd
CREATE EXTERNAL TABLE mc_evil (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd' OPTIONS ('format.delimiter' '|', 'format.has_header' 'false')

-- case: server-files: CREATE EXTERNAL TABLE over the canary directory
CREATE EXTERNAL TABLE IF NOT EXISTS mc_evil STORED AS CSV LOCATION '/tmp/mc_canary/'

-- case: new-connection: external table over an HTTP URL
CREATE EXTERNAL TABLE mc_evil STORED AS CSV LOCATION 'http://127.0.0.1:9/mc.csv'

-- case: new-connection: URL table over HTTP
SELECT * FROM 'http://127.0.0.1:9/mc.parquet'

-- case: write: INSERT
INSERT INTO mc_canary VALUES (99, 'pwned')

-- case: write: INSERT … SELECT
INSERT INTO mc_canary SELECT id + 100, customer FROM mc_orders

-- case: write: DELETE
DELETE FROM mc_canary

-- case: write: UPDATE
UPDATE mc_canary SET note = 'pwned'

-- case: write: DROP TABLE
DROP TABLE mc_canary

-- case: write: TRUNCATE
TRUNCATE TABLE mc_canary

-- case: write: CREATE OR REPLACE TABLE over the canary
CREATE OR REPLACE TABLE mc_canary AS SELECT 1 AS id, 'pwned' AS note

-- case: write: CREATE TABLE AS
CREATE TABLE mc_evil AS SELECT * FROM mc_canary

-- case: write: CREATE VIEW
CREATE VIEW mc_evil AS SELECT * FROM mc_canary

-- case: write: SELECT … INTO creates a table
SELECT * INTO mc_evil FROM mc_canary

-- case: write: CREATE SCHEMA
CREATE SCHEMA mc_evil

-- case: write: EXPLAIN ANALYZE of an INSERT
EXPLAIN ANALYZE INSERT INTO mc_canary VALUES (98, 'pwned')

-- case: write: PREPARE a statement
PREPARE mc_evil(INT) AS SELECT * FROM mc_canary WHERE id = $1

-- case: side-effect: SET changes a session option
SET datafusion.execution.batch_size = 1

-- case: side-effect: transaction statements
BEGIN TRANSACTION

-- case: multi-statement: SELECT then DROP
SELECT 1; DROP TABLE mc_canary

-- case: multi-statement: semicolon in a string first
SELECT ';'; INSERT INTO mc_canary VALUES (97, 'pwned')

-- case: multi-statement: COPY hidden in a comment hint (the generic dialect expands /*! */)
SELECT 1 /*! ; COPY mc_canary TO '/tmp/mc_canary/df_hint.csv' STORED AS CSV */

-- case: lock: FOR UPDATE
SELECT * FROM mc_canary FOR UPDATE

-- case: parser-differential: nested block comment then a COPY
SELECT 1 /* /* */ */ ; COPY mc_canary TO '/tmp/mc_canary/df_nested.csv' STORED AS CSV

-- case: parser-differential: E'' escaped quote before a stacked write
SELECT E'\';'; DELETE FROM mc_canary

-- case: resource: two-gigabyte repeat
-- engine: skip allocates about 2 GB
SELECT length(repeat('x', 2000000000))

-- case: resource: two-gigabyte lpad
-- engine: skip allocates about 2 GB
SELECT length(lpad('x', 2000000000, 'y'))

-- case: resource: hundred-billion-row generate_series aggregated
-- engine: skip runs for a very long time
SELECT count(*) FROM generate_series(1, 100000000000)

-- case: resource: cross join of ranges
-- engine: skip ten billion rows
SELECT count(*) FROM range(100000) AS a CROSS JOIN range(100000) AS b

-- case: resource: unbounded recursive CTE
-- engine: skip never ends
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r

-- case: resource: billion-element array
-- engine: skip allocates gigabytes
SELECT cardinality(array_repeat(1, 1000000000))

-- case: resource: repeat inside an aggregate over many rows
-- engine: skip allocates gigabytes
SELECT sum(length(repeat('x', 100000000))) FROM generate_series(1, 1000)

-- case: resource: bounded but heavy self cross join of the fixture
SELECT count(*) FROM mc_orders a, mc_orders b, mc_orders c, mc_orders d, mc_orders e, mc_orders f, mc_orders g
