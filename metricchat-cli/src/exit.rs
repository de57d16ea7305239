//! Exit codes scripts can branch on, and the error type that carries one.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | the run or the query failed (the model, the database, a budget) |
//! | 2 | usage or configuration error (bad flag, bad `metricchat.toml`, bad URL, no model) |
//! | 3 | a connection could not be opened or reached at start |
//! | 4 | the SQL guard refused the statement |
//! | 5 | a named thing (table, run, connection, dashboard) does not exist |
//! | 6 | `eval`: the suite ran and cases failed (with `--compare`: a case regressed; with `--min-pass-rate`: too few passed) |
//! | 130 | interrupted (Ctrl-C): the run and its query were cancelled |
//!
//! A statement denied approval (`--approve`, see [`crate::approve`]) is not an error of the
//! command: the agent reads the denial and answers, and `ask` exits 0 when the run completes.

use std::fmt;
use std::process::ExitCode;

use metricchat::{Error, ErrorKind};

use crate::config::ConfigError;

/// Success.
pub const OK: u8 = 0;
/// The run or the query failed.
pub const FAILED: u8 = 1;
/// Usage or configuration error.
pub const USAGE: u8 = 2;
/// A connection could not be opened or reached.
pub const CONNECTION: u8 = 3;
/// The SQL guard refused the statement.
pub const REFUSED: u8 = 4;
/// Something named does not exist.
pub const NOT_FOUND: u8 = 5;
/// `eval`: the suite ran and its gate failed (a case failed, regressed against `--compare`, or
/// the pass rate is under `--min-pass-rate`).
pub const CASES_FAILED: u8 = 6;
/// Interrupted by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// The help text's table of exit codes.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    the run or the query failed (model, database, budget)
  2    usage or configuration error (flags, metricchat.toml, URLs, no model)
  3    a connection could not be opened or reached at start
  4    the SQL guard refused the statement
  5    a table, run, connection or dashboard does not exist
  6    eval: cases failed (with --compare: a regression; with --min-pass-rate: too few passed)
  130  interrupted (Ctrl-C): the run and its running query were cancelled";

/// A failure with the exit code it maps to. Its message never holds a secret: it is passed
/// through [`Redactor`] before it is shown.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: u8,
    /// What to print (after `error: `).
    pub message: String,
}

impl CliError {
    /// A failure with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(USAGE, message)
    }

    /// A connection error at start (exit 3).
    pub fn connection(message: impl Into<String>) -> Self {
        Self::new(CONNECTION, message)
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        Self::usage(e.to_string())
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        Self::new(code_for(&e), e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::new(FAILED, e.to_string())
    }
}

/// The exit code for a metricchat error met while running (not while connecting).
pub fn code_for(e: &Error) -> u8 {
    match e {
        Error::SqlRefused { .. } => REFUSED,
        Error::Cancelled => INTERRUPTED,
        Error::Config { .. } => USAGE,
        Error::Connection { .. } | Error::PrivilegedLogin { .. } => CONNECTION,
        _ => match e.kind() {
            ErrorKind::NotFound => NOT_FOUND,
            ErrorKind::InvalidInput => USAGE,
            ErrorKind::Cancelled => INTERRUPTED,
            _ => FAILED,
        },
    }
}

/// Blanks known secret values (keys read from files or the environment, URL passwords) out of
/// text before it is printed.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these values (short ones are ignored: they would blank ordinary words).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// Adds the password of a URL, if it has one.
    pub fn add_url(&mut self, url: &str) {
        if let Ok(u) = url::Url::parse(url)
            && let Some(p) = u.password()
            && p.len() >= 4
        {
            self.secrets.push(p.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_documented_codes() {
        let refused = Error::SqlRefused {
            reason: "only read-only".into(),
            sql: "DROP TABLE x".into(),
        };
        assert_eq!(code_for(&refused), REFUSED);
        assert_eq!(code_for(&Error::Cancelled), INTERRUPTED);
        assert_eq!(
            code_for(&Error::NotFound {
                what: "table",
                name: "x".into()
            }),
            NOT_FOUND
        );
        assert_eq!(code_for(&Error::Internal("x".into())), FAILED);
    }

    #[test]
    fn redacts_secrets() {
        let mut r = Redactor::new(vec!["sk-abcdef".to_string(), "ab".to_string()]);
        r.add_url("postgres://u:hunter22@h/db");
        assert_eq!(
            r.apply("key sk-abcdef and hunter22 ab"),
            "key *** and *** ab"
        );
    }
}
