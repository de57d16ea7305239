-- Benign SQL corpus for SQLite: analyst queries against the fixture (mc_orders with meta as JSON
-- text, mc_canary). Every case must pass the guard and run without error on SQLite 3.40+.
-- Includes known false refusals of earlier guards: PRAGMA table_info(…) and the GLOB operator.

-- case: PRAGMA table_info
PRAGMA table_info(mc_orders)

-- case: GLOB operator
SELECT DISTINCT customer FROM mc_orders WHERE customer GLOB 'a*'

-- case: pragma_table_info table-valued function
SELECT name, type FROM pragma_table_info('mc_orders')

-- case: json_extract on the meta column
SELECT id, json_extract(meta, '$.channel') AS channel FROM mc_orders WHERE json_extract(meta, '$.items') > 2

-- case: ->> JSON operator
SELECT id, meta ->> '$.items' AS items FROM mc_orders ORDER BY id

-- case: json_each over a literal array
SELECT value FROM json_each('[1, 2, 3]')

-- case: window function rank per region
SELECT region, customer, amount, rank() OVER (PARTITION BY region ORDER BY amount DESC) AS rnk FROM mc_orders

-- case: CTE with aggregation
WITH t AS (SELECT customer, sum(amount) AS total FROM mc_orders GROUP BY customer) SELECT * FROM t ORDER BY total DESC

-- case: bounded recursive CTE
WITH RECURSIVE d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 10) SELECT n FROM d

-- case: group_concat
SELECT region, group_concat(customer, ', ') AS customers FROM mc_orders GROUP BY region

-- case: strftime by month
SELECT strftime('%Y-%m', created) AS month, sum(amount) AS total FROM mc_orders GROUP BY month ORDER BY month

-- case: date modifiers
SELECT created, date(created, '+1 month') AS next_month, julianday('2024-12-31') - julianday(created) AS days_left FROM mc_orders

-- case: literals that contain SQL keywords, a semicolon and comment markers
SELECT 'DROP TABLE is a string' AS s, 'a;b' AS t, '-- not a comment' AS u, '/* nor this */' AS v, 'it''s' AS w

-- case: bracketed identifiers
SELECT [customer], [amount] FROM [mc_orders] WHERE [region] = 'north'

-- case: backticked identifiers
SELECT `customer` AS `Customer Name` FROM `mc_orders`

-- case: CASE and iif
SELECT id, CASE WHEN amount >= 100 THEN 'large' ELSE 'small' END AS size, iif(region = 'north', 1, 0) AS is_north FROM mc_orders

-- case: typeof and printf
SELECT typeof(amount) AS t, printf('%.2f', amount) AS formatted FROM mc_orders LIMIT 3

-- case: EXPLAIN QUERY PLAN
EXPLAIN QUERY PLAN SELECT * FROM mc_orders WHERE id = 1

-- case: sqlite_master listing
SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name

-- case: VALUES list
VALUES (1, 'a'), (2, 'b')

-- case: LIKE with ESCAPE
SELECT customer FROM mc_orders WHERE customer LIKE 'a\_%' ESCAPE '\' OR customer LIKE 'b%'

-- case: total and avg
SELECT total(amount) AS total, avg(amount) AS mean FROM mc_orders

-- case: LIMIT with OFFSET
SELECT customer, amount FROM mc_orders ORDER BY amount DESC LIMIT 3 OFFSET 1

-- case: IN subquery against the canary table
SELECT * FROM mc_orders WHERE id IN (SELECT id FROM mc_canary)

-- case: column named like a denied function is only a name
SELECT readfile FROM (SELECT 'just a column' AS readfile)
