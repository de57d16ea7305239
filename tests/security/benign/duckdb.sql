-- Benign SQL corpus for DuckDB: analyst queries against the fixture (mc_orders with meta as JSON
-- text, mc_canary). Every case must pass the guard and run on DuckDB 1.x / 2.x without extensions
-- that need downloading.

-- case: GROUP BY ALL
SELECT region, sum(amount) AS total FROM mc_orders GROUP BY ALL ORDER BY total DESC

-- case: SELECT * EXCLUDE
SELECT * EXCLUDE (meta) FROM mc_orders ORDER BY id

-- case: FROM-first query
FROM mc_orders SELECT customer, amount WHERE amount > 100

-- case: list aggregate and list functions
SELECT region, list(customer ORDER BY customer) AS customers, len(list(customer)) AS n FROM mc_orders GROUP BY region

-- case: strftime by month
SELECT strftime(created, '%Y-%m') AS month, sum(amount) AS total FROM mc_orders GROUP BY month ORDER BY month

-- case: literals that contain SQL keywords, a semicolon and comment markers
SELECT 'DROP TABLE is a string' AS s, 'a;b' AS t, '-- not a comment' AS u, '/* nor this */' AS v

-- case: range table function
SELECT * FROM range(5)

-- case: DESCRIBE a table
DESCRIBE mc_orders

-- case: QUALIFY with a window function
SELECT customer, id, amount FROM mc_orders QUALIFY row_number() OVER (PARTITION BY customer ORDER BY amount DESC) = 1

-- case: EXPLAIN of a query
EXPLAIN SELECT * FROM mc_orders WHERE region = 'north'
