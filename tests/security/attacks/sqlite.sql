-- Hostile SQL corpus for SQLite, run against the canary fixture in a database file.
-- Every case must be refused by the SQL guard. readfile/writefile/fsdir/zipfile/edit exist in the
-- sqlite3 CLI (fileio extension) and wherever an application loads that extension; a plain library
-- build answers "no such function", which is fine. ATTACH and VACUUM INTO write new database files
-- under /tmp/mc_canary/.

-- case: escaped-ident: double-quoted "readfile"
SELECT "readfile"('/tmp/mc_canary/secret.txt')

-- case: escaped-ident: bracketed [readfile]
SELECT CAST([readfile]('/etc/passwd') AS TEXT)

-- case: escaped-ident: backticked `writefile`
SELECT `writefile`('/tmp/mc_canary/sqlite_bt.txt', 'pwned')

-- case: escaped-ident: mixed case with a comment before the parenthesis
SELECT CAST(ReadFile /* x */ ('/tmp/mc_canary/secret.txt') AS TEXT)

-- case: escaped-ident: quoted table-valued "fsdir"
SELECT name FROM "fsdir"('/tmp/mc_canary')

-- case: server-files: readfile on the secret
SELECT CAST(readfile('/tmp/mc_canary/secret.txt') AS TEXT)

-- case: server-files: readfile on /etc/passwd in a scalar subquery
SELECT (SELECT CAST(readfile('/etc/passwd') AS TEXT)) AS f

-- case: server-files: writefile creates a file
SELECT writefile('/tmp/mc_canary/sqlite_write.txt', 'pwned')

-- case: server-files: writefile fed by a query, in a CTE
WITH w AS (SELECT writefile('/tmp/mc_canary/sqlite_cte.txt', group_concat(note)) AS n FROM mc_canary) SELECT n FROM w

-- case: server-files: fsdir lists a directory
SELECT name, mode FROM fsdir('/tmp/mc_canary')

-- case: server-files: fsdir reads file contents through its data column
SELECT CAST(data AS TEXT) FROM fsdir('/tmp/mc_canary/secret.txt')

-- case: server-files: zipfile table function opens an archive path
SELECT * FROM zipfile('/tmp/mc_canary/x.zip')

-- case: server-files: ATTACH creates a new database file
ATTACH DATABASE '/tmp/mc_canary/attach.db' AS mc_evil

-- case: server-files: VACUUM INTO writes a copy of the database
VACUUM INTO '/tmp/mc_canary/vacuum.db'

-- case: server-files: load_extension loads a shared library
SELECT load_extension('/tmp/mc_canary/evil.so')

-- case: new-connection: ATTACH a shared in-memory database through a URI
ATTACH DATABASE 'file:mc_evil?mode=memory&cache=shared' AS mc_evil

-- case: side-effect: fts3_tokenizer leaks a function pointer (and can set one)
SELECT hex(fts3_tokenizer('simple'))

-- case: side-effect: edit() launches an external editor
-- engine: skip waits for an interactive editor
SELECT edit('x', 'touch /tmp/mc_canary/edit.txt')

-- case: write: DELETE
DELETE FROM mc_canary

-- case: write: UPDATE … RETURNING
UPDATE mc_canary SET note = 'pwned' RETURNING id

-- case: write: INSERT OR REPLACE
INSERT OR REPLACE INTO mc_canary VALUES (1, 'pwned')

-- case: write: WITH … DELETE
WITH d AS (SELECT 1 AS id) DELETE FROM mc_canary WHERE id IN (SELECT id FROM d)

-- case: write: DROP TABLE
DROP TABLE mc_canary

-- case: write: CREATE TABLE AS
CREATE TABLE mc_evil AS SELECT * FROM mc_canary

-- case: write: CREATE TRIGGER
CREATE TRIGGER mc_evil AFTER INSERT ON mc_orders BEGIN DELETE FROM mc_canary; END

-- case: write: PRAGMA query_only = OFF switches the connector's backstop off
PRAGMA query_only = OFF

-- case: write: PRAGMA writable_schema
PRAGMA writable_schema = ON

-- case: write: REINDEX / ANALYZE write into the file
ANALYZE

-- case: multi-statement: SELECT then DELETE
SELECT 1; DELETE FROM mc_canary

-- case: multi-statement: semicolon in a string first
SELECT ';'; DROP TABLE mc_canary

-- case: multi-statement: semicolon inside a bracketed identifier
SELECT [a;b] FROM (SELECT 1 AS [a;b]); DELETE FROM mc_canary

-- case: multi-statement: comment holding a semicolon, then UPDATE
SELECT 1 /* ; */ ; UPDATE mc_canary SET note = 'pwned'

-- case: lock: BEGIN EXCLUSIVE takes the database lock
BEGIN EXCLUSIVE

-- case: lock: PRAGMA locking_mode = EXCLUSIVE keeps the file locked
PRAGMA locking_mode = EXCLUSIVE

-- case: parser-differential: SQLite accepts an unterminated block comment at the end
SELECT CAST(readfile('/tmp/mc_canary/secret.txt') AS TEXT) /* unterminated

-- case: parser-differential: a double-quoted name that is no column becomes a string in SQLite
SELECT "mc_canary", CAST(readfile('/etc/passwd') AS TEXT) FROM mc_orders LIMIT 1

-- case: resource: recursive CTE counting to thirty million (seconds of CPU)
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 30000000) SELECT count(*) FROM r

-- case: resource: zeroblob sized past the blob limit
SELECT length(zeroblob(2000000000))

-- case: resource: unbounded recursive CTE
-- engine: skip never ends
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r

-- case: resource: one-gigabyte randomblob
-- engine: skip allocates about 1 GB
SELECT length(randomblob(1000000000))

-- case: resource: eight-way self cross join
-- engine: skip a hundred million rows
SELECT count(*) FROM mc_orders a, mc_orders b, mc_orders c, mc_orders d, mc_orders e, mc_orders f, mc_orders g, mc_orders h

-- case: resource: printf padding to a huge width
-- engine: skip allocates about 1 GB
SELECT length(printf('%.*c', 1000000000, 'x'))

-- case: catalog-secrets: database file paths of every attached database
SELECT name, file FROM pragma_database_list
