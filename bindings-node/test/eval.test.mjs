// Evals from Node (`evalSuite`): a three-case suite through an agent driven by the fake provider
// server over real HTTP, on the bundled flights sample (DataFusion).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  Agent,
  MetricChatError,
  compareEvalReports,
  evalReportToHtml,
  evalReportToMarkdown,
  evalSuite,
} from '../index.mjs';
import { PLANNER, fakeAgent, startFake, tempDir, text, toolCall } from './helpers.mjs';

const SUITE = `
name: node-mini
description: Three questions on the bundled flights sample.
cases:
  - id: jfk-flights
    question: How many flights departed from JFK in 2013?
    tags: [count, filter]
    expect:
      sql: SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'
      tools: [create_data]
  - id: airline-count
    question: How many airlines are in the data?
    tags: [count]
    expect:
      answer_contains: ["16"]
  - id: best-airport
    question: Which airport is the best?
    tags: [ambiguous]
    expect:
      clarify: true
`;
const IDS = ['jfk-flights', 'airline-count', 'best-airport'];

/** What the scripted model does per question: its first reply, then its answer. */
const MODEL = [
  ['How many flights departed from JFK in 2013?',
    toolCall('create_data', { title: 'JFK', sql: "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'" }),
    'That many flights departed from JFK in 2013.'],
  // The wrong number: this case fails (answer_missing_value).
  ['How many airlines are in the data?',
    toolCall('create_data', { title: 'Airlines', sql: 'SELECT COUNT(*) AS n FROM airlines' }),
    'There are 15 airlines.'],
  ['Which airport is the best?',
    toolCall('clarify', { question: 'Best by what: most flights or least delay?' }),
    'Here is the result.'],
];

/** Exchanges keyed by question (cases run concurrently): a tool call, then the answer. */
function script(times) {
  const toolResult = { type: 'body_contains', text: '"role":"tool"' };
  const out = [];
  for (let i = 0; i < times; i++) {
    for (const [question, first, answer] of MODEL) {
      const asks = { type: 'body_contains', text: question };
      out.push({ matcher: { type: 'all', matchers: [PLANNER, asks, { type: 'not', matcher: toolResult }] }, reply: first });
      out.push({ matcher: { type: 'all', matchers: [PLANNER, asks, toolResult] }, reply: text(answer) });
    }
  }
  return out;
}

let fake;
before(async () => {
  fake = await startFake([
    ...script(3),
    // baseline mode: one prompt, one SQL query
    { matcher: { type: 'body_contains', text: 'Write one SQL query' },
      reply: text("```sql\nSELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'\n```") },
  ]);
});
after(() => fake?.close());

test('evalSuite runs, checks, renders, compares and stores', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl));
  const seen = [];
  const report = await evalSuite(agent, SUITE, {
    concurrency: 3, timeoutMs: 120_000, label: 'scripted', onProgress: (p) => seen.push(p),
  });

  assert.equal(report.suite, 'node-mini');
  assert.equal(report.mode, 'agent');
  assert.equal(report.label, 'scripted');
  assert.deepEqual([report.summary.passed, report.summary.total], [2, 3], evalReportToMarkdown(report));
  assert.deepEqual(report.cases.map((c) => c.id), IDS);
  assert.deepEqual(report.cases.map((c) => c.passed), [true, false, true]);
  assert.equal(report.cases[1].failure, 'answer_missing_value');
  assert.equal(report.cases[1].answer, 'There are 15 airlines.');
  assert.match(report.cases[0].sql, /^SELECT COUNT\(\*\) AS flights FROM flights/);
  assert.match(report.cases[2].clarification, /^Best by what/);
  assert.deepEqual(report.summary.failure_classes, { answer_missing_value: 1 });
  assert.deepEqual(report.summary.by_tag.count, [1, 2]);
  assert.deepEqual(seen.map((p) => p.done), [1, 2, 3]);
  assert.equal(seen.at(-1).total, 3);
  assert.equal(seen.at(-1).passed, 2);
  assert.deepEqual(new Set(seen.map((p) => p.last.id)), new Set(IDS));
  assert.deepEqual((await fake.state()).unexpected, []);

  const html = evalReportToHtml(report);
  assert.ok(html.startsWith('<!doctype html>'));
  for (const id of IDS) {
    assert.ok(html.includes(id), `${id} missing from the HTML`);
    assert.ok(evalReportToMarkdown(report).includes(`\`${id}\``));
  }
  assert.match(evalReportToMarkdown(report), /2\/3 correct/);

  // Against itself nothing changed; against a run where the failing case passed, it regressed.
  const same = compareEvalReports(report, report);
  assert.equal(same.has_regressions, false);
  assert.deepEqual([same.regressions, same.fixes], [[], []]);
  const earlier = structuredClone(report);
  earlier.cases[1].passed = true;
  delete earlier.cases[1].failure;
  earlier.summary.passed = 3;
  const cmp = compareEvalReports(report, earlier);
  assert.equal(cmp.has_regressions, true);
  assert.deepEqual(cmp.regressions.map((r) => r.id), ['airline-count']);
  assert.equal(cmp.regressions[0].after, 'answer_missing_value');
  assert.deepEqual([cmp.before, cmp.after, cmp.total], [3, 2, 3]);
  assert.match(cmp.markdown, /REGRESSION `airline-count`/);
  // A report read back from JSON renders the same.
  assert.equal(evalReportToHtml(JSON.parse(JSON.stringify(report))), html);

  // store (default true) kept it in the agent's store.
  const stored = await agent.evalHistory();
  assert.deepEqual(stored.map((r) => r.id), [report.id]);
  assert.deepEqual(stored[0], report);
  assert.deepEqual(await agent.evalHistory({ suite: 'another-suite' }), []);
});

test('a suite file, only some cases, not stored; the baseline mode', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl));
  const file = join(tempDir(), 'mini.yaml');
  writeFileSync(file, SUITE);
  const one = await agent.evalSuite(file, { only: 'jfk-flights', store: false });
  assert.deepEqual([one.summary.passed, one.summary.total], [1, 1]);
  assert.deepEqual(one.cases.map((c) => c.id), ['jfk-flights']);
  assert.deepEqual(await agent.evalHistory(), []);

  const baseline = await evalSuite(agent, file, { baseline: true, only: ['jfk-flights'] });
  assert.equal(baseline.mode, 'baseline');
  assert.equal(baseline.cases[0].checks[0].name, 'dataset');
  assert.deepEqual([baseline.summary.passed, baseline.summary.total], [1, 1], evalReportToMarkdown(baseline));
  assert.equal((await agent.evalHistory({ suite: 'node-mini' })).length, 1);
});

test('a bad suite rejects with InvalidInput naming the key', async () => {
  const agent = new Agent(fakeAgent(fake.baseUrl));
  const bad = SUITE.replace('answer_contains', 'answer_contain');
  await assert.rejects(evalSuite(agent, bad), (e) => {
    assert.ok(e instanceof MetricChatError, String(e));
    assert.equal(e.code, 'InvalidInput');
    assert.match(e.message, /answer_contain/);
    assert.match(e.message, /airline-count/);
    return true;
  });
  const file = join(tempDir(), 'bad.yaml');
  writeFileSync(file, bad);
  await assert.rejects(agent.evalSuite(file), (e) => e.code === 'InvalidInput' && /answer_contain/.test(e.message));
  await assert.rejects(agent.evalSuite(join(tempDir(), 'missing.yaml')), (e) => e.code === 'InvalidInput'
    && /cannot read eval suite/.test(e.message));
  await assert.rejects(agent.evalSuite(SUITE, { only: ['nope'] }), (e) => e.code === 'InvalidInput'
    && /no case `nope`/.test(e.message));
  assert.throws(() => evalReportToHtml({ not: 'a report' }), (e) => e.code === 'InvalidInput');
  await assert.rejects(evalSuite({}, SUITE), (e) => e.code === 'InvalidInput');
});

test('aborting the signal cancels the eval; the report of what ran is stored', async () => {
  const stall = await startFake([{ matcher: PLANNER, reply: { type: 'stall' } }]);
  try {
    const agent = new Agent(fakeAgent(stall.baseUrl));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const started = Date.now();
    const report = await evalSuite(agent, SUITE, { only: ['jfk-flights'], signal: controller.signal });
    assert.ok(Date.now() - started < 15_000);
    assert.equal(report.cases[0].failure, 'cancelled');
    assert.equal((await agent.evalHistory())[0].id, report.id);
  } finally {
    await stall.close();
  }
});
