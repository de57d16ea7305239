//! Eval suites as files: questions and what a right answer must satisfy.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::connector::Dialect;
use crate::error::{Error, Result};

/// A suite of eval cases (`evals/*.yaml`; see `evals/README.md` for the format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The suite's name; reports and the store key runs by it.
    pub name: String,
    /// What the suite covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Settings every case inherits.
    #[serde(default)]
    pub defaults: CaseDefaults,
    /// The cases, in order.
    pub cases: Vec<Case>,
}

/// Settings every case of a suite inherits unless it sets its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDefaults {
    /// How long a case may take before it is cancelled and failed as a timeout (milliseconds
    /// or `"5m"`, the one duration form of every spec; default 10 minutes).
    #[serde(
        default,
        with = "crate::serde_util::duration_ms_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Deprecated: `timeout` in seconds (`timeout` wins when both are set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<f64>,
    /// Relative tolerance for numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
}

/// One question and its expectations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique, stable id (runs are compared by it).
    pub id: String,
    /// The question, as a user would ask it.
    pub question: String,
    /// Free-form labels; reports group by them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The connection to ask against (default: the agent's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// What a right answer satisfies.
    #[serde(default)]
    pub expect: Expect,
}

/// What a right answer to a [`Case`] satisfies. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Reference SQL: the run's final dataset must equal its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<ReferenceSql>,
    /// Whether row order matters (default: the reference's outermost query has `ORDER BY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordered: Option<bool>,
    /// Relative tolerance for numbers in this case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// Values the answer text must contain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answer_contains: Vec<String>,
    /// Tables some query of the run must read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Tools that must be called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Tools that must not be called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_tools: Vec<String>,
    /// Most planner iterations allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// Most tokens (input + output) allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// The right response is a clarifying question.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clarify: bool,
    /// A rubric for the LLM judge (scored 0–1, reported apart from the exact checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<String>,
}

/// Reference SQL: one query for every engine, or one per dialect / connection name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReferenceSql {
    /// The same SQL everywhere.
    One(String),
    /// Keyed by connection name or dialect (`sqlite`, `postgres`, …), with an optional `default`.
    PerEngine(BTreeMap<String, String>),
}

impl ReferenceSql {
    /// The SQL for a connection: by its name, then its dialect, then `default`.
    pub fn for_target(&self, connection: &str, dialect: Dialect) -> Option<&str> {
        match self {
            ReferenceSql::One(sql) => Some(sql),
            ReferenceSql::PerEngine(map) => {
                let by = |key: &str| {
                    map.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v.as_str())
                };
                by(connection)
                    .or_else(|| dialect_keys(dialect).iter().find_map(|k| by(k)))
                    .or_else(|| by("default"))
            }
        }
    }
}

/// Names a dialect goes by in a suite file.
fn dialect_keys(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::DataFusion => &["datafusion"],
        Dialect::Sqlite => &["sqlite"],
        Dialect::Postgres => &["postgres", "postgresql"],
        Dialect::MySql => &["mysql", "mariadb"],
        Dialect::Redshift => &["redshift", "postgres"],
        Dialect::Snowflake => &["snowflake"],
        Dialect::BigQuery => &["bigquery"],
        Dialect::DuckDb => &["duckdb"],
        _ => &["generic"],
    }
}

impl Suite {
    /// Reads a suite from a YAML or JSON file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Suite> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid_input(format!("cannot read eval suite {}: {e}", path.display()))
        })?;
        Suite::from_yaml(&text).map_err(|e| match e {
            Error::InvalidInput { message } => {
                Error::invalid_input(format!("{}: {message}", path.display()))
            }
            other => other,
        })
    }

    /// Parses a suite from YAML (JSON is YAML too). Errors name the line and, for a case, its
    /// id.
    pub fn from_yaml(text: &str) -> Result<Suite> {
        let suite: Suite = match serde_norway::from_str(text) {
            Ok(s) => s,
            Err(e) => return Err(Error::invalid_input(name_the_case(text, &e.to_string()))),
        };
        suite.validate()?;
        Ok(suite)
    }

    /// The suite as YAML.
    pub fn to_yaml(&self) -> Result<String> {
        serde_norway::to_string(self).map_err(|e| Error::Internal(format!("suite to YAML: {e}")))
    }

    /// Checks what serde cannot: ids unique and non-empty, questions non-empty, tolerances
    /// positive, each case expecting something.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid_input("eval suite: `name` is empty"));
        }
        check_tolerance(self.defaults.tolerance, "defaults")?;
        if let Some(t) = self.defaults.timeout_secs
            && !(t.is_finite() && t > 0.0)
        {
            return Err(Error::invalid_input(
                "eval suite: defaults.timeout_secs must be a positive number of seconds",
            ));
        }
        if self.defaults.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid_input(
                "eval suite: defaults.timeout must be more than zero",
            ));
        }
        let mut seen = HashSet::new();
        for (i, case) in self.cases.iter().enumerate() {
            let at = format!("case {} (`{}`)", i + 1, case.id);
            if case.id.trim().is_empty() {
                return Err(Error::invalid_input(format!(
                    "eval suite: case {} has no id",
                    i + 1
                )));
            }
            if !seen.insert(case.id.as_str()) {
                return Err(Error::invalid_input(format!(
                    "eval suite: {at}: the id is used twice"
                )));
            }
            if case.question.trim().is_empty() {
                return Err(Error::invalid_input(format!(
                    "eval suite: {at}: `question` is empty"
                )));
            }
            check_tolerance(case.expect.tolerance, &at)?;
            let e = &case.expect;
            let expects_something = e.sql.is_some()
                || e.clarify
                || !e.answer_contains.is_empty()
                || !e.tables.is_empty()
                || !e.tools.is_empty()
                || !e.not_tools.is_empty()
                || e.max_iterations.is_some()
                || e.max_tokens.is_some()
                || e.judge.is_some();
            if !expects_something {
                return Err(Error::invalid_input(format!(
                    "eval suite: {at}: `expect` is empty; give at least one expectation"
                )));
            }
            if e.clarify && e.sql.is_some() {
                return Err(Error::invalid_input(format!(
                    "eval suite: {at}: `clarify: true` and `sql` contradict each other"
                )));
            }
            if let Some(ReferenceSql::PerEngine(map)) = &e.sql
                && (map.is_empty() || map.values().any(|s| s.trim().is_empty()))
            {
                return Err(Error::invalid_input(format!(
                    "eval suite: {at}: an `sql` entry is empty"
                )));
            }
        }
        Ok(())
    }
}

fn check_tolerance(t: Option<f64>, at: &str) -> Result<()> {
    match t {
        Some(t) if !(t.is_finite() && (0.0..1.0).contains(&t)) => Err(Error::invalid_input(
            format!("eval suite: {at}: tolerance must be a relative tolerance in [0, 1), got {t}"),
        )),
        _ => Ok(()),
    }
}

/// Adds the case id to a parser error that points into `cases[N]`.
fn name_the_case(text: &str, message: &str) -> String {
    let Some(start) = message.find("cases[") else {
        return message.to_string();
    };
    let digits: String = message[start + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let Ok(index) = digits.parse::<usize>() else {
        return message.to_string();
    };
    let id = serde_norway::from_str::<serde_norway::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("cases")?
                .get(index)?
                .get("id")?
                .as_str()
                .map(str::to_string)
        });
    match id {
        Some(id) => format!("case `{id}` (cases[{index}]): {message}"),
        None => message.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const SUITE: &str = r#"
name: demo
defaults: {tolerance: 0.001}
cases:
  - id: a
    question: How many?
    expect: {sql: SELECT 1}
  - id: b
    question: Which?
    expect:
      sql: {sqlite: SELECT 2, postgres: SELECT 3}
      answer_contains: ["2"]
"#;

    #[test]
    fn parses_and_picks_sql_per_engine() {
        let s = Suite::from_yaml(SUITE).unwrap();
        assert_eq!(s.cases.len(), 2);
        let sql = s.cases[1].expect.sql.as_ref().unwrap();
        assert_eq!(sql.for_target("x", Dialect::Sqlite), Some("SELECT 2"));
        assert_eq!(sql.for_target("x", Dialect::Postgres), Some("SELECT 3"));
        assert_eq!(sql.for_target("x", Dialect::MySql), None);
    }

    #[test]
    fn unknown_keys_name_the_case_and_line() {
        let bad = SUITE.replace("answer_contains", "answer_contain");
        let e = Suite::from_yaml(&bad).unwrap_err().to_string();
        assert!(e.contains("case `b`"), "{e}");
        assert!(e.contains("answer_contain"), "{e}");
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn duplicate_ids_and_empty_expectations_are_refused() {
        let dup = SUITE.replace("id: b", "id: a");
        assert!(
            Suite::from_yaml(&dup)
                .unwrap_err()
                .to_string()
                .contains("used twice")
        );
        let empty = "name: x\ncases:\n  - id: a\n    question: q\n";
        assert!(
            Suite::from_yaml(empty)
                .unwrap_err()
                .to_string()
                .contains("`expect` is empty")
        );
    }
}
