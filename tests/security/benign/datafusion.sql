-- Benign SQL corpus for Apache DataFusion: analyst queries against the in-memory fixture
-- (mc_orders with amount DECIMAL(10,2), created DATE, meta as JSON text; mc_canary). Every case must
-- pass the guard and run on DataFusion 55 with the information schema enabled.

-- case: revenue by region
SELECT region, sum(amount) AS total FROM mc_orders GROUP BY region ORDER BY total DESC

-- case: CTE with a window rank
WITH r AS (SELECT region, customer, sum(amount) AS total FROM mc_orders GROUP BY region, customer)
SELECT region, customer, total, rank() OVER (PARTITION BY region ORDER BY total DESC) AS rnk FROM r ORDER BY region, rnk

-- case: date_trunc by month
SELECT date_trunc('month', created) AS month, count(*) AS orders FROM mc_orders GROUP BY 1 ORDER BY 1

-- case: date_part and a date literal filter
SELECT date_part('month', created) AS m, amount FROM mc_orders WHERE created >= DATE '2024-03-01' ORDER BY created

-- case: GROUPING SETS
SELECT region, customer, sum(amount) AS total FROM mc_orders GROUP BY GROUPING SETS ((region), (customer), ())

-- case: ROLLUP
SELECT region, customer, sum(amount) AS total FROM mc_orders GROUP BY ROLLUP (region, customer)

-- case: CUBE
SELECT region, customer, count(*) AS n FROM mc_orders GROUP BY CUBE (region, customer)

-- case: aggregate FILTER
SELECT region, count(*) FILTER (WHERE amount > 100) AS big, count(*) AS all_orders FROM mc_orders GROUP BY region

-- case: string_agg
SELECT region, string_agg(customer, ', ') AS customers FROM mc_orders GROUP BY region

-- case: literals that contain SQL keywords, a semicolon and comment markers
SELECT 'DROP TABLE is a string' AS s, 'a;b' AS t, '-- not a comment' AS u, '/* nor this */' AS v, 'it''s' AS w

-- case: CASE buckets
SELECT id, CASE WHEN amount >= 100 THEN 'large' WHEN amount >= 50 THEN 'medium' ELSE 'small' END AS size FROM mc_orders

-- case: text search in the JSON column
SELECT id, customer FROM mc_orders WHERE strpos(meta, '"channel":"web"') > 0

-- case: regular-expression match operator
SELECT DISTINCT customer FROM mc_orders WHERE customer ~ '^(a|b)' ORDER BY customer

-- case: EXPLAIN of a query
EXPLAIN SELECT * FROM mc_orders WHERE region = 'north'

-- case: SHOW TABLES
SHOW TABLES

-- case: DESCRIBE a table
DESCRIBE mc_orders

-- case: SHOW COLUMNS
SHOW COLUMNS FROM mc_orders

-- case: information_schema listing
SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public'

-- case: generate_series table function
SELECT * FROM generate_series(1, 5)

-- case: median and stddev
SELECT median(amount) AS med, stddev(amount) AS sd FROM mc_orders

-- case: VALUES list
VALUES (1, 'a'), (2, 'b')

-- case: EXCEPT between two tables
SELECT customer FROM mc_orders EXCEPT SELECT note FROM mc_canary

-- case: unnest of an array literal
SELECT unnest([1, 2, 3]) AS n

-- case: lag over a date order
SELECT id, amount, lag(amount) OVER (ORDER BY created) AS previous FROM mc_orders

-- case: quoted identifiers and concat_ws
SELECT concat_ws('-', region, customer) AS "Region-Customer" FROM mc_orders

-- case: large LIMIT (the guard lowers it)
SELECT * FROM mc_orders LIMIT 50000
