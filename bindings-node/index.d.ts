// Public TypeScript declarations of the npm package `metricchat`.
//
// The native classes these wrap are declared in `native.d.ts`, generated from the Rust side by
// `npm run build`. The JSON shapes of events, results and records (`AgentEvent`, `RunRecord`,
// `Chart`, …) are in `types.d.ts`, generated from the Rust types by `scripts/gen-types.sh`.

export * from './types'
import type {
  AgentEvent,
  ApprovalRequest,
  Chart,
  ColumnMeta,
  DatasetMeta,
  ErrorKind,
  Instruction,
  MemoryRecord,
  RunRecord,
  RunStatus,
  Timings,
  Usage,
} from './types'

/** Portable error kinds; `MetricChatError.code` is one of these (the Rust `ErrorKind`). */
export type ErrorCode = ErrorKind

/** An error from metricchat. */
export declare class MetricChatError extends Error {
  /** The ErrorKind name, the same in Rust, Python and Node. */
  readonly code: ErrorCode
}

// ---------------------------------------------------------------- LLM specs

/** Which provider's wire format an LLM spec speaks. */
export type Provider = 'openai' | 'openai_compatible' | 'anthropic' | 'ollama'

/** A model described as data (the Rust `LlmSpec`); camelCase keys are accepted too. */
export interface LlmSpec {
  provider: Provider
  /** Model name; the provider client's default when absent. */
  model?: string
  /** Base URL (OpenAI-style `…/v1`, Anthropic's API root, or the Ollama host). */
  base_url?: string
  baseUrl?: string
  /** API key; the provider's environment variable when absent. */
  api_key?: string
  apiKey?: string
  /** Whether the model does native tool calling (overrides the model table). */
  supports_tools?: boolean
  supportsTools?: boolean
  /** Whether the model accepts images (OpenAI-compatible and Ollama models). */
  supports_vision?: boolean
  supportsVision?: boolean
  /** Context window in tokens. */
  context_window?: number
  contextWindow?: number
  /** Retries after 429/5xx (default 3). */
  max_retries?: number
  maxRetries?: number
  /**
   * How long to wait for a connection, the first byte, or during a silent stream: milliseconds
   * or a string such as `"30s"` / `"1m30s"` (the one duration form of every spec).
   */
  connect_timeout?: number | string
  connectTimeout?: number | string
  first_byte_timeout?: number | string
  firstByteTimeout?: number | string
  idle_timeout?: number | string
  idleTimeout?: number | string
  /** @deprecated Seconds; use `connect_timeout`. */
  connect_timeout_secs?: number
  /** @deprecated Seconds; use `first_byte_timeout`. */
  first_byte_timeout_secs?: number
  /** @deprecated Seconds; use `idle_timeout`. */
  idle_timeout_secs?: number
  /**
   * A cassette file (JSON Lines): the model's HTTP traffic is recorded to it when `MC_RECORD=1`
   * and replayed from it otherwise, so tests run without a network or a key.
   */
  cassette?: string
  /** `"auto"` (default: `MC_RECORD` decides), `"record"` or `"replay"`. */
  cassette_mode?: 'auto' | 'record' | 'replay'
  cassetteMode?: 'auto' | 'record' | 'replay'
  [key: string]: unknown
}

/** Options of the `llm.*` helpers (a string is the model name). */
export type LlmOptions = Omit<LlmSpec, 'provider'> | string

/** LLM spec helpers, one per provider. */
export declare const llm: {
  /** OpenAI (key from `OPENAI_API_KEY`). */
  openai(options?: LlmOptions): LlmSpec
  /** Anthropic (key from `ANTHROPIC_API_KEY`). */
  anthropic(options?: LlmOptions): LlmSpec
  /** Ollama (host from `OLLAMA_HOST`). */
  ollama(options?: LlmOptions): LlmSpec
  /** Any OpenAI-compatible server (llama.cpp, vLLM, LM Studio…): `{ baseUrl, model }`. */
  openaiCompatible(options: LlmOptions): LlmSpec
}

// ---------------------------------------------------------------- tools

/** What a tool handler gets besides its arguments. */
export interface ToolCallContext {
  runId: string
  executionId: string
  question: string
}

/**
 * A tool written in JavaScript. The arguments are checked against `parameters` before the
 * handler runs; a thrown error or rejected promise becomes a tool error the model sees.
 */
export interface Tool<Args = any> {
  /** 1-64 characters of A-Z, a-z, 0-9, _ or -. */
  name: string
  /** What it does, for the model. */
  description: string
  /** JSON Schema of the arguments (`type: "object"`). */
  parameters?: Record<string, unknown>
  /** Returns any JSON-serialisable value. */
  handler: (args: Args, context: ToolCallContext) => unknown | Promise<unknown>
}

// ---------------------------------------------------------------- agent

/** Options of `new Agent` (the Rust `AgentSpec`; snake_case keys are accepted too). */
export interface AgentOptions {
  /** `"openai:gpt-4.1-mini"`, `"openai_compatible:MODEL@BASE_URL"` or an LLM spec. */
  llm: string | LlmSpec
  /** A smaller model for run titles. */
  titleLlm?: string | LlmSpec
  /** Connection URLs (`"sample:flights"` is the bundled flights data) or `connect()` results. */
  connections?: Array<string | Connection>
  /** `"memory"` (default) or `"sqlite:///path.db"`. */
  store?: string
  /** Team rules every prompt carries. */
  rules?: string[]
  /** Extra instructions appended to the system prompt. */
  instructions?: string
  /** JavaScript tools, added to the built-in ones. */
  tools?: Tool[]
  /** Planner iterations per run. */
  maxIterations?: number
  /** Token budget per run. */
  maxTokens?: number
  /** Wall-time budget per run, in seconds. */
  maxWallTimeSecs?: number
  /** Cost budget per run, in US dollars. */
  maxCostUsd?: number
  /** Row cap of every query. */
  maxRows?: number
  /** Time limit of every query, in seconds. */
  queryTimeoutSecs?: number
  /** Lets the agent's SQL write (off by default). */
  allowWrites?: boolean
  /**
   * How decisions are asked of the model: `sql_first` is fixed steps (write SQL, check it,
   * answer) for small local models without tool calling.
   */
  protocol?: 'auto' | 'native_tools' | 'json_text' | 'sql_first'
  /**
   * SQL candidates written per need and voted on by their results (the greedy one and sampled
   * ones; the result most agree on is the dataset). Default 1 (off).
   */
  sqlCandidates?: number
  /** Whether runs get a generated title. */
  generateTitle?: boolean
  /** Whether the agent checks what its SQL means before answering (default true). */
  answerChecks?: boolean
  /**
   * The context hub's settings (the core `ContextConfig`, keys in camelCase), e.g.
   * `{ maxFullTables: 4, sampleValues: 0, schemaTokens: 3000 }`. Unknown keys throw.
   */
  context?: Record<string, number | boolean | null>
  /** What the model may see of results, for every run (a request may override it). */
  exposure?: DataExposure
  /**
   * Cost preflight (the core `ApprovalPolicy`): a statement whose engine estimate exceeds a
   * threshold emits `approval.requested` and waits for `run.approve(id)` / `run.deny(id, reason)`
   * or `approvalHandler`; no decision within `timeout` (ms or `"30s"`, default 2 minutes)
   * denies it. Absent: nothing is estimated.
   */
  approval?: ApprovalPolicy
  /**
   * Decides every run's approval requests (the host may still decide through the run; the
   * first decision counts). Returns `true`, `false`, `[false, reason]` or
   * `{ approved, reason }`, or a promise of one; a throw denies.
   */
  approvalHandler?: (
    request: ApprovalRequest,
    context: {
      /** Aborted when the run stops waiting (the host decided first, the timeout, a cancel). */
      signal: AbortSignal
    },
  ) => ApprovalAnswer | Promise<ApprovalAnswer>
  /**
   * What each statement runs as, per user: `null` (the connection's login), a database role
   * name (PostgreSQL `SET LOCAL ROLE`, MariaDB/MySQL `SET ROLE`, Snowflake), or
   * `{ role, token }` (a token replaces the connection's own where the backend supports it).
   * Asked before every statement the agent, its tools or `agent.query` run; a throw fails the
   * statement (nothing runs); a backend that cannot honour the answer refuses it.
   */
  credentials?: (
    user: UserContext | null,
    connection: { name: string; backend: string; dialect: string },
  ) => CredentialsAnswer | Promise<CredentialsAnswer>
}

/** What a `credentials` callback returns. */
export type CredentialsAnswer = null | string | { role?: string | null; token?: string | null }

/** When statements need a decision before they run (the core `ApprovalPolicy`). */
export interface ApprovalPolicy {
  /** Most rows the engine may expect without a decision. */
  maxRows?: number
  /** Most bytes the engine may expect to scan without a decision. */
  maxBytes?: number
  /** Highest engine cost figure (its own units) without a decision. */
  maxCost?: number
  /** How long to wait: milliseconds or a string with a unit (`"30s"`). */
  timeout?: number | string
  /** Ask when the engine gives no estimate (default false: such statements run). */
  requireEstimate?: boolean
}

/** What an approval handler returns. */
export type ApprovalAnswer =
  | boolean
  | [boolean, string?]
  | { approved: boolean; reason?: string | null }

/** Options of one run. */
export interface RunOptions {
  /** Aborting cancels the run and its running query; `ask` then rejects with code `Cancelled`. */
  signal?: AbortSignal
  /** Who is asking: their data policy applies, and the run and the audit log name them. */
  user?: UserContext
  /** What the model may see of this request's results (overrides the agent's `exposure`). */
  exposure?: DataExposure
  /** The cost preflight for this request (overrides the agent's `approval`). */
  approval?: ApprovalPolicy
}

/**
 * What the model may see of results: `'full'`, `'aggregates'` (only aggregated results of at
 * most 50 rows, or `{ aggregates: { max_rows } }`), or `'schema_only'` (names, types and row
 * counts; the answer's values are filled in by the host).
 */
export type DataExposure = 'full' | 'aggregates' | 'schema_only' | { aggregates: { max_rows?: number } }

/** A request's user (the core `UserContext`). */
export interface UserContext {
  id: string
  roles?: string[]
  /** Values row-filter placeholders bind to (`tenant_id` for `:tenant_id`). */
  attributes?: Record<string, string | number | boolean | Array<string | number | boolean>>
}

/** One audited statement (the core `AuditRecord`). */
export interface AuditRecord {
  id: string
  at: string
  user_id: string | null
  run_id: string | null
  query_id: string | null
  /** `agent`, `tool:<name>` or `query`. */
  source: string
  connection: string
  /** As executed: after the data policy's rewrite and the row cap. */
  sql: string
  /** The data-policy rules applied. */
  policy: string[]
  rows: number | null
  bytes: number | null
  duration_ms: number
  outcome: 'success' | 'error' | 'refused' | 'denied'
  error: string | null
}







/** A row of `rows()`: see the README's "Node" section for how values are encoded. */
export type Row = Record<string, unknown>

/** Data shared by run results and query results. */
export interface Tabular {
  /**
   * The (main) dataset as one Arrow IPC stream: `tableFromIPC(result.data)` from apache-arrow.
   * `null` when the run produced no data.
   */
  data: Uint8Array | null
  /** The same data as plain objects keyed by column name. */
  rows(): Row[]
}


/** The result of `agent.ask` / `run.result()`. */
export interface AskResult extends Tabular {
  runId: string
  status: RunStatus
  title: string | null
  answer: string | null
  /** The clarifying question, when the run awaits input. */
  clarification: string | null
  /** SQL of the main (last) dataset. */
  sql: string | null
  datasets: DatasetMeta[]
  /** The chart of the main dataset, or the last chart. */
  chart: Chart | null
  charts: Chart[]
  usage: Usage
  costUsd: number | null
  timings: Timings
  iterations: number
}

/** The result of `conn.query` / `agent.query`. */
export interface QueryResult extends Tabular {
  /** The SQL as given. */
  sql: string
  columns: ColumnMeta[]
  rowCount: number
}

// ---------------------------------------------------------------- events




/** Fields every event has. */
export type EventBase = Pick<AgentEvent, 'run_id' | 'seq' | 'ts'>

/** The `type` tags of events. */
export type EventType = AgentEvent['type']

/** One run: iterate it for events, then `await run.result()`. */
export declare class Run implements AsyncIterable<AgentEvent> {
  private constructor()
  /** The run's id. */
  runId(): Promise<string>
  /** Cancels the run; events up to `run.finished` still arrive. */
  cancel(): void
  /** Approves the statement of an `approval.requested` event: it runs. Throws `NotFound` when none waits. */
  approve(approvalId: string): Promise<void>
  /** Denies it; the model reads `not approved: <reason>`. The denial is audited. */
  deny(approvalId: string, reason?: string): Promise<void>
  /** The approval requests waiting for a decision. */
  pendingApprovals(): Promise<ApprovalRequest[]>
  /** Events in order; leaving the loop early cancels the run. */
  [Symbol.asyncIterator](): AsyncIterator<AgentEvent>
  /** The result (draining events not yet read), or the run's error. */
  result(): Promise<AskResult>
}

/** A connection's static facts. */
export interface ConnectionInfo {
  name: string
  backend: string
  dialect: string
  capabilities: Record<string, boolean>
}


/** An analytics agent: a model, connections, tools and a store. Runs may go on concurrently. */
/**
 * Where an instruction or memory applies: everywhere (`'global'`, the default), one connection,
 * or runs that use some tables (bare names match any schema); the core's tagged form
 * `{ kind: 'global' | 'connection' | 'tables', ... }` is accepted too.
 */
export type Scope =
  | 'global'
  | null
  | string[]
  | { connection: string }
  | { tables: string[]; connection?: string }
  | { kind: 'global' }
  | { kind: 'connection'; connection: string }
  | { kind: 'tables'; tables: string[]; connection?: string }



/** The team's rules: plain sentences in every prompt. */
export declare class Rules {
  private constructor()
  /** Adds a rule for runs started from now on; resolves to whether it was new. */
  add(rule: string): Promise<boolean>
  /** Removes a rule; resolves to whether it was there. */
  remove(rule: string): Promise<boolean>
  /** The rules in prompt order. */
  list(): Promise<string[]>
}

/** The team's instructions, kept in the agent's store. */
export declare class Instructions {
  private constructor()
  /** Adds an instruction (approved unless `status: 'draft'`). */
  add(
    text: string,
    options?: { scope?: Scope; labels?: string[]; status?: 'draft' | 'approved' | 'archived' },
  ): Promise<Instruction>
  /** Approves a draft: the next runs in its scope carry it. */
  approve(id: string): Promise<Instruction>
  /** Archives an instruction: kept, never in prompts. */
  archive(id: string): Promise<Instruction>
  /** Deletes an instruction. */
  delete(id: string): Promise<void>
  /** Instructions matching every given filter. */
  list(filter?: {
    status?: 'draft' | 'approved' | 'archived'
    source?: 'user' | 'agent'
    label?: string
    connection?: string
    runId?: string
    text?: string
  }): Promise<Instruction[]>
}

/** Facts recorded by the agent (its `remember` tool) or by people. */
export declare class Memory {
  private constructor()
  /** Records a fact; runs in its scope see it. */
  add(text: string, options?: { scope?: Scope; labels?: string[] }): Promise<MemoryRecord>
  /** Memories matching every given filter. */
  list(filter?: {
    source?: 'user' | 'agent'
    runId?: string
    label?: string
    connection?: string
    text?: string
  }): Promise<MemoryRecord[]>
  /** The `k` memories most relevant to `text`. */
  search(text: string, k?: number): Promise<MemoryRecord[]>
  /** Deletes a memory. */
  delete(id: string): Promise<void>
}

/** One prompt section of a context plan. */
export interface PromptSection {
  name: string
  text: string
  tokens: number
  budget: number
  /** Items (tables, rules…) the section holds. */
  items: number
  /** Items left out to stay within the budget. */
  omitted: number
}

/** What a run would send the model, and why. */
export interface ContextExplanation {
  /** The core's ContextPlan. */
  plan: {
    question: string
    /** The tables described in full, with why each was chosen. */
    tables: Array<{
      connection: string
      table: TableRef
      score: number
      reason: string
      /** Columns the question matched. */
      columns: string[]
      tokens: number
      family?: { pattern: string; tables: TableRef[] }
    }>
    instructions: Instruction[]
    memories: MemoryRecord[]
    resources: string[]
    sections: PromptSection[]
    tokenizer: string
    context_window: number | null
    system_prompt?: string
  }
  /** A readable report: sections against budgets, tables with reasons, rules, memories. */
  explanation: string
}

export declare class Agent {
  constructor(options: AgentOptions)
  /** The team's rules. */
  readonly rules: Rules
  /** The team's instructions, in the store. */
  readonly instructions: Instructions
  /** Facts the agent and people recorded, in the store. */
  readonly memory: Memory
  /** What a run of `question` would send the model, without calling it. */
  explainContext(question: string): Promise<ContextExplanation>
  /** Rules, instructions, memories and knowledge resources matching `query`. */
  searchKnowledge(query: string, k?: number): Promise<Array<Record<string, unknown>>>
  /** Resolves once the agent is built; rejects with its configuration error. */
  ready(): Promise<void>
  /** Runs `question` to the end. */
  ask(question: string, options?: RunOptions): Promise<AskResult>
  /** Starts `question` and streams its events. */
  stream(question: string, options?: RunOptions): Run
  /** Runs SQL through the agent's guard on `connection` (default: the only or first one). */
  query(sql: string, options?: { connection?: string; user?: UserContext }): Promise<QueryResult>
  /** The audit log, newest first. */
  auditLog(filter?: {
    userId?: string
    runId?: string
    connection?: string
    outcome?: 'success' | 'error' | 'refused' | 'denied'
    limit?: number
  }): Promise<AuditRecord[]>
  /** The connections. */
  connections(): Promise<ConnectionInfo[]>
  /** The latest stored runs, newest first. */
  runs(limit?: number): Promise<RunRecord[]>
  /** Stored dashboards. */
  readonly dashboards: Dashboards
  /** Re-runs a stored query (a dataset's `query_id`) through the guard; a new result version. */
  rerunQuery(queryId: string): Promise<QueryResult>
  /** A sensible dashboard of a stored run, built without a model (refresh it to show data). */
  dashboardFromRun(runId: string): Promise<Dashboard>
  /** Runs an eval suite through this agent (see `evalSuite`). */
  evalSuite(suite: EvalSuiteInput, options?: EvalOptions): Promise<EvalReport>
  /** Eval reports kept in the store (of `suite`, or every suite), newest first. */
  evalHistory(options?: { suite?: string; limit?: number }): Promise<EvalReport[]>
}

// ---------------------------------------------------------------- connections

/** Limits of a connection's queries (defaults: 10,000 rows, 60 s). */
export interface ConnectOptions {
  maxRows?: number
  queryTimeoutSecs?: number
  /** If set, only these tables may be read. */
  allowedTables?: string[]
  /** These tables may never be read. */
  deniedTables?: string[]
}

/** A table's name. */
export interface TableRef {
  schema?: string
  name: string
}

/** A table's description. */
export interface TableSchema {
  table: TableRef
  kind: 'table' | 'view'
  columns: Array<{ name: string; data_type: string; nullable: boolean; comment?: string }>
  comment?: string
  primary_key?: string[]
  foreign_keys?: Array<{ columns: string[]; references: TableRef; referenced_columns: string[] }>
  row_estimate?: number
}

/** One connection with the SQL guard (read-only, one statement, row cap, timeout) in front. */
export declare class Connection {
  private constructor()
  /** The URL it was opened from. */
  readonly url: string
  /** Name, backend, dialect, capabilities. */
  readonly info: ConnectionInfo
  /** Tables and views. */
  tables(): Promise<TableRef[]>
  /** One table's columns, keys and comments (`name` or `schema.name`). */
  describe(table: string): Promise<TableSchema>
  /** Runs `sql` through the guard; `signal` cancels it. */
  query(sql: string, options?: { signal?: AbortSignal }): Promise<QueryResult>
}

/**
 * Opens a connection: `file:///data/*.parquet`, `sqlite:///path.db`, `postgres://…`,
 * `mysql://…`, or `sample:flights`.
 */
export declare function connect(url: string, options?: ConnectOptions): Connection

// ---------------------------------------------------------------- evals

/**
 * An eval suite: the path of a YAML/JSON file (`evals/README.md` documents the format), its YAML
 * text, or the suite as an object.
 */
export type EvalSuiteInput = string | URL | EvalSuite

/** An eval suite as data (the Rust `Suite`). Unknown keys are an error naming the case. */
export interface EvalSuite {
  name: string
  description?: string
  defaults?: { timeout?: number | string; /** @deprecated seconds; use `timeout` */ timeout_secs?: number; tolerance?: number }
  cases: Array<{
    id: string
    question: string
    tags?: string[]
    connection?: string
    expect: {
      /** Reference SQL, or one per dialect / connection name with an optional `default`. */
      sql?: string | Record<string, string>
      ordered?: boolean
      tolerance?: number
      answer_contains?: string[]
      tables?: string[]
      tools?: string[]
      not_tools?: string[]
      max_iterations?: number
      max_tokens?: number
      clarify?: boolean
      judge?: string
    }
  }>
}

/** Options of `evalSuite`. */
export interface EvalOptions {
  /** Cases run at once (default 1). */
  concurrency?: number
  /** Run the single-prompt baseline (one SQL query from the schema) instead of the agent. */
  baseline?: boolean
  /** Time per case in milliseconds, overriding the suite's `defaults.timeout`. */
  timeoutMs?: number
  /** Run only these case ids. */
  only?: string[] | string
  /** A label kept with the report (a model name, a branch). */
  label?: string
  /** Keep the report in the agent's store (default true; read back with `agent.evalHistory()`). */
  store?: boolean
  /** The model scoring `judge` rubrics; without one they are reported as not scored. */
  judge?: string | LlmSpec
  /** Aborting cancels the run: running cases are cancelled, the report covers what ran. */
  signal?: AbortSignal
  /** Called after every case. */
  onProgress?: (progress: EvalProgress) => void
}

/** Progress of an eval run. */
export interface EvalProgress {
  /** Cases finished. */
  done: number
  /** Cases in the run. */
  total: number
  /** Cases passed so far. */
  passed: number
  /** The case that just finished. */
  last: EvalCaseResult
}

/** Why a case failed: the first failing check's class. */
export type EvalFailureClass =
  | 'error'
  | 'timeout'
  | 'cancelled'
  | 'unneeded_clarification'
  | 'no_clarification'
  | 'no_dataset'
  | 'empty_result'
  | 'wrong_row_count'
  | 'wrong_values'
  | 'wrong_order'
  | 'answer_missing_value'
  | 'tables_not_read'
  | 'tool_use'
  | 'over_budget'

/** One check of a case. */
export interface EvalCheck {
  /** `dataset`, `answer`, `clarify`, `tables`, `tools`, `not_tools`, `iterations`, `tokens`, `run`, `timeout`, `cancelled`. */
  name: string
  passed: boolean
  detail: string
  class?: EvalFailureClass
}

/** The first rows of a table, as text. */
export interface EvalTablePreview {
  columns: string[]
  rows: string[][]
  total_rows: number
}

/** The result of one case (the Rust `CaseResult`). */
export interface EvalCaseResult {
  id: string
  question: string
  tags: string[]
  mode: 'agent' | 'baseline'
  connection?: string
  /** Every exact check held. */
  passed: boolean
  failure?: EvalFailureClass
  checks: EvalCheck[]
  /** The final dataset's SQL. */
  sql?: string
  answer?: string
  clarification?: string
  /** The reference result (first rows). */
  expected?: EvalTablePreview
  /** The final dataset (first rows). */
  got?: EvalTablePreview
  tools: string[]
  tokens: number
  seconds: number
  iterations: number
  run_id?: string
  judge?: { score: number | null; reason: string }
  error?: string
}

/** Figures over a run's cases. */
export interface EvalSummary {
  total: number
  passed: number
  pass_rate: number
  median_secs: number
  p90_secs: number
  tokens_per_case: number
  judge_mean?: number
  /** Failed cases per failure class. */
  failure_classes: Record<string, number>
  /** `[passed, total]` per tag. */
  by_tag: Record<string, [number, number]>
}

/** The report of an eval run (the Rust `EvalReport` JSON). */
export interface EvalReport {
  id: string
  suite: string
  mode: 'agent' | 'baseline'
  label?: string
  model?: string
  started_at: string
  finished_at: string
  summary: EvalSummary
  /** Every case, in suite order. */
  cases: EvalCaseResult[]
}

/** A case whose verdict changed between two runs. */
export interface EvalChange {
  id: string
  question: string
  /** Failure class before (`null`: passed). */
  before: EvalFailureClass | null
  /** Failure class after (`null`: passes). */
  after: EvalFailureClass | null
}

/** Two runs of a suite compared case by case (the Rust `Comparison`, plus two fields). */
export interface EvalComparison {
  suite: string
  /** Cases passed before. */
  before: number
  /** Cases passed after. */
  after: number
  /** Cases in the later run. */
  total: number
  /** Passed before, fail now. */
  regressions: EvalChange[]
  /** Failed before, pass now. */
  fixes: EvalChange[]
  /** Only in the later run. */
  added: string[]
  /** Only in the earlier run. */
  removed: string[]
  /** Whether any case regressed (fail CI on it). */
  has_regressions: boolean
  /** A short Markdown summary. */
  markdown: string
}

/**
 * Runs every case of `suite` through `agent` and resolves to the report. A bad suite rejects
 * with code `InvalidInput`, naming the case and the key.
 */
export declare function evalSuite(agent: Agent, suite: EvalSuiteInput, options?: EvalOptions): Promise<EvalReport>

/** An eval report as Markdown: figures, failure classes, tags and one line per case. */
export declare function evalReportToMarkdown(report: EvalReport): string

/** An eval report as one self-contained HTML page (no scripts, no network). */
export declare function evalReportToHtml(report: EvalReport): string

/** `after` against `before`, case by case. */
export declare function compareEvalReports(after: EvalReport, before: EvalReport): EvalComparison

// ---------------------------------------------------------------- dashboards

/** Where a block's data comes from. */
export interface DashboardBlockQuery {
  connection?: string
  sql?: string
  query_id?: string
  result?: string
}

/** What a block shows. */
export type DashboardBlockContent =
  | { type: 'chart'; query: DashboardBlockQuery; chart?: Record<string, unknown> }
  | { type: 'table'; query: DashboardBlockQuery }
  | { type: 'kpi'; query: DashboardBlockQuery; value?: string; previous?: string; unit?: string }
  | { type: 'text'; markdown: string }
  | { type: 'heading'; text: string }

/** A block's last refresh. */
export interface DashboardBlockResult {
  refreshed_at: string
  duration_ms: number
  error?: string
  sql?: string
  columns: string[]
  rows: unknown[][]
  row_count: number
  truncated: boolean
  echarts?: Record<string, unknown>
  kpi?: {
    label: string
    value: number | null
    previous: number | null
    delta: number | null
    delta_ratio: number | null
    sparkline: Array<number | null>
    unit?: string
  }
}

/** One block of a dashboard (`width` of 12 grid columns). */
export interface DashboardBlock {
  id: string
  title?: string
  width?: number
  content: DashboardBlockContent
  result?: DashboardBlockResult
}

/** A parameter bound into blocks' SQL as `:name` (a date range binds `:name_start`/`:name_end`). */
export interface DashboardParameter {
  name: string
  label?: string
  type: 'text' | 'number' | 'integer' | 'date' | 'date_range'
  value?: unknown
}

/** The core's JSON form of a dashboard. */
export interface DashboardJson {
  id?: string
  version?: number
  title: string
  description?: string
  parameters?: DashboardParameter[]
  blocks: DashboardBlock[]
  run_id?: string
  refreshed_at?: string
}

/** A dashboard: refresh it, save it, open it as one self-contained page. */
export declare class Dashboard {
  constructor(data: DashboardJson)
  /** Reads and checks a dashboard (an object or JSON text); errors name the block. */
  static from(data: DashboardJson | string): Dashboard
  readonly id: string
  readonly version: number
  readonly title: string
  readonly blocks: DashboardBlock[]
  readonly parameters: DashboardParameter[]
  /** The block with `id`. */
  block(id: string): DashboardBlock | undefined
  /** Sets a parameter, checked against its type. */
  setParameter(name: string, value: unknown): this
  /** Re-runs every block through `agent`, concurrently; a failing block keeps its error. */
  refresh(agent: Agent): Promise<this>
  /** One self-contained HTML page (ECharts inlined, no network access when viewed). */
  toHtml(): string
  /** The core's JSON form, results included. */
  toJSON(): DashboardJson
}

/** The dashboards in an agent's store (`agent.dashboards`). */
export declare class Dashboards {
  /** Saves `dashboard` as a new version; resolves to the version (and sets it). */
  save(dashboard: Dashboard): Promise<number>
  /** A stored dashboard (latest version, or `version`), or null. */
  get(id: string, options?: { version?: number }): Promise<Dashboard | null>
  /** Stored dashboards, most recently saved first. */
  list(limit?: number): Promise<Array<{ id: string; version: number; title: string; updated_at: string }>>
}
