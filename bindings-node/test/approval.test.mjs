// Cost preflight and approval from Node (issue 15, item 5): `approval` thresholds, the
// `approval.requested` event, `run.approve(id)` / `run.deny(id, reason)`, the `approvalHandler`
// option and the timeout, against the fake provider over HTTP and the bundled Parquet data
// (DataFusion's plan statistics give the estimate).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Agent } from '../index.mjs';
import { fakeAgent, startFake, text, toolCall, when } from './helpers.mjs';

// 336,776 rows; the guard's row cap makes it `LIMIT 10000`, which the plan expects to return.
const BIG = 'SELECT * FROM flights';
const approval = { maxRows: 1000, timeout: '30s' };

let fake;
before(async () => {
  const big = (tag) => when(tag, toolCall('create_data', { title: 'All flights', sql: BIG }));
  fake = await startFake([
    big('[approve]'),
    when('[approve]', text('Done.')),
    big('[deny]'),
    when('not approved: too big, aggregate first', text('Denied.')),
    big('[timeout]'),
    when('not approved: no decision within 0.3s', text('Timed out.')),
    big('[handler-deny]'),
    when('not approved: ask for fewer rows', text('Handler denied.')),
    big('[handler-approve]'),
    when('[handler-approve]', text('Handler approved.')),
  ]);
});
after(async () => fake.close());

const agentWith = (extra = {}) => new Agent(fakeAgent(fake.baseUrl, { answerChecks: false, approval, ...extra }));

/** Reads `run` to its end, calling `onRequest(ev)` on each `approval.requested`. */
async function drive(run, onRequest = async () => {}) {
  const events = [];
  for await (const ev of run) {
    events.push(ev);
    if (ev.type === 'approval.requested') await onRequest(ev);
  }
  return events;
}

const resolved = (events) =>
  events.filter((e) => e.type === 'approval.resolved').map((e) => [e.approved, e.by, e.reason ?? null]);

test('the host approves: the statement runs, audited with who approved it', async () => {
  const agent = agentWith();
  const run = agent.stream('[approve] every flight?');
  const events = await drive(run, async (ev) => {
    assert.ok(ev.estimate.rows > 1000, JSON.stringify(ev));
    assert.match(ev.reason, /exceeds max_rows 1000/);
    assert.ok(ev.sql.startsWith(BIG));
    assert.equal(ev.timeout_ms, 30000);
    assert.deepEqual((await run.pendingApprovals()).map((p) => p.approval_id), [ev.approval_id]);
    await run.approve(ev.approval_id);
    await assert.rejects(run.approve(ev.approval_id), (err) => err.code === 'NotFound');
  });
  const result = await run.result();
  assert.deepEqual(resolved(events), [[true, 'host', null]]);
  assert.equal(result.datasets[0].row_count, 10000);
  const log = await agent.auditLog();
  assert.deepEqual(log.map((r) => r.outcome), ['success']);
  assert.deepEqual(log[0].policy, ['approved by host']);
});

test('the host denies: the model reads why, the audit log says denied', async () => {
  const agent = agentWith();
  const run = agent.stream('[deny] every flight?');
  const events = await drive(run, (ev) => run.deny(ev.approval_id, 'too big, aggregate first'));
  const result = await run.result();
  assert.equal(result.answer, 'Denied.');
  assert.deepEqual(resolved(events), [[false, 'host', 'too big, aggregate first']]);
  const log = await agent.auditLog({ outcome: 'denied' });
  assert.equal(log.length, 1);
  assert.equal(log[0].error, 'not approved: too big, aggregate first (by host)');
});

test('no decision in time denies', async () => {
  const agent = agentWith({ approval: { maxRows: 1000, timeout: 300 } });
  const run = agent.stream('[timeout] every flight?');
  const events = await drive(run);
  assert.equal((await run.result()).answer, 'Timed out.');
  assert.deepEqual(resolved(events), [[false, 'timeout', 'no decision within 0.3s']]);
  const log = await agent.auditLog();
  assert.deepEqual(log.map((r) => r.outcome), ['denied']);
  assert.match(log[0].error, /\(by timeout\)$/);
});

test('approvalHandler decides: a denial with a reason, an async approval', async () => {
  const seen = [];
  const denying = agentWith({
    approvalHandler: (request) => {
      seen.push(request);
      return [false, 'ask for fewer rows'];
    },
  });
  assert.equal((await denying.ask('[handler-deny] every flight?')).answer, 'Handler denied.');
  assert.equal(seen.length, 1);
  assert.ok(seen[0].estimate.rows > 1000 && seen[0].sql.startsWith(BIG));

  const approving = agentWith({
    approvalHandler: async () => {
      await new Promise((r) => setTimeout(r, 10));
      return { approved: true };
    },
  });
  const run = approving.stream('[handler-approve] every flight?');
  const events = await drive(run);
  assert.equal((await run.result()).answer, 'Handler approved.');
  assert.deepEqual(resolved(events), [[true, 'handler', null]]);
  assert.deepEqual((await approving.auditLog())[0].policy, ['approved by handler']);
  const state = await fake.state();
  assert.deepEqual(state.unexpected, []);
});
