// Dashboards from Node: re-running a stored query, a dashboard from a run, refresh, save
// (versioned), the page (toHtml) and errors whose code is the core's kind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';

import { Agent, Dashboard, MetricChatError } from '../index.mjs';
import { fakeAgent, startFake, text, toolCall, when } from './helpers.mjs';

const BY_CARRIER = 'SELECT carrier, COUNT(*) AS flights FROM flights GROUP BY carrier ORDER BY flights DESC';
const TOTAL = 'SELECT COUNT(*) AS flights FROM flights';

let fake;
before(async () => {
  fake = await startFake([
    when('[dash]', toolCall('create_data', {
      title: 'Flights by carrier', sql: BY_CARRIER, chart: { chart_type: 'bar', x: 'carrier', y: ['flights'] },
    })),
    when('[dash]', toolCall('create_data', { title: 'Total flights', sql: TOTAL })),
    when('[dash]', text('United flew the most flights.')),
  ]);
});
after(() => fake?.close());

test('rerunQuery, dashboardFromRun, refresh, save and toHtml', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl, { answerChecks: false }));
  const result = await agent.ask('[dash] Who flies the most?');
  const queryId = result.datasets[0].query_id;

  const again = await agent.rerunQuery(queryId);
  assert.equal(tableFromIPC(again.data).numRows, 16);

  const d = await agent.dashboardFromRun(result.runId);
  assert.deepEqual(d.blocks.map((b) => b.content.type), ['text', 'kpi', 'chart', 'table']);
  await d.refresh(agent);
  assert.equal(d.block('total-flights').result.kpi.value, 336776);
  assert.ok(d.blocks.every((b) => !b.result?.error));

  assert.equal(await agent.dashboards.save(d), 1);
  assert.equal(await agent.dashboards.save(d), 2);
  const back = await agent.dashboards.get(d.id);
  assert.equal(back.version, 2);
  assert.deepEqual((await agent.dashboards.list()).map((s) => s.version), [2]);

  const html = d.toHtml();
  assert.match(html, /data-kpi-value="336776"/);
  assert.ok(html.length < 1_500_000);
});

test('bad dashboards fail with a code and name the block', () => {
  assert.throws(
    () => Dashboard.from({ title: 'x', blocks: [{ id: 'b', content: { type: 'text', markdown: 'hi', colour: 'red' } }] }),
    (err) => err instanceof MetricChatError && err.code === 'InvalidInput' && /block `b`/.test(err.message),
  );
  const d = Dashboard.from({
    title: 'x',
    parameters: [{ name: 'carrier', type: 'text', value: 'UA' }],
    blocks: [{ id: 'n', content: { type: 'kpi', query: { sql: 'SELECT COUNT(*) FROM flights WHERE carrier = :carrier' } } }],
  });
  assert.throws(() => d.setParameter('carrier', 7), (err) => err.code === 'InvalidInput');
  d.setParameter('carrier', 'DL');
  assert.equal(d.parameters[0].value, 'DL');
});
