// connect(url) over real DataFusion, SQLite and PostgreSQL: tables, guarded queries, the Arrow
// round trip, how integers and decimals come out, abort; and an agent run on each backend.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';

import { Agent, connect, llm } from '../index.mjs';
import { fakeAgent, serviceUrlOrSkip, startFake, tempDir, text, toolCall, when } from './helpers.mjs';

// With the opt-in the test server's superuser login needs for model-written SQL.
const privilegedOk = (url) => `${url}${url.includes('?') ? '&' : '?'}allow_privileged_login=true`;

let fake;
before(async () => {
  fake = await startFake([
    when('[sqlite]', toolCall('create_data', { title: 'Shops', sql: 'SELECT city, count(*) AS shops FROM shops GROUP BY city ORDER BY city' })),
    when('[sqlite]', text('Two cities.')),
    when('[pg]', toolCall('create_data', { title: 'Series', sql: 'SELECT n, n * n AS sq FROM generate_series(1, 5) AS g(n) ORDER BY n' })),
    when('[pg]', text('Five squares.')),
  ]);
});
after(() => fake?.close());

test('DataFusion: tables, describe, guarded query, Arrow round trip', async () => {
  const conn = connect('sample:flights', { maxRows: 5 });
  assert.equal(conn.info.backend, 'datafusion');
  const names = (await conn.tables()).map((t) => t.name).sort();
  assert.deepEqual(names.filter((n) => n !== 'weather'), ['airlines', 'airports', 'flights', 'planes']);
  const schema = await conn.describe('airlines');
  assert.deepEqual(schema.columns.map((c) => c.name), ['carrier', 'name']);

  const res = await conn.query('SELECT carrier, name FROM airlines ORDER BY carrier');
  assert.equal(res.rowCount, 5, 'the row cap applies');
  assert.match(res.sql, /airlines/);
  const table = tableFromIPC(res.data);
  assert.equal(table.numRows, 5);
  assert.deepEqual(table.getChild('carrier').toArray(), res.rows().map((r) => r.carrier));

  await assert.rejects(conn.query('DROP TABLE airlines'), { code: 'InvalidInput' });
  await assert.rejects(conn.query('SELECT nope FROM airlines'), { code: 'QueryFailed' });
});

test('rows(): safe integers are numbers, larger ones BigInt, long decimals strings', async () => {
  const conn = connect('sample:flights');
  const res = await conn.query(
    'SELECT CAST(42 AS BIGINT) AS small, CAST(9007199254740993 AS BIGINT) AS big, ' +
      'CAST(-9007199254740993 AS BIGINT) AS neg, CAST(1.25 AS DECIMAL(10, 2)) AS dec_short, ' +
      "CAST('12345678901234567.89' AS DECIMAL(20, 2)) AS dec_long, 0.5 AS f, NULL AS nothing",
  );
  const [row] = res.rows();
  assert.equal(row.small, 42);
  assert.equal(row.big, 9007199254740993n);
  assert.equal(row.neg, -9007199254740993n);
  assert.equal(row.dec_short, 1.25);
  assert.equal(row.dec_long, '12345678901234567.89');
  assert.equal(row.f, 0.5);
  assert.equal(row.nothing, null);
  const table = tableFromIPC(res.data);
  assert.equal(table.getChild('big').get(0), 9007199254740993n);
});

test('an AbortSignal cancels a running query', async () => {
  const conn = connect('sample:flights');
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const started = Date.now();
  await assert.rejects(
    conn.query('SELECT count(*) FROM flights a JOIN flights b ON a.dep_delay < b.dep_delay', { signal: ac.signal }),
    { code: 'Cancelled' },
  );
  assert.ok(Date.now() - started < 10_000);
  await assert.rejects(conn.query('SELECT 1', { signal: AbortSignal.abort() }), { code: 'Cancelled' });
});

test('connect errors carry codes', () => {
  assert.throws(() => connect('nosuch://x'), { code: 'InvalidInput' });
  assert.throws(() => connect('file:///definitely/not/here/*.parquet'), { code: 'NotFound' });
});

/** A small SQLite file, made with the sqlite3 CLI or Python's sqlite3 module. */
function makeSqlite(path) {
  const sql =
    "CREATE TABLE shops (id INTEGER PRIMARY KEY, city TEXT NOT NULL, revenue REAL);" +
    "INSERT INTO shops (city, revenue) VALUES ('Berlin', 10.5), ('Berlin', 20), ('Paris', 7.25);";
  let r = spawnSync('sqlite3', [path, sql]);
  if (r.status === 0) return true;
  r = spawnSync('python3', ['-c', `import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()`, path, sql]);
  return r.status === 0;
}

test('SQLite: connect, query, and an agent run', async (t) => {
  const path = join(tempDir(), 'shops.db');
  if (!makeSqlite(path)) {
    t.skip('SKIPPED: neither the sqlite3 CLI nor python3 is here to make the test database');
    return;
  }
  const url = `sqlite://${path}`;
  const conn = connect(url);
  assert.equal(conn.info.backend, 'sqlite');
  assert.deepEqual((await conn.tables()).map((t) => t.name), ['shops']);
  const res = await conn.query('SELECT city, sum(revenue) AS revenue FROM shops GROUP BY city ORDER BY city');
  assert.deepEqual(res.rows(), [{ city: 'Berlin', revenue: 30.5 }, { city: 'Paris', revenue: 7.25 }]);
  assert.equal(tableFromIPC(res.data).numRows, 2);
  await assert.rejects(conn.query('DELETE FROM shops'), { code: 'InvalidInput' });

  const store = `sqlite://${join(tempDir(), 'runs.db')}`;
  const agent = new Agent(fakeAgent(fake.baseUrl, { connections: [conn], store }));
  const result = await agent.ask('Shops per city? [sqlite]');
  assert.equal(result.answer, 'Two cities.');
  assert.deepEqual(result.rows(), [{ city: 'Berlin', shops: 2 }, { city: 'Paris', shops: 1 }]);
  assert.equal((await agent.runs(1))[0].id, result.runId);
});

test('PostgreSQL: connect, query, and an agent run', async (t) => {
  const PG_AS_SET = serviceUrlOrSkip(
    t, 'MC_TEST_POSTGRES_URL', 'the PostgreSQL tests (e.g. postgres://postgres@127.0.0.1:5432/test)',
  );
  if (!PG_AS_SET) return;
  const PG = privilegedOk(PG_AS_SET);
  const conn = connect(PG);
  assert.equal(conn.info.backend, 'postgres');
  const res = await conn.query(
    "SELECT n, 'row ' || n AS label, n::bigint * 4000000000000000 AS big, (n / 3.0)::numeric(30, 20) AS ratio " +
      'FROM generate_series(1, 3) AS g(n) ORDER BY n',
  );
  const rows = res.rows();
  assert.equal(rows.length, 3);
  assert.equal(rows[0].label, 'row 1');
  assert.equal(rows[2].big, 12000000000000000n);
  assert.equal(typeof rows[0].ratio, 'string');
  assert.equal(tableFromIPC(res.data).numRows, 3);
  await assert.rejects(conn.query('CREATE TABLE x (a int)'), { code: 'InvalidInput' });
  await assert.rejects(connect(PG_AS_SET).query('SELECT 1 AS one'), {
    code: 'Unauthorized',
    message: /allow_privileged_login=true/,
  });

  const agent = new Agent(fakeAgent(fake.baseUrl, { connections: [PG] }));
  const result = await agent.ask('Squares? [pg]');
  assert.equal(result.answer, 'Five squares.');
  assert.deepEqual(result.rows().map((r) => r.sq), [1, 4, 9, 16, 25]);
});

test('llm helpers build LlmSpec objects', () => {
  assert.deepEqual(llm.openai('gpt-4.1-mini'), { provider: 'openai', model: 'gpt-4.1-mini' });
  assert.deepEqual(llm.anthropic({ model: 'claude-sonnet-4-5', maxRetries: 2 }), {
    provider: 'anthropic', model: 'claude-sonnet-4-5', max_retries: 2,
  });
  assert.deepEqual(llm.ollama({ model: 'qwen2.5-coder:1.5b' }), { provider: 'ollama', model: 'qwen2.5-coder:1.5b' });
  assert.deepEqual(llm.openaiCompatible({ baseUrl: 'http://127.0.0.1:1/v1', model: 'q' }), {
    provider: 'openai_compatible', base_url: 'http://127.0.0.1:1/v1', model: 'q',
  });
});
