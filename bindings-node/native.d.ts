// Declarations of the native addon (metricchat.node), generated from the #[napi] items of
// src/ by scripts/build.mjs: do not edit. The public API is index.d.ts.

/** An agent (cheap to share; runs are independent and may go on concurrently). */
export declare class NativeAgent {
  /**
   * Starts a run of `question` with `options` (a `RunOptions` object: `user`, a
   * `UserContext`; `exposure`; `approval`) when given.
   */
  stream(question: string, options?: any | undefined | null): NativeRun
  /**
   * Runs SQL through the agent's guard on `connection` (the only or first one when absent),
   * with `options` (a `RunOptions` object) when given: its `user`'s data policy rewrites it
   * and their credentials apply; the statement is audited.
   */
  query(connection: string | undefined | null, sql: string, options?: any | undefined | null): Promise<NativeResult>
  /**
   * The audit log entries matching an `AuditFilter` (`user_id`, `run_id`, `connection`,
   * `outcome`, `since`, `until`, `limit`), newest first.
   */
  auditLog(filter: any): Promise<any>
  /** The connections' names, backends and dialects. */
  connections(): any
  /** The team's rules in prompt order. */
  rules(): Array<string>
  /** Adds a rule for runs started from now on; returns whether it was new. */
  addRule(rule: string): boolean
  /** Removes a rule; returns whether it was there. */
  removeRule(rule: string): boolean
  /** Adds an instruction from a `NewInstruction` object; returns the stored one. */
  addInstruction(new: any): Promise<any>
  /** Sets an instruction's status (`draft`, `approved`, `archived`); returns it. */
  setInstructionStatus(id: string, status: string): Promise<any>
  /** Deletes an instruction. */
  deleteInstruction(id: string): Promise<void>
  /** Instructions matching an `InstructionFilter` object. */
  listInstructions(filter: any): Promise<any>
  /** Adds a memory from a `NewMemory` object; returns it. */
  addMemory(new: any): Promise<any>
  /** Memories matching a `MemoryFilter` object. */
  listMemories(filter: any): Promise<any>
  /** The `k` memories most relevant to `text`. */
  searchMemories(text: string, k: number): Promise<any>
  /** Deletes a memory. */
  deleteMemory(id: string): Promise<void>
  /** What a run of `question` would send the model: `{ plan, explanation }`. */
  explainContext(question: string): Promise<any>
  /** Rules, instructions, memories and knowledge resources matching `query`. */
  searchKnowledge(query: string, k: number): any
  /**
   * Starts running an eval suite (`suite` is a path when `is_path`, else YAML/JSON text);
   * the suite is read and checked before this returns.
   */
  evalSuite(suite: string, isPath: boolean, options?: EvalOptions | undefined | null): NativeEvalRun
  /** Eval reports kept in the store (of `suite`, or every suite), newest first. */
  evalHistory(suite: string | undefined | null, limit: number): Promise<any>
  /** The latest `limit` stored runs, newest first. */
  runs(limit: number): Promise<any>
  /** Re-runs stored query `query_id` through the guard, storing a new result version. */
  rerunQuery(queryId: string): Promise<NativeResult>
  /** A dashboard built from stored run `run_id`, not refreshed. */
  dashboardFromRun(runId: string): Promise<any>
  /** `dashboard` refreshed through this agent. */
  refreshDashboard(dashboard: any): Promise<any>
  /** Saves `dashboard` as a new version; resolves to it with its version. */
  saveDashboard(dashboard: any): Promise<any>
  /** A stored dashboard (its latest version, or `version`), or null. */
  getDashboard(id: string, version?: number | undefined | null): Promise<any>
  /** Stored dashboards (latest versions), most recently saved first. */
  listDashboards(limit: number): Promise<any>
}

/** One connection. */
export declare class NativeConnection {
  /** Name, backend, dialect and capabilities. */
  get info(): any
  /** Tables and views, as `{ schema?, name }`. */
  tables(): Promise<any>
  /** One table's columns, keys and comments (`name` or `schema.name`). */
  describe(table: string): Promise<any>
  /** Starts `sql` through the guard; `result()` awaits it, `cancel()` stops it. */
  query(sql: string): NativeQuery
}

/** A suite run in progress: its progress events, then its report. */
export declare class NativeEvalRun {
  /**
   * Cancels the run: running cases are cancelled, the rest are not started, and the report
   * covers what ran.
   */
  cancel(): void
  /**
   * The next progress event (`{ done, total, passed, last }`, `last` the case that just
   * finished), or `null` when the run is over.
   */
  nextProgress(): Promise<any | null>
  /** The report as the core's `EvalReport` JSON, or the run's error. */
  result(): Promise<any>
}

/** A query under way. */
export declare class NativeQuery {
  /** Stops the query (its result becomes a `Cancelled` error, also when it had just finished). */
  cancel(): void
  /** The query's result. */
  result(): Promise<NativeResult>
}

/** A result: its JSON metadata and, when there is one, its data. */
export declare class NativeResult {
  /** Everything but the data, as JSON (the Rust `AskResult::to_json` shape for runs). */
  get meta(): any
  /** Whether there is a dataset. */
  get hasData(): boolean
  /** The data as one Arrow IPC stream (`tableFromIPC` reads it); `null` without a dataset. */
  ipc(): Buffer | null
  /**
   * The rows as plain objects (see `metricchat_core::data` for the encoding; integers beyond
   * ±(2^53 − 1) become `BigInt`).
   */
  rows(): any
}

/**
 * One run: its events one by one, then its result.
 *
 * The core's [`SharedRun`]: several JavaScript readers may await `next` at once (each event goes
 * to one of them, in order, and all of them see the end), and `finish` may be awaited again.
 */
export declare class NativeRun {
  /** The run's id. */
  get runId(): string
  /**
   * Cancels the run: the model stream and any running query stop; events up to
   * `run.finished` still arrive.
   */
  cancel(): void
  /** Approves the statement of `approval.requested` `approvalId`: it runs. */
  approve(approvalId: string): void
  /**
   * Denies the statement of `approval.requested` `approvalId`; the model reads
   * `not approved: <reason>`.
   */
  deny(approvalId: string, reason: string): void
  /** The approval requests waiting for a decision (`ApprovalRequest` objects). */
  pendingApprovals(): any
  /** The next event as its JSON object, or `null` after the last one. */
  next(): Promise<any | null>
  /**
   * Drains the remaining events and returns the result, or the run's error
   * (`[Cancelled]`, `[BudgetExceeded]`, …).
   */
  finish(): Promise<NativeResult>
}

/**
 * `after` against `before`, case by case: the core's `Comparison` with `has_regressions` and
 * `markdown` added.
 */
export declare function compareEvalReports(after: any, before: any): any

/**
 * Opens a connection from a URL (`file://`, `sqlite://`, `postgres://`, `mysql://`,
 * `sample:flights`).
 */
export declare function connect(url: string, options?: ConnectOptions | undefined | null): NativeConnection

/** Limits of a connection's queries (the guard's defaults: 10,000 rows, 60 s). */
export interface ConnectOptions {
  /** Row cap of every query. */
  maxRows?: number
  /** Time limit of every query, in seconds. */
  queryTimeoutSecs?: number
  /** If set, only these tables may be read. */
  allowedTables?: Array<string>
  /** These tables may never be read. */
  deniedTables?: Array<string>
}

/**
 * Builds an agent from an `AgentSpec` object (snake_case keys) and JavaScript tools, whose
 * calls go through `dispatch`; `approval` decides approval requests and `credentials`
 * resolves what each statement runs as (see `tools.rs`). Opens the store; makes no call to
 * the model or the warehouses.
 */
export declare function createAgent(spec: any, tools: Array<ToolDef>, dispatch?: ((arg: [string, string, string]) => Promise<string>), approval?: ((arg: [string, string, string]) => Promise<string>), credentials?: ((arg: [string, string, string]) => Promise<string>)): Promise<NativeAgent>

/**
 * The dashboard checked, with defaults filled in; `parameters` (name to value) are set first,
 * each checked against its type.
 */
export declare function dashboardCheck(dashboard: any, parameters?: any | undefined | null): any

/** The dashboard's self-contained HTML page. */
export declare function dashboardHtml(dashboard: any): string

/** Options of an eval run (see `evalSuite` in index.d.ts). */
export interface EvalOptions {
  /** Cases run at once (default 1). */
  concurrency?: number
  /** Run the single-prompt baseline instead of the agent. */
  baseline?: boolean
  /** Time per case in milliseconds, overriding the suite's `defaults.timeout_secs`. */
  timeoutMs?: number
  /** Run only these case ids. */
  only?: Array<string>
  /** A label kept with the report. */
  label?: string
  /** Keep the report in the agent's store (default true). */
  store?: boolean
  /** The model scoring `judge` rubrics: an `LlmSpec` object or a string like `"openai:gpt-4.1"`. */
  judge?: any
}

/** An eval report as one self-contained HTML page (no scripts, no network). */
export declare function evalReportToHtml(reportJson: any): string

/** An eval report as Markdown: figures, failure classes, tags and one line per case. */
export declare function evalReportToMarkdown(reportJson: any): string

/** A tool's description; its handler stays on the JavaScript side. */
export interface ToolDef {
  /** Name (1-64 characters of A-Z, a-z, 0-9, _ or -). */
  name: string
  /** What the tool does, for the model. */
  description: string
  /** JSON Schema of the arguments (`"type": "object"`). */
  parameters?: any
}
