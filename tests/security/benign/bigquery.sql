-- Benign SQL corpus for BigQuery (written from the documentation; no live engine here). Tables
-- mc_dataset.mc_orders and mc_dataset.mc_canary. Every case must pass the guard.

-- case: revenue by region
SELECT region, SUM(amount) AS total FROM mc_dataset.mc_orders GROUP BY region ORDER BY total DESC

-- case: SELECT * EXCEPT
SELECT * EXCEPT (meta) FROM mc_dataset.mc_orders

-- case: backticked project-qualified table
SELECT COUNT(*) AS n FROM `mc-project.mc_dataset.mc_orders`

-- case: FORMAT_DATE and JSON_VALUE
SELECT FORMAT_DATE('%Y-%m', created) AS month, JSON_VALUE(meta, '$.channel') AS channel FROM mc_dataset.mc_orders

-- case: ARRAY_AGG with ORDER BY and UNNEST
SELECT region, ARRAY_AGG(customer ORDER BY customer) AS customers FROM mc_dataset.mc_orders GROUP BY region

-- case: QUALIFY with a window function
SELECT customer, id, amount FROM mc_dataset.mc_orders WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY customer ORDER BY amount DESC) = 1

-- case: literals that look like SQL, a raw string and a # comment
SELECT 'DROP; -- x' AS s, r'\d+' AS pattern, """triple; quoted""" AS t # trailing comment
