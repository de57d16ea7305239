//! `metricchat.toml`: the same [`AgentSpec`] the Python and Node packages accept, read from a
//! TOML file, with secrets kept out of it, then overridden by the environment and one-off flags.
//!
//! ```toml
//! llm = "openai:gpt-4.1-mini"              # or a table: [llm] provider = "…" …
//! connections = ["postgres://analyst:${PGPASSWORD}@db.internal/warehouse"]
//! store = "sqlite:///var/lib/metricchat/runs.db"
//! rules = ["Revenue means net_revenue, never gross."]
//! max_wall_time = "5m"
//!
//! [guard]
//! max_rows = 5000
//! timeout = "30s"
//! ```
//!
//! Secrets never sit in the file: any string may hold `${ENV_VAR}` (replaced by the variable's
//! value), and a model table may name `api_key_file = "path"` (the key is the file's first
//! line). A literal `api_key`, or a password written into a connection URL, is refused.
//!
//! Every mistake is reported with the file, the line and the key (`metricchat.toml:7: guard.
//! max_row: unknown field …`), as a [`ConfigError`].

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use metricchat::llm::{LlmSource, LlmSpec, Provider};
use metricchat::spec::AgentSpec;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::{Table, Value};

/// The file looked for in the current directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "metricchat.toml";

/// A configuration problem, located where it can be: `file:line: key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when the problem is in one.
    pub file: Option<PathBuf>,
    /// 1-based line in the file.
    pub line: Option<usize>,
    /// The dotted key (`guard.max_rows`, `connections[1]`).
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A problem that is not tied to a place in a file.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            file: None,
            line: None,
            key: None,
            message: message.into(),
        }
    }

    /// A problem with `key`, outside any file (a flag or an environment variable).
    pub fn for_key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            ..Self::new(message)
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, _) => {}
        }
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The spec read from a file, with what is needed to point back into it.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The spec (secrets resolved).
    pub spec: AgentSpec,
    /// Where it came from (`None`: no file, built from flags and the environment).
    pub file: Option<PathBuf>,
    /// Line of each connection URL in the file, by index.
    pub connection_lines: Vec<Option<usize>>,
    /// Line of the `llm` key.
    pub llm_line: Option<usize>,
    /// Line of the `store` key.
    pub store_line: Option<usize>,
    /// Secret values read from the environment or files, to blank out of any message printed.
    pub secrets: Vec<String>,
}

impl LoadedConfig {
    /// An empty configuration (no file).
    pub fn empty() -> Self {
        Self {
            spec: AgentSpec::default(),
            file: None,
            connection_lines: Vec::new(),
            llm_line: None,
            store_line: None,
            secrets: Vec::new(),
        }
    }

    /// Reads and checks `path`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            ..ConfigError::new(format!("cannot read the config file: {e}"))
        })?;
        Self::parse(&text, Some(path), &|name| std::env::var(name).ok()).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })
    }

    /// Parses TOML text; `env` resolves `${VAR}` references.
    pub fn parse(
        text: &str,
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let spans = DeTable::parse(text).map_err(|e| ConfigError {
            line: e.span().map(|s| line_of(text, s.start)),
            ..ConfigError::new(first_line(e.message()))
        })?;
        let mut table: Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            line: e.span().map(|s| line_of(text, s.start)),
            ..ConfigError::new(first_line(e.message()))
        })?;
        let locate = Locator {
            text,
            root: spans.get_ref(),
        };
        let base = path.and_then(Path::parent).unwrap_or(Path::new("."));
        let mut secrets = Vec::new();
        resolve_secrets(&mut table, &locate, base, env, &mut secrets)?;
        // Each top-level key alone, so a mistake is pinned to its key (serde's `flatten` in
        // `AgentSpec` loses the position of errors made in the whole table).
        for (key, value) in &table {
            let mut one = Table::new();
            one.insert(key.clone(), value.clone());
            if let Err(e) = AgentSpec::deserialize(Value::Table(one)) {
                return Err(locate.explain(key, value, &e.to_string()));
            }
        }
        let spec = AgentSpec::deserialize(Value::Table(table.clone()))
            .map_err(|e| ConfigError::new(first_line(&e.to_string())))?;
        let connection_lines = match locate.find(&["connections"]) {
            Some(DeValue::Array(items)) => items
                .iter()
                .map(|i| Some(line_of(text, i.span().start)))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            spec,
            file: path.map(Path::to_path_buf),
            connection_lines,
            llm_line: locate.key_line(&["llm"]),
            store_line: locate.key_line(&["store"]),
            secrets,
        })
    }

    /// A [`ConfigError`] about a connection URL, at its line in the file.
    pub fn connection_error(&self, index: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.connection_lines.get(index).copied().flatten(),
            key: Some(format!("connections[{index}]")),
            message: message.into(),
        }
    }

    /// A [`ConfigError`] about the model, at the `llm` line when it came from the file.
    pub fn llm_error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.llm_line.and(self.file.clone()),
            line: self.llm_line,
            key: Some("llm".into()),
            message: message.into(),
        }
    }

    /// A [`ConfigError`] about the store, at the `store` line when it came from the file.
    pub fn store_error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.store_line.and(self.file.clone()),
            line: self.store_line,
            key: Some("store".into()),
            message: message.into(),
        }
    }
}

/// One-off settings from flags and the environment, applied over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--connection URL` (replace the file's connections when given).
    pub connections: Vec<String>,
    /// `--model SPEC` or `--model NAME`.
    pub model: Option<String>,
    /// `--store SPEC` (or `MC_STORE`).
    pub store: Option<String>,
}

/// Applies the environment and the flags over a loaded spec, in this order (later wins): file,
/// `MC_LLM`, `MC_LLM_BASE_URL` / `MC_LLM_MODEL`, `--model`. With no model anywhere, an
/// OpenAI-compatible server (`MC_LLM_BASE_URL`) or OpenAI itself (`OPENAI_API_KEY`) is used, as
/// the quickstart does.
pub fn apply_overrides(
    config: &mut LoadedConfig,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let spec = &mut config.spec;
    if let Some(llm) = env("MC_LLM") {
        spec.llm = Some(LlmSource::Url(llm));
        config.llm_line = None;
    }
    let base_url = env("MC_LLM_BASE_URL");
    let model = env("MC_LLM_MODEL");
    match spec.llm.take() {
        Some(source) if base_url.is_some() || model.is_some() => {
            let mut s = source
                .spec()
                .map_err(|e| config_llm_error(config.llm_line, &config.file, &e))?;
            if let Some(u) = &base_url {
                s.base_url = Some(u.clone());
            }
            if let Some(m) = &model {
                s.model = Some(m.clone());
            }
            spec.llm = Some(LlmSource::Spec(s));
        }
        Some(source) => spec.llm = Some(source),
        None if base_url.is_some() || env("OPENAI_API_KEY").is_some() => {
            // What `OpenAiConfig::from_env` reads: MC_LLM_BASE_URL (or OPENAI_BASE_URL),
            // MC_LLM_MODEL, OPENAI_API_KEY, MC_LLM_SUPPORTS_TOOLS.
            spec.llm = Some(LlmSource::Spec(LlmSpec::new(Provider::OpenAi)));
        }
        None => {}
    }
    if let Some(m) = overrides.model.as_deref().map(str::trim) {
        config.llm_line = None;
        let provider = m.split_once(':').map_or(m, |(p, _)| p);
        if Provider::parse(provider).is_some() {
            m.parse::<LlmSpec>()
                .map_err(|e| ConfigError::for_key("--model", e.to_string()))?;
            spec.llm = Some(LlmSource::Url(m.to_string()));
        } else {
            let mut s = match spec.llm.take() {
                Some(source) => source
                    .spec()
                    .map_err(|e| ConfigError::for_key("--model", e.to_string()))?,
                None => LlmSpec::new(Provider::OpenAi),
            };
            s.model = Some(m.to_string());
            spec.llm = Some(LlmSource::Spec(s));
        }
    }
    if !overrides.connections.is_empty() {
        spec.connections = overrides.connections.clone();
        config.connection_lines = vec![None; spec.connections.len()];
    }
    if let Some(store) = overrides.store.clone().or_else(|| env("MC_STORE")) {
        spec.store = Some(store);
        config.store_line = None;
    }
    Ok(())
}

fn config_llm_error(
    line: Option<usize>,
    file: &Option<PathBuf>,
    e: &metricchat::Error,
) -> ConfigError {
    ConfigError {
        file: line.and(file.clone()),
        line,
        key: Some("llm".into()),
        message: e.to_string(),
    }
}

/// Finds spans in the parsed document.
struct Locator<'a, 'i> {
    text: &'a str,
    root: &'a DeTable<'i>,
}

impl<'i> Locator<'_, 'i> {
    fn entry(&self, path: &[&str]) -> Option<(Range<usize>, &DeValue<'i>)> {
        let mut table = self.root;
        let mut found = None;
        for (i, part) in path.iter().enumerate() {
            let (k, v) = table.iter().find(|(k, _)| k.get_ref() == *part)?;
            found = Some((k.span(), v.get_ref()));
            if i + 1 < path.len() {
                match v.get_ref() {
                    DeValue::Table(t) => table = t,
                    _ => return None,
                }
            }
        }
        found
    }

    fn find(&self, path: &[&str]) -> Option<&DeValue<'i>> {
        self.entry(path).map(|(_, v)| v)
    }

    fn key_line(&self, path: &[&str]) -> Option<usize> {
        self.entry(path)
            .map(|(span, _)| line_of(self.text, span.start))
    }

    fn error(&self, path: &[&str], message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: None,
            line: self.key_line(path),
            key: Some(path.join(".")),
            message: message.into(),
        }
    }

    /// Pins a deserialisation error of top-level `key` to the nested key it is about.
    fn explain(&self, key: &str, value: &Value, message: &str) -> ConfigError {
        let message = first_line(message);
        // Untagged `LlmSource`: say what is wrong with the table form.
        let message = if matches!(key, "llm" | "title_llm") && value.is_table() {
            match LlmSpec::deserialize(value.clone()) {
                Err(e) => first_line(&e.to_string()),
                Ok(_) => message,
            }
        } else {
            message
        };
        if let Some(field) = backticked_after(&message, "unknown field ") {
            let mut path = vec![key.to_string()];
            if let Some(DeValue::Table(t)) = self.find(&[key])
                && let Some(nested) = find_key(t, &field)
            {
                path.extend(nested);
            } else if path[0] != field {
                path.push(field);
            }
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            let line = self.key_line(&refs).or_else(|| self.key_line(&[key]));
            return ConfigError {
                line,
                key: Some(refs.join(".")),
                ..ConfigError::new(message)
            };
        }
        // A wrong value: point at the nested key holding it when the message quotes it.
        if let Some(DeValue::Table(t)) = self.find(&[key])
            && let Some(nested) = find_value(t, &message)
        {
            let mut path = vec![key.to_string()];
            path.extend(nested);
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            return self.error(&refs, message);
        }
        self.error(&[key], message)
    }
}

/// The path (within `table`) of the first key named `name`, searching depth first.
fn find_key(table: &DeTable<'_>, name: &str) -> Option<Vec<String>> {
    for (k, v) in table.iter() {
        if k.get_ref() == name {
            return Some(vec![name.to_string()]);
        }
        if let DeValue::Table(t) = v.get_ref()
            && let Some(mut rest) = find_key(t, name)
        {
            rest.insert(0, k.get_ref().to_string());
            return Some(rest);
        }
    }
    None
}

/// The path of the first leaf whose value the serde `message` quotes (`invalid type: string
/// "many"`, `invalid value: integer `-1``).
fn find_value(table: &DeTable<'_>, message: &str) -> Option<Vec<String>> {
    for (k, v) in table.iter() {
        let hit = match v.get_ref() {
            DeValue::String(s) => message.contains(&format!("\"{s}\"")),
            DeValue::Integer(i) => message.contains(&format!("`{}`", i.as_str())),
            DeValue::Float(f) => message.contains(&format!("`{}`", f.as_str())),
            DeValue::Boolean(b) => message.contains(&format!("`{b}`")),
            DeValue::Table(t) => {
                if let Some(mut rest) = find_value(t, message) {
                    rest.insert(0, k.get_ref().to_string());
                    return Some(rest);
                }
                false
            }
            _ => false,
        };
        if hit {
            return Some(vec![k.get_ref().to_string()]);
        }
    }
    None
}

fn backticked_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    let rest = rest.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(0, |t| t.matches('\n').count())
        + 1
}

fn first_line(message: &str) -> String {
    message
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Replaces `${VAR}` in every string, reads `api_key_file`, and refuses secrets written into
/// the file (a literal `api_key`, a password in a connection URL).
fn resolve_secrets(
    table: &mut Table,
    locate: &Locator<'_, '_>,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<(), ConfigError> {
    if let Some(Value::Array(urls)) = table.get("connections") {
        for (i, url) in urls.iter().enumerate() {
            if let Some(raw) = url.as_str()
                && has_literal_password(raw)
            {
                let line = match locate.find(&["connections"]) {
                    Some(DeValue::Array(items)) => {
                        items.get(i).map(|s| line_of(locate.text, s.span().start))
                    }
                    _ => None,
                };
                return Err(ConfigError {
                    line,
                    key: Some(format!("connections[{i}]")),
                    ..ConfigError::new(
                        "the URL holds a password; write it as ${ENV_VAR} (e.g. \
                         postgres://analyst:${PGPASSWORD}@host/db) so it stays out of the file",
                    )
                });
            }
        }
    }
    for llm_key in ["llm", "title_llm"] {
        let Some(Value::Table(llm)) = table.get_mut(llm_key) else {
            continue;
        };
        if let Some(key) = llm.get("api_key") {
            let ok = key.as_str().is_some_and(is_env_reference);
            if !ok {
                return Err(locate.error(
                    &[llm_key, "api_key"],
                    "an API key is a secret: use api_key = \"${OPENAI_API_KEY}\" (any \
                     variable) or api_key_file = \"path\", or leave it out to use the \
                     provider's usual environment variable",
                ));
            }
        }
        if let Some(file) = llm.remove("api_key_file") {
            let Some(name) = file.as_str() else {
                return Err(locate.error(&[llm_key, "api_key_file"], "expected a file path"));
            };
            let name =
                expand_env(name, env).map_err(|m| locate.error(&[llm_key, "api_key_file"], m))?;
            let path = expand_home(&name, env);
            let path = if path.is_relative() {
                base.join(path)
            } else {
                path
            };
            let key = std::fs::read_to_string(&path)
                .map_err(|e| {
                    locate.error(
                        &[llm_key, "api_key_file"],
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if key.is_empty() {
                return Err(locate.error(
                    &[llm_key, "api_key_file"],
                    format!("{} is empty", path.display()),
                ));
            }
            secrets.push(key.clone());
            llm.insert("api_key".into(), Value::String(key));
        }
    }
    let mut path = Vec::new();
    expand_all(table, &mut path, locate, env, secrets)
}

fn expand_all(
    table: &mut Table,
    path: &mut Vec<String>,
    locate: &Locator<'_, '_>,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for (k, v) in table.iter_mut() {
        path.push(k.clone());
        expand_value(v, path, locate, env, secrets)?;
        path.pop();
    }
    Ok(())
}

fn expand_value(
    v: &mut Value,
    path: &mut Vec<String>,
    locate: &Locator<'_, '_>,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<(), ConfigError> {
    match v {
        Value::String(s) if s.contains("${") => {
            let names = env_names(s);
            let expanded = expand_env(s, env).map_err(|m| {
                let refs: Vec<&str> = path
                    .iter()
                    .map(String::as_str)
                    .take_while(|p| !p.starts_with('['))
                    .collect();
                let mut e = locate.error(&refs, m);
                e.key = Some(path.join(".").replace(".[", "["));
                e
            })?;
            for name in names {
                if let Some(value) = env(&name).filter(|v| v.len() >= 4) {
                    secrets.push(value);
                }
            }
            *s = expanded;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                expand_value(item, path, locate, env, secrets)?;
                path.pop();
            }
        }
        Value::Table(t) => expand_all(t, path, locate, env, secrets)?,
        _ => {}
    }
    Ok(())
}

fn is_env_reference(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("${")
        && s.ends_with('}')
        && env_names(s).len() == 1
        && s.matches("${").count() == 1
}

fn env_names(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        out.insert(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// Replaces every `${VAR}` in `s`; an unset or empty variable is an error.
pub fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in {s:?}"))?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`${{{name}}}` is not an environment variable name"));
        }
        let value = env(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expand_home(path: &str, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match (path.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Whether `raw` is a URL with a password written out (not a `${VAR}` reference).
fn has_literal_password(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    url.password()
        .is_some_and(|p| !p.is_empty() && !p.starts_with("$%7B") && !p.starts_with("${"))
}

/// The default run store: `$MC_HOME/runs.db`, else `$XDG_DATA_HOME/metricchat/runs.db`, else
/// `~/.local/share/metricchat/runs.db`.
pub fn default_store_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let dir = env("MC_HOME")
        .map(PathBuf::from)
        .or_else(|| env("XDG_DATA_HOME").map(|d| Path::new(&d).join("metricchat")))
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".local/share/metricchat")))?;
    Some(dir.join("runs.db"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PGPASSWORD" => Some("s3cret-pw".into()),
            "MY_KEY" => Some("sk-test-123".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
        LoadedConfig::parse(text, None, &env)
    }

    #[test]
    fn reads_a_spec_with_durations_and_env_references() {
        let c = parse(
            "llm = \"openai:gpt-4.1-mini\"\nconnections = [\"sample:flights\", \"postgres://a:${PGPASSWORD}@h/db\"]\nmax_wall_time = \"90s\"\n\n[guard]\nmax_rows = 7\ntimeout = \"30s\"\n",
        )
        .unwrap();
        assert_eq!(c.spec.connections[1], "postgres://a:s3cret-pw@h/db");
        assert_eq!(c.spec.config.guard.max_rows, Some(7));
        assert_eq!(c.connection_lines, vec![Some(2), Some(2)]);
        assert!(c.secrets.contains(&"s3cret-pw".to_string()));
    }

    #[test]
    fn unknown_keys_name_their_line_and_key() {
        let e = parse("llm = \"openai:x\"\nconnections = []\nmax_row = 5\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(3), Some("max_row")),
            "{e}"
        );
        let e = parse("llm = \"openai:x\"\n\n[guard]\nmax_rows = 5\nmax_row = 5\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(5), Some("guard.max_row")),
            "{e}"
        );
        assert!(e.message.contains("unknown field"), "{e}");
        let e = parse("llm = \"openai:x\"\nmax_iterations = \"many\"\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("max_iterations"))
        );
        let e = parse("[llm]\nprovider = \"openai\"\nmodle = \"x\"\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(3), Some("llm.modle")),
            "{e}"
        );
        let e = parse("llm = \"openai:x\"\n[guard]\ntimeout = \"soon\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("guard.timeout"), "{e}");
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("llm = \"openai:x\"\nconnections = [\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn secrets_stay_out_of_the_file() {
        let e = parse("[llm]\nprovider = \"openai\"\napi_key = \"sk-literal\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("llm.api_key")));
        assert!(!e.to_string().contains("sk-literal"));
        let c = parse("[llm]\nprovider = \"openai\"\napi_key = \"${MY_KEY}\"\n").unwrap();
        assert!(c.secrets.contains(&"sk-test-123".to_string()));
        let e = parse("connections = [\"postgres://a:pw@h/db\"]\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("connections[0]"));
        assert!(!e.to_string().contains(":pw@"));
        let e = parse("store = \"${NOPE}\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(1), Some("store")), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.txt"), "sk-from-file\n").unwrap();
        let c = LoadedConfig::parse(
            "[llm]\nprovider = \"openai\"\napi_key_file = \"key.txt\"\n",
            Some(&dir.path().join("metricchat.toml")),
            &env,
        )
        .unwrap();
        assert_eq!(c.secrets, vec!["sk-from-file".to_string()]);
    }

    #[test]
    fn overrides_follow_the_quickstart() {
        let mut c = LoadedConfig::empty();
        let vars = |n: &str| match n {
            "MC_LLM_BASE_URL" => Some("http://127.0.0.1:8089/v1".to_string()),
            "MC_LLM_MODEL" => Some("qwen".to_string()),
            _ => None,
        };
        apply_overrides(&mut c, &Overrides::default(), &vars).unwrap();
        let s = c.spec.llm.as_ref().unwrap().spec().unwrap();
        assert_eq!(s.provider, Provider::OpenAi);
        let mut c = parse("llm = \"anthropic:claude\"\n").unwrap();
        let o = Overrides {
            model: Some("openai:gpt-4.1".into()),
            connections: vec!["sample:flights".into()],
            store: None,
        };
        apply_overrides(&mut c, &o, &|_| None).unwrap();
        let s = c.spec.llm.as_ref().unwrap().spec().unwrap();
        assert_eq!(
            (s.provider, s.model.as_deref()),
            (Provider::OpenAi, Some("gpt-4.1"))
        );
        assert_eq!(c.spec.connections, vec!["sample:flights".to_string()]);
        let o = Overrides {
            model: Some("claude-opus".into()),
            ..Overrides::default()
        };
        let mut c = parse("llm = \"anthropic:claude\"\n").unwrap();
        apply_overrides(&mut c, &o, &|_| None).unwrap();
        let s = c.spec.llm.as_ref().unwrap().spec().unwrap();
        assert_eq!(
            (s.provider, s.model.as_deref()),
            (Provider::Anthropic, Some("claude-opus"))
        );
    }
}
