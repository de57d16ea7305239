-- Benign SQL corpus for PostgreSQL: queries analysts write against the fixture (mc_orders,
-- mc_canary, the table "orders.csv"). Every case must pass the guard and run without error on
-- PostgreSQL 15. Several are known false refusals of earlier guards (TABLE, ROWS FROM, a quoted
-- table name ending in .csv, literals that look like SQL).

-- case: TABLE shorthand
TABLE mc_orders

-- case: ROWS FROM with two set-returning functions
SELECT * FROM ROWS FROM (generate_series(1,3), generate_series(1,2)) AS x(a,b)

-- case: quoted table name ending in .csv
SELECT id, note FROM "orders.csv" ORDER BY id

-- case: schema-qualified quoted table name ending in .csv
SELECT count(*) FROM public."orders.csv"

-- case: CTE with a window rank
WITH r AS (SELECT region, customer, sum(amount) AS total FROM mc_orders GROUP BY region, customer)
SELECT region, customer, total, rank() OVER (PARTITION BY region ORDER BY total DESC) AS rnk
FROM r
ORDER BY region, rnk

-- case: JSON operators and containment
SELECT id, meta->>'channel' AS channel, (meta->>'items')::int AS items FROM mc_orders WHERE meta @> '{"channel":"web"}'

-- case: jsonb_each_text in FROM
SELECT o.id, kv.key, kv.value FROM mc_orders AS o, jsonb_each_text(o.meta) AS kv WHERE o.id <= 2 ORDER BY o.id, kv.key

-- case: LATERAL latest order per customer
SELECT c.customer, last.id, last.amount
FROM (SELECT DISTINCT customer FROM mc_orders) AS c
CROSS JOIN LATERAL (SELECT id, amount FROM mc_orders AS o WHERE o.customer = c.customer ORDER BY created DESC LIMIT 1) AS last
ORDER BY c.customer

-- case: CASE buckets
SELECT id, CASE WHEN amount >= 100 THEN 'large' WHEN amount >= 50 THEN 'medium' ELSE 'small' END AS size FROM mc_orders ORDER BY id

-- case: literals that contain SQL keywords, a semicolon and comment markers
SELECT 'DROP TABLE is a string' AS s, 'a;b' AS t, '-- not a comment' AS u, '/* nor this */' AS v, 'it''s' AS w

-- case: dollar-quoted literal containing a DELETE and a semicolon
SELECT $$DELETE FROM mc_canary; -- just text$$ AS s

-- case: escape-string literal with a newline and a semicolon
SELECT E'line one\nline two; DROP TABLE x' AS s

-- case: Unicode escape string literal
SELECT U&'d\0061t\+000061' AS word

-- case: quoted column aliases with spaces and parentheses
SELECT customer AS "Customer Name", amount AS "Amount (USD)" FROM mc_orders ORDER BY amount DESC

-- case: date_trunc by month
SELECT date_trunc('month', created)::date AS month, sum(amount) AS total FROM mc_orders GROUP BY 1 ORDER BY 1

-- case: GROUPING SETS
SELECT region, customer, sum(amount) AS total FROM mc_orders GROUP BY GROUPING SETS ((region), (customer), ()) ORDER BY region, customer

-- case: ROLLUP with GROUPING()
SELECT region, customer, sum(amount) AS total, GROUPING(region, customer) AS g FROM mc_orders GROUP BY ROLLUP (region, customer) ORDER BY region, customer

-- case: CUBE
SELECT region, customer, count(*) FROM mc_orders GROUP BY CUBE (region, customer)

-- case: aggregate FILTER
SELECT region, count(*) FILTER (WHERE amount > 100) AS big, count(*) AS all_orders FROM mc_orders GROUP BY region

-- case: string_agg with DISTINCT and ORDER BY
SELECT region, string_agg(DISTINCT customer, ', ' ORDER BY customer) AS customers FROM mc_orders GROUP BY region

-- case: EXPLAIN of a query
EXPLAIN SELECT * FROM mc_orders WHERE region = 'north'

-- case: EXPLAIN ANALYZE of a read-only query
EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM mc_orders

-- case: SHOW a setting
SHOW search_path

-- case: current_setting is read-only
SELECT current_setting('TimeZone') AS tz

-- case: VALUES list
VALUES (1, 'a'), (2, 'b')

-- case: INTERSECT of two customer sets
SELECT customer FROM mc_orders WHERE region = 'north' INTERSECT SELECT customer FROM mc_orders WHERE region = 'south'

-- case: bounded recursive CTE
WITH RECURSIVE d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 12) SELECT n FROM d

-- case: generate_series over months
SELECT d::date AS month FROM generate_series('2024-01-01'::date, '2024-06-01'::date, interval '1 month') AS d

-- case: ordered-set aggregate
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median_amount FROM mc_orders

-- case: ILIKE and BETWEEN on dates
SELECT * FROM mc_orders WHERE customer ILIKE 'a%' AND created BETWEEN '2024-01-01' AND '2024-03-31'

-- case: regular-expression match
SELECT DISTINCT customer FROM mc_orders WHERE customer ~ '^(a|b)'

-- case: running total with a window frame
SELECT id, amount, sum(amount) OVER (ORDER BY created ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS rolling FROM mc_orders

-- case: DISTINCT ON
SELECT DISTINCT ON (customer) customer, id, amount FROM mc_orders ORDER BY customer, amount DESC

-- case: EXISTS and NOT IN subqueries
SELECT c.id, c.note FROM mc_canary AS c WHERE EXISTS (SELECT 1 FROM mc_orders AS o WHERE o.id = c.id) AND c.id NOT IN (SELECT id FROM mc_orders WHERE amount > 1000)

-- case: comments around the query
-- top three orders
SELECT * FROM mc_orders /* biggest first */ ORDER BY amount DESC LIMIT 3

-- case: large LIMIT (the guard lowers it)
SELECT * FROM mc_orders LIMIT 50000

-- case: FETCH FIRST
SELECT * FROM mc_orders ORDER BY id FETCH FIRST 5 ROWS ONLY

-- case: casts, to_char and pg_typeof
SELECT pg_typeof(amount)::text AS t, to_char(created, 'YYYY-MM') AS ym, amount::text || ' USD' AS label FROM mc_orders LIMIT 3

-- case: column named like a denied function is only a name
SELECT s.sleep FROM (SELECT 1 AS sleep) AS s

-- case: FILTER plus NULLIF and COALESCE
SELECT coalesce(nullif(region, ''), 'unknown') AS region, avg(amount) FILTER (WHERE customer <> 'bob') AS avg_not_bob FROM mc_orders GROUP BY 1
