// Concurrency through the Node binding (issue 18, item 2): N runs at once on one agent (default
// 100), awaited together with Promise.all(agent.ask(...)).
//
// The same set-up as the Rust bench (`cargo bench --bench concurrency`): the OpenAI client over
// real HTTP to the fake provider server (mc-fake-llm) answering every request after 50 ms, the
// bundled flights sample in DataFusion, a SQLite store on disk, native tool calls, no titles.
//
// Reports, as one JSON line and a table: how many runs completed, the wall time, the resident
// memory per in-flight run (peak RSS during the burst minus RSS before it, over the runs, sampled
// every 5 ms), and the process's threads, open file descriptors (sockets included) and libuv
// handles before the burst, right after it, and after the agent is dropped. Nothing is asserted.
//
//   node --expose-gc bindings-node/bench/concurrency.mjs [--runs N]
//
// Needs the addon built (`npm run build` in bindings-node) and the mc-fake-llm binary.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Agent } from '../index.mjs';
import { startFake, tempDir } from '../test/helpers.mjs';

const QUESTION = 'How many flights left JFK in 2013?';
const SQL = "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'";
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 100;

const status = (field) => {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(field));
  return line ? Number(line.split(/\s+/)[1]) : 0;
};
const fds = () => readdirSync('/proc/self/fd').length;
const handles = () => process.getActiveResourcesInfo().length;
const gc = async () => {
  globalThis.gc?.();
  await sleep(500);
};
const snapshot = () => ({ threads: status('Threads:'), fds: fds(), handles: handles(), rss_kib: status('VmRSS:') });

function script(runs) {
  // Second turns (the tool's result is in the conversation) first, so a first turn never takes
  // an answer; every reply after 50 ms.
  const delayed = (reply) => ({ type: 'delay', ms: 50, then: reply });
  const second = {
    matcher: { type: 'json_pointer', pointer: '/messages/3/role', value: 'tool' },
    reply: delayed({ type: 'text', text: '111279 flights left JFK in 2013.' }),
  };
  const first = {
    matcher: { type: 'body_contains', text: 'You are metricchat' },
    reply: delayed({
      type: 'tool_calls',
      calls: [{ id: 'call_1', name: 'create_data', arguments: { title: 'Flights from JFK', sql: SQL } }],
    }),
  };
  return [...Array(runs).fill(second), ...Array(runs).fill(first)];
}

const fake = await startFake(script(RUNS + 1));
const dir = tempDir();
let result;
try {
  let agent = new Agent({
    llm: { provider: 'openai', model: 'gpt-4.1-mini', baseUrl: fake.baseUrl, apiKey: 'sk-bench', supportsTools: true, maxRetries: 2 },
    connections: ['sample:flights'],
    store: `sqlite://${join(dir, 'runs.db')}`,
    protocol: 'native_tools',
    generateTitle: false,
    answerChecks: false,
  });
  // Warm up: the context hub, the pools, the first HTTP connection.
  const warm = await agent.ask(QUESTION);
  if (warm.status !== 'completed') throw new Error(`warm-up run ${warm.status}`);
  await gc();
  const before = snapshot();
  let peak = before.rss_kib;
  const sampler = setInterval(() => { peak = Math.max(peak, status('VmRSS:')); }, 5);
  const start = performance.now();
  let results = await Promise.allSettled(Array.from({ length: RUNS }, () => agent.ask(QUESTION)));
  const wall = (performance.now() - start) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, status('VmRSS:'));
  const completed = results.filter((r) => r.status === 'fulfilled' && r.value.status === 'completed').length;
  const errors = results.filter((r) => r.status === 'rejected').slice(0, 3).map((r) => String(r.reason));
  results = null;
  await gc();
  const afterBurst = snapshot();
  agent = null;
  await gc();
  const afterDrop = snapshot();
  result = {
    runs: RUNS,
    completed,
    errors,
    wall_s: Number(wall.toFixed(3)),
    kib_per_run: Number(((peak - before.rss_kib) / RUNS).toFixed(1)),
    rss_before_kib: before.rss_kib,
    rss_peak_kib: peak,
    rss_after_kib: afterBurst.rss_kib,
    before,
    after_burst: afterBurst,
    after_drop: afterDrop,
  };
} finally {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(JSON.stringify(result));
const r = result;
console.log(`${r.runs} concurrent runs through Node (Promise.all of agent.ask; fake model 50 ms; DataFusion flights; SQLite store):`);
console.log(`  completed                ${r.completed}/${r.runs}  ${JSON.stringify(r.errors)}`);
console.log(`  wall time                ${r.wall_s.toFixed(2)} s`);
console.log(`  memory per in-flight run ${r.kib_per_run.toFixed(1)} KiB  (RSS ${r.rss_before_kib} -> peak ${r.rss_peak_kib} KiB, after ${r.rss_after_kib} KiB)`);
for (const key of ['threads', 'fds', 'handles']) {
  console.log(`  ${key.padEnd(24)} before ${r.before[key]}, after the burst ${r.after_burst[key]}, after the agent is dropped ${r.after_drop[key]}`);
}
