//! Running a suite: each case through the agent (or the single-prompt baseline), checked.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::report::{CaseResult, EvalMode, EvalReport, FailureClass, JudgeScore};
use super::suite::{Case, Suite};
use crate::agent::Agent;
use crate::compare::{self, DEFAULT_TOLERANCE, Table};
use crate::connector::{ConnectorRef, Dialect, QueryData};
use crate::error::{Error, Result};
use crate::events::{EventKind, RunStatus};
use crate::guard::{GuardConfig, SqlGuard};
use crate::llm::{ChatMessage, ChatRequest, LlmClient};

/// Reference results by (connection, case id), computed once per run.
type ReferenceCache = Mutex<HashMap<(String, String), Arc<Table>>>;

/// Rows of the expected and the returned result kept in a report.
const PREVIEW_ROWS: usize = 20;

/// Progress of a suite run, for a host's progress bar.
#[derive(Debug, Clone)]
pub struct EvalProgress {
    /// Cases finished.
    pub done: usize,
    /// Cases in the run.
    pub total: usize,
    /// Cases passed so far.
    pub passed: usize,
    /// The case that just finished.
    pub last: CaseResult,
}

type ProgressFn = Arc<dyn Fn(&EvalProgress) + Send + Sync>;

/// Runs an eval [`Suite`] against an [`Agent`].
///
/// ```no_run
/// # async fn demo(agent: metricchat_core::Agent) -> metricchat_core::Result<()> {
/// use metricchat_core::eval::{Evaluator, Suite};
///
/// let suite = Suite::from_path("evals/flights.yaml")?;
/// let report = Evaluator::new(agent.clone()).concurrency(2).run(&suite).await?;
/// println!("{}", report.to_markdown());
/// agent.store().put_eval_run(&report.to_record()?).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Evaluator {
    agent: Agent,
    mode: EvalMode,
    concurrency: usize,
    timeout: Option<Duration>,
    judge: Option<Arc<dyn LlmClient>>,
    label: Option<String>,
    only: Option<BTreeSet<String>>,
    progress: Option<ProgressFn>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("mode", &self.mode)
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Evaluator {
    /// An evaluator for `agent`: one case at a time, the suite's timeouts, no judge.
    pub fn new(agent: Agent) -> Self {
        Self {
            agent,
            mode: EvalMode::Agent,
            concurrency: 1,
            timeout: None,
            judge: None,
            label: None,
            only: None,
            progress: None,
            cancel: CancellationToken::new(),
        }
    }

    /// Agent or single-prompt baseline.
    pub fn mode(mut self, mode: EvalMode) -> Self {
        self.mode = mode;
        self
    }

    /// Cases run at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Time per case, overriding the suite's `defaults.timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The model that scores `judge` rubrics (without one they are reported as not scored).
    pub fn judge(mut self, judge: Arc<dyn LlmClient>) -> Self {
        self.judge = Some(judge);
        self
    }

    /// A label stored with the report (a model name, a branch, "before").
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Runs only these case ids.
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.only = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Called after every case.
    pub fn on_progress(mut self, f: impl Fn(&EvalProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// A token that stops the run: running cases are cancelled (and reported as such), the
    /// rest are not started, and the report covers what ran.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs `suite` and returns its report (not stored; see [`EvalReport::to_record`]).
    pub async fn run(&self, suite: &Suite) -> Result<EvalReport> {
        suite.validate()?;
        if self.agent.connections().is_empty() {
            return Err(Error::invalid_input("eval: the agent has no connection"));
        }
        let cases: Vec<&Case> = suite
            .cases
            .iter()
            .filter(|c| self.only.as_ref().is_none_or(|o| o.contains(&c.id)))
            .collect();
        if let Some(only) = &self.only
            && let Some(missing) = only
                .iter()
                .find(|id| !suite.cases.iter().any(|c| &c.id == *id))
        {
            return Err(Error::invalid_input(format!(
                "eval: suite `{}` has no case `{missing}`",
                suite.name
            )));
        }
        let started_at = chrono::Utc::now();
        let total = cases.len();
        let counters = Arc::new(Mutex::new((0usize, 0usize)));
        let reference_cache: Arc<ReferenceCache> = Arc::default();
        let results: Vec<(usize, CaseResult)> =
            futures::stream::iter(cases.into_iter().enumerate())
                .map(|(i, case)| {
                    let counters = Arc::clone(&counters);
                    let cache = Arc::clone(&reference_cache);
                    async move {
                        let result = if self.cancel.is_cancelled() {
                            CaseResult::not_run(case, "the eval run was cancelled")
                        } else {
                            self.run_case(suite, case, &cache).await
                        };
                        if let Some(p) = &self.progress {
                            let (done, passed) = {
                                let mut c = counters.lock().unwrap_or_else(|e| e.into_inner());
                                c.0 += 1;
                                c.1 += usize::from(result.passed);
                                *c
                            };
                            p(&EvalProgress {
                                done,
                                total,
                                passed,
                                last: result.clone(),
                            });
                        }
                        (i, result)
                    }
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        let mut results = results;
        results.sort_by_key(|(i, _)| *i);
        let info = self.agent.llm().model_info();
        Ok(EvalReport::new(
            suite,
            self.mode,
            self.label.clone(),
            Some(info.model),
            started_at,
            results.into_iter().map(|(_, r)| r).collect(),
        ))
    }

    fn case_timeout(&self, suite: &Suite) -> Duration {
        self.timeout.or(suite.defaults.timeout).unwrap_or_else(|| {
            Duration::from_secs_f64(suite.defaults.timeout_secs.unwrap_or(600.0))
        })
    }

    async fn run_case(&self, suite: &Suite, case: &Case, cache: &ReferenceCache) -> CaseResult {
        let conn = match crate::connector::find_connection(
            self.agent.connections(),
            case.connection.as_deref(),
        ) {
            Ok(c) => c.clone(),
            Err(e) => return CaseResult::failed_early(case, FailureClass::Error, e.to_string()),
        };
        let started = Instant::now();
        let outcome = match self.mode {
            EvalMode::Agent => self.ask_agent(case, self.case_timeout(suite)).await,
            EvalMode::Baseline => {
                self.ask_baseline(case, &conn, self.case_timeout(suite))
                    .await
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let tol = case
            .expect
            .tolerance
            .or(suite.defaults.tolerance)
            .unwrap_or(DEFAULT_TOLERANCE);
        let mut result = CaseResult::from_case(case, self.mode);
        result.seconds = seconds;
        result.connection = Some(conn.info().name);
        self.check(case, &conn, outcome, tol, cache, &mut result)
            .await;
        if let Some(rubric) = &case.expect.judge {
            result.judge = Some(match &self.judge {
                Some(judge) => score(judge.as_ref(), case, rubric, &result).await,
                None => JudgeScore::not_scored("no judge model configured"),
            });
        }
        result.finish();
        result
    }

    async fn ask_agent(&self, case: &Case, timeout: Duration) -> Outcome {
        let mut run = self.agent.stream(case.question.clone());
        let cancel = run.cancellation_token();
        let eval_cancel = self.cancel.clone();
        let mut seen = Seen::default();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut timed_out = false;
        loop {
            tokio::select! {
                ev = run.next() => match ev {
                    Some(ev) => seen.record(&ev.kind),
                    None => break,
                },
                () = &mut deadline, if !timed_out => {
                    timed_out = true;
                    cancel.cancel();
                }
                () = eval_cancel.cancelled(), if !cancel.is_cancelled() => cancel.cancel(),
            }
        }
        let result = run.finish().await;
        Outcome {
            run_id: result.as_ref().ok().map(|r| r.run_id),
            status: result.as_ref().ok().map(|r| r.status),
            answer: result.as_ref().ok().and_then(|r| r.answer.clone()),
            clarification: result.as_ref().ok().and_then(|r| r.clarification.clone()),
            dataset: result.as_ref().ok().and_then(|r| {
                r.dataset()
                    .map(|d| (d.sql.clone(), d.connection.clone(), d.data.clone()))
            }),
            tokens: result.as_ref().map_or(0, |r| r.usage.total()),
            iterations: result.as_ref().map_or(0, |r| r.iterations),
            tools: seen.tools,
            queries: seen.queries,
            timed_out,
            cancelled: self.cancel.is_cancelled(),
            error: result.err().map(|e| e.to_string()),
        }
    }

    async fn ask_baseline(&self, case: &Case, conn: &ConnectorRef, timeout: Duration) -> Outcome {
        let work = async {
            let ddl = schema_ddl(conn).await?;
            let dialect = conn.info().dialect;
            let request = ChatRequest::new(vec![
                ChatMessage::system(format!(
                    "You write {} queries. Reply with one SQL query in a ```sql block and \
                     nothing else.",
                    dialect.display_name()
                )),
                ChatMessage::user(format!(
                    "Here are the tables:\n\n{ddl}\n\nWrite one SQL query that answers: {}",
                    case.question
                )),
            ]);
            let mut request = request;
            request.temperature = Some(0.0);
            request.purpose = Some("eval.baseline".to_string());
            let reply = self.agent.llm().complete(request).await?;
            let sql = extract_sql(&reply.text);
            let data = SqlGuard::new(self.agent.config().guard.clone())
                .run(conn, &sql, Some(self.cancel.clone()))
                .await;
            Ok::<_, Error>((sql, reply.usage.total(), data))
        };
        let mut out = Outcome::default();
        match tokio::time::timeout(timeout, work).await {
            Err(_) => out.timed_out = true,
            Ok(Err(e)) => out.error = Some(e.to_string()),
            Ok(Ok((sql, tokens, data))) => {
                out.tokens = tokens;
                out.iterations = 1;
                out.queries.push(sql.clone());
                match data {
                    Ok(d) => out.dataset = Some((sql, conn.info().name, d)),
                    Err(e) => out.error = Some(format!("{e} (SQL: {sql})")),
                }
            }
        }
        out
    }

    async fn check(
        &self,
        case: &Case,
        conn: &ConnectorRef,
        o: Outcome,
        tol: f64,
        cache: &ReferenceCache,
        r: &mut CaseResult,
    ) {
        let e = &case.expect;
        let agent_mode = self.mode == EvalMode::Agent;
        r.run_id = o.run_id;
        r.answer = o.answer.clone();
        r.clarification = o.clarification.clone();
        r.tokens = o.tokens;
        r.iterations = o.iterations;
        r.tools = o.tools.clone();
        r.sql = o.dataset.as_ref().map(|d| d.0.clone());
        if o.cancelled {
            r.fail(FailureClass::Cancelled, "the eval run was cancelled");
            return;
        }
        if o.timed_out {
            r.fail(FailureClass::Timeout, "the case ran out of time");
            return;
        }
        let awaits_input = o.status == Some(RunStatus::AwaitingInput);
        if e.clarify {
            let ok = agent_mode && awaits_input;
            r.check(
                "clarify",
                ok,
                if ok {
                    "asked a clarifying question".to_string()
                } else {
                    "answered instead of asking which meaning was intended".to_string()
                },
                FailureClass::NoClarification,
            );
        } else if awaits_input {
            r.check(
                "clarify",
                false,
                format!(
                    "asked a clarifying question instead of answering: {}",
                    o.clarification.clone().unwrap_or_default()
                ),
                FailureClass::UnneededClarification,
            );
        }
        if let Some(err) = &o.error {
            r.error = Some(err.clone());
            if o.dataset.is_none() {
                r.fail(FailureClass::Error, err.clone());
            }
        }
        if let Some(reference) = &e.sql {
            let dialect = conn.info().dialect;
            let name = conn.info().name;
            match reference.for_target(&name, dialect) {
                None => r.fail(
                    FailureClass::Error,
                    format!("no reference SQL for connection `{name}` ({dialect:?})"),
                ),
                Some(ref_sql) => {
                    let expected = self.reference(conn, &case.id, ref_sql, cache).await;
                    match expected {
                        Err(err) => r.fail(
                            FailureClass::Error,
                            format!("the reference SQL failed: {err}"),
                        ),
                        Ok(expected) => {
                            r.expected = Some(expected.preview(PREVIEW_ROWS));
                            let ordered =
                                e.ordered.unwrap_or_else(|| compare::orders_rows(ref_sql));
                            match &o.dataset {
                                None => r.check(
                                    "dataset",
                                    false,
                                    "the run produced no dataset".to_string(),
                                    FailureClass::NoDataset,
                                ),
                                Some((_, _, data)) => {
                                    let got = table_of(data);
                                    r.got = Some(got.preview(PREVIEW_ROWS));
                                    let verdict =
                                        compare::compare_tables(&expected, &got, ordered, tol);
                                    let class = match &verdict {
                                        Err(compare::Mismatch::RowCount { got: 0, .. }) => {
                                            FailureClass::EmptyResult
                                        }
                                        Err(compare::Mismatch::RowCount { .. }) => {
                                            FailureClass::WrongRowCount
                                        }
                                        Err(compare::Mismatch::Rows { .. }) if ordered => {
                                            FailureClass::WrongOrder
                                        }
                                        _ => FailureClass::WrongValues,
                                    };
                                    r.check(
                                        "dataset",
                                        verdict.is_ok(),
                                        verdict.err().map_or_else(
                                            || "equals the reference".to_string(),
                                            |m| m.describe(),
                                        ),
                                        class,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        if agent_mode {
            let answer = o.answer.clone().unwrap_or_default();
            for v in &e.answer_contains {
                let ok = compare::answer_contains(&answer, v);
                r.check(
                    "answer",
                    ok,
                    if ok {
                        format!("mentions {v}")
                    } else {
                        format!("the answer does not mention {v}")
                    },
                    FailureClass::AnswerMissingValue,
                );
            }
            for t in &e.tools {
                let ok = o.tools.iter().any(|x| x.eq_ignore_ascii_case(t));
                r.check(
                    "tools",
                    ok,
                    if ok {
                        format!("called {t}")
                    } else {
                        format!("never called {t}")
                    },
                    FailureClass::ToolUse,
                );
            }
            for t in &e.not_tools {
                let ok = !o.tools.iter().any(|x| x.eq_ignore_ascii_case(t));
                r.check(
                    "not_tools",
                    ok,
                    if ok {
                        format!("did not call {t}")
                    } else {
                        format!("called {t}")
                    },
                    FailureClass::ToolUse,
                );
            }
            if let Some(max) = e.max_iterations {
                r.check(
                    "iterations",
                    o.iterations <= max,
                    format!("{} iteration(s), at most {max}", o.iterations),
                    FailureClass::OverBudget,
                );
            }
            if let Some(max) = e.max_tokens {
                r.check(
                    "tokens",
                    o.tokens <= max,
                    format!("{} token(s), at most {max}", o.tokens),
                    FailureClass::OverBudget,
                );
            }
        }
        if !e.tables.is_empty() {
            let read = tables_read(&o.queries, conn.info().dialect);
            // `invoice_line` names `InvoiceLine` too: engines spell tables their own way.
            let key = |s: &str| s.replace('_', "").to_lowercase();
            for t in &e.tables {
                let ok = read.iter().any(|x| key(x) == key(t));
                r.check(
                    "tables",
                    ok,
                    if ok {
                        format!("read {t}")
                    } else {
                        format!("never read {t}")
                    },
                    FailureClass::TablesNotRead,
                );
            }
        }
    }

    async fn reference(
        &self,
        conn: &ConnectorRef,
        case_id: &str,
        sql: &str,
        cache: &ReferenceCache,
    ) -> Result<Arc<Table>> {
        let key = (conn.info().name, case_id.to_string());
        if let Some(t) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Arc::clone(t));
        }
        // References are trusted but still read-only; they get a generous row cap.
        let guard = SqlGuard::new(GuardConfig {
            max_rows: Some(100_000),
            ..self.agent.config().guard.clone()
        });
        let data = guard.run(conn, sql, Some(self.cancel.clone())).await?;
        let table = Arc::new(table_of(&data));
        cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::clone(&table));
        Ok(table)
    }
}

/// What a run produced, as the checks need it.
#[derive(Debug, Default)]
struct Outcome {
    run_id: Option<Uuid>,
    status: Option<RunStatus>,
    answer: Option<String>,
    clarification: Option<String>,
    /// SQL, connection and data of the final dataset.
    dataset: Option<(String, String, QueryData)>,
    tokens: u64,
    iterations: u32,
    tools: Vec<String>,
    queries: Vec<String>,
    timed_out: bool,
    cancelled: bool,
    error: Option<String>,
}

/// Tools and SQL seen in a run's events.
#[derive(Debug, Default)]
struct Seen {
    tools: Vec<String>,
    queries: Vec<String>,
}

impl Seen {
    fn record(&mut self, kind: &EventKind) {
        match kind {
            EventKind::ToolStarted { tool, .. } => self.tools.push(tool.clone()),
            EventKind::QueryCreated { sql, .. } => self.queries.push(sql.clone()),
            _ => {}
        }
    }
}

fn table_of(data: &QueryData) -> Table {
    Table::from_batches(
        data.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        &data.batches,
    )
}

/// Tables read by any of `queries` (unqualified, as written).
fn tables_read(queries: &[String], dialect: Dialect) -> BTreeSet<String> {
    let guard = SqlGuard::new(GuardConfig::default());
    let mut out = BTreeSet::new();
    for q in queries {
        if let Ok(g) = guard.check(q, dialect) {
            for t in g.tables {
                let bare = t.rsplit('.').next().unwrap_or(&t);
                out.insert(bare.trim_matches(['"', '`', '[', ']']).to_string());
            }
        }
    }
    out
}

/// CREATE TABLE statements for every table of a connection (the baseline's schema text).
pub async fn schema_ddl(conn: &ConnectorRef) -> Result<String> {
    let dialect = conn.info().dialect;
    let mut out = String::new();
    for t in conn.catalog().await? {
        out.push_str(&format!(
            "CREATE TABLE {} (\n",
            crate::connector::quote_table(dialect, &t.table)
        ));
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| {
                format!(
                    "  {} {}",
                    crate::connector::quote_ident(dialect, &c.name),
                    c.data_type
                )
            })
            .collect();
        out.push_str(&cols.join(",\n"));
        out.push_str("\n);\n");
    }
    Ok(out)
}

/// The SQL in a model's reply: the first fenced block, else the text from the first `SELECT` /
/// `WITH`.
pub(crate) fn extract_sql(text: &str) -> String {
    if let Some(start) = text.find("```") {
        let rest = &text[start + 3..];
        let rest = rest
            .strip_prefix("sql")
            .or_else(|| rest.strip_prefix("SQL"))
            .unwrap_or(rest);
        let body = rest.split("```").next().unwrap_or(rest);
        return body.trim().trim_end_matches(';').trim().to_string();
    }
    let upper = text.to_ascii_uppercase();
    let at = ["SELECT", "WITH"]
        .iter()
        .filter_map(|k| upper.find(k))
        .min()
        .unwrap_or(0);
    text[at..].trim().trim_end_matches(';').trim().to_string()
}

async fn score(judge: &dyn LlmClient, case: &Case, rubric: &str, r: &CaseResult) -> JudgeScore {
    let data = r
        .got
        .as_ref()
        .map(|t| serde_json::to_string(t).unwrap_or_default())
        .unwrap_or_else(|| "(none)".to_string());
    let prompt = format!(
        "You grade an analytics assistant. Score how well its response meets the rubric, from 0 \
         (not at all) to 1 (fully). Reply with JSON only: {{\"score\": <0..1>, \"reason\": \"<one \
         sentence>\"}}.\n\nQuestion: {}\nRubric: {rubric}\nSQL: {}\nData (first rows): {data}\n\
         Answer: {}",
        case.question,
        r.sql.as_deref().unwrap_or("(none)"),
        r.answer
            .as_deref()
            .or(r.clarification.as_deref())
            .unwrap_or("(none)"),
    );
    let mut request = ChatRequest::new(vec![ChatMessage::user(prompt)]);
    request.temperature = Some(0.0);
    request.purpose = Some("eval.judge".to_string());
    match judge.complete(request).await {
        Err(e) => JudgeScore::not_scored(format!("the judge failed: {e}")),
        Ok(reply) => parse_judgement(&reply.text),
    }
}

fn parse_judgement(text: &str) -> JudgeScore {
    let start = text.find('{');
    let end = text.rfind('}');
    let parsed = match (start, end) {
        (Some(s), Some(e)) if e > s => serde_json::from_str::<serde_json::Value>(&text[s..=e]).ok(),
        _ => None,
    };
    let Some(v) = parsed else {
        return JudgeScore::not_scored(format!("the judge's reply is not JSON: {text}"));
    };
    match v.get("score").and_then(serde_json::Value::as_f64) {
        Some(s) if (0.0..=1.0).contains(&s) => JudgeScore {
            score: Some(s),
            reason: v
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or_default()
                .to_string(),
        },
        _ => JudgeScore::not_scored(format!("the judge gave no score in [0, 1]: {text}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn sql_is_taken_from_fences_or_text() {
        assert_eq!(extract_sql("```sql\nSELECT 1;\n```"), "SELECT 1");
        assert_eq!(extract_sql("Here: SELECT 2"), "SELECT 2");
        assert_eq!(
            extract_sql("```\nWITH a AS (SELECT 1) SELECT * FROM a\n```"),
            "WITH a AS (SELECT 1) SELECT * FROM a"
        );
    }

    #[test]
    fn judgements_parse_or_say_why_not() {
        let j = parse_judgement("ok {\"score\": 0.5, \"reason\": \"half\"}");
        assert_eq!(j.score, Some(0.5));
        assert!(parse_judgement("great").score.is_none());
        assert!(parse_judgement("{\"score\": 3}").score.is_none());
    }
}
