// Test helpers: the fake OpenAI-compatible server (mc-fake-llm) as a child process, and agent
// options pointing at it.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'metricchat-target');
export const FAKE_LLM = process.env.MC_FAKE_LLM || join(targetDir, 'debug', 'mc-fake-llm');

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'mc-node-'));
}

/** The system prompt's first words: matches every planner request. */
export const PLANNER = { type: 'body_contains', text: 'You are metricchat' };

/** A planner exchange whose request body contains `text` too. */
export function when(text, reply) {
  return {
    matcher: { type: 'all', matchers: [PLANNER, { type: 'body_contains', text }] },
    reply,
  };
}

export const toolCall = (name, args, extra = {}) => ({
  type: 'tool_calls',
  calls: [{ id: '', name, arguments: args }],
  ...extra,
});
export const text = (t, extra = {}) => ({ type: 'text', text: t, ...extra });

/** Starts mc-fake-llm with `script`; resolves to `{ baseUrl, state(), close() }`. */
export async function startFake(script) {
  if (!existsSync(FAKE_LLM)) {
    throw new Error(`${FAKE_LLM} is missing: cargo build -p metricchat-testkit --bin mc-fake-llm`);
  }
  const file = join(tempDir(), 'script.json');
  writeFileSync(file, JSON.stringify(script));
  const child = spawn(FAKE_LLM, ['--script', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const baseUrl = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`mc-fake-llm exited with ${code}: ${out}`)));
  });
  return {
    baseUrl,
    async state() {
      const res = await fetch(baseUrl.replace(/\/v1$/, '/_fake/state'));
      return res.json();
    },
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await once(child, 'exit');
      }
    },
  };
}

/** Agent options for the fake server: native tool calling, no titles, in-memory store. */
export function fakeAgent(baseUrl, extra = {}) {
  return {
    llm: { provider: 'openai_compatible', model: 'scripted', baseUrl, supportsTools: true, maxRetries: 0 },
    protocol: 'native_tools',
    generateTitle: false,
    connections: ['sample:flights'],
    ...extra,
  };
}

/** Whether the tests run on CI (`CI=true`, or `CI=1`, as CI runners set it). */
export const onCi = () => ['true', '1'].includes((process.env.CI ?? '').trim().toLowerCase());

/**
 * The URL in the environment variable `name`, as set. Unset or empty: on CI this throws (the
 * test fails: a missing service must not pass as skipped); elsewhere it prints a loud SKIPPED
 * line, skips the test `t` and returns `undefined` (the caller returns).
 */
export function serviceUrlOrSkip(t, name, what) {
  const url = process.env[name];
  if (url && url.trim()) return url;
  if (onCi()) {
    throw new Error(`${name} is not set but CI is: ${what} must run on CI (.ci/run sets ${name})`);
  }
  console.warn(`*** SKIPPED: ${name} is not set; ${what} did not run ***`);
  t.skip(`${name} is not set`);
  return undefined;
}
