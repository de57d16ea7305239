// The agent over the fake provider server and real DataFusion data: streaming order, results,
// Arrow round trip, JavaScript tools, abort, error codes, concurrency.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';

import { Agent, MetricChatError, connect } from '../index.mjs';
import { fakeAgent, startFake, text, toolCall, when } from './helpers.mjs';

const SQL = 'SELECT carrier, name, length(name) AS name_len FROM airlines ORDER BY carrier';

let fake;
before(async () => {
  fake = await startFake([
    // streaming + arrow
    when('[stream]', toolCall('create_data', {
      title: 'Airlines', sql: SQL, chart: { chart_type: 'bar', x: 'carrier', y: ['name_len'] },
    })),
    when('[stream]', text('There are 16 airlines.', { chunk_delay_ms: 2 })),
    // a JavaScript tool, then one that throws
    when('[tool]', toolCall('fx_rate', { currency: 'EUR' })),
    when('[tool]', text('The rate is 1.08.')),
    when('[tool-throws]', toolCall('fx_rate', { currency: 'XXX' })),
    when('[tool-throws]', text('That currency is unknown.')),
    // a schema violation never reaches the handler
    when('[tool-bad-args]', toolCall('fx_rate', { currency: 42 })),
    when('[tool-bad-args]', text('Bad arguments.')),
    // abort: the model never answers
    ...[1, 2, 3].flatMap(() => [when('[abort]', { type: 'stall' }), when('[abort-stream]', { type: 'stall' })]),
    // two readers of one run
    when('[shared]', toolCall('create_data', { title: 'Airlines', sql: SQL })),
    when('[shared]', text('Sixteen airlines.', { chunk_delay_ms: 2 })),
    // errors
    when('[unauthorized]', { type: 'status', status: 401 }),
  ]);
});
after(() => fake?.close());

async function collect(run) {
  const events = [];
  for await (const ev of run) events.push(ev);
  return events;
}

test('streams events in order and returns data, rows and chart', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl));
  const run = agent.stream('List the airlines [stream]');
  const events = await collect(run);
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'run.started');
  assert.equal(types.at(-1), 'run.finished');
  events.forEach((e, i) => assert.equal(e.seq, i, `seq of ${e.type}`));
  assert.ok(events.every((e) => e.run_id === events[0].run_id));
  for (const t of ['decision.final', 'tool.started', 'query.created', 'query.result',
    'visualization.created', 'tool.finished', 'block.upsert']) {
    assert.ok(types.includes(t), `missing ${t} in ${types.join(', ')}`);
  }
  assert.ok(types.indexOf('query.created') < types.indexOf('query.result'));
  assert.equal(events.at(-1).summary.status, 'completed');

  const result = await run.result();
  assert.equal(result.runId, events[0].run_id);
  assert.equal(await run.runId(), result.runId);
  assert.equal(result.status, 'completed');
  assert.equal(result.answer, 'There are 16 airlines.');
  assert.match(result.sql, /FROM airlines/);
  assert.equal(result.chart.spec.chart_type, 'bar');
  assert.equal(result.datasets[0].row_count, 16);
  assert.ok(result.usage.input_tokens > 0);

  const table = tableFromIPC(result.data);
  assert.equal(table.numRows, 16);
  assert.deepEqual(table.schema.fields.map((f) => f.name), ['carrier', 'name', 'name_len']);
  const rows = result.rows();
  assert.equal(rows.length, 16);
  assert.deepEqual(rows[0], { carrier: '9E', name: 'Endeavor Air Inc.', name_len: 17 });
  assert.equal(table.get(0).toJSON().name, rows[0].name);
});

const fxTool = (calls) => ({
  name: 'fx_rate',
  description: 'Exchange rate of a currency to USD.',
  parameters: {
    type: 'object',
    properties: { currency: { type: 'string' } },
    required: ['currency'],
  },
  handler: async ({ currency }, ctx) => {
    calls.push({ currency, ctx });
    await new Promise((r) => setTimeout(r, 5));
    if (currency === 'XXX') throw new Error(`unknown currency ${currency}`);
    return { currency, rate: 1.08 };
  },
});

test('calls a JavaScript tool; a thrown error becomes a model-visible tool error', async () => {
  const calls = [];
  const agent = new Agent(fakeAgent(fake.baseUrl, { tools: [fxTool(calls)] }));

  const run = agent.stream('What is the EUR rate? [tool]');
  const events = await collect(run);
  const finished = events.find((e) => e.type === 'tool.finished' && e.tool === 'fx_rate');
  assert.equal(finished.status, 'success');
  assert.match(JSON.stringify(finished.observation), /1\.08/);
  const result = await run.result();
  assert.equal(result.answer, 'The rate is 1.08.');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].currency, 'EUR');
  assert.equal(calls[0].ctx.runId, result.runId);
  assert.match(calls[0].ctx.question, /EUR rate/);

  const run2 = agent.stream('And XXX? [tool-throws]');
  const events2 = await collect(run2);
  const failed = events2.find((e) => e.type === 'tool.finished' && e.tool === 'fx_rate');
  assert.equal(failed.status, 'error');
  assert.match(failed.error, /unknown currency XXX/);
  assert.equal((await run2.result()).answer, 'That currency is unknown.');

  const run3 = agent.stream('Bad call [tool-bad-args]');
  const events3 = await collect(run3);
  const refused = events3.find((e) => e.type === 'tool.finished' && e.tool === 'fx_rate');
  assert.equal(refused.status, 'error');
  assert.match(refused.error, /schema/);
  assert.equal(calls.length, 2, 'the handler never saw the malformed call');
  await run3.result();
});

test('an AbortSignal cancels ask() with code Cancelled', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl));
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(), 150);
  await assert.rejects(agent.ask('Never answered [abort]', { signal: ac.signal }), (err) => {
    assert.ok(err instanceof MetricChatError);
    assert.equal(err.code, 'Cancelled');
    return true;
  });
  assert.ok(Date.now() - started < 10_000);

  // Already aborted: cancelled at once.
  await assert.rejects(
    agent.ask('x [abort-stream]', { signal: AbortSignal.abort() }),
    { code: 'Cancelled' },
  );
});

test('an aborted stream still ends with run.finished (cancelled)', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl));
  const ac = new AbortController();
  const run = agent.stream('Never answered [abort-stream]', { signal: ac.signal });
  const events = [];
  for await (const ev of run) {
    events.push(ev);
    if (ev.type === 'run.started') ac.abort();
  }
  assert.equal(events.at(-1).type, 'run.finished');
  assert.equal(events.at(-1).summary.status, 'cancelled');
  await assert.rejects(run.result(), { code: 'Cancelled' });
});

test('two readers of one run: each event once, in order, and both see the end', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl));
  const run = agent.stream('List the airlines [shared]');
  const [a, b] = await Promise.all([collect(run), collect(run)]);
  const seqs = [...a, ...b].map((e) => e.seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, seqs.map((_, i) => i), 'every event exactly once');
  for (const part of [a, b]) {
    part.forEach((e, i) => i > 0 && assert.ok(e.seq > part[i - 1].seq, 'in order per reader'));
  }
  const last = [...a, ...b].find((e) => e.seq === seqs.length - 1);
  assert.equal(last.type, 'run.finished');
  const [r1, r2] = await Promise.all([run.result(), run.result()]);
  assert.equal(r1.answer, 'Sixteen airlines.');
  assert.equal(r2.runId, r1.runId);
});

// Runs after the abort tests on purpose: a batch of 20 runs after aborts once hung.
test('20 concurrent runs in one process', async () => {
  const n = 20;
  const tag = (i) => `[conc-${String(i).padStart(2, '0')}]`;
  const script = [];
  for (let i = 0; i < n; i++) {
    script.push(when(tag(i), toolCall('create_data', {
      title: `q${i}`, sql: `SELECT ${i} AS i, count(*) AS n FROM airlines`,
    }, { chunk_delay_ms: 1 })));
    script.push(when(tag(i), text(`Answer ${i}.`, { chunk_delay_ms: 1 })));
  }
  const server = await startFake(script);
  try {
    const calls = [];
    const agent = new Agent(fakeAgent(server.baseUrl, { tools: [fxTool(calls)] }));
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => agent.ask(`Question ${tag(i)}`)),
    );
    results.forEach((r, i) => {
      assert.equal(r.answer, `Answer ${i}.`);
      assert.deepEqual(r.rows(), [{ i, n: 16 }]);
      assert.equal(tableFromIPC(r.data).numRows, 1);
    });
    assert.equal(new Set(results.map((r) => r.runId)).size, n);
    const state = await server.state();
    assert.deepEqual(state.unexpected ?? [], []);
  } finally {
    await server.close();
  }
});

test('errors carry the ErrorKind name as code', async () => {
  await assert.rejects(new Agent({ llm: 'openai:x', maxRow: 5 }).ready(), (err) => {
    assert.equal(err.code, 'InvalidInput');
    assert.match(err.message, /max_row/);
    return true;
  });
  await assert.rejects(new Agent({}).ask('q'), { code: 'InvalidInput' });
  await assert.rejects(
    new Agent(fakeAgent(fake.baseUrl, { connections: ['nosuch://x'] })).ready(),
    { code: 'InvalidInput' },
  );
  assert.throws(
    () => new Agent({ llm: 'openai:x', tools: [{ name: 't', description: 'd' }] }),
    { code: 'InvalidInput' },
  );
  await assert.rejects(
    new Agent(fakeAgent(fake.baseUrl, { tools: [{ name: 'bad name!', description: 'd', handler() {} }] })).ready(),
    { code: 'InvalidInput' },
  );

  const agent = new Agent(fakeAgent(fake.baseUrl));
  await assert.rejects(agent.query('DELETE FROM flights'), { code: 'InvalidInput' });
  await assert.rejects(agent.query('SELECT nope FROM airlines'), { code: 'QueryFailed' });
  await assert.rejects(connect('sample:flights').describe('no_such_table'), { code: 'NotFound' });
  await assert.rejects(agent.ask('Who? [unauthorized]'), (err) => {
    assert.equal(err.code, 'Unauthorized');
    return true;
  });
  const q = await agent.query('SELECT count(*) AS n FROM airlines');
  assert.deepEqual(q.rows(), [{ n: 16 }]);
  assert.deepEqual((await agent.connections()).map((c) => c.name), ['flights']);
  const runs = await agent.runs(5);
  assert.equal(runs[0].status, 'failed');
});


test('sql_first with sqlCandidates adopts the result most candidates agree on', async () => {
  // The greedy candidate (temperature 0) names the wrong airport; the two sampled ones agree.
  const zero = { type: 'json_pointer', pointer: '/temperature', value: 0.0 };
  const writer = (greedy, sql) => ({
    matcher: {
      type: 'all',
      matchers: [{ type: 'body_contains', text: 'You write one read-only SQL query' },
        greedy ? zero : { type: 'not', matcher: zero }],
    },
    reply: text('```sql\n' + sql + '\n```'),
  });
  const right = "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'";
  const own = await startFake([
    writer(true, "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'EWR'"),
    writer(false, right),
    writer(false, "SELECT COUNT(1) AS n FROM flights WHERE origin IN ('JFK')"),
    { matcher: { type: 'body_contains', text: 'You are a data analyst' }, reply: text('111,279 flights left JFK in 2013.') },
  ]);
  try {
    const agent = new Agent(fakeAgent(own.baseUrl, { protocol: 'sql_first', sqlCandidates: 3 }));
    const result = await agent.ask('How many flights left JFK in 2013?');
    assert.equal(result.status, 'completed');
    assert.ok(result.sql.startsWith(right), result.sql);
    assert.deepEqual(result.rows(), [{ flights: 111279 }]);
    assert.match(result.answer, /111,279/);
  } finally {
    await own.close();
  }
});
