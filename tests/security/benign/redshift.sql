-- Benign SQL corpus for Amazon Redshift (written from the documentation; no live engine here).
-- Tables mc_orders and mc_canary. Every case must pass the guard.

-- case: revenue by region
SELECT region, SUM(amount) AS total FROM mc_orders GROUP BY region ORDER BY total DESC

-- case: LISTAGG … WITHIN GROUP
SELECT region, LISTAGG(customer, ', ') WITHIN GROUP (ORDER BY customer) AS customers FROM mc_orders GROUP BY region

-- case: DATE_TRUNC and GETDATE
SELECT DATE_TRUNC('month', created) AS month, DATEDIFF(day, created, GETDATE()) AS age_days FROM mc_orders

-- case: JSON_EXTRACT_PATH_TEXT on a text column
SELECT id, JSON_EXTRACT_PATH_TEXT(meta, 'channel') AS channel FROM mc_orders

-- case: NVL and DECODE
SELECT id, NVL(region, 'unknown') AS region, DECODE(customer, 'alice', 'A', 'other') AS code FROM mc_orders

-- case: literals that contain SQL keywords and a semicolon
SELECT 'DROP TABLE is a string' AS s, 'a;b' AS t, '-- not a comment' AS u
