//! Record and replay of provider HTTP traffic ("cassettes"), so tests and demos run the real
//! provider clients without a network, a key or a bill.
//!
//! A [`Cassette`] sits between a provider client and the network, at the HTTP level: in
//! [`CassetteMode::Record`] each request goes to the real endpoint and the exchange is appended
//! to a JSON Lines file; in [`CassetteMode::Replay`] the request is answered from that file, with
//! streamed bodies (server-sent events, NDJSON) handed back chunk by chunk, byte for byte as they
//! were received, so the client's own parser, usage accounting and error mapping run exactly as
//! they did live. [`CassetteMode::Auto`] records when the environment variable `MC_RECORD` is `1`
//! and replays otherwise.
//!
//! Requests match on their JSON body, ignoring key order, the fields of
//! [`DEFAULT_IGNORED_FIELDS`], and UUIDs inside strings (the agent's per-run query ids reach the
//! model in tool results, so a replayed agent run differs from the recorded one only in them).
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::Result<()> {
//! use metricchat_core::llm::cassette::Cassette;
//! use metricchat_core::llm::{ChatMessage, ChatRequest, LlmClient, OpenAiClient, OpenAiConfig};
//!
//! // `MC_RECORD=1 cargo test` records against the real API; plain `cargo test` replays.
//! let llm = Cassette::auto(
//!     "tests/cassettes/churn.jsonl",
//!     OpenAiClient::new(OpenAiConfig::from_env())?,
//! )?;
//! let reply = llm
//!     .complete(ChatRequest::new(vec![ChatMessage::user("Why did churn rise in May?")]))
//!     .await?;
//! println!("{}", reply.text);
//! # Ok(()) }
//! ```
//!
//! Several clients may share one file: open it once with [`Cassette::open`] and hand the same
//! cassette to each with [`Cassette::wrap`].
//!
//! # The file
//!
//! One JSON object per line:
//!
//! ```json
//! {"request": {"method": "POST", "path": "/v1/chat/completions", "body": {"model": "gpt-4.1", "messages": []}},
//!  "response": {"status": 200, "headers": {"content-type": "text/event-stream"},
//!               "chunks": ["data: {\"choices\":[…]}\n\n", "data: [DONE]\n\n"]}}
//! ```
//!
//! Streamed responses (`text/event-stream`, NDJSON) keep their `chunks`; other bodies are one
//! `text`. Only the method, the path (with its query string, minus any `key`-like parameter) and
//! the JSON body of a request are stored — never a request header, so API keys
//! (`Authorization`, `x-api-key`, `api-key`, `x-goog-api-key`) never reach the file. Of the
//! response headers only `content-type`, `retry-after` and `retry-after-ms` are kept.
//!
//! # Matching
//!
//! A request matches a recording with the same method, path and body, compared as JSON (key
//! order does not matter) after removing the [ignored fields](Cassette::ignore_fields)
//! (`stream_options` and `user` by default). Recordings are used in order: the first unused
//! match answers, and once all matches are used the last one answers again. A request nothing
//! matches fails with an [`Error::NotFound`] naming the nearest recording and the first place its
//! body differs, e.g. ``/messages/1/content: recorded "top carriers", sent "top airports"``.
//!
//! Record mode starts the file afresh; an exchange is written when its response body has been
//! read to the end (or dropped), so a response cut by the network is recorded as far as it got.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::LlmClient;
use super::transport::{HttpSend, send_error};
use crate::error::{Error, Result};

/// The environment variable that makes [`CassetteMode::Auto`] record.
pub const RECORD_ENV: &str = "MC_RECORD";

/// Fields removed from request bodies before matching, unless [`Cassette::ignore_fields`] says
/// otherwise.
pub const DEFAULT_IGNORED_FIELDS: &[&str] = &["stream_options", "user"];

/// Query parameters never written to a cassette (some gateways take the key in the URL).
const SECRET_PARAMS: &[&str] = &["key", "api-key", "api_key", "access_token", "token"];

/// Response headers kept in a cassette.
const KEPT_HEADERS: &[&str] = &["content-type", "retry-after", "retry-after-ms"];

/// Whether a [`Cassette`] records or replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CassetteMode {
    /// Forward every request to the real endpoint and write the exchange to the file.
    Record,
    /// Answer every request from the file; nothing goes to the network.
    Replay,
    /// [`CassetteMode::Record`] when `MC_RECORD=1`, else [`CassetteMode::Replay`].
    Auto,
}

impl CassetteMode {
    /// `Auto` resolved against the environment; `Record` and `Replay` as they are.
    pub fn resolve(self) -> CassetteMode {
        match self {
            CassetteMode::Auto => {
                let on = std::env::var(RECORD_ENV).is_ok_and(|v| {
                    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
                });
                if on {
                    CassetteMode::Record
                } else {
                    CassetteMode::Replay
                }
            }
            other => other,
        }
    }
}

/// A provider client that can send its HTTP traffic through a [`Cassette`]: every client in
/// [`crate::llm`] ([`OpenAiClient`](super::OpenAiClient) incl. Azure,
/// [`AnthropicClient`](super::AnthropicClient), [`GeminiClient`](super::GeminiClient),
/// [`OllamaClient`](super::OllamaClient)).
pub trait Recordable: LlmClient + Sized {
    /// The same client, sending through `cassette`.
    fn with_cassette(self, cassette: &Cassette) -> Self;
}

/// A recorded request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CassetteRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query string (secret parameters removed), e.g. `/v1/chat/completions`.
    pub path: String,
    /// The JSON body (a JSON string if the body was not JSON; null if there was none).
    pub body: Value,
}

/// A recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CassetteResponse {
    /// HTTP status.
    pub status: u16,
    /// The kept headers (lower-case names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Body chunks as received (streamed responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<String>>,
    /// The whole body (other responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One line of a cassette file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CassetteEntry {
    /// What was sent.
    pub request: CassetteRequest,
    /// What came back.
    pub response: CassetteResponse,
}

struct Slot {
    entry: CassetteEntry,
    used: bool,
}

struct Tape {
    path: PathBuf,
    mode: CassetteMode,
    ignored: Mutex<Vec<String>>,
    /// Replay: the recordings.
    slots: Mutex<Vec<Slot>>,
    /// Record: the open file.
    writer: Mutex<Option<File>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A cassette file opened for recording or replay; cheap to clone (clones share the file).
///
/// See the [module documentation](self) for the file format and the matching rules.
#[derive(Clone)]
pub struct Cassette {
    tape: Arc<Tape>,
}

impl std::fmt::Debug for Cassette {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cassette")
            .field("path", &self.tape.path)
            .field("mode", &self.tape.mode)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl HttpSend for Cassette {
    async fn send(
        &self,
        provider: &str,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<reqwest::Response> {
        Cassette::send(self, provider, client, request).await
    }
}

impl Cassette {
    /// Opens `path` in `mode` (`Auto` is resolved now). Record truncates the file (creating
    /// its directory); Replay reads it and fails with [`Error::NotFound`] if it does not exist
    /// and [`Error::InvalidInput`] if a line is not a recording.
    pub fn open(path: impl AsRef<Path>, mode: CassetteMode) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mode = mode.resolve();
        let mut slots = Vec::new();
        let mut writer = None;
        match mode {
            CassetteMode::Record => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| io_error(&path, e))?;
                }
                writer = Some(File::create(&path).map_err(|e| io_error(&path, e))?);
            }
            _ => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Error::NotFound {
                            what: "cassette",
                            name: format!("{} (record it with {RECORD_ENV}=1)", path.display()),
                        }
                    } else {
                        io_error(&path, e)
                    }
                })?;
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let entry: CassetteEntry = serde_json::from_str(line).map_err(|e| {
                        Error::invalid_input(format!(
                            "cassette {} line {}: not a recording: {e}",
                            path.display(),
                            i + 1
                        ))
                    })?;
                    slots.push(Slot { entry, used: false });
                }
            }
        }
        Ok(Self {
            tape: Arc::new(Tape {
                path,
                mode,
                ignored: Mutex::new(
                    DEFAULT_IGNORED_FIELDS
                        .iter()
                        .map(|s| (*s).to_string())
                        .collect(),
                ),
                slots: Mutex::new(slots),
                writer: Mutex::new(writer),
            }),
        })
    }

    /// `client` sending through the cassette at `path` in [`CassetteMode::Auto`].
    pub fn auto<C: Recordable>(path: impl AsRef<Path>, client: C) -> Result<C> {
        Ok(Self::open(path, CassetteMode::Auto)?.wrap(client))
    }

    /// `client` recording to `path`.
    pub fn record<C: Recordable>(path: impl AsRef<Path>, client: C) -> Result<C> {
        Ok(Self::open(path, CassetteMode::Record)?.wrap(client))
    }

    /// `client` replaying from `path`.
    pub fn replay<C: Recordable>(path: impl AsRef<Path>, client: C) -> Result<C> {
        Ok(Self::open(path, CassetteMode::Replay)?.wrap(client))
    }

    /// `client` sending through this cassette.
    pub fn wrap<C: Recordable>(&self, client: C) -> C {
        client.with_cassette(self)
    }

    /// Replaces the request-body fields left out of matching. A name (`user`) is a top-level
    /// key; a JSON pointer (`/generationConfig/seed`) is one nested field.
    pub fn ignore_fields<I, S>(self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        *lock(&self.tape.ignored) = fields.into_iter().map(Into::into).collect();
        self
    }

    /// The resolved mode ([`CassetteMode::Record`] or [`CassetteMode::Replay`]).
    pub fn mode(&self) -> CassetteMode {
        self.tape.mode
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.tape.path
    }

    /// Sends (recording) or answers (replaying) one request.
    pub(crate) async fn send(
        &self,
        provider: &str,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<reqwest::Response> {
        let recorded = CassetteRequest {
            method: request.method().as_str().to_string(),
            path: path_of(request.url()),
            body: request
                .body()
                .and_then(reqwest::Body::as_bytes)
                .map_or(Value::Null, parse_body),
        };
        match self.tape.mode {
            CassetteMode::Record => self.record_one(provider, client, request, recorded).await,
            _ => self.replay_one(&recorded),
        }
    }

    async fn record_one(
        &self,
        provider: &str,
        client: &reqwest::Client,
        request: reqwest::Request,
        recorded: CassetteRequest,
    ) -> Result<reqwest::Response> {
        let resp = client
            .execute(request)
            .await
            .map_err(|e| send_error(provider, e))?;
        let status = resp.status();
        let headers: BTreeMap<String, String> = KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let v = resp.headers().get(*name)?.to_str().ok()?;
                Some(((*name).to_string(), v.to_string()))
            })
            .collect();
        let streamed = headers.get("content-type").is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.contains("event-stream") || t.contains("ndjson") || t.contains("jsonl")
        });
        let mut builder = http::Response::builder().status(status);
        for (name, value) in resp.headers() {
            builder = builder.header(name, value);
        }
        let tap = Tap {
            tape: self.tape.clone(),
            entry: Some(CassetteEntry {
                request: recorded,
                response: CassetteResponse {
                    status: status.as_u16(),
                    headers,
                    chunks: None,
                    text: None,
                },
            }),
            streamed,
            chunks: Vec::new(),
            carry: Vec::new(),
        };
        let body = futures::stream::unfold(
            (resp.bytes_stream(), tap),
            |(mut source, mut tap)| async move {
                match source.next().await {
                    Some(Ok(bytes)) => {
                        tap.push(&bytes);
                        Some((Ok(bytes), (source, tap)))
                    }
                    Some(Err(e)) => {
                        tap.finish();
                        Some((Err(e), (source, tap)))
                    }
                    None => {
                        tap.finish();
                        None
                    }
                }
            },
        );
        let response = builder
            .body(reqwest::Body::wrap_stream(body))
            .map_err(|e| Error::Internal(format!("cannot rebuild a recorded response: {e}")))?;
        Ok(reqwest::Response::from(response))
    }

    fn replay_one(&self, request: &CassetteRequest) -> Result<reqwest::Response> {
        let ignored = lock(&self.tape.ignored).clone();
        let wanted = canonical(&request.body, &ignored);
        let entry = {
            let mut slots = lock(&self.tape.slots);
            let matches = |s: &Slot| {
                s.entry.request.method == request.method
                    && s.entry.request.path == request.path
                    && canonical(&s.entry.request.body, &ignored) == wanted
            };
            let pick = slots
                .iter()
                .position(|s| !s.used && matches(s))
                .or_else(|| slots.iter().rposition(matches));
            match pick {
                Some(i) => {
                    slots[i].used = true;
                    slots[i].entry.response.clone()
                }
                None => return Err(self.mismatch(request, &wanted, &slots, &ignored)),
            }
        };
        let mut builder = http::Response::builder().status(entry.status);
        for (name, value) in &entry.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let chunks: Vec<std::result::Result<String, std::io::Error>> = match entry.chunks {
            Some(chunks) => chunks.into_iter().map(Ok).collect(),
            None => entry.text.into_iter().map(Ok).collect(),
        };
        let response = builder
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .map_err(|e| {
                Error::invalid_input(format!(
                    "cassette {}: unusable recorded response: {e}",
                    self.tape.path.display()
                ))
            })?;
        Ok(reqwest::Response::from(response))
    }

    /// The error for a request no recording matches, naming the nearest one.
    fn mismatch(
        &self,
        request: &CassetteRequest,
        wanted: &Value,
        slots: &[Slot],
        ignored: &[String],
    ) -> Error {
        let mut nearest: Option<(usize, String)> = None;
        for slot in slots {
            let r = &slot.entry.request;
            let (cost, detail) = if r.method != request.method || r.path != request.path {
                (
                    usize::MAX / 2,
                    format!(
                        "recorded {} {}, sent {} {}",
                        r.method, r.path, request.method, request.path
                    ),
                )
            } else {
                let mut diffs = Vec::new();
                diff("", &canonical(&r.body, ignored), wanted, &mut diffs);
                // The first few differences: enough to see what varies between runs.
                let shown = diffs.iter().take(4).cloned().collect::<Vec<_>>().join("; ");
                let more = diffs.len().saturating_sub(4);
                let detail = if more > 0 {
                    format!("{shown}; and {more} more")
                } else {
                    shown
                };
                (diffs.len(), detail)
            };
            if nearest.as_ref().is_none_or(|(c, _)| cost < *c) {
                nearest = Some((cost, detail));
            }
        }
        let detail = match nearest {
            Some((_, d)) => format!("nearest recording differs: {d}"),
            None => "the cassette is empty".to_string(),
        };
        Error::NotFound {
            what: "cassette recording",
            name: format!(
                "{} {} in {}; {detail}",
                request.method,
                request.path,
                self.tape.path.display()
            ),
        }
    }
}

/// Copies a recorded response body into the cassette as it passes to the client.
struct Tap {
    tape: Arc<Tape>,
    entry: Option<CassetteEntry>,
    streamed: bool,
    chunks: Vec<String>,
    /// Bytes of a UTF-8 character split across two network chunks.
    carry: Vec<u8>,
}

impl Tap {
    fn push(&mut self, bytes: &[u8]) {
        self.carry.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.carry) {
            Ok(_) => self.carry.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // Not UTF-8 at all: keep it as well as text can.
            Err(_) => {
                let text = String::from_utf8_lossy(&self.carry).into_owned();
                self.carry.clear();
                self.chunks.push(text);
                return;
            }
        };
        let rest = self.carry.split_off(valid);
        let text = String::from_utf8_lossy(&self.carry).into_owned();
        self.carry = rest;
        if !text.is_empty() {
            self.chunks.push(text);
        }
    }

    /// Writes the exchange (once).
    fn finish(&mut self) {
        let Some(mut entry) = self.entry.take() else {
            return;
        };
        if !self.carry.is_empty() {
            self.chunks
                .push(String::from_utf8_lossy(&self.carry).into_owned());
            self.carry.clear();
        }
        let chunks = std::mem::take(&mut self.chunks);
        if self.streamed {
            entry.response.chunks = Some(chunks);
        } else {
            entry.response.text = Some(chunks.concat());
        }
        let line = match serde_json::to_string(&entry) {
            Ok(line) => line,
            Err(e) => {
                tracing::warn!(error = %e, "cannot serialise a cassette entry");
                return;
            }
        };
        let mut writer = lock(&self.tape.writer);
        if let Some(file) = writer.as_mut()
            && let Err(e) = writeln!(file, "{line}").and_then(|()| file.flush())
        {
            tracing::warn!(path = %self.tape.path.display(), error = %e, "cannot write to the cassette");
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.finish();
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("cassette {}: {e}", path.display()))
}

/// The path and query of `url`, without secret parameters.
fn path_of(url: &url::Url) -> String {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s)))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return url.path().to_string();
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &kept {
        out.append_pair(k, v);
    }
    format!("{}?{}", url.path(), out.finish())
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// `body` without the ignored fields.
fn canonical(body: &Value, ignored: &[String]) -> Value {
    let mut body = body.clone();
    mask_uuids(&mut body);
    for field in ignored {
        if let Some(pointer) = field.strip_prefix('/') {
            let (parent, last) = match pointer.rsplit_once('/') {
                Some((parent, last)) => (format!("/{parent}"), last),
                None => (String::new(), pointer),
            };
            let last = last.replace("~1", "/").replace("~0", "~");
            if let Some(Value::Object(map)) = body.pointer_mut(&parent) {
                map.remove(&last);
            }
        } else if let Value::Object(map) = &mut body {
            map.remove(field);
        }
    }
    body
}

/// Replaces every UUID inside the strings of `value` with `<uuid>`. Ids the agent makes per run
/// (query ids, run ids in tool results) reach the model's next request, so two runs of the same
/// conversation differ only in them; matching ignores them, as it ignores key order.
fn mask_uuids(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(masked) = masked_uuids(s) {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_uuids),
        Value::Object(map) => map.values_mut().for_each(mask_uuids),
        _ => {}
    }
}

/// `s` with its UUIDs (8-4-4-4-12 hex digits) replaced, or `None` when it has none.
fn masked_uuids(s: &str) -> Option<String> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    const LEN: usize = 36;
    let b = s.as_bytes();
    let is_uuid_at = |i: usize| {
        if i + LEN > b.len() {
            return false;
        }
        let mut at = i;
        for (g, n) in GROUPS.iter().enumerate() {
            if !b[at..at + n].iter().all(u8::is_ascii_hexdigit) {
                return false;
            }
            at += n;
            if g < GROUPS.len() - 1 {
                if b[at] != b'-' {
                    return false;
                }
                at += 1;
            }
        }
        // Not part of a longer hex run on either side.
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + LEN).copied();
        !before.is_some_and(|c| c.is_ascii_hexdigit())
            && !after.is_some_and(|c| c.is_ascii_hexdigit())
    };
    if s.len() < LEN || !(0..=s.len() - LEN).any(is_uuid_at) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if is_uuid_at(i) {
            out.push_str("<uuid>");
            i += LEN;
        } else {
            // Copy one character (UUIDs are ASCII, so a match never starts mid-character).
            let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&s[i..i + ch_len]);
            i += ch_len;
        }
    }
    Some(out)
}

/// Collects the JSON pointers where `recorded` and `sent` differ, with both values.
fn diff(at: &str, recorded: &Value, sent: &Value, out: &mut Vec<String>) {
    match (recorded, sent) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&here, x, y, out),
                    (Some(x), None) => {
                        out.push(format!("{here}: recorded {}, sent nothing", short(x)))
                    }
                    (None, Some(y)) => out.push(format!("{here}: not recorded, sent {}", short(y))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{at}/{i}"), x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) => out.push(format!(
            "{}: recorded {} items, sent {}",
            if at.is_empty() { "/" } else { at },
            a.len(),
            b.len()
        )),
        (x, y) if x == y => {}
        (x, y) => out.push(format!(
            "{}: recorded {}, sent {}",
            if at.is_empty() { "/" } else { at },
            short(x),
            short(y)
        )),
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_masks_per_run_ids() {
        let a = json!({"messages": [{"role": "tool", "content":
            "{\"query_id\":\"01a24b20-5fec-7253-93dd-d9129d761c6f\",\"rows\":3} é"}]});
        let b = json!({"messages": [{"role": "tool", "content":
            "{\"query_id\":\"01A24B20-604C-72E8-B626-0A6FAA18176A\",\"rows\":3} é"}]});
        assert_eq!(canonical(&a, &[]), canonical(&b, &[]));
        let c = json!({"messages": [{"role": "tool", "content": "{\"rows\":4}"}]});
        assert_ne!(canonical(&a, &[]), canonical(&c, &[]));
        // Not a UUID: wrong group sizes, or part of a longer hex run.
        assert_eq!(masked_uuids("01a24b20-5fec-7253-93dd-d9129d761c6"), None);
        assert_eq!(masked_uuids("f01a24b20-5fec-7253-93dd-d9129d761c6f"), None);
        assert_eq!(
            masked_uuids("id 01a24b20-5fec-7253-93dd-d9129d761c6f."),
            Some("id <uuid>.".to_string())
        );
    }

    #[test]
    fn canonical_drops_ignored_fields_and_ignores_key_order() {
        let a = json!({"model": "m", "user": "u1", "stream_options": {"include_usage": true},
                       "generationConfig": {"seed": 1, "temperature": 0}});
        let b: Value = serde_json::from_str(
            r#"{"generationConfig": {"temperature": 0, "seed": 2}, "model": "m"}"#,
        )
        .unwrap();
        let ignored = vec![
            "user".to_string(),
            "stream_options".to_string(),
            "/generationConfig/seed".to_string(),
        ];
        assert_eq!(canonical(&a, &ignored), canonical(&b, &ignored));
        assert_ne!(canonical(&a, &[]), canonical(&b, &[]));
    }

    #[test]
    fn diff_names_the_first_difference() {
        let mut out = Vec::new();
        diff(
            "",
            &json!({"messages": [{"content": "top carriers"}]}),
            &json!({"messages": [{"content": "top airports"}]}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![r#"/messages/0/content: recorded "top carriers", sent "top airports""#]
        );
    }

    #[test]
    fn secret_query_parameters_are_dropped() {
        let url = url::Url::parse("https://x/v1beta/models/m:gen?alt=sse&key=AIza-secret").unwrap();
        assert_eq!(path_of(&url), "/v1beta/models/m:gen?alt=sse");
    }

    #[test]
    fn split_utf8_characters_are_kept_whole() {
        let tape = Arc::new(Tape {
            path: PathBuf::new(),
            mode: CassetteMode::Replay,
            ignored: Mutex::new(Vec::new()),
            slots: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
        });
        let mut tap = Tap {
            tape,
            entry: None,
            streamed: true,
            chunks: Vec::new(),
            carry: Vec::new(),
        };
        let bytes = "data: é\n\n".as_bytes();
        tap.push(&bytes[..7]);
        tap.push(&bytes[7..]);
        assert_eq!(tap.chunks.concat(), "data: é\n\n");
        assert_eq!(tap.chunks[0], "data: ");
    }
}
