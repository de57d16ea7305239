-- Hostile SQL corpus for MySQL / MariaDB (checked on MariaDB 10.11), run against the canary
-- fixture in database mc_hostile. Every case must be refused by the SQL guard. Run raw as root,
-- most of them really do harm: change mc_canary, read /tmp/mc_canary/secret.txt or /etc/passwd,
-- write files into /tmp/mc_canary/, kill the mc_victim connection, take the named lock
-- mc_canary_lock, move the sequence mc_canary_seq, or change global settings.
-- Some cases contain a U+00A0 NO-BREAK SPACE on purpose (the `--` comment differential).

-- case: escaped-ident: backticked builtin name `sleep`
SELECT `sleep`(1)

-- case: escaped-ident: mixed-case SlEeP with a comment before the parenthesis
SELECT SlEeP/**/(1)

-- case: escaped-ident: backticked `load_file` on the secret
SELECT `load_file`('/tmp/mc_canary/secret.txt')

-- case: escaped-ident: LOAD_FILE with the path given as a hex literal
SELECT LOAD_FILE(0x2f746d702f6d635f63616e6172792f7365637265742e747874)

-- case: escaped-ident: LOAD_FILE with the path built by CHAR()
SELECT load_file(CHAR(47,101,116,99,47,112,97,115,115,119,100))

-- case: escaped-ident: ODBC escape { fn … } around LOAD_FILE
SELECT { fn LOAD_FILE('/tmp/mc_canary/secret.txt') }

-- case: escaped-ident: ODBC { x … } form around SLEEP
SELECT {x SLEEP(1)}

-- case: escaped-ident: backticked mysql.user with backticked columns
SELECT `User`, `authentication_string` FROM `mysql`.`user`

-- case: exec-comment: /*! … */ adds a SLEEP to the select list
SELECT 1 /*!, SLEEP(1) */

-- case: exec-comment: versioned /*!50000 … */ reads the secret
SELECT 1 /*!50000 , LOAD_FILE('/tmp/mc_canary/secret.txt') */

-- case: exec-comment: MariaDB /*M! … */ reads the secret
SELECT 1 /*M!, LOAD_FILE('/tmp/mc_canary/secret.txt') */

-- case: exec-comment: MariaDB versioned /*M!100000 … */ reads /etc/passwd
SELECT 1 /*M!100000 , LOAD_FILE('/etc/passwd') */

-- case: exec-comment: /*M!100000 … */ hides INTO OUTFILE
SELECT note FROM mc_canary /*M!100000 INTO OUTFILE '/tmp/mc_canary/m_outfile.txt' */

-- case: exec-comment: /*M! … */ hides INTO DUMPFILE
SELECT note FROM mc_canary WHERE id = 1 /*M! INTO DUMPFILE '/tmp/mc_canary/m_dumpfile.txt' */

-- case: exec-comment: /*!50000 … */ hides INTO OUTFILE
SELECT id, note FROM mc_canary /*!50000 INTO OUTFILE '/tmp/mc_canary/outfile_50000.txt' */

-- case: exec-comment: /*M! … */ takes the named lock
SELECT 1 /*M!100000 , GET_LOCK('mc_canary_lock', 0) */

-- case: exec-comment: /*M! … */ moves the sequence
SELECT 1 /*M! , NEXTVAL(mc_canary_seq) */

-- case: exec-comment: /*M! … */ in WHERE adds a SLEEP per row
SELECT id FROM mc_orders WHERE 1 = 1 /*M! AND SLEEP(0.2) = 0 */

-- case: exec-comment: /*M! … */ reads password hashes in a scalar subquery
SELECT 1 /*M!100000 , (SELECT GROUP_CONCAT(User, ':', authentication_string) FROM mysql.user) */

-- case: exec-comment: /*M! … */ hides a stacked DROP after a semicolon
SELECT 1 /*M!; DROP TABLE mc_canary # */

-- case: exec-comment: empty /*!*/ next to a visible SLEEP
SELECT 1 /*!*/ , SLEEP(1)

-- case: parser-differential: `--` then NO-BREAK SPACE is a comment to sqlparser but code to MariaDB
SELECT x -- , load_file('/tmp/mc_canary/secret.txt')
FROM (SELECT 1 AS x, 0 AS ` `) AS t

-- case: parser-differential: `--` then NO-BREAK SPACE hides INTO OUTFILE
SELECT x --  INTO OUTFILE '/tmp/mc_canary/nbsp_outfile.txt'
FROM (SELECT 1 AS x, 0 AS ` `) AS t

-- case: parser-differential: `--` then NO-BREAK SPACE hides a named lock
SELECT x -- , GET_LOCK('mc_canary_lock', 0)
FROM (SELECT 1 AS x, 0 AS ` `) AS t

-- case: parser-differential: `--` without a space is minus minus in MySQL, not a comment
SELECT 1 --1, SLEEP(1)

-- case: parser-differential: backslash-escaped quote keeps the string open
SELECT 'it\'s', LOAD_FILE('/etc/passwd')

-- case: parser-differential: escaped backslash closes the string early
SELECT 'x\\', LOAD_FILE('/tmp/mc_canary/secret.txt'), '\\'

-- case: parser-differential: double-quoted string (not an identifier) with escapes next to a call
SELECT "a\"b", SLEEP(1)

-- case: parser-differential: `#` comment ends at the newline
SELECT 1 # comment
, LOAD_FILE('/etc/passwd')

-- case: side-effect: GET_LOCK takes the named lock
SELECT GET_LOCK('mc_canary_lock', 0)

-- case: side-effect: GET_LOCK hidden in WHERE
SELECT * FROM mc_orders WHERE GET_LOCK('mc_canary_lock', 0) = 1

-- case: side-effect: RELEASE_ALL_LOCKS
SELECT RELEASE_ALL_LOCKS()

-- case: side-effect: NEXTVAL moves the sequence
SELECT NEXTVAL(mc_canary_seq)

-- case: side-effect: SETVAL rewinds the sequence
SELECT SETVAL(mc_canary_seq, 1000000)

-- case: side-effect: NEXT VALUE FOR syntax
SELECT NEXT VALUE FOR mc_canary_seq

-- case: side-effect: KILL USER ends the victim's connections
KILL USER mc_victim

-- case: side-effect: KILL CONNECTION by id
KILL CONNECTION 999999

-- case: side-effect: KILL QUERY by id
KILL QUERY 999999

-- case: side-effect: SET GLOBAL general_log
SET GLOBAL general_log = 'ON'

-- case: side-effect: SET GLOBAL max_connections
SET GLOBAL max_connections = 1

-- case: side-effect: SET GLOBAL read_only
SET GLOBAL read_only = 1

-- case: side-effect: SET GLOBAL sql_mode
SET GLOBAL sql_mode = ''

-- case: side-effect: SET GLOBAL event_scheduler
SET @@global.event_scheduler = ON

-- case: side-effect: FLUSH PRIVILEGES
FLUSH PRIVILEGES

-- case: side-effect: DO evaluates GET_LOCK without a result set
DO GET_LOCK('mc_canary_lock', 0)

-- case: side-effect: SHUTDOWN the server
-- engine: skip stops the shared MariaDB server
SHUTDOWN

-- case: sql-text: EXECUTE IMMEDIATE runs a DELETE given as text
EXECUTE IMMEDIATE 'DELETE FROM mc_canary'

-- case: sql-text: EXECUTE IMMEDIATE with text built by CONCAT
EXECUTE IMMEDIATE CONCAT('DROP TABLE ', 'mc_canary')

-- case: sql-text: PREPARE from text
PREPARE mc_evil FROM 'DELETE FROM mc_canary'

-- case: sql-text: anonymous compound statement
BEGIN NOT ATOMIC DELETE FROM mc_canary; END

-- case: new-connection: CREATE SERVER pointing back at the database
CREATE SERVER mc_evil FOREIGN DATA WRAPPER mysql OPTIONS (HOST '127.0.0.1', DATABASE 'mc_hostile', USER 'root', PORT 3306)

-- case: new-connection: FEDERATED table over a connection string
CREATE TABLE mc_evil (id INT, note TEXT) ENGINE=FEDERATED CONNECTION='mysql://root@127.0.0.1:3306/mc_hostile/mc_canary'

-- case: new-connection: CONNECT engine MYSQL table
CREATE TABLE mc_evil ENGINE=CONNECT TABLE_TYPE=MYSQL CONNECTION='mysql://root@127.0.0.1/mc_hostile/mc_canary'

-- case: new-connection: INSTALL SONAME loads a storage-engine plugin
INSTALL SONAME 'ha_federatedx'

-- case: server-files: LOAD_FILE on the secret
SELECT LOAD_FILE('/tmp/mc_canary/secret.txt')

-- case: server-files: LOAD_FILE on /etc/passwd in a scalar subquery
SELECT (SELECT LOAD_FILE('/etc/passwd')) AS f

-- case: server-files: LOAD_FILE in a UNION injected after a normal query
SELECT id, customer, region, amount, created, meta FROM mc_orders WHERE customer = 'alice' UNION ALL SELECT 1, LOAD_FILE('/etc/passwd'), 3, 4, 5, 6

-- case: server-files: LOAD_FILE in a VALUES table constructor
VALUES (LOAD_FILE('/tmp/mc_canary/secret.txt'))

-- case: server-files: LOAD_FILE in a derived VALUES table
SELECT * FROM (VALUES (LOAD_FILE('/etc/passwd'))) AS t

-- case: server-files: SELECT … INTO OUTFILE after FROM
SELECT note FROM mc_canary INTO OUTFILE '/tmp/mc_canary/outfile.txt'

-- case: server-files: SELECT … INTO OUTFILE before FROM with field options
SELECT id, note INTO OUTFILE '/tmp/mc_canary/outfile2.csv' FIELDS TERMINATED BY ',' FROM mc_canary

-- case: server-files: SELECT … INTO DUMPFILE writes raw bytes
SELECT 'pwned' INTO DUMPFILE '/tmp/mc_canary/dumpfile.txt'

-- case: server-files: LOAD DATA INFILE reads a server file into the canary
LOAD DATA INFILE '/etc/passwd' IGNORE INTO TABLE mc_canary FIELDS TERMINATED BY ':' (@u, @x, id, @g, note)

-- case: server-files: LOAD DATA LOCAL INFILE
LOAD DATA LOCAL INFILE '/tmp/mc_canary/secret.txt' INTO TABLE mc_canary (note)

-- case: server-files: SET GLOBAL general_log_file points the log into the canary directory
SET GLOBAL general_log_file = '/tmp/mc_canary/general.log'

-- case: server-files: CONNECT engine table over /etc/passwd
CREATE TABLE mc_evil (line TEXT) ENGINE=CONNECT TABLE_TYPE=DOS FILE_NAME='/etc/passwd'

-- case: write: DELETE
DELETE FROM mc_canary

-- case: write: UPDATE
UPDATE mc_canary SET note = 'pwned'

-- case: write: INSERT
INSERT INTO mc_canary VALUES (99, 'pwned')

-- case: write: REPLACE INTO
REPLACE INTO mc_canary VALUES (1, 'pwned')

-- case: write: INSERT … ON DUPLICATE KEY UPDATE
INSERT INTO mc_canary VALUES (1, 'x') ON DUPLICATE KEY UPDATE note = 'pwned'

-- case: write: DELETE … RETURNING (MariaDB)
DELETE FROM mc_canary RETURNING id, note

-- case: write: DROP TABLE
DROP TABLE mc_canary

-- case: write: TRUNCATE
TRUNCATE TABLE mc_canary

-- case: write: ALTER TABLE
ALTER TABLE mc_canary ADD COLUMN pwned INT

-- case: write: RENAME TABLE
RENAME TABLE mc_canary TO mc_evil

-- case: write: CREATE USER mc_evil
CREATE USER 'mc_evil'@'%' IDENTIFIED BY 'pwned'

-- case: write: GRANT ALL creating mc_evil
GRANT ALL PRIVILEGES ON *.* TO 'mc_evil'@'localhost' IDENTIFIED BY 'pwned'

-- case: write: CREATE TABLE … AS SELECT
CREATE TABLE mc_evil AS SELECT * FROM mc_canary

-- case: write: SELECT … INTO user variables
SELECT id, note INTO @a, @b FROM mc_canary LIMIT 1

-- case: write: CALL a procedure
CALL mysql.mc_evil()

-- case: write: CREATE EVENT
CREATE EVENT mc_evil ON SCHEDULE EVERY 1 MINUTE DO DELETE FROM mc_canary

-- case: write: SET STATEMENT … FOR lifts the time limit for one statement
SET STATEMENT max_statement_time = 0 FOR SELECT SLEEP(1)

-- case: write: HANDLER opens a table cursor
HANDLER mc_canary OPEN

-- case: write: multi-table UPDATE through a join
UPDATE mc_canary c JOIN mc_orders o ON o.id = c.id SET c.note = o.customer

-- case: write: WITH … DELETE
WITH d AS (SELECT 1 AS id) DELETE FROM mc_canary WHERE id IN (SELECT id FROM d)

-- case: multi-statement: SELECT then DROP
SELECT 1; DROP TABLE mc_canary

-- case: multi-statement: escaped backslash closes the string, then a DELETE
SELECT 'a\\'; DELETE FROM mc_canary; -- '

-- case: multi-statement: semicolon in a string literal first
SELECT ';'; DELETE FROM mc_canary

-- case: multi-statement: `#` comment hides a fake terminator
SELECT 1 # ;
; TRUNCATE TABLE mc_canary

-- case: multi-statement: semicolon inside a backticked alias
SELECT `a;b` FROM (SELECT 1 AS `a;b`) AS t; DELETE FROM mc_canary

-- case: multi-statement: double-quoted string with a semicolon, then UPDATE
SELECT "a;b"; UPDATE mc_canary SET note = 'pwned'

-- case: multi-statement: block comment holding a semicolon, then INSERT
SELECT 1 /* ; */; INSERT INTO mc_canary VALUES (98, 'pwned')

-- case: lock: FOR UPDATE
SELECT * FROM mc_canary FOR UPDATE

-- case: lock: LOCK IN SHARE MODE
SELECT * FROM mc_canary LOCK IN SHARE MODE

-- case: lock: FOR UPDATE SKIP LOCKED
SELECT * FROM mc_canary FOR UPDATE SKIP LOCKED

-- case: lock: FOR UPDATE WAIT n (MariaDB)
SELECT * FROM mc_canary FOR UPDATE WAIT 5

-- case: lock: FOR UPDATE inside a derived table
SELECT * FROM (SELECT * FROM mc_canary FOR UPDATE) AS t

-- case: lock: FOR SHARE (MySQL 8 form)
SELECT * FROM mc_canary FOR SHARE

-- case: lock: LOCK TABLES
LOCK TABLES mc_canary WRITE

-- case: lock: FLUSH TABLES WITH READ LOCK
FLUSH TABLES WITH READ LOCK

-- case: lock: named lock with a long wait
SELECT GET_LOCK('mc_canary_lock', 10), IS_USED_LOCK('mc_canary_lock')

-- case: resource: SLEEP
SELECT SLEEP(3)

-- case: resource: SLEEP per row in WHERE
SELECT * FROM mc_orders WHERE SLEEP(0.2) = 0

-- case: resource: BENCHMARK burns CPU
SELECT BENCHMARK(5000000, SHA2('x', 512))

-- case: resource: MASTER_GTID_WAIT blocks until its timeout
SELECT MASTER_GTID_WAIT('0-1-999999', 2)

-- case: resource: SLEEP in ORDER BY
SELECT id FROM mc_orders ORDER BY SLEEP(0.2), id

-- case: resource: unbounded recursive CTE
-- engine: skip MariaDB's max_recursive_iterations default lets it run for a very long time
WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r

-- case: resource: triple cross join of information_schema.columns
-- engine: skip runs for a very long time
SELECT COUNT(*) FROM information_schema.COLUMNS a, information_schema.COLUMNS b, information_schema.COLUMNS c

-- case: catalog-secrets: password hashes from mysql.user
SELECT User, Host, authentication_string FROM mysql.user

-- case: catalog-secrets: MariaDB mysql.global_priv JSON with credentials
SELECT User, Priv FROM mysql.global_priv

-- case: catalog-secrets: other sessions' SQL from information_schema.PROCESSLIST
SELECT ID, USER, INFO FROM information_schema.PROCESSLIST WHERE USER = 'mc_victim'

-- case: catalog-secrets: SHOW FULL PROCESSLIST shows other sessions' SQL
SHOW FULL PROCESSLIST

-- case: catalog-secrets: statement history in performance_schema
SELECT THREAD_ID, SQL_TEXT FROM performance_schema.events_statements_history_long

-- case: catalog-secrets: current statements of all threads
SELECT THREAD_ID, SQL_TEXT FROM performance_schema.events_statements_current

-- case: catalog-secrets: general log table with everyone's statements
SELECT event_time, user_host, argument FROM mysql.general_log
