//! The agent loop of design section 2.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::runner::run_tool;
use super::window::{fit_messages, truncate_observation};
use super::{AgentInner, AskResult, Dataset, Run};
use crate::context::ContextPlan;
use crate::error::{Budget, Error, ErrorInfo, Result};
use crate::events::{EventKind, RunStatus, RunSummary, Timings, ToolStatus};
use crate::guard::SqlGuard;
use crate::llm::{ChatMessage, ChatRequest, Usage};
use crate::planner::{DecisionDelta, PlannerDecision, PlannerInput};
use crate::run::state::{EventSink, RunScratch, RunShared, Terminal};
use crate::store::{
    DecisionRecord, ExecutionStatus, QueryStatus, RunRecord, RunState, Snapshot, StepWrite,
    ToolExecutionRecord,
};
use crate::tools::ToolContext;

pub(crate) fn start(
    inner: Arc<AgentInner>,
    question: String,
    history: Vec<ChatMessage>,
    options: super::RunOptions,
) -> Run {
    let run_id = Uuid::now_v7();
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let approvals = crate::approval::Approvals::new();
    let shared = Arc::new(RunShared {
        run_id,
        question: question.clone(),
        connections: inner.connections.clone(),
        llm: inner.llm.clone(),
        guard: SqlGuard::new(inner.config.guard.clone()),
        hub: inner.hub.clone(),
        store: inner.store.clone(),
        sink: EventSink::new(run_id, tx),
        scratch: Mutex::new(RunScratch::default()),
        cancel: cancel.clone(),
        plan: std::sync::OnceLock::new(),
        user: options.user,
        policy_guard: std::sync::OnceLock::new(),
        exposure: options.exposure.unwrap_or(inner.config.exposure),
        credentials: inner.credential_provider.clone(),
        approval: options
            .approval
            .or_else(|| inner.config.approval.clone())
            .filter(crate::approval::ApprovalPolicy::is_active),
        approvals: approvals.clone(),
        approval_handler: inner.approval_handler.clone(),
        sql_candidates: inner.config.sql_candidates.max(1),
    });
    let handle = tokio::spawn(async move {
        let mut l = Loop::new(inner, shared.clone(), history);
        let out = l.execute().await;
        shared.sink.close();
        out
    });
    Run {
        run_id,
        rx,
        cancel: cancel.clone(),
        approvals,
        handle: Some(handle),
        guard: Some(cancel.drop_guard()),
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why the loop stopped.
enum Stop {
    /// `streamed`: the answer's `block.upsert` events were already emitted.
    Answer {
        text: String,
        streamed: bool,
    },
    Clarify(String),
    Cancelled,
    Budget(Budget, String),
    Failed(Error),
}

struct Loop {
    inner: Arc<AgentInner>,
    shared: Arc<RunShared>,
    record: RunRecord,
    step: u32,
    messages: Vec<ChatMessage>,
    /// Earlier turns of the conversation (questions and answers only).
    history: Vec<ChatMessage>,
    pending_decisions: Vec<DecisionRecord>,
    pending_executions: Vec<ToolExecutionRecord>,
    started: Instant,
    tools_ms: u64,
    /// Calls that failed, with their error: a weak model tends to repeat them verbatim.
    failed_actions: Vec<(String, serde_json::Value, String)>,
    /// Whether the final answer's numbers were already checked against the results.
    grounding_checked: bool,
    /// The last call that succeeded: a weak model repeats it instead of answering.
    last_success: Option<(String, serde_json::Value)>,
    /// Meaning checks already raised (each once per run).
    raised: std::collections::BTreeSet<super::meaning::Problem>,
    /// The status and message count of the last snapshot stored (messages only grow), so an
    /// unchanged state is not written again.
    stored_state: Option<(RunStatus, usize)>,
}

impl Loop {
    fn new(inner: Arc<AgentInner>, shared: Arc<RunShared>, history: Vec<ChatMessage>) -> Self {
        let now = Utc::now();
        let record = RunRecord {
            id: shared.run_id,
            question: shared.question.clone(),
            title: None,
            status: RunStatus::Running,
            model: inner.llm.model_info().model,
            created_at: now,
            updated_at: now,
            finished_at: None,
            iterations: 0,
            usage: Usage::default(),
            cost_usd: None,
            answer: None,
            error: None,
            user: shared.user.clone(),
        };
        Self {
            inner,
            shared,
            record,
            step: 0,
            messages: vec![],
            history,
            pending_decisions: vec![],
            pending_executions: vec![],
            started: Instant::now(),
            tools_ms: 0,
            failed_actions: Vec::new(),
            grounding_checked: false,
            raised: std::collections::BTreeSet::new(),
            last_success: None,
            stored_state: None,
        }
    }

    fn usage(&self) -> Usage {
        self.shared.scratch().map(|s| s.usage).unwrap_or_default()
    }

    fn cost(&self, usage: &Usage) -> Option<f64> {
        self.inner.llm.model_info().pricing.map(|p| p.cost(usage))
    }

    /// Writes everything since the last step atomically.
    async fn persist(&mut self) -> Result<()> {
        let usage = self.usage();
        self.record.usage = usage;
        self.record.cost_usd = self.cost(&usage);
        self.record.updated_at = Utc::now();
        let (queries, visualizations) = {
            let mut s = self.shared.scratch()?;
            let q = s.take_dirty_queries();
            (q, std::mem::take(&mut s.new_visualizations))
        };
        let state = (self.record.status, self.messages.len());
        let snapshot = (self.stored_state != Some(state)).then(|| Snapshot {
            run_id: self.record.id,
            step: self.step,
            status: self.record.status,
            state: RunState::new(self.history.clone(), self.messages.clone()),
            created_at: Utc::now(),
        });
        let step = StepWrite {
            run: self.record.clone(),
            decisions: std::mem::take(&mut self.pending_decisions),
            tool_executions: std::mem::take(&mut self.pending_executions),
            queries,
            visualizations,
            snapshot,
            events: self.shared.sink.take_pending(),
        };
        self.step += 1;
        self.inner.store.write_step(&step).await?;
        self.stored_state = Some(state);
        Ok(())
    }

    fn deadline_left(&self) -> Option<std::time::Duration> {
        self.inner
            .config
            .max_wall_time
            .map(|max| max.saturating_sub(self.started.elapsed()))
    }

    fn check_budgets(&self, iteration: u32) -> Option<Stop> {
        let cfg = &self.inner.config;
        if iteration >= cfg.max_iterations {
            return Some(Stop::Budget(
                Budget::Iterations,
                cfg.max_iterations.to_string(),
            ));
        }
        let usage = self.usage();
        if let Some(max) = cfg.max_tokens
            && usage.total() >= max
        {
            return Some(Stop::Budget(Budget::Tokens, max.to_string()));
        }
        if let Some(max) = cfg.max_cost_usd
            && self.cost(&usage).is_some_and(|c| c >= max)
        {
            return Some(Stop::Budget(Budget::Cost, format!("${max}")));
        }
        if let Some(max) = cfg.max_wall_time
            && self.started.elapsed() >= max
        {
            return Some(Stop::Budget(
                Budget::WallTime,
                format!("{}s", max.as_secs()),
            ));
        }
        None
    }

    fn system_prompt(&self, plan: &ContextPlan) -> String {
        crate::prompts::system_prompt(
            plan,
            self.inner.config.instructions.as_deref(),
            self.inner.config.answer_checks,
            self.shared.exposure,
        )
    }

    async fn execute(&mut self) -> Result<AskResult> {
        let connections: Vec<String> = self
            .shared
            .connections
            .iter()
            .map(|c| c.info().name)
            .collect();
        self.shared.sink.emit(EventKind::RunStarted {
            question: self.record.question.clone(),
            model: self.record.model.clone(),
            connections,
            user: self.shared.user.clone(),
        });
        if let Err(e) = self.persist().await {
            return self.finalize(Stop::Failed(e)).await;
        }
        let stop = self.iterate().await;
        self.finalize(stop).await
    }

    async fn iterate(&mut self) -> Stop {
        let cancel = self.shared.cancel.clone();
        // The team's instructions and memories as the store has them now (another process
        // or agent may have approved some since the last run).
        super::instructions::refresh_hub(&self.inner.store, &self.inner.hub).await;
        // The user's data policy, bound before anything runs: a bad policy fails the run here.
        let bound = tokio::select! {
            r = super::policy::bind(&self.inner, self.shared.user.as_ref()) => r,
            () = cancel.cancelled() => return Stop::Cancelled,
        };
        let bound = match bound {
            Ok(b) => b,
            Err(e) => return Stop::Failed(e),
        };
        if let Some(b) = &bound {
            let _ = self
                .shared
                .policy_guard
                .set(super::policy::guard(&self.inner, Some(b.clone())));
        }
        let plan = tokio::select! {
            r = self.shared.hub.plan_view(
                &self.shared.connections,
                &self.shared.question,
                bound.as_deref(),
                self.shared.exposure.shows_samples(),
            ) => r,
            () = cancel.cancelled() => return Stop::Cancelled,
        };
        let mut plan = match plan {
            Ok(p) => p,
            Err(e) => return Stop::Failed(e),
        };
        let system = self.system_prompt(&plan);
        plan.system_prompt = Some(system.clone());
        super::instructions::record_usage(&self.inner.store, &plan.instructions).await;
        let _ = self.shared.plan.set(Arc::new(plan));
        self.messages.extend(self.history.iter().cloned());
        self.messages
            .push(ChatMessage::user(self.shared.question.clone()));
        let tools = self.inner.tools.specs();
        let mut iteration = 0;
        loop {
            if cancel.is_cancelled() {
                return Stop::Cancelled;
            }
            if let Some(stop) = self.check_budgets(iteration) {
                return stop;
            }
            let mut messages = self.messages.clone();
            if let Some(window) = self.shared.hub.config().context_window {
                // Keep the conversation inside the model's window: system prompt, tool specs
                // and room for the reply come first; old observations are cut, then summarised.
                let counter = self.shared.hub.token_counter();
                let fixed = counter.count(&system)
                    + counter.count(&serde_json::to_string(&tools).unwrap_or_default());
                let reserve = (window / 8).clamp(512, 4_096);
                let budget = window.saturating_sub(fixed + reserve);
                fit_messages(&mut messages, budget, 4, counter.as_ref());
            }
            let left = self.inner.config.max_iterations.saturating_sub(iteration);
            if left <= 2 && iteration > 0 {
                // Weak models loop; tell them the budget before it ends the run.
                messages.push(ChatMessage::user(format!(
                    "Only {left} step(s) left: finish now with the best answer the results support."
                )));
            }
            let input = PlannerInput {
                iteration,
                system_prompt: system.clone(),
                messages,
                tools: tools.clone(),
            };
            let decision = match self.decide(iteration, input).await {
                Ok(d) => d,
                Err(stop) => return stop,
            };
            self.record.iterations = iteration + 1;
            self.shared.sink.emit(EventKind::DecisionFinal {
                iteration,
                decision: decision.clone(),
            });
            self.pending_decisions.push(DecisionRecord {
                run_id: self.record.id,
                iteration,
                decision: decision.clone(),
                created_at: Utc::now(),
            });
            if let Err(e) = self.persist().await {
                return Stop::Failed(e);
            }
            if decision.analysis_complete {
                let text = decision.final_answer.clone().unwrap_or_default();
                if self
                    .meaning_check(iteration, &decision, Some(&text), false)
                    .await
                {
                    iteration += 1;
                    continue;
                }
                // One chance to fix an answer that quotes numbers the results do not contain.
                if !self.grounding_checked {
                    self.grounding_checked = true;
                    let queries = self
                        .shared
                        .scratch()
                        .map(|s| s.queries.clone())
                        .unwrap_or_default();
                    let full = self.shared.exposure.is_full();
                    let stray = if full {
                        crate::agent::grounding::stray_numbers(
                            &text,
                            &self.shared.question,
                            &queries,
                        )
                    } else {
                        crate::agent::grounding::stray_numbers_seen(
                            &text,
                            &self.shared.question,
                            &queries,
                            &|q| self.shared.shows(q.query_id),
                        )
                    };
                    if !stray.is_empty() && iteration + 1 < self.inner.config.max_iterations {
                        let problem = if full {
                            format!(
                                "the answer quotes {} which the results do not contain",
                                stray.join(", ")
                            )
                        } else {
                            format!(
                                "the answer quotes {} which no result you can see contains; \
                                 write values you cannot see as placeholders ({{{{q1.column}}}}), \
                                 never guess them",
                                stray.join(", ")
                            )
                        };
                        self.shared.sink.emit(EventKind::PlannerRetry {
                            iteration,
                            attempt: 1,
                            error: problem.clone(),
                        });
                        self.messages.extend(self.inner.planner.step_messages(
                            &decision,
                            &format!(
                                "Check failed: {problem}. Rewrite the final answer quoting the \
                                 exact numbers from the results:\n{}",
                                self.results_digest()
                            ),
                        ));
                        iteration += 1;
                        continue;
                    }
                }
                return Stop::Answer {
                    text,
                    streamed: false,
                };
            }
            let Some(action) = decision.action.clone() else {
                return Stop::Failed(Error::Internal("decision without action".into()));
            };
            let (observation, status) = self.run_action(iteration, &action).await;
            if let Err(e) = self.persist().await {
                return Stop::Failed(e);
            }
            if status == ToolStatus::Cancelled || cancel.is_cancelled() {
                return Stop::Cancelled;
            }
            let mut text = truncate_observation(
                &observation.to_string(),
                self.inner.config.context.observation_chars,
            );
            if status == ToolStatus::Success && action.tool == "create_data" {
                text.push_str(&self.dataset_check().await);
            }
            self.messages
                .extend(self.inner.planner.step_messages(&decision, &text));
            let terminal = self
                .shared
                .scratch()
                .ok()
                .and_then(|mut s| s.terminal.take());
            match terminal {
                Some(Terminal::Answer { text, streamed }) => {
                    if !streamed
                        && self
                            .meaning_check(iteration, &decision, Some(&text), false)
                            .await
                    {
                        iteration += 1;
                        continue;
                    }
                    return Stop::Answer { text, streamed };
                }
                Some(Terminal::Clarify(q)) => {
                    if self.meaning_check(iteration, &decision, None, true).await {
                        iteration += 1;
                        continue;
                    }
                    return Stop::Clarify(q);
                }
                None => {}
            }
            iteration += 1;
        }
    }

    /// Streams one decision, forwarding partials; budget and cancellation stop it.
    async fn decide(
        &mut self,
        iteration: u32,
        input: PlannerInput,
    ) -> std::result::Result<PlannerDecision, Stop> {
        let cancel = self.shared.cancel.clone();
        let deadline = self.deadline_left();
        let wall = async move {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(wall);
        let started = Instant::now();
        let mut stream = tokio::select! {
            s = self.inner.planner.decide(input) => s.map_err(Stop::Failed)?,
            () = cancel.cancelled() => return Err(Stop::Cancelled),
            () = &mut wall => return Err(self.wall_stop()),
        };
        let block_id = Uuid::now_v7();
        loop {
            let next = tokio::select! {
                n = stream.next() => n,
                () = cancel.cancelled() => return Err(Stop::Cancelled),
                () = &mut wall => return Err(self.wall_stop()),
            };
            match next {
                None => {
                    return Err(Stop::Failed(Error::Internal(
                        "planner ended without a decision".into(),
                    )));
                }
                Some(Err(e)) => return Err(Stop::Failed(e)),
                Some(Ok(DecisionDelta::Partial {
                    reasoning_message,
                    assistant_message,
                    final_answer,
                })) => {
                    if let Some(text) = final_answer {
                        // The host sees the values: placeholders are filled as they complete.
                        let text = if self.shared.exposure.is_full() {
                            text
                        } else {
                            let queries = self
                                .shared
                                .scratch()
                                .map(|s| s.queries.clone())
                                .unwrap_or_default();
                            crate::run::exposure::fill(&text, &queries).0
                        };
                        self.shared.sink.emit(EventKind::BlockUpsert {
                            block_id,
                            text,
                            done: false,
                        });
                    }
                    self.shared.sink.emit(EventKind::DecisionPartial {
                        iteration,
                        reasoning_message,
                        assistant_message,
                    });
                }
                Some(Ok(DecisionDelta::Retry { attempt, error })) => {
                    self.shared.sink.emit(EventKind::PlannerRetry {
                        iteration,
                        attempt,
                        error,
                    });
                }
                Some(Ok(DecisionDelta::Final(d))) => {
                    if let Ok(mut s) = self.shared.scratch() {
                        s.usage.add(&d.metrics.usage);
                        s.llm_ms += ms(started.elapsed());
                        if s.first_token_ms.is_none() {
                            s.first_token_ms = d
                                .metrics
                                .first_token_ms
                                .map(|t| t + ms(self.started.elapsed() - started.elapsed()));
                        }
                    }
                    return Ok(*d);
                }
            }
        }
    }

    /// Runs the meaning checks on the final dataset before an answer (or a clarifying
    /// question) ends the run. When one fails, and iterations are left, what to fix goes back
    /// to the model (with the values the data holds, when a text filter matched nothing) and
    /// `true` is returned: the loop goes on.
    async fn meaning_check(
        &mut self,
        iteration: u32,
        decision: &PlannerDecision,
        answer: Option<&str>,
        clarifying: bool,
    ) -> bool {
        if !self.inner.config.answer_checks || iteration + 2 >= self.inner.config.max_iterations {
            return false;
        }
        let queries = self
            .shared
            .scratch()
            .map(|s| s.queries.clone())
            .unwrap_or_default();
        let found = if clarifying {
            super::meaning::clarify_after_data(&queries, &self.raised)
        } else {
            super::meaning::review(
                &self.shared.question,
                answer,
                &queries,
                &self.raised,
                self.last_success.is_some() || !self.history.is_empty(),
                self.values_shown(&queries),
            )
        };
        let Some((problem, message)) = found else {
            return false;
        };
        self.raised.insert(problem);
        let mut note = format!("Check before answering: {message}.");
        if problem == super::meaning::Problem::Empty
            && self.shared.exposure.is_full()
            && let Some(last) = queries.iter().rev().find(|q| q.title.is_some())
        {
            note.push_str(&self.probe_literals(last).await);
        }
        self.shared.sink.emit(EventKind::PlannerRetry {
            iteration,
            attempt: 1,
            error: message,
        });
        self.messages
            .extend(self.inner.planner.step_messages(decision, &note));
        true
    }

    /// The meaning checks on a dataset just created, as a note for its observation: the model
    /// reads what to fix in the same step instead of after it tries to answer.
    async fn dataset_check(&mut self) -> String {
        if !self.inner.config.answer_checks {
            return String::new();
        }
        let queries = self
            .shared
            .scratch()
            .map(|s| s.queries.clone())
            .unwrap_or_default();
        let values = self.values_shown(&queries);
        let Some((problem, message)) = super::meaning::review(
            &self.shared.question,
            None,
            &queries,
            &self.raised,
            true,
            values,
        ) else {
            return String::new();
        };
        self.raised.insert(problem);
        let mut note = format!("\nCheck: {message}.");
        if problem == super::meaning::Problem::Empty
            && self.shared.exposure.is_full()
            && let Some(last) = queries.iter().rev().find(|q| q.title.is_some())
        {
            note.push_str(&self.probe_literals(last).await);
        }
        note
    }

    /// Whether the model may see the values of the dataset the meaning checks review (the
    /// latest with a title).
    fn values_shown(&self, queries: &[Dataset]) -> bool {
        queries
            .iter()
            .rev()
            .find(|q| q.title.is_some())
            .is_none_or(|q| self.shared.shows(q.query_id))
    }

    /// For each text literal the query filters on, values the column really holds that look
    /// like it (or its first values): the literal grounding a small model needs after a filter
    /// matched nothing.
    async fn probe_literals(&self, q: &Dataset) -> String {
        let Ok(conn) =
            crate::connector::find_connection(&self.shared.connections, Some(&q.connection))
        else {
            return String::new();
        };
        let dialect = conn.info().dialect;
        let guard = SqlGuard::new(self.inner.config.guard.clone());
        let tables = guard
            .check(&q.sql, dialect)
            .map(|g| g.tables)
            .unwrap_or_default();
        let mut out = String::new();
        for (column, literal) in super::meaning::literal_filters(&q.sql) {
            // The table of the query that has this column.
            let mut owner = None;
            for t in &tables {
                let tref = crate::connector::TableRef::parse(t);
                if let Ok(schema) = conn.table_schema(&tref).await
                    && let Some(c) = schema
                        .columns
                        .iter()
                        .find(|c| c.name.eq_ignore_ascii_case(&column))
                {
                    owner = Some((schema.table.clone(), c.name.clone()));
                    break;
                }
            }
            let Some((table, col)) = owner else { continue };
            let qcol = crate::connector::quote_ident(dialect, &col);
            let qtable = crate::connector::quote_table(dialect, &table);
            let words = super::meaning::literal_words(&literal);
            let similar = (!words.is_empty()).then(|| {
                let like: Vec<String> = words
                    .iter()
                    .map(|w| format!("LOWER({qcol}) LIKE '%{w}%'"))
                    .collect();
                format!(
                    "SELECT DISTINCT {qcol} FROM {qtable} WHERE {} LIMIT 15",
                    like.join(" OR ")
                )
            });
            let any =
                format!("SELECT DISTINCT {qcol} FROM {qtable} WHERE {qcol} IS NOT NULL LIMIT 15");
            let mut values = Vec::new();
            let mut alike = false;
            for sql in similar.into_iter().chain(std::iter::once(any)) {
                // The run's guard: the user's row filters apply to the probe too.
                if let Ok(data) = self
                    .shared
                    .guard()
                    .run(conn, &sql, Some(self.shared.cancel.clone()))
                    .await
                    && data.num_rows() > 0
                {
                    values = crate::data::batches_to_json_rows(&data.batches, 15)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|r| {
                            r.as_object()?.values().next().map(|v| match v {
                                serde_json::Value::String(s) => format!("'{s}'"),
                                other => other.to_string(),
                            })
                        })
                        .collect();
                    alike = sql.contains(" LIKE ");
                    break;
                }
            }
            if !values.is_empty() {
                out.push_str(&format!(
                    "\nValues of {table}.{col} (you filtered on '{literal}'): {}",
                    values.join(", ")
                ));
            }
            if !alike {
                // Nothing like the literal in this column: it may be a value of another table
                // (a name where the column holds codes); say where it is.
                out.push_str(&self.literal_elsewhere(conn, &table, &col, &literal).await);
            }
        }
        out
    }

    /// Where else a text literal is found among the run's chosen tables of `conn`: up to three
    /// rows, each of another table whose text columns hold the literal's words (the most words
    /// first), shown with their first columns, so the model can join that table or filter on
    /// the code the row gives.
    async fn literal_elsewhere(
        &self,
        conn: &crate::connector::ConnectorRef,
        table: &crate::connector::TableRef,
        column: &str,
        literal: &str,
    ) -> String {
        const TABLES: usize = 6;
        let words = super::meaning::literal_words(literal);
        if words.is_empty() {
            return String::new();
        }
        let info = conn.info();
        let dialect = info.dialect;
        let tables: Vec<crate::connector::TableRef> = self
            .shared
            .plan
            .get()
            .map(|p| {
                p.tables
                    .iter()
                    .filter(|t| t.connection == info.name)
                    .map(|t| t.table.clone())
                    .take(TABLES)
                    .collect()
            })
            .unwrap_or_default();
        let mut found: Vec<(usize, String)> = Vec::new();
        for t in &tables {
            let Ok(schema) = conn.table_schema(t).await else {
                continue;
            };
            let texts: Vec<&str> = schema
                .columns
                .iter()
                .filter(|c| is_text_type(&c.data_type))
                .filter(|c| !(schema.table == *table && c.name.eq_ignore_ascii_case(column)))
                .map(|c| c.name.as_str())
                .collect();
            if texts.is_empty() {
                continue;
            }
            let like: Vec<String> = texts
                .iter()
                .flat_map(|c| {
                    let q = crate::connector::quote_ident(dialect, c);
                    words
                        .iter()
                        .map(move |w| format!("LOWER({q}) LIKE '%{w}%'"))
                })
                .collect();
            // The rows that hold the most of the words first.
            let score: Vec<String> = like
                .iter()
                .map(|l| format!("CASE WHEN {l} THEN 1 ELSE 0 END"))
                .collect();
            let sql = format!(
                "SELECT * FROM {} WHERE {} ORDER BY {} DESC LIMIT 20",
                crate::connector::quote_table(dialect, &schema.table),
                like.join(" OR "),
                score.join(" + ")
            );
            let Ok(data) = self
                .shared
                .guard()
                .run(conn, &sql, Some(self.shared.cancel.clone()))
                .await
            else {
                continue;
            };
            let names: Vec<String> = data
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            for row in crate::data::batches_to_json_rows(&data.batches, 20).unwrap_or_default() {
                let Some(obj) = row.as_object() else { continue };
                let score = texts
                    .iter()
                    .filter_map(|c| obj.get(*c).and_then(|v| v.as_str()))
                    .map(|v| {
                        let v = v.to_lowercase();
                        words.iter().filter(|w| v.contains(w.as_str())).count()
                    })
                    .max()
                    .unwrap_or(0);
                let shown: Vec<String> = names
                    .iter()
                    .take(5)
                    .filter_map(|n| {
                        obj.get(n).map(|v| match v {
                            serde_json::Value::String(s) => format!("{n} = '{s}'"),
                            other => format!("{n} = {other}"),
                        })
                    })
                    .collect();
                found.push((score, format!("{}: {}", schema.table, shown.join(", "))));
            }
        }
        let best = found.iter().map(|(s, _)| *s).max().unwrap_or(0);
        // Most of the literal's words, or all of them when it has one or two.
        if best == 0 || best * 2 < words.len() {
            return String::new();
        }
        let rows: Vec<&str> = found
            .iter()
            .filter(|(s, _)| *s == best)
            .map(|(_, r)| r.as_str())
            .take(3)
            .collect();
        format!(
            "\n'{literal}' is not a value of {table}.{column}, but rows of another table hold \
             it: {}. Join that table and filter on its column, or filter {column} on the \
             code that row gives",
            rows.join("; ")
        )
    }

    fn results_digest(&self) -> String {
        self.shared
            .digest(|q| crate::data::render_text_table(&q.data.batches, 10, 60))
            .join("\n")
    }

    fn wall_stop(&self) -> Stop {
        let max = self.inner.config.max_wall_time.unwrap_or_default();
        Stop::Budget(Budget::WallTime, format!("{}s", max.as_secs()))
    }

    async fn run_action(
        &mut self,
        iteration: u32,
        action: &crate::planner::PlannedAction,
    ) -> (serde_json::Value, ToolStatus) {
        let execution_id = Uuid::now_v7();
        let mut exec = ToolExecutionRecord {
            id: execution_id,
            run_id: self.record.id,
            iteration,
            tool: action.tool.clone(),
            arguments: action.arguments.clone(),
            status: ExecutionStatus::Running,
            observation: None,
            error: None,
            attempts: 0,
            started_at: Utc::now(),
            finished_at: None,
        };
        self.shared.sink.emit(EventKind::ToolStarted {
            execution_id,
            iteration,
            tool: action.tool.clone(),
            arguments: action.arguments.clone(),
        });
        self.pending_executions.push(exec.clone());
        let _ = self.persist().await;
        let started = Instant::now();
        let repeated = self
            .failed_actions
            .iter()
            .find(|(tool, args, _)| *tool == action.tool && *args == action.arguments)
            .map(|(_, _, error)| error.clone());
        let same_as_last_success = self
            .last_success
            .as_ref()
            .is_some_and(|(tool, args)| *tool == action.tool && *args == action.arguments);
        let (status, observation, error, attempts) = match self.inner.tools.get(&action.tool) {
            Some(_) if same_as_last_success => {
                let msg = "you just ran exactly this call and its result is above; answer from                            it now, or change the call if the result is wrong"
                    .to_string();
                (
                    ToolStatus::Error,
                    serde_json::json!({ "error": msg }),
                    Some(msg),
                    0,
                )
            }
            Some(_) if repeated.is_some() => {
                let msg = format!(
                    "this exact call already failed ({}); do not repeat it: change the arguments \
                     or use another tool",
                    repeated.unwrap_or_default()
                );
                (
                    ToolStatus::Error,
                    serde_json::json!({ "error": msg }),
                    Some(msg),
                    0,
                )
            }
            None => {
                let msg = format!(
                    "unknown tool `{}`; available tools: {}",
                    action.tool,
                    self.inner.tools.names().join(", ")
                );
                (
                    ToolStatus::Error,
                    serde_json::json!({ "error": msg }),
                    Some(msg),
                    0,
                )
            }
            Some(tool) => {
                let (ctx, activity) = ToolContext::new(
                    self.shared.clone(),
                    execution_id,
                    tool.name().to_string(),
                    crate::tools::ToolRegistry::builtin()
                        .get(tool.name())
                        .is_some(),
                    iteration,
                );
                // The tool's token is cancelled by the run or by the wall-time budget.
                let tool_cancel = self.shared.cancel.child_token();
                let deadline = self.deadline_left();
                let timer_cancel = tool_cancel.clone();
                let timer = tokio::spawn(async move {
                    if let Some(d) = deadline {
                        tokio::time::sleep(d).await;
                        timer_cancel.cancel();
                    }
                });
                let out = run_tool(
                    tool.clone(),
                    ctx,
                    activity,
                    action.arguments.clone(),
                    tool_cancel,
                )
                .await;
                timer.abort();
                if let Some(e) = &out.error {
                    tracing::debug!(
                        tool = %action.tool,
                        error = %e.message,
                        source = ?e.source.as_ref().map(ToString::to_string),
                        "tool failed"
                    );
                }
                (
                    out.status,
                    out.observation,
                    out.error.map(|e| e.message),
                    out.attempts,
                )
            }
        };
        let duration_ms = ms(started.elapsed());
        self.tools_ms += duration_ms;
        if status == ToolStatus::Success {
            self.last_success = Some((action.tool.clone(), action.arguments.clone()));
        }
        if status != ToolStatus::Success && status != ToolStatus::Cancelled && attempts > 0 {
            self.failed_actions.push((
                action.tool.clone(),
                action.arguments.clone(),
                error.clone().unwrap_or_default(),
            ));
        }
        exec.status = ExecutionStatus::Finished(status);
        exec.observation = Some(observation.clone());
        exec.error = error.clone();
        exec.attempts = attempts;
        exec.finished_at = Some(Utc::now());
        self.shared.sink.emit(EventKind::ToolFinished {
            execution_id,
            tool: action.tool.clone(),
            status,
            observation: observation.clone(),
            error,
            attempts,
            duration_ms,
        });
        self.pending_executions.push(exec);
        (observation, status)
    }

    fn summary(&self, status: RunStatus, reason: Option<String>) -> RunSummary {
        let usage = self.usage();
        let (llm_ms, first_token_ms) = self
            .shared
            .scratch()
            .map(|s| (s.llm_ms, s.first_token_ms))
            .unwrap_or_default();
        RunSummary {
            status,
            title: self.record.title.clone(),
            iterations: self.record.iterations,
            usage,
            cost_usd: self.cost(&usage),
            timings: Timings {
                first_token_ms,
                llm_ms,
                tools_ms: self.tools_ms,
                total_ms: ms(self.started.elapsed()),
            },
            reason,
        }
    }

    async fn generate_title(&self) -> Option<String> {
        if !self.inner.config.generate_title {
            return None;
        }
        let req = ChatRequest {
            temperature: Some(0.0),
            max_tokens: Some(24),
            ..ChatRequest::new(vec![
                ChatMessage::system(crate::prompts::TITLE),
                ChatMessage::user(self.record.question.clone()),
            ])
        }
        .with_purpose("title");
        let cancel = self.shared.cancel.clone();
        let started = Instant::now();
        let title_llm = self.inner.title_llm.as_ref().unwrap_or(&self.inner.llm);
        let resp = tokio::select! {
            r = tokio::time::timeout(std::time::Duration::from_secs(60), title_llm.complete(req.clone())) => r,
            () = cancel.cancelled() => return None,
        };
        if let Ok(mut s) = self.shared.scratch() {
            s.llm_ms += ms(started.elapsed());
        }
        match resp {
            Ok(Ok(r)) => {
                if let Ok(mut s) = self.shared.scratch() {
                    s.usage.add(&r.usage_or_estimate(&req));
                }
                let t = r
                    .text
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'' || c == '*' || c == '#')
                    .trim()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect::<String>();
                (!t.is_empty()).then_some(t)
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "title generation failed");
                None
            }
            Err(_) => None,
        }
    }

    /// Ends the run: answer block, title, final records, `run.finished` / `run.failed`.
    async fn finalize(&mut self, stop: Stop) -> Result<AskResult> {
        let (status, error, reason) = match &stop {
            Stop::Answer { .. } => (RunStatus::Completed, None, None),
            Stop::Clarify(_) => (RunStatus::AwaitingInput, None, None),
            Stop::Cancelled => (
                RunStatus::Cancelled,
                Some(Error::Cancelled),
                Some("cancelled by the caller".to_string()),
            ),
            Stop::Budget(b, limit) => (
                RunStatus::BudgetExceeded,
                Some(Error::BudgetExceeded {
                    budget: *b,
                    limit: limit.clone(),
                }),
                Some(format!("{b} budget of {limit} exceeded")),
            ),
            Stop::Failed(e) => (RunStatus::Failed, None, Some(e.to_string())),
        };
        match &stop {
            Stop::Answer { text, streamed } => {
                // A streamed answer was rendered by its tool; the planner's is a template the
                // host fills unless the exposure is full.
                let text = if *streamed {
                    text.clone()
                } else {
                    self.shared.render_answer(text)
                };
                if !streamed {
                    self.shared.sink.emit(EventKind::BlockUpsert {
                        block_id: Uuid::now_v7(),
                        text: text.clone(),
                        done: true,
                    });
                }
                self.record.answer = Some(text);
            }
            Stop::Clarify(q) => {
                self.shared.sink.emit(EventKind::BlockUpsert {
                    block_id: Uuid::now_v7(),
                    text: q.clone(),
                    done: true,
                });
                self.record.answer = Some(q.clone());
            }
            _ => {}
        }
        if matches!(status, RunStatus::Completed | RunStatus::AwaitingInput) {
            self.record.title = self.generate_title().await;
        }
        if self.record.title.is_none() {
            self.record.title = Some(self.record.question.chars().take(60).collect());
        }
        // Anything left running is over now.
        if let Ok(mut s) = self.shared.scratch() {
            let open: Vec<_> = s
                .query_records
                .iter()
                .filter(|q| q.status == QueryStatus::Running)
                .cloned()
                .collect();
            for mut q in open {
                q.status = QueryStatus::Error;
                q.error = Some(match status {
                    RunStatus::Cancelled => "cancelled".into(),
                    _ => "stopped with the run".into(),
                });
                s.upsert_query(q);
            }
        }
        self.record.status = status;
        self.record.finished_at = Some(Utc::now());
        let failed_error = match &stop {
            Stop::Failed(e) => Some(e),
            _ => error.as_ref(),
        };
        self.record.error = failed_error.map(Error::info).or_else(|| {
            reason.clone().map(|r| ErrorInfo {
                kind: crate::error::ErrorKind::Internal,
                message: r,
            })
        });
        let summary = self.summary(status, reason);
        match &stop {
            Stop::Failed(e) => self.shared.sink.emit(EventKind::RunFailed {
                error: e.info(),
                summary: summary.clone(),
            }),
            _ => self.shared.sink.emit(EventKind::RunFinished {
                summary: summary.clone(),
            }),
        }
        let persisted = self.persist().await;
        if let Err(e) = &persisted {
            tracing::error!(error = %e, run_id = %self.record.id, "could not store the run's end");
        }
        match stop {
            Stop::Failed(e) => return Err(e),
            Stop::Cancelled | Stop::Budget(..) => {
                return Err(error.unwrap_or(Error::Cancelled));
            }
            _ => {}
        }
        persisted?;
        let s = self.shared.scratch()?;
        let clarification = match status {
            RunStatus::AwaitingInput => self.record.answer.clone(),
            _ => None,
        };
        Ok(AskResult {
            run_id: self.record.id,
            status,
            title: self.record.title.clone(),
            answer: match status {
                RunStatus::Completed => self.record.answer.clone(),
                _ => None,
            },
            clarification,
            datasets: {
                // The datasets the model created; when it created none but answered from an
                // exploratory query, that query's rows are the data behind the answer.
                let titled: Vec<&Dataset> =
                    s.queries.iter().filter(|q| q.title.is_some()).collect();
                let chosen = if titled.is_empty() && status == RunStatus::Completed {
                    s.queries
                        .iter()
                        .rev()
                        .find(|q| q.data.num_rows() > 0)
                        .into_iter()
                        .collect()
                } else {
                    titled
                };
                chosen.into_iter().cloned().collect()
            },
            charts: s.visualizations.clone(),
            usage: summary.usage,
            cost_usd: summary.cost_usd,
            timings: summary.timings,
            iterations: summary.iterations,
        })
    }
}

/// Whether an engine's type name is a text type (`VARCHAR`, `TEXT`, `Utf8`, `STRING`, …).
fn is_text_type(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    ["char", "text", "utf8", "string"]
        .iter()
        .any(|k| t.contains(k))
}
