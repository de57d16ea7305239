// Cassettes through the LLM spec: record the agent's model traffic against the fake server,
// stop the server, and replay the same run from the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Agent, MetricChatError } from '../index.mjs';
import { fakeAgent, startFake, tempDir, text, toolCall, PLANNER } from './helpers.mjs';

const SQL = 'SELECT COUNT(*) AS n FROM airlines';
const KEY = 'sk-node-cassette-secret';

test('a cassette in the LLM spec records, then replays with the server stopped', async () => {
  const fake = await startFake([
    { matcher: PLANNER, reply: toolCall('create_data', { title: 'Airlines', sql: SQL }) },
    { matcher: PLANNER, reply: text('There are 16 airlines.') },
  ]);
  const cassette = join(tempDir(), 'cassettes', 'airlines.jsonl');
  const options = (mode) => {
    const o = fakeAgent(fake.baseUrl);
    o.llm = { ...o.llm, apiKey: KEY, cassette, cassetteMode: mode };
    return o;
  };
  const live = await new Agent(options('record')).ask('How many airlines are there?');
  await fake.close();
  assert.equal(live.status, 'completed');
  assert.ok(existsSync(cassette));
  const file = readFileSync(cassette, 'utf8');
  assert.equal(file.trim().split('\n').length, 2);
  assert.ok(!file.includes(KEY), 'the API key leaked into the cassette');

  const replayed = await new Agent(options('replay')).ask('How many airlines are there?');
  assert.equal(replayed.status, 'completed');
  assert.equal(replayed.answer, live.answer);
  assert.equal(replayed.sql, live.sql);
  assert.deepEqual(replayed.rows(), live.rows());

  // A question that was never recorded is answered by nobody: a typed error, no network.
  let outcome;
  try {
    outcome = await new Agent(options('replay')).ask('Something never recorded?');
  } catch (e) {
    outcome = e;
  }
  assert.ok(outcome instanceof MetricChatError || outcome.status === 'failed', String(outcome));
});

test('replaying a missing cassette is NotFound when the agent is built', async () => {
  const o = fakeAgent('http://127.0.0.1:9/v1');
  o.llm = { ...o.llm, cassette: join(tempDir(), 'none.jsonl'), cassetteMode: 'replay' };
  // The constructor never throws; the configuration error surfaces on first use / ready().
  await assert.rejects(new Agent(o).ready(), (e) => e instanceof MetricChatError && e.code === 'NotFound');
});
