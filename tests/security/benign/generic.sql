-- Benign SQL corpus for the generic dialect: portable analyst SQL. Every case must pass the guard.

-- case: revenue by region
SELECT region, SUM(amount) AS total FROM mc_orders GROUP BY region ORDER BY total DESC

-- case: CTE with a window rank
WITH r AS (SELECT customer, SUM(amount) AS total FROM mc_orders GROUP BY customer) SELECT customer, total, RANK() OVER (ORDER BY total DESC) AS rnk FROM r

-- case: CASE buckets
SELECT id, CASE WHEN amount >= 100 THEN 'large' ELSE 'small' END AS size FROM mc_orders

-- case: literals that contain SQL keywords, a semicolon and comment markers
SELECT 'DROP TABLE is a string' AS s, 'a;b' AS t, '-- not a comment' AS u, '/* nor this */' AS v

-- case: FETCH FIRST
SELECT * FROM mc_orders ORDER BY amount DESC FETCH FIRST 3 ROWS ONLY

-- case: UNION ALL
SELECT customer AS name FROM mc_orders UNION ALL SELECT note FROM mc_canary

-- case: EXPLAIN of a query
EXPLAIN SELECT * FROM mc_orders WHERE region = 'north'
