//! Eval results: per case, per run, and two runs compared.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::suite::{Case, Suite};
use crate::compare::TablePreview;
use crate::error::{Error, Result};
use crate::store::EvalRunRecord;

/// Who answers the questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalMode {
    /// The agent: its loop, tools, context and answer.
    #[default]
    Agent,
    /// One prompt to the agent's model ("here are the CREATE TABLEs, write one SQL query"), its
    /// SQL run through the same guard: the baseline the agent must beat. Only the dataset is
    /// checked (there is no answer text, no tools, no clarifying question).
    Baseline,
}

impl EvalMode {
    /// `agent` or `baseline`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvalMode::Agent => "agent",
            EvalMode::Baseline => "baseline",
        }
    }
}

/// Why a case failed: the first failing check's class, in a fixed order of severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The run (or the reference) failed with an error.
    Error,
    /// The case ran out of time.
    Timeout,
    /// The eval run was cancelled.
    Cancelled,
    /// A clarifying question was asked where the question was plain.
    UnneededClarification,
    /// The question was ambiguous and the agent answered anyway.
    NoClarification,
    /// No dataset behind the answer.
    NoDataset,
    /// The final dataset is empty (a filter that matched nothing).
    EmptyResult,
    /// Another number of rows than the reference.
    WrongRowCount,
    /// Values differ from the reference.
    WrongValues,
    /// The right rows in the wrong order (a reversed superlative shows here or as values).
    WrongOrder,
    /// The answer text lacks an expected value.
    AnswerMissingValue,
    /// A table that must be read was not.
    TablesNotRead,
    /// A tool that must (not) be called was not (was).
    ToolUse,
    /// Iteration or token ceiling exceeded.
    OverBudget,
}

impl FailureClass {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Error => "error",
            FailureClass::Timeout => "timeout",
            FailureClass::Cancelled => "cancelled",
            FailureClass::UnneededClarification => "unneeded_clarification",
            FailureClass::NoClarification => "no_clarification",
            FailureClass::NoDataset => "no_dataset",
            FailureClass::EmptyResult => "empty_result",
            FailureClass::WrongRowCount => "wrong_row_count",
            FailureClass::WrongValues => "wrong_values",
            FailureClass::WrongOrder => "wrong_order",
            FailureClass::AnswerMissingValue => "answer_missing_value",
            FailureClass::TablesNotRead => "tables_not_read",
            FailureClass::ToolUse => "tool_use",
            FailureClass::OverBudget => "over_budget",
        }
    }
}

/// One check of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `dataset`, `answer`, `clarify`, `tables`, `tools`, `not_tools`, `iterations`, `tokens`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was found.
    pub detail: String,
    /// The class of failure when it did not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<FailureClass>,
}

/// The LLM judge's score for a rubric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeScore {
    /// 0–1, or `None` when not scored.
    pub score: Option<f64>,
    /// The judge's reason, or why there is no score.
    pub reason: String,
}

impl JudgeScore {
    pub(crate) fn not_scored(reason: impl Into<String>) -> Self {
        Self {
            score: None,
            reason: reason.into(),
        }
    }
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// The question.
    pub question: String,
    /// The case's tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Agent or baseline.
    pub mode: EvalMode,
    /// The connection asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Every exact check held.
    pub passed: bool,
    /// The first failing check's class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureClass>,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// The final dataset's SQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// The answer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// The clarifying question, when one was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clarification: Option<String>,
    /// The reference result (first rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<TablePreview>,
    /// The final dataset (first rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub got: Option<TablePreview>,
    /// Tools called, in order.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Tokens used (input + output).
    pub tokens: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Planner iterations.
    pub iterations: u32,
    /// The run's id in the agent's store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// The judge's score, when the case has a rubric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeScore>,
    /// The run's error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CaseResult {
    pub(crate) fn from_case(case: &Case, mode: EvalMode) -> Self {
        Self {
            id: case.id.clone(),
            question: case.question.clone(),
            tags: case.tags.clone(),
            mode,
            connection: None,
            passed: false,
            failure: None,
            checks: Vec::new(),
            sql: None,
            answer: None,
            clarification: None,
            expected: None,
            got: None,
            tools: Vec::new(),
            tokens: 0,
            seconds: 0.0,
            iterations: 0,
            run_id: None,
            judge: None,
            error: None,
        }
    }

    pub(crate) fn failed_early(case: &Case, class: FailureClass, detail: String) -> Self {
        let mut r = Self::from_case(case, EvalMode::Agent);
        r.fail(class, detail);
        r.finish();
        r
    }

    pub(crate) fn not_run(case: &Case, detail: &str) -> Self {
        Self::failed_early(case, FailureClass::Cancelled, detail.to_string())
    }

    pub(crate) fn check(&mut self, name: &str, passed: bool, detail: String, class: FailureClass) {
        self.checks.push(Check {
            name: name.to_string(),
            passed,
            detail,
            class: (!passed).then_some(class),
        });
    }

    pub(crate) fn fail(&mut self, class: FailureClass, detail: impl Into<String>) {
        let name = match class {
            FailureClass::Timeout => "timeout",
            FailureClass::Cancelled => "cancelled",
            _ => "run",
        };
        self.check(name, false, detail.into(), class);
    }

    /// Sets `passed` and `failure` from the checks.
    pub(crate) fn finish(&mut self) {
        self.passed = !self.checks.is_empty() && self.checks.iter().all(|c| c.passed);
        self.failure = self.checks.iter().filter_map(|c| c.class).min();
    }
}

/// Figures over a run's cases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Cases run.
    pub total: usize,
    /// Cases passed.
    pub passed: usize,
    /// `passed / total`.
    pub pass_rate: f64,
    /// Median seconds per case.
    pub median_secs: f64,
    /// 90th percentile seconds per case.
    pub p90_secs: f64,
    /// Mean tokens per case.
    pub tokens_per_case: f64,
    /// Mean judge score over scored cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_mean: Option<f64>,
    /// Failed cases per failure class.
    pub failure_classes: BTreeMap<String, usize>,
    /// `(passed, total)` per tag.
    pub by_tag: BTreeMap<String, (usize, usize)>,
}

impl Summary {
    fn of(cases: &[CaseResult]) -> Summary {
        let total = cases.len();
        let passed = cases.iter().filter(|c| c.passed).count();
        let mut secs: Vec<f64> = cases.iter().map(|c| c.seconds).collect();
        secs.sort_by(f64::total_cmp);
        let pct = |p: f64| -> f64 {
            if secs.is_empty() {
                return 0.0;
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let i = ((p * (secs.len() - 1) as f64).round() as usize).min(secs.len() - 1);
            secs[i]
        };
        let mut failure_classes = BTreeMap::new();
        let mut by_tag: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for c in cases {
            if let Some(f) = c.failure {
                *failure_classes.entry(f.as_str().to_string()).or_insert(0) += 1;
            }
            for t in &c.tags {
                let e = by_tag.entry(t.clone()).or_insert((0, 0));
                e.0 += usize::from(c.passed);
                e.1 += 1;
            }
        }
        let scores: Vec<f64> = cases
            .iter()
            .filter_map(|c| c.judge.as_ref().and_then(|j| j.score))
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        #[allow(clippy::cast_precision_loss)]
        Summary {
            total,
            passed,
            pass_rate: if total == 0 {
                0.0
            } else {
                passed as f64 / total as f64
            },
            median_secs: pct(0.5),
            p90_secs: pct(0.9),
            tokens_per_case: mean(&cases.iter().map(|c| c.tokens as f64).collect::<Vec<_>>()),
            judge_mean: (!scores.is_empty()).then(|| mean(&scores)),
            failure_classes,
            by_tag,
        }
    }
}

/// The result of running a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Report id (the store key).
    pub id: Uuid,
    /// The suite's name.
    pub suite: String,
    /// Agent or baseline.
    pub mode: EvalMode,
    /// The host's label (a model, a branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The model asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Figures.
    pub summary: Summary,
    /// Every case, in suite order.
    pub cases: Vec<CaseResult>,
}

impl EvalReport {
    pub(crate) fn new(
        suite: &Suite,
        mode: EvalMode,
        label: Option<String>,
        model: Option<String>,
        started_at: DateTime<Utc>,
        cases: Vec<CaseResult>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            suite: suite.name.clone(),
            mode,
            label,
            model,
            started_at,
            finished_at: Utc::now(),
            summary: Summary::of(&cases),
            cases,
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a report written by [`EvalReport::to_json`].
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::invalid_input(format!("not an eval report: {e}")))
    }

    /// The record kept in a [`Store`](crate::store::Store).
    pub fn to_record(&self) -> Result<EvalRunRecord> {
        Ok(EvalRunRecord {
            id: self.id,
            suite: self.suite.clone(),
            mode: self.mode.as_str().to_string(),
            label: self.label.clone(),
            passed: self.summary.passed,
            total: self.summary.total,
            created_at: self.started_at,
            report: serde_json::to_value(self)
                .map_err(|e| Error::Internal(format!("eval report to JSON: {e}")))?,
        })
    }

    /// The report inside a stored record.
    pub fn from_record(record: &EvalRunRecord) -> Result<Self> {
        serde_json::from_value(record.report.clone())
            .map_err(|e| Error::invalid_input(format!("stored eval run {}: {e}", record.id)))
    }

    /// Cases that passed in `before` and fail here (regressions), the reverse (fixes), and
    /// cases only one side has.
    pub fn compare(&self, before: &EvalReport) -> Comparison {
        let old: BTreeMap<&str, &CaseResult> =
            before.cases.iter().map(|c| (c.id.as_str(), c)).collect();
        let mut cmp = Comparison {
            suite: self.suite.clone(),
            before: before.summary.passed,
            after: self.summary.passed,
            total: self.summary.total,
            ..Comparison::default()
        };
        for c in &self.cases {
            match old.get(c.id.as_str()) {
                None => cmp.added.push(c.id.clone()),
                Some(o) if o.passed && !c.passed => cmp.regressions.push(Change {
                    id: c.id.clone(),
                    question: c.question.clone(),
                    before: None,
                    after: c.failure.map(FailureClass::as_str).map(str::to_string),
                }),
                Some(o) if !o.passed && c.passed => cmp.fixes.push(Change {
                    id: c.id.clone(),
                    question: c.question.clone(),
                    before: o.failure.map(FailureClass::as_str).map(str::to_string),
                    after: None,
                }),
                Some(_) => {}
            }
        }
        cmp.removed = before
            .cases
            .iter()
            .filter(|o| !self.cases.iter().any(|c| c.id == o.id))
            .map(|o| o.id.clone())
            .collect();
        cmp
    }

    /// A Markdown summary: figures, failure classes, tags and one line per case.
    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Eval `{}` ({}{})\n",
            self.suite,
            self.mode.as_str(),
            self.label
                .as_deref()
                .map(|l| format!(", {l}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "**{}/{} correct ({:.0}%)** · median {:.1} s · p90 {:.1} s · {:.0} tokens per question{}{}\n",
            s.passed,
            s.total,
            s.pass_rate * 100.0,
            s.median_secs,
            s.p90_secs,
            s.tokens_per_case,
            self.model
                .as_deref()
                .map(|m| format!(" · model `{m}`"))
                .unwrap_or_default(),
            s.judge_mean
                .map(|j| format!(" · judge mean {j:.2}"))
                .unwrap_or_default(),
        );
        if !s.failure_classes.is_empty() {
            let _ = writeln!(out, "| failure class | cases |\n| --- | ---: |");
            let mut classes: Vec<_> = s.failure_classes.iter().collect();
            classes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (k, v) in classes {
                let _ = writeln!(out, "| {k} | {v} |");
            }
            out.push('\n');
        }
        if !s.by_tag.is_empty() {
            let _ = writeln!(out, "| tag | correct |\n| --- | ---: |");
            for (t, (p, n)) in &s.by_tag {
                let _ = writeln!(out, "| {t} | {p}/{n} |");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "| case | result | s | iterations | tokens | detail |\n| --- | --- | ---: | ---: | ---: | --- |"
        );
        for c in &self.cases {
            let detail = c
                .checks
                .iter()
                .find(|k| !k.passed)
                .map(|k| k.detail.replace('|', "\\|").replace('\n', " "))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| `{}` | {} | {:.1} | {} | {} | {} |",
                c.id,
                if c.passed {
                    "pass".to_string()
                } else {
                    format!("FAIL {}", c.failure.map_or("", FailureClass::as_str))
                },
                c.seconds,
                c.iterations,
                c.tokens,
                truncate(&detail, 160)
            );
        }
        out
    }

    /// One self-contained HTML page: figures, then per case the question, SQL, answer, the
    /// expected and returned tables and what differed. No scripts, no network.
    pub fn to_html(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let _ = write!(
            out,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>Eval {suite}</title><style>{css}</style></head><body>\
             <h1>Eval <code>{suite}</code> <small>{mode}{label}</small></h1>\
             <p class=\"figures\"><b>{passed}/{total} correct ({rate:.0}%)</b> · median {med:.1} s · \
             p90 {p90:.1} s · {tok:.0} tokens per question{model}</p>",
            css = CSS,
            suite = esc(&self.suite),
            mode = self.mode.as_str(),
            label = self
                .label
                .as_deref()
                .map(|l| format!(", {}", esc(l)))
                .unwrap_or_default(),
            passed = s.passed,
            total = s.total,
            rate = s.pass_rate * 100.0,
            med = s.median_secs,
            p90 = s.p90_secs,
            tok = s.tokens_per_case,
            model = self
                .model
                .as_deref()
                .map(|m| format!(" · model <code>{}</code>", esc(m)))
                .unwrap_or_default(),
        );
        if !s.failure_classes.is_empty() {
            out.push_str("<table class=\"small\"><tr><th>failure class</th><th>cases</th></tr>");
            for (k, v) in &s.failure_classes {
                let _ = write!(out, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
            }
            out.push_str("</table>");
        }
        for c in &self.cases {
            let _ = write!(
                out,
                "<details class=\"case {cls}\"{open}><summary><span class=\"badge\">{verdict}</span> \
                 <code>{id}</code> {q} <small>{secs:.1} s · {it} it · {tok} tok</small></summary>",
                cls = if c.passed { "pass" } else { "fail" },
                open = if c.passed { "" } else { " open" },
                verdict = if c.passed {
                    "pass".to_string()
                } else {
                    format!("FAIL {}", c.failure.map_or("", FailureClass::as_str))
                },
                id = esc(&c.id),
                q = esc(&c.question),
                secs = c.seconds,
                it = c.iterations,
                tok = c.tokens,
            );
            out.push_str("<ul class=\"checks\">");
            for k in &c.checks {
                let _ = write!(
                    out,
                    "<li class=\"{}\">{}: {}</li>",
                    if k.passed { "ok" } else { "bad" },
                    esc(&k.name),
                    esc(&k.detail)
                );
            }
            out.push_str("</ul>");
            if let Some(sql) = &c.sql {
                let _ = write!(out, "<pre>{}</pre>", esc(sql));
            }
            if let Some(a) = c.answer.as_deref().or(c.clarification.as_deref()) {
                let _ = write!(out, "<blockquote>{}</blockquote>", esc(a));
            }
            if let Some(j) = &c.judge {
                let _ = write!(
                    out,
                    "<p>judge: {} — {}</p>",
                    j.score
                        .map_or("not scored".to_string(), |s| format!("{s:.2}")),
                    esc(&j.reason)
                );
            }
            out.push_str("<div class=\"tables\">");
            for (title, t) in [("expected", &c.expected), ("got", &c.got)] {
                if let Some(t) = t {
                    let _ = write!(
                        out,
                        "<div><h4>{title} ({} row{})</h4>{}</div>",
                        t.total_rows,
                        if t.total_rows == 1 { "" } else { "s" },
                        html_table(t)
                    );
                }
            }
            out.push_str("</div>");
            if let Some(e) = &c.error {
                let _ = write!(out, "<p class=\"bad\">error: {}</p>", esc(e));
            }
            out.push_str("</details>");
        }
        out.push_str("</body></html>");
        out
    }
}

/// Two runs of a suite compared case by case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The suite.
    pub suite: String,
    /// Cases passed before.
    pub before: usize,
    /// Cases passed after.
    pub after: usize,
    /// Cases in the later run.
    pub total: usize,
    /// Passed before, fail now.
    pub regressions: Vec<Change>,
    /// Failed before, pass now.
    pub fixes: Vec<Change>,
    /// Only in the later run.
    pub added: Vec<String>,
    /// Only in the earlier run.
    pub removed: Vec<String>,
}

/// A case whose verdict changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Case id.
    pub id: String,
    /// The question.
    pub question: String,
    /// Failure class before (`None`: passed).
    pub before: Option<String>,
    /// Failure class after (`None`: passes).
    pub after: Option<String>,
}

impl Comparison {
    /// Whether any case regressed (CI fails on this).
    pub fn has_regressions(&self) -> bool {
        !self.regressions.is_empty()
    }

    /// A short Markdown summary.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "`{}`: {} → {} of {} correct; {} regression(s), {} fix(es)\n",
            self.suite,
            self.before,
            self.after,
            self.total,
            self.regressions.len(),
            self.fixes.len()
        );
        for r in &self.regressions {
            let _ = writeln!(
                out,
                "- REGRESSION `{}` ({}): {}",
                r.id,
                r.after.as_deref().unwrap_or("?"),
                r.question
            );
        }
        for f in &self.fixes {
            let _ = writeln!(
                out,
                "- fixed `{}` (was {}): {}",
                f.id,
                f.before.as_deref().unwrap_or("?"),
                f.question
            );
        }
        out
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_table(t: &TablePreview) -> String {
    let mut out = String::from("<table><tr>");
    for c in &t.columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr>");
    for r in &t.rows {
        out.push_str("<tr>");
        for v in r {
            let _ = write!(out, "<td>{}</td>", esc(v));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:70rem;\
padding:0 1rem;color:#1d2127;background:#fff}@media(prefers-color-scheme:dark){body{color:#e6e6e6;\
background:#15171a}th{background:#23262b!important}}code,pre{font-family:ui-monospace,monospace}\
pre{white-space:pre-wrap;background:rgba(127,127,127,.12);padding:.5rem;border-radius:4px}\
details.case{border-left:4px solid #2e9e5b;margin:.4rem 0;padding:.2rem .6rem}\
details.fail{border-color:#d4453b}summary{cursor:pointer}.badge{font-weight:600}\
.fail .badge{color:#d4453b}.pass .badge{color:#2e9e5b}li.bad,p.bad{color:#d4453b}\
table{border-collapse:collapse;margin:.3rem 0;font-size:13px}td,th{border:1px solid \
rgba(127,127,127,.35);padding:2px 6px;text-align:left}th{background:#f2f3f5}\
.tables{display:flex;flex-wrap:wrap;gap:1rem}.tables>div{overflow-x:auto;max-width:100%}\
blockquote{margin:.4rem 0;padding-left:.6rem;border-left:3px solid rgba(127,127,127,.4)}";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn case(id: &str, passed: bool) -> CaseResult {
        let c = Case {
            id: id.into(),
            question: format!("q {id}"),
            tags: vec!["count".into()],
            connection: None,
            expect: super::super::suite::Expect::default(),
        };
        let mut r = CaseResult::from_case(&c, EvalMode::Agent);
        r.check("dataset", passed, "x".into(), FailureClass::WrongValues);
        r.finish();
        r
    }

    fn report(cases: Vec<CaseResult>) -> EvalReport {
        let suite = Suite {
            name: "s".into(),
            description: None,
            defaults: Default::default(),
            cases: vec![],
        };
        EvalReport::new(&suite, EvalMode::Agent, None, None, Utc::now(), cases)
    }

    #[test]
    fn compare_lists_regressions_and_fixes() {
        let a = report(vec![case("a", true), case("b", false), case("c", true)]);
        let b = report(vec![case("a", false), case("b", true), case("d", true)]);
        let cmp = b.compare(&a);
        assert_eq!(cmp.regressions.len(), 1);
        assert_eq!(cmp.regressions[0].id, "a");
        assert_eq!(cmp.fixes[0].id, "b");
        assert_eq!(cmp.added, vec!["d".to_string()]);
        assert_eq!(cmp.removed, vec!["c".to_string()]);
        assert!(cmp.has_regressions());
        assert_eq!(b.summary.failure_classes.get("wrong_values"), Some(&1));
    }

    #[test]
    fn reports_render_and_round_trip() {
        let r = report(vec![case("a", true), case("<b>", false)]);
        let html = r.to_html();
        assert!(html.contains("&lt;b&gt;") && !html.contains("<script"));
        assert!(r.to_markdown().contains("1/2 correct"));
        assert_eq!(EvalReport::from_json(&r.to_json()).unwrap(), r);
        let rec = r.to_record().unwrap();
        assert_eq!(EvalReport::from_record(&rec).unwrap(), r);
    }
}
