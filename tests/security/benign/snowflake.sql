-- Benign SQL corpus for Snowflake (written from the documentation; no live engine here). Tables
-- mc_orders (meta as VARIANT) and mc_canary. Every case must pass the guard.

-- case: VARIANT path access with a cast
SELECT id, meta:channel::string AS channel FROM mc_orders

-- case: QUALIFY keeps the biggest order per customer
SELECT customer, id, amount FROM mc_orders QUALIFY ROW_NUMBER() OVER (PARTITION BY customer ORDER BY amount DESC) = 1

-- case: TOP n
SELECT TOP 5 * FROM mc_orders ORDER BY amount DESC

-- case: DATE_TRUNC by month
SELECT DATE_TRUNC('month', created) AS month, COUNT(*) AS n FROM mc_orders GROUP BY 1 ORDER BY 1

-- case: IFF and LISTAGG … WITHIN GROUP
SELECT region, LISTAGG(customer, ', ') WITHIN GROUP (ORDER BY customer) AS customers, SUM(IFF(amount > 100, 1, 0)) AS big FROM mc_orders GROUP BY region

-- case: literal with an escaped quote, a semicolon and comment markers
SELECT 'it\'s; not -- a comment' AS s, $$a dollar-quoted; DROP TABLE x$$ AS t

-- case: FLATTEN over an array literal
SELECT f.value FROM TABLE(FLATTEN(INPUT => ARRAY_CONSTRUCT(1, 2, 3))) AS f
