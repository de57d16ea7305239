// Per-request options and host callbacks from Node (issue 15): `exposure` and `approval` on
// ask/stream (the agent's settings stay the default for other requests), the `credentials`
// callback running statements as the user's PostgreSQL role, and an approval handler whose
// `signal` aborts when the host decides first. The fake provider over HTTP; DataFusion on the
// bundled sample; PostgreSQL live (roles made with psql) for the credentials.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { Agent } from '../index.mjs';
import { fakeAgent, serviceUrlOrSkip, startFake, text, toolCall, when } from './helpers.mjs';

const TOP = 'SELECT carrier, count(*) AS n FROM flights GROUP BY carrier ORDER BY n DESC LIMIT 3';
const BIG = 'SELECT * FROM flights';

let fake;
before(async () => {
  const top = (tag) => when(tag, toolCall('create_data', { title: 'Top carriers', sql: TOP }));
  const big = (tag) => when(tag, toolCall('create_data', { title: 'All flights', sql: BIG }));
  fake = await startFake([
    top('[schema-only]'),
    when('[schema-only]', text('Done.')),
    top('[full]'),
    when('[full]', text('Done.')),
    big('[per-request-approval]'),
    when('not approved: not today', text('Denied.')),
    big('[abort]'),
    when('[abort]', text('Approved.')),
    when('[whoami]', toolCall('create_data', { title: 'Me', sql: 'SELECT current_user AS u' })),
    when('[whoami]', text('Done.')),
  ]);
});
after(async () => fake.close());

/** The JSON text of every request the fake model got whose body contains `tag`. */
async function seen(tag) {
  const { requests } = await fake.state();
  return requests.map((r) => JSON.stringify(r)).filter((r) => r.includes(tag)).join('\n');
}

test('exposure per request overrides the agent setting, both ways', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl, { answerChecks: false }));
  const result = await agent.ask('[schema-only] top carriers?', { exposure: 'schema_only' });
  assert.deepEqual(result.rows().map((r) => r.carrier), ['UA', 'B6', 'EV']);
  const withheld = await seen('[schema-only]');
  assert.match(withheld, /values_withheld/);
  for (const v of ['58665', '54635', '54173']) assert.ok(!withheld.includes(v), `${v} reached the model`);
  const hidden = new Agent(fakeAgent(fake.baseUrl, { answerChecks: false, exposure: 'schema_only' }));
  await hidden.ask('[full] top carriers?', { exposure: 'full' });
  assert.match(await seen('[full]'), /58665/);
  await assert.rejects(hidden.ask('[full] again', { exposure: 'everything' }), { code: 'InvalidInput' });
});

test('approval per request: the agent has none, one request asks for it', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl, { answerChecks: false }));
  const run = agent.stream('[per-request-approval] every flight?', {
    approval: { maxRows: 1000, timeout: '30s' },
  });
  let asked = 0;
  for await (const ev of run) {
    if (ev.type === 'approval.requested') {
      asked += 1;
      assert.match(ev.reason, /exceeds max_rows 1000/);
      await run.deny(ev.approval_id, 'not today');
    }
  }
  const result = await run.result();
  assert.equal(asked, 1);
  assert.equal(result.answer, 'Denied.');
  assert.deepEqual((await agent.auditLog()).map((r) => r.outcome), ['denied']);
  await assert.rejects(agent.ask('[per-request-approval] x', { approval: { maxRow: 1 } }), {
    code: 'InvalidInput',
  });
});

test("an approval handler's signal aborts when the host decides first", async () => {
  let aborted;
  const abortedOnce = new Promise((resolve) => (aborted = resolve));
  let started;
  const startedOnce = new Promise((resolve) => (started = resolve));
  const approvalHandler = (request, { signal }) =>
    new Promise((resolve) => {
      started();
      const timer = setTimeout(() => resolve(false), 30_000);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        aborted(signal.reason?.message ?? 'aborted');
        resolve(false);
      });
    });
  const agent = new Agent(
    fakeAgent(fake.baseUrl, { answerChecks: false, approval: { maxRows: 1000, timeout: '60s' }, approvalHandler }),
  );
  const t0 = Date.now();
  const run = agent.stream('[abort] every flight?');
  const by = [];
  for await (const ev of run) {
    if (ev.type === 'approval.requested') {
      await startedOnce;
      await run.approve(ev.approval_id);
    }
    if (ev.type === 'approval.resolved') by.push([ev.approved, ev.by]);
  }
  const result = await run.result();
  assert.deepEqual(by, [[true, 'host']]);
  assert.equal(result.answer, 'Approved.');
  assert.match(await abortedOnce, /decided elsewhere/);
  assert.ok(Date.now() - t0 < 25_000);
});

/** Runs `sql` with psql as the test database's superuser. */
function psql(url, sql) {
  const r = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

test('credentials: statements run as the user\'s PostgreSQL role; a throw fails them', async (t) => {
  const PG_AS_SET = serviceUrlOrSkip(t, 'MC_TEST_POSTGRES_URL', 'the PostgreSQL credentials test');
  if (!PG_AS_SET) return;
  psql(
    PG_AS_SET,
    'DROP TABLE IF EXISTS mc_node_secret; CREATE TABLE mc_node_secret (note text); ' +
      "INSERT INTO mc_node_secret VALUES ('only for A'); " +
      "DO $$ BEGIN CREATE ROLE mc_node_role_a NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; " +
      "DO $$ BEGIN CREATE ROLE mc_node_role_b NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; " +
      'REVOKE ALL ON mc_node_secret FROM PUBLIC; GRANT SELECT ON mc_node_secret TO mc_node_role_a;',
  );
  const PG = `${PG_AS_SET}${PG_AS_SET.includes('?') ? '&' : '?'}allow_privileged_login=true`;
  const roles = { alice: 'mc_node_role_a', bob: 'mc_node_role_b' };
  const asked = [];
  const credentials = async (user, connection) => {
    asked.push([user?.id ?? null, connection.backend]);
    if (user === null) return null;
    if (user.id === 'mallory') throw new Error('mallory has no database role');
    return { role: roles[user.id] };
  };
  const agent = new Agent(fakeAgent(fake.baseUrl, { connections: [PG], answerChecks: false, credentials }));
  const who = async (user) => (await agent.query('SELECT current_user AS u', { user })).rows()[0].u;
  assert.equal(await who({ id: 'alice' }), 'mc_node_role_a');
  assert.equal(await who({ id: 'bob' }), 'mc_node_role_b');
  assert.equal(await who(undefined), 'postgres');
  assert.equal((await agent.query('SELECT note FROM mc_node_secret', { user: { id: 'alice' } })).rows().length, 1);
  await assert.rejects(agent.query('SELECT note FROM mc_node_secret', { user: { id: 'bob' } }), /permission denied/);
  await assert.rejects(agent.query('SELECT 1 AS one', { user: { id: 'mallory' } }), /mallory has no database role/);
  // In a run: the tool's statement runs as the run's user.
  const result = await agent.ask('[whoami] who am I?', { user: { id: 'bob' } });
  assert.deepEqual(result.rows(), [{ u: 'mc_node_role_b' }]);
  assert.ok(asked.some(([u, b]) => u === 'alice' && b === 'postgres'));
  assert.throws(() => new Agent(fakeAgent(fake.baseUrl, { credentials: 'mc_node_role_a' })), {
    code: 'InvalidInput',
  });
});
