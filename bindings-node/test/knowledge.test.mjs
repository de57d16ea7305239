// The team's knowledge from Node: rules, instructions and memories kept in a SQLite store, what
// reaches a run's prompt (explainContext, and the request the fake model received), and search.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { Agent, MetricChatError } from '../index.mjs';
import { fakeAgent, startFake, tempDir, text, when } from './helpers.mjs';

let fake;
before(async () => {
  fake = await startFake([when('[knowledge]', text('Noted.'))]);
});
after(() => fake?.close());

test('instructions and memories persist in the store and reach the prompt', async () => {
  const store = `sqlite://${join(tempDir(), 'knowledge.db')}`;
  const agent = new Agent(fakeAgent(fake.baseUrl, { store }));

  const rule = await agent.instructions.add('Delays are in minutes; report them as hours.', {
    scope: { tables: ['flights'] },
    labels: ['units'],
  });
  assert.equal(rule.status, 'approved');
  assert.deepEqual(rule.scope, { kind: 'tables', tables: ['flights'] });
  const draft = await agent.instructions.add('Exclude cancelled flights.', { status: 'draft' });
  assert.equal(draft.status, 'draft');
  const fact = await agent.memory.add('Carrier 9E is Endeavor Air.', { scope: { connection: 'flights' } });
  assert.deepEqual(fact.scope, { kind: 'connection', connection: 'flights' });

  // A second agent on the same store sees them (the store is the source of truth).
  const again = new Agent(fakeAgent(fake.baseUrl, { store }));
  const drafts = await again.instructions.list({ status: 'draft' });
  assert.deepEqual(drafts.map((i) => i.text), ['Exclude cancelled flights.']);
  assert.deepEqual((await again.instructions.list({ label: 'units' })).map((i) => i.id), [rule.id]);
  assert.equal((await again.memory.search('Endeavor', 3))[0].id, fact.id);

  // Only approved instructions in scope reach the prompt; approving the draft adds it.
  let { plan, explanation } = await again.explainContext('Average departure delay by carrier');
  assert.ok(plan.tables.some((t) => t.table.name === 'flights'), explanation);
  assert.ok(plan.system_prompt.includes('report them as hours'));
  assert.ok(plan.system_prompt.includes('Endeavor Air'));
  assert.ok(!plan.system_prompt.includes('Exclude cancelled flights'));
  assert.match(explanation, /flights/);
  await again.instructions.approve(draft.id);
  ({ plan } = await again.explainContext('Average departure delay by carrier'));
  assert.ok(plan.system_prompt.includes('Exclude cancelled flights'));
  const section = plan.sections.find((s) => s.name === 'rules');
  assert.ok(section.tokens > 0 && section.tokens <= section.budget, JSON.stringify(section));

  // A run sends the same prompt to the model.
  await again.rules.add('Round every figure to one decimal.');
  assert.deepEqual(await again.rules.list(), ['Round every figure to one decimal.']);
  const result = await again.ask('Average departure delay by carrier [knowledge]');
  assert.equal(result.answer, 'Noted.');
  const state = await fake.state();
  const body = JSON.stringify(state.requests.at(-1).body);
  for (const t of ['report them as hours', 'Exclude cancelled flights', 'Endeavor Air', 'Round every figure']) {
    assert.ok(body.includes(t), `${t} missing from the request`);
  }
  assert.equal(await again.rules.remove('Round every figure to one decimal.'), true);
  assert.equal(await again.rules.remove('Round every figure to one decimal.'), false);

  const hits = await again.searchKnowledge('hours', 3);
  assert.ok(hits.length > 0 && JSON.stringify(hits[0]).includes('hours'), JSON.stringify(hits));

  await again.instructions.archive(rule.id);
  ({ plan } = await again.explainContext('Average departure delay by carrier'));
  assert.ok(!plan.system_prompt.includes('report them as hours'));
  await again.instructions.delete(rule.id);
  await again.memory.delete(fact.id);
  assert.equal((await again.memory.list()).length, 0);
});

test('bad input is an InvalidInput error', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl));
  await assert.rejects(agent.instructions.add('x', { scope: 'everywhere' }), (err) => {
    assert.ok(err instanceof MetricChatError);
    assert.equal(err.code, 'InvalidInput');
    assert.match(err.message, /scope/);
    return true;
  });
  await assert.rejects(agent.memory.delete('not-an-id'), { code: 'InvalidInput' });
  await assert.rejects(agent.instructions.approve('6f9619ff-8b86-d011-b42d-00cf4fc964ff'), { code: 'NotFound' });
});

test('context options reach the context hub (the core ContextConfig, through the spec)', async () => {
  const question = "Average departure delay by carrier, with the airline's full name";
  const { plan: full } = await new Agent(fakeAgent(fake.baseUrl)).explainContext(question);
  assert.ok(full.tables.length >= 2, JSON.stringify(full.tables.map((t) => t.table.name)));
  const limited = new Agent(fakeAgent(fake.baseUrl, { context: { maxFullTables: 1 } }));
  const { plan } = await limited.explainContext(question);
  assert.equal(plan.tables.length, 1);
  // The agent is built in the background: a bad option rejects its first call.
  const bad = new Agent(fakeAgent(fake.baseUrl, { context: { maxFullTable: 1 } }));
  await assert.rejects(bad.explainContext(question), /max_full_table/);
});
