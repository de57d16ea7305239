'use strict';
// metricchat for Node: the public API over the native addon (metricchat.node, see src/).
// A thin shell: option names are converted, promises and AbortSignals bridged, native errors
// given their `code`; everything else happens in Rust.

const fs = require('node:fs');
const path = require('node:path');
const { fileURLToPath } = require('node:url');

const native = require(path.join(__dirname, 'metricchat.node'));

/** An error from metricchat; `code` is the ErrorKind name ("InvalidInput", "Cancelled", …). */
class MetricChatError extends Error {
  constructor(message, code, options) {
    super(message, options);
    this.name = 'MetricChatError';
    this.code = code;
  }
}

const CODED = /^\[([A-Za-z]+)\] ([\s\S]*)$/;

/** Turns a native `[Kind] message` error into a MetricChatError with `code` = Kind. */
function coded(err) {
  const m = err instanceof Error ? CODED.exec(err.message) : null;
  return m ? new MetricChatError(m[2], m[1], { cause: err }) : err;
}

async function call(fn) {
  try {
    return await fn();
  } catch (err) {
    throw coded(err);
  }
}

function callSync(fn) {
  try {
    return fn();
  } catch (err) {
    throw coded(err);
  }
}

const snake = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function snakeKeys(obj) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [snake(k), snakeKeys(v)]));
}

/** Calls `fn` when `signal` aborts (at once if it already has); returns the unsubscribe. */
function onAbort(signal, fn) {
  if (!signal) return () => {};
  if (signal.aborted) {
    fn();
    return () => {};
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

/** A native result as the public result object. */
function toResult(res) {
  const m = res.meta;
  const out = {};
  for (const [k, v] of Object.entries(m)) {
    out[k.replace(/_([a-z])/g, (_, c) => c.toUpperCase())] = v;
  }
  out.data = res.hasData ? res.ipc() : null; // a Buffer, which is a Uint8Array
  out.rows = () => res.rows();
  return out;
}

/** The spec the Rust `AgentSpec` reads, from the JavaScript options. */
function agentSpec(options) {
  const { tools, connections, llm, titleLlm, approvalHandler, credentials, ...rest } = options;
  const spec = snakeKeys(rest);
  if (llm !== undefined) spec.llm = snakeKeys(llm);
  if (titleLlm !== undefined) spec.title_llm = snakeKeys(titleLlm);
  if (connections !== undefined) {
    spec.connections = connections.map((c) => (c instanceof Connection ? c.url : c));
  }
  return spec;
}

/** The dispatcher native tools call: never rejects; replies `{ok}` or `{error}` as JSON. */
function dispatcher(handlers) {
  return async ([name, argsJson, ctxJson]) => {
    try {
      const ctx = JSON.parse(ctxJson);
      const value = await handlers.get(name)(JSON.parse(argsJson), {
        runId: ctx.run_id,
        executionId: ctx.execution_id,
        question: ctx.question,
      });
      return JSON.stringify({ ok: value === undefined ? null : value });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return JSON.stringify({ error: message || 'the tool failed' });
    }
  };
}

/**
 * The approval handler native runs call: `handler(request)` may return (or resolve to) `true`,
 * `false`, `[false, reason]` or `{ approved, reason }`; a throw denies with its message.
 */
function approvalDispatcher(handler) {
  // The requests being decided, so that a decision made first elsewhere (the host's
  // `run.approve`, the timeout, a cancelled run) aborts the handler's `signal`.
  const running = new Map();
  return async ([kind, requestJson]) => {
    if (kind === 'approval.cancel') {
      running.get(requestJson)?.abort(new Error('decided elsewhere: the run no longer waits'));
      return JSON.stringify({ ok: null });
    }
    const request = JSON.parse(requestJson);
    const controller = new AbortController();
    running.set(request.approval_id, controller);
    try {
      const out = await handler(request, { signal: controller.signal });
      let approved = out;
      let reason = null;
      if (Array.isArray(out)) [approved, reason = null] = out;
      else if (out !== null && typeof out === 'object') ({ approved, reason = null } = out);
      return JSON.stringify({ ok: { approved: approved === true, reason } });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return JSON.stringify({ error: message || 'the approval handler failed' });
    } finally {
      running.delete(request.approval_id);
    }
  };
}

/**
 * The credentials callback native statements call: `credentials(user, connection)` may return
 * (or resolve to) `null` (the connection's login), a role name, or `{ role, token }`; a throw
 * fails the statement with its message.
 */
function credentialsDispatcher(resolve) {
  return async ([, argsJson]) => {
    try {
      const { user, connection } = JSON.parse(argsJson);
      const out = await resolve(user ?? null, connection);
      // The core checks the answer's shape.
      return JSON.stringify({ ok: out ?? null });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return JSON.stringify({ error: message || 'the credentials callback failed' });
    }
  };
}

/** One request's options as the core's `RunOptions` (`null` when none is set). */
function runOptions({ user, exposure, approval } = {}) {
  const out = {};
  if (user != null) out.user = user;
  if (exposure != null) out.exposure = exposure;
  if (approval != null) out.approval = snakeKeys(approval);
  return Object.keys(out).length ? out : null;
}

/** One run of a question: iterate it for events, then `await run.result()`. */
class Run {
  #native;
  #signal;
  #result;

  constructor(nativeAgent, question, signal, options) {
    this.#signal = signal;
    this.#native = nativeAgent.then((a) => a.stream(question, options));
    this.#native.catch(() => {});
  }

  /** The run's id. */
  async runId() {
    return (await call(() => this.#native)).runId;
  }

  /** Approves the statement of an `approval.requested` event (`ev.approval_id`): it runs. */
  async approve(approvalId) {
    const run = await call(() => this.#native);
    return callSync(() => run.approve(String(approvalId)));
  }

  /**
   * Denies the statement of an `approval.requested` event; the model reads
   * `not approved: <reason>` and may choose a cheaper query. The denial is audited.
   */
  async deny(approvalId, reason = 'denied') {
    const run = await call(() => this.#native);
    return callSync(() => run.deny(String(approvalId), String(reason)));
  }

  /** The approval requests waiting for a decision. */
  async pendingApprovals() {
    const run = await call(() => this.#native);
    return callSync(() => run.pendingApprovals());
  }

  /** Cancels the run; its events up to `run.finished` still arrive. */
  cancel() {
    this.#native.then((r) => r.cancel(), () => {});
  }

  async *[Symbol.asyncIterator]() {
    const run = await call(() => this.#native);
    const off = onAbort(this.#signal, () => run.cancel());
    let done = false;
    try {
      for (;;) {
        const ev = await call(() => run.next());
        if (ev === null || ev === undefined) {
          done = true;
          return;
        }
        yield ev;
      }
    } finally {
      off();
      // Leaving the loop early (break, throw) cancels the run, like dropping a Rust `Run`.
      if (!done) run.cancel();
    }
  }

  /** The run's result (draining any events not yet read), or its error. */
  result() {
    if (!this.#result) {
      this.#result = call(async () => {
        const run = await this.#native;
        const off = onAbort(this.#signal, () => run.cancel());
        try {
          return toResult(await run.finish());
        } finally {
          off();
        }
      });
    }
    return this.#result;
  }
}

/** A filter object with only the keys that are set, in the core's snake_case. */
const filter = (obj = {}) =>
  Object.fromEntries(Object.entries(snakeKeys(obj)).filter(([, v]) => v !== undefined && v !== null));

/** The team's rules (`agent.rules`): plain sentences in every prompt. */
class Rules {
  #agent;

  constructor(agent) {
    this.#agent = agent;
  }

  /** Adds a rule for runs started from now on; resolves to whether it was new. */
  async add(rule) {
    const agent = await this.#agent();
    return callSync(() => agent.addRule(rule));
  }

  /** Removes a rule; resolves to whether it was there. */
  async remove(rule) {
    const agent = await this.#agent();
    return callSync(() => agent.removeRule(rule));
  }

  /** The rules in prompt order. */
  async list() {
    const agent = await this.#agent();
    return callSync(() => agent.rules());
  }
}

/**
 * The team's instructions (`agent.instructions`), kept in the agent's store. Approved ones whose
 * scope matches a run reach its prompt; the agent's `suggest_instruction` tool adds drafts.
 */
class Instructions {
  #agent;

  constructor(agent) {
    this.#agent = agent;
  }

  /** Adds an instruction (approved unless `status: 'draft'`); resolves to the stored record. */
  async add(text, { scope, labels, status } = {}) {
    const agent = await this.#agent();
    return call(() => agent.addInstruction(filter({ text, scope, labels, status })));
  }

  /** Approves a draft: the next runs in its scope carry it. */
  async approve(id) {
    const agent = await this.#agent();
    return call(() => agent.setInstructionStatus(String(id), 'approved'));
  }

  /** Archives an instruction: kept, never in prompts. */
  async archive(id) {
    const agent = await this.#agent();
    return call(() => agent.setInstructionStatus(String(id), 'archived'));
  }

  /** Deletes an instruction. */
  async delete(id) {
    const agent = await this.#agent();
    return call(() => agent.deleteInstruction(String(id)));
  }

  /** Instructions matching every given filter (`{ status: 'draft' }` lists suggestions). */
  async list(options = {}) {
    const agent = await this.#agent();
    return call(() => agent.listInstructions(filter(options)));
  }
}

/** Facts recorded by the agent (its `remember` tool) or by people (`agent.memory`). */
class Memory {
  #agent;

  constructor(agent) {
    this.#agent = agent;
  }

  /** Records a fact; runs in its scope see it. */
  async add(text, { scope, labels } = {}) {
    const agent = await this.#agent();
    return call(() => agent.addMemory(filter({ text, scope, labels })));
  }

  /** Memories matching every given filter (`{ source: 'agent' }`, `{ runId }`, `{ text }`). */
  async list(options = {}) {
    const agent = await this.#agent();
    return call(() => agent.listMemories(filter(options)));
  }

  /** The `k` memories most relevant to `text`. */
  async search(text, k = 5) {
    const agent = await this.#agent();
    return call(() => agent.searchMemories(text, k));
  }

  /** Deletes a memory. */
  async delete(id) {
    const agent = await this.#agent();
    return call(() => agent.deleteMemory(String(id)));
  }
}

/**
 * `[textOrPath, isPath]` of an eval suite: a one-line string naming a file (or ending in
 * `.yaml`/`.yml`/`.json`) is a path, another string is YAML, an object is the suite itself.
 */
function suiteArg(suite) {
  if (suite instanceof URL) return [fileURLToPath(suite), true];
  if (suite !== null && typeof suite === 'object') return [JSON.stringify(suite), false];
  if (typeof suite !== 'string') {
    throw new MetricChatError('an eval suite is a path, YAML text or an object', 'InvalidInput');
  }
  const oneLine = !suite.trim().includes('\n');
  if (oneLine && (fs.existsSync(suite) || /\.(ya?ml|json)$/i.test(suite.trim()))) return [suite, true];
  return [suite, false];
}

/** The native eval options from the JavaScript ones. */
function evalOptions({ concurrency, baseline, timeoutMs, only, label, store, judge } = {}) {
  const o = { concurrency, baseline, timeoutMs, label, store };
  if (only !== undefined && only !== null) o.only = (Array.isArray(only) ? only : [only]).map(String);
  if (judge !== undefined && judge !== null) o.judge = typeof judge === 'string' ? judge : snakeKeys(judge);
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}

/**
 * A dashboard (dashboards, issue 16): the core's JSON form, checked on every change. Refresh it
 * with `await d.refresh(agent)`, keep it with `agent.dashboards.save(d)`, open it as a page with
 * `d.toHtml()` (one self-contained file: ECharts inlined, no network access when viewed).
 */
class Dashboard {
  #data;

  constructor(data) {
    this.#data = callSync(() => native.dashboardCheck(data, null));
  }

  /** Reads and checks a dashboard (an object or JSON text); errors name the block. */
  static from(data) {
    return new Dashboard(typeof data === 'string' ? JSON.parse(data) : data);
  }

  get id() { return this.#data.id; }
  get version() { return this.#data.version ?? 0; }
  get title() { return this.#data.title; }
  get blocks() { return this.#data.blocks; }
  get parameters() { return this.#data.parameters ?? []; }

  /** The block with `id`, or undefined. */
  block(id) {
    return this.blocks.find((b) => b.id === id);
  }

  /** Sets a parameter, checked against its type. */
  setParameter(name, value) {
    this.#data = callSync(() => native.dashboardCheck(this.#data, { [name]: value }));
    return this;
  }

  /** Re-runs every block through `agent`, concurrently; a failing block keeps its error. */
  async refresh(agent) {
    const a = await agent._nativeAgent();
    this.#data = await call(() => a.refreshDashboard(this.#data));
    return this;
  }

  /** The self-contained HTML page. */
  toHtml() {
    return callSync(() => native.dashboardHtml(this.#data));
  }

  /** The core's JSON form, results included (for host UIs). */
  toJSON() {
    return this.#data;
  }

  _set(data) {
    this.#data = data;
  }
}

/** The dashboards in an agent's store (`agent.dashboards`). */
class Dashboards {
  #agent;

  constructor(agent) {
    this.#agent = agent;
  }

  /** Saves `dashboard` as a new version; resolves to the version (and sets it). */
  async save(dashboard) {
    const a = await this.#agent._nativeAgent();
    dashboard._set(await call(() => a.saveDashboard(dashboard.toJSON())));
    return dashboard.version;
  }

  /** A stored dashboard (latest version, or `version`), or null. */
  async get(id, { version } = {}) {
    const a = await this.#agent._nativeAgent();
    const data = await call(() => a.getDashboard(String(id), version ?? null));
    return data === null ? null : new Dashboard(data);
  }

  /** Stored dashboards `{ id, version, title, updated_at }`, most recently saved first. */
  async list(limit = 50) {
    const a = await this.#agent._nativeAgent();
    return call(() => a.listDashboards(limit));
  }
}

/** An analytics agent: a model, connections, tools and a store. */
class Agent {
  #native;

  constructor(options = {}) {
    const tools = options.tools ?? [];
    const handlers = new Map(tools.map((t) => [t.name, t.handler]));
    for (const t of tools) {
      if (typeof t.handler !== 'function') {
        throw new MetricChatError(`tool \`${t.name}\` needs a handler function`, 'InvalidInput');
      }
    }
    const defs = tools.map((t) => ({
      name: t.name,
      description: t.description ?? '',
      parameters: t.parameters ?? null,
    }));
    const dispatch = tools.length > 0 ? dispatcher(handlers) : undefined;
    if (options.approvalHandler != null && typeof options.approvalHandler !== 'function') {
      throw new MetricChatError('approvalHandler must be a function', 'InvalidInput');
    }
    const approval = options.approvalHandler ? approvalDispatcher(options.approvalHandler) : undefined;
    if (options.credentials != null && typeof options.credentials !== 'function') {
      throw new MetricChatError('credentials must be a function', 'InvalidInput');
    }
    const creds = options.credentials ? credentialsDispatcher(options.credentials) : undefined;
    this.#native = call(() => native.createAgent(agentSpec(options), defs, dispatch, approval, creds));
    // Errors surface on the first use (or `await agent.ready()`), never as unhandled rejections.
    this.#native.catch(() => {});
    const built = () => call(() => this.#native);
    /** The team's rules. */
    this.rules = new Rules(built);
    /** The team's instructions, in the store. */
    this.instructions = new Instructions(built);
    /** Facts the agent and people recorded, in the store. */
    this.memory = new Memory(built);
    /** Stored dashboards. */
    this.dashboards = new Dashboards(this);
  }

  /**
   * What a run of `question` would send the model, without calling it: `{ plan, explanation }`,
   * `plan` being the core's ContextPlan (tables with scores and reasons, prompt sections with
   * tokens and budgets, rules, memories, the system prompt) and `explanation` a readable report.
   */
  async explainContext(question) {
    const agent = await call(() => this.#native);
    return call(() => agent.explainContext(question));
  }

  /** Rules, instructions, memories and knowledge resources matching `query`. */
  async searchKnowledge(query, k = 5) {
    const agent = await call(() => this.#native);
    return callSync(() => agent.searchKnowledge(query, k));
  }

  /** Resolves once the agent is built; rejects with its configuration error. */
  async ready() {
    await this.#native;
  }

  /**
   * Runs `question` to the end. `signal` cancels the run and its query; `user` (`{ id, roles,
   * attributes }`) is who is asking: their data policy applies and the audit log names them;
   * `exposure` (`'full'`, `'aggregates'`, `{ aggregates: { max_rows } }`, `'schema_only'`)
   * and `approval` (`{ maxRows, maxBytes, maxCost, timeout, requireEstimate }`) override the
   * agent's settings for this request only.
   */
  ask(question, { signal, ...options } = {}) {
    return new Run(this.#native, question, signal, runOptions(options)).result();
  }

  /** Starts `question`: `for await (const ev of agent.stream(q))`, then `await run.result()`. */
  stream(question, { signal, ...options } = {}) {
    return new Run(this.#native, question, signal, runOptions(options));
  }

  /**
   * Runs SQL through the agent's guard on `connection` (default: the only or first one), for
   * `user` when given (their data policy and credentials apply; the statement is audited).
   */
  async query(sql, { connection, user } = {}) {
    const agent = await call(() => this.#native);
    return toResult(await call(() => agent.query(connection ?? null, sql, runOptions({ user }))));
  }

  /** The audit log, newest first: one entry per statement run or refused (see `AuditRecord`). */
  async auditLog({ userId, runId, connection, outcome, limit } = {}) {
    const agent = await call(() => this.#native);
    const filter = { user_id: userId, run_id: runId, connection, outcome, limit };
    for (const k of Object.keys(filter)) if (filter[k] === undefined) delete filter[k];
    return call(() => agent.auditLog(filter));
  }

  /** The connections' `{ name, backend, dialect, capabilities }`. */
  async connections() {
    const agent = await call(() => this.#native);
    return callSync(() => agent.connections());
  }

  /** The latest stored runs, newest first. */
  async runs(limit = 20) {
    const agent = await call(() => this.#native);
    return call(() => agent.runs(limit));
  }

  // --- Dashboards (issue 16)

  /** Re-runs a stored query (a dataset's `query_id`) through the guard; a new result version. */
  async rerunQuery(queryId) {
    const agent = await call(() => this.#native);
    return toResult(await call(() => agent.rerunQuery(String(queryId))));
  }

  /** A sensible dashboard of a stored run, built without a model (refresh it to show data). */
  async dashboardFromRun(runId) {
    const agent = await call(() => this.#native);
    return new Dashboard(await call(() => agent.dashboardFromRun(String(runId))));
  }

  /** The native agent (for `Dashboard.refresh` and `agent.dashboards`). */
  async _nativeAgent() {
    return call(() => this.#native);
  }

  /**
   * Runs every case of an eval suite (a path, YAML text or an object) through this agent and
   * resolves to the report (the core's EvalReport JSON). See `evalSuite`.
   */
  async evalSuite(suite, { signal, onProgress, ...options } = {}) {
    const agent = await call(() => this.#native);
    const [text, isPath] = suiteArg(suite);
    const run = callSync(() => agent.evalSuite(text, isPath, evalOptions(options)));
    const off = onAbort(signal, () => run.cancel());
    const report = call(() => run.result());
    report.catch(() => {});
    try {
      for (;;) {
        const p = await call(() => run.nextProgress());
        if (p === null || p === undefined) break;
        if (onProgress) onProgress(p);
      }
    } catch (err) {
      // A throwing onProgress stops the run; its report (of what ran) is still stored.
      run.cancel();
      await report.catch(() => {});
      throw err;
    } finally {
      off();
    }
    return report;
  }

  /** Eval reports kept in the store (of `suite`, or every suite), newest first. */
  async evalHistory({ suite, limit = 20 } = {}) {
    const agent = await call(() => this.#native);
    return call(() => agent.evalHistory(suite ?? null, limit));
  }
}

/** One connection, with the SQL guard (read-only, one statement, row cap, timeout) in front. */
class Connection {
  #native;

  constructor(url, options = {}) {
    /** The URL it was opened from (an Agent given this connection opens it again). */
    this.url = url;
    this.#native = callSync(() => native.connect(url, options));
  }

  /** `{ name, backend, dialect, capabilities }`. */
  get info() {
    return callSync(() => this.#native.info);
  }

  /** Tables and views as `{ schema?, name }`. */
  tables() {
    return call(() => this.#native.tables());
  }

  /** One table's columns, keys and comments. */
  describe(table) {
    return call(() => this.#native.describe(table));
  }

  /** Runs `sql` through the guard; `signal` cancels it. */
  async query(sql, { signal } = {}) {
    const q = this.#native.query(sql);
    const off = onAbort(signal, () => q.cancel());
    try {
      return toResult(await call(() => q.result()));
    } finally {
      off();
    }
  }
}

/** Opens a connection from a URL: `file://…`, `sqlite://…`, `postgres://…`, `mysql://…`, `sample:flights`. */
function connect(url, options) {
  return new Connection(url, options);
}

const spec = (provider) => (opts = {}) => {
  const o = typeof opts === 'string' ? { model: opts } : opts;
  return { provider, ...snakeKeys(o) };
};

/** LLM specs for each provider (plain objects; keys default to the provider's env variable). */
const llm = Object.freeze({
  /** OpenAI (`OPENAI_API_KEY`). */
  openai: spec('openai'),
  /** Anthropic (`ANTHROPIC_API_KEY`). */
  anthropic: spec('anthropic'),
  /** Ollama (`OLLAMA_HOST`). */
  ollama: spec('ollama'),
  /** Any OpenAI-compatible server: `{ baseUrl, model }`. */
  openaiCompatible: spec('openai_compatible'),
});

/**
 * Runs every case of an eval suite through `agent`: `suite` is a path, YAML text or an object;
 * options `{ concurrency, baseline, timeoutMs, only, label, store, judge, signal, onProgress }`.
 * Resolves to the report (the core's EvalReport JSON); a bad suite rejects with `InvalidInput`
 * naming the case and the key. `signal` cancels the run (the report covers what ran).
 */
function evalSuite(agent, suite, options) {
  if (!(agent instanceof Agent)) {
    return Promise.reject(new MetricChatError('evalSuite needs an Agent', 'InvalidInput'));
  }
  return agent.evalSuite(suite, options);
}

/** An eval report as Markdown: figures, failure classes, tags and one line per case. */
function evalReportToMarkdown(report) {
  return callSync(() => native.evalReportToMarkdown(report));
}

/** An eval report as one self-contained HTML page (no scripts, no network). */
function evalReportToHtml(report) {
  return callSync(() => native.evalReportToHtml(report));
}

/**
 * `after` against `before`, case by case: `{ regressions, fixes, added, removed, before, after,
 * total, has_regressions, markdown }`.
 */
function compareEvalReports(after, before) {
  return callSync(() => native.compareEvalReports(after, before));
}

module.exports = {
  Agent,
  Dashboard,
  Dashboards,
  Run,
  Connection,
  Rules,
  Instructions,
  Memory,
  MetricChatError,
  connect,
  llm,
  evalSuite,
  evalReportToMarkdown,
  evalReportToHtml,
  compareEvalReports,
};
