-- Benign SQL corpus for MySQL / MariaDB: analyst queries against the fixture (mc_orders with a JSON
-- meta column, mc_canary, the table `orders.csv`). Every case must pass the guard and run without
-- error on MariaDB 10.11 (and, where the syntax exists there, MySQL 8). Includes known false refusals
-- of earlier guards: GROUP BY … WITH ROLLUP, DIV, a backticked table name ending in .csv.

-- case: GROUP BY … WITH ROLLUP
SELECT region, customer, SUM(amount) AS total FROM mc_orders GROUP BY region, customer WITH ROLLUP

-- case: integer division with DIV
SELECT id DIV 3 AS bucket, COUNT(*) AS n FROM mc_orders GROUP BY id DIV 3

-- case: DIV and MOD operators in the select list
SELECT 7 DIV 2 AS q, 7 MOD 2 AS r, 7 % 2 AS r2

-- case: backticked table name ending in .csv
SELECT id, note FROM `orders.csv` ORDER BY id

-- case: JSON_VALUE and JSON_EXTRACT on the meta column
SELECT id, JSON_VALUE(meta, '$.channel') AS channel, JSON_EXTRACT(meta, '$.items') AS items FROM mc_orders WHERE JSON_VALUE(meta, '$.channel') = 'web'

-- case: JSON_OBJECT built per row
SELECT JSON_OBJECT('id', id, 'customer', customer) AS doc FROM mc_orders ORDER BY id LIMIT 3

-- case: ROW_NUMBER window per customer
SELECT id, customer, amount, ROW_NUMBER() OVER (PARTITION BY customer ORDER BY amount DESC) AS rn FROM mc_orders

-- case: CTE then ranking
WITH t AS (SELECT customer, SUM(amount) AS total FROM mc_orders GROUP BY customer)
SELECT customer, total, RANK() OVER (ORDER BY total DESC) AS rnk FROM t

-- case: GROUP_CONCAT with DISTINCT, ORDER BY and SEPARATOR
SELECT region, GROUP_CONCAT(DISTINCT customer ORDER BY customer SEPARATOR ', ') AS customers FROM mc_orders GROUP BY region

-- case: literals that contain SQL keywords, semicolons, comment markers and escapes
SELECT 'DROP TABLE is a string' AS s, 'a;b' AS t, '-- not a comment' AS u, '/* nor this */' AS v, 'it\'s' AS w, '#hash' AS x

-- case: double-quoted string literal with a semicolon
SELECT "double quoted; still a string" AS s

-- case: trailing # comment
SELECT COUNT(*) FROM mc_orders # count them

-- case: trailing -- comment with a space
SELECT COUNT(*) FROM mc_orders -- count them

-- case: DATE_FORMAT by month
SELECT DATE_FORMAT(created, '%Y-%m') AS month, SUM(amount) AS total FROM mc_orders GROUP BY month ORDER BY month

-- case: DATEDIFF and date arithmetic
SELECT DATEDIFF(MAX(created), MIN(created)) AS span_days, MAX(created) + INTERVAL 1 MONTH AS next_month FROM mc_orders

-- case: CASE and IF and IFNULL
SELECT id, CASE WHEN amount >= 100 THEN 'large' ELSE 'small' END AS size, IF(region = 'north', 1, 0) AS is_north, IFNULL(NULL, 0) AS z FROM mc_orders

-- case: SHOW TABLES
SHOW TABLES

-- case: SHOW COLUMNS
SHOW COLUMNS FROM mc_orders

-- case: DESCRIBE a table
DESCRIBE mc_orders

-- case: SHOW CREATE TABLE
SHOW CREATE TABLE mc_orders

-- case: EXPLAIN of a query
EXPLAIN SELECT * FROM mc_orders WHERE region = 'north'

-- case: LIMIT offset, count form
SELECT * FROM mc_orders ORDER BY id LIMIT 2, 5

-- case: REGEXP filter
SELECT customer, amount FROM mc_orders WHERE customer REGEXP '^[ab]'

-- case: backticked alias with a space
SELECT customer AS `Customer Name`, CONCAT_WS('-', region, customer) AS label FROM mc_orders

-- case: BETWEEN on dates
SELECT * FROM mc_orders WHERE created BETWEEN '2024-01-01' AND '2024-03-31'

-- case: UNION of two columns
SELECT customer AS name FROM mc_orders UNION SELECT note FROM mc_canary

-- case: hex literals
SELECT X'4D43' AS hex_string, 0x41 AS hex_number

-- case: system variable read
SELECT @@version AS version

-- case: plain block comment inside the query
SELECT /* just a comment */ region, COUNT(*) FROM mc_orders GROUP BY region

-- case: JSON_TABLE over the meta column
SELECT o.id, j.channel FROM mc_orders AS o, JSON_TABLE(o.meta, '$' COLUMNS (channel VARCHAR(20) PATH '$.channel')) AS j
