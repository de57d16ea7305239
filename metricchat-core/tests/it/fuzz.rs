//! Property-based fuzzing (issue 18, item 9) of the core's parsers of untrusted text: the
//! streamed JSON decision parser, SSE framing through the real HTTP client, the SQL guard, and
//! the dbt / LookML / Tableau parsers. (The Snowflake and BigQuery decoders are fuzzed next to
//! their code in metricchat-connectors; the guard against a live engine in the facade's
//! `tests/it/fuzz.rs`.)
//!
//! Each property runs `MC_FUZZ_CASES` cases (default 64, bounded for CI); `scripts/fuzz.sh`
//! runs them with thousands of cases for minutes. A failing case is shrunk by proptest and
//! printed; it becomes a regression test in `regressions` below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Value, json};

use metricchat_core::Dialect;
use metricchat_core::guard::{GuardConfig, SqlGuard, StatementKind};
use metricchat_core::knowledge::{dbt, lookml, tableau};
use metricchat_core::planner::json_stream::{parse_complete, parse_partial};

/// Cases per property: `MC_FUZZ_CASES`, default `default`.
pub fn config(default: u32) -> Config {
    let cases = std::env::var("MC_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        // Failures are turned into regression tests by hand; nothing is written next to sources.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

// ------------------------------------------------------------------ the decision parser

/// Text a model may write inside a JSON string: quotes, backslashes, escapes, non-ASCII.
fn model_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"([a-zA-Z0-9 .,:;{}\[\]"\\/'\n\t]|é|€|😀|\u{2028}){0,60}"#)
        .unwrap()
}

fn arguments() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e9f64..1.0e9).prop_map(|f| json!(f)),
        model_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn decision() -> impl Strategy<Value = Value> {
    (model_text(), "[a-z_]{1,16}", arguments(), any::<bool>()).prop_map(
        |(reasoning, tool, args, complete)| {
            if complete {
                json!({"reasoning": reasoning, "analysis_complete": true, "final_answer": tool})
            } else {
                json!({"reasoning": reasoning, "action": {"tool": tool, "arguments": args}})
            }
        },
    )
}

/// How a model wraps its JSON: bare, pretty, in a fence, after prose.
fn wrapped(v: &Value, style: u8) -> String {
    match style % 4 {
        0 => v.to_string(),
        1 => serde_json::to_string_pretty(v).unwrap(),
        2 => format!("```json\n{v}\n```"),
        _ => format!("Sure! Here is my decision:\n{v}\nHope that helps."),
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Any text at all: the parsers answer (a value, `None` or an error) and never panic.
    #[test]
    fn decision_parser_never_panics(text in "(\\PC|[{}\\[\\]\",:\\\\`])*") {
        let _ = parse_partial(&text);
        let _ = parse_complete(&text);
    }

    /// Every prefix of a streamed decision parses to an object or nothing; the reasoning shown
    /// so far is always a prefix of the final reasoning (the user never sees text retracted);
    /// the whole text parses back to exactly the decision.
    #[test]
    fn streamed_decisions_grow_monotonically_and_end_exact(v in decision(), style in any::<u8>()) {
        let text = wrapped(&v, style);
        let reasoning = v["reasoning"].as_str().unwrap();
        for end in (0..=text.len()).filter(|&e| text.is_char_boundary(e)) {
            if let Some(p) = parse_partial(&text[..end]) {
                prop_assert!(p.is_object(), "prefix {end} gave {p}");
                if let Some(r) = p.get("reasoning").and_then(Value::as_str) {
                    prop_assert!(reasoning.starts_with(r), "prefix {end}: {r:?} is not a prefix of {reasoning:?}");
                }
            }
        }
        prop_assert_eq!(parse_complete(&text).unwrap(), v.clone());
        prop_assert_eq!(parse_partial(&text).unwrap(), v);
    }
}

// ------------------------------------------------------------------ SSE framing over HTTP

#[cfg(feature = "openai")]
mod sse {
    use std::time::Duration;

    use futures::StreamExt;
    use metricchat_core::llm::{
        ChatEvent, ChatMessage, ChatRequest, LlmClient, OpenAiClient, OpenAiConfig,
    };
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::config;

    /// Serves one HTTP response whose body is `pieces`, each written (and flushed) on its own,
    /// then closes. Returns the base URL.
    async fn serve_once(pieces: Vec<Vec<u8>>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            sock.set_nodelay(true).ok();
            // Read the request head and body (Content-Length) before answering.
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let Ok(n) = sock.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                        cache-control: no-cache\r\nconnection: close\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for p in pieces {
                if sock.write_all(&p).await.is_err() || sock.flush().await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
            let _ = sock.shutdown().await;
        });
        format!("http://{addr}/v1")
    }

    fn chunk(delta: &serde_json::Value, finish: Option<&str>) -> String {
        serde_json::json!({
            "id": "chatcmpl-fuzz", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
        .to_string()
    }

    /// The body of a streamed answer with `deltas`, framed with `eol` line ends, comment lines
    /// and unknown fields where `noise` says, ending with `[DONE]`.
    fn body(deltas: &[String], eol: &str, noise: &[u8]) -> Vec<u8> {
        let mut out = String::new();
        let mut events = vec![chunk(
            &serde_json::json!({"role": "assistant", "content": ""}),
            None,
        )];
        events.extend(
            deltas
                .iter()
                .map(|d| chunk(&serde_json::json!({"content": d}), None)),
        );
        events.push(chunk(&serde_json::json!({}), Some("stop")));
        events.push("[DONE]".to_string());
        for (i, data) in events.iter().enumerate() {
            match noise.get(i).copied().unwrap_or(0) % 5 {
                1 => out.push_str(&format!(": keep-alive{eol}")),
                2 => out.push_str(&format!("id: {i}{eol}")),
                3 => out.push_str(&format!("retry: 1000{eol}")),
                4 => out.push_str(&format!("event: message{eol}")),
                _ => {}
            }
            out.push_str(&format!("data: {data}{eol}{eol}"));
        }
        out.into_bytes()
    }

    /// `bytes` cut at `cuts` (positions taken modulo the length, any byte: mid-line, mid-UTF-8).
    fn split(bytes: Vec<u8>, cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        at.sort_unstable();
        at.dedup();
        let mut pieces = Vec::new();
        let mut last = 0;
        for c in at {
            pieces.push(bytes[last..c].to_vec());
            last = c;
        }
        pieces.push(bytes[last..].to_vec());
        pieces.retain(|p| !p.is_empty());
        pieces
    }

    async fn stream(base_url: String) -> (String, Vec<metricchat_core::Result<ChatEvent>>) {
        let mut cfg = OpenAiConfig::new("gpt-4.1-mini").with_base_url(base_url);
        cfg.http.retry.max_retries = 0;
        let client = OpenAiClient::new(cfg).unwrap();
        let req = ChatRequest::new(vec![ChatMessage::user("hi")]);
        let mut items = Vec::new();
        let mut text = String::new();
        match client.stream(req).await {
            Err(e) => items.push(Err(e)),
            Ok(mut s) => {
                while let Some(item) = s.next().await {
                    if let Ok(ChatEvent::TextDelta { text: t }) = &item {
                        text.push_str(t);
                    }
                    items.push(item);
                }
            }
        }
        (text, items)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    proptest! {
        #![proptest_config(config(48))]

        /// However the bytes of a well-formed stream are cut into TCP writes (mid-line,
        /// mid-character), whatever line ends and comment/unknown lines it has, the client
        /// delivers exactly the text sent and a clean finish.
        #[test]
        fn sse_text_survives_any_framing(
            deltas in proptest::collection::vec("(\\PC|\n|\"|\\\\){0,12}", 0..12),
            crlf in any::<bool>(),
            noise in proptest::collection::vec(any::<u8>(), 0..16),
            cuts in proptest::collection::vec(any::<usize>(), 0..24),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let pieces = split(body(&deltas, eol, &noise), &cuts);
            let (text, items) = runtime().block_on(async {
                let url = serve_once(pieces).await;
                tokio::time::timeout(Duration::from_secs(20), stream(url)).await.expect("hung")
            });
            for item in &items {
                prop_assert!(item.is_ok(), "error on a well-formed stream: {item:?}");
            }
            prop_assert_eq!(text, deltas.concat());
            let finished = items.iter().any(|i| matches!(i, Ok(ChatEvent::Finish { .. })));
            prop_assert!(finished, "no finish event");
        }

        /// A well-formed start, then arbitrary bytes (or a cut): the client ends the stream
        /// with typed events or a typed error, never a panic or a hang.
        #[test]
        fn sse_garbage_ends_typed(
            deltas in proptest::collection::vec("[a-z ]{0,6}", 0..4),
            garbage in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut bytes = body(&deltas, "\n", &[]);
            // Drop the end marker, then add the garbage.
            let keep = bytes.len() - "data: [DONE]\n\n".len();
            bytes.truncate(keep.saturating_sub(garbage.len() % 40));
            bytes.extend_from_slice(&garbage);
            let pieces = split(bytes, &cuts);
            let (_, items) = runtime().block_on(async {
                let url = serve_once(pieces).await;
                tokio::time::timeout(Duration::from_secs(20), stream(url)).await.expect("hung")
            });
            for item in &items {
                if let Err(e) = item {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}

// ------------------------------------------------------------------ the SQL guard

const DIALECTS: [(&str, Dialect); 9] = [
    ("postgres", Dialect::Postgres),
    ("redshift", Dialect::Redshift),
    ("mysql", Dialect::MySql),
    ("sqlite", Dialect::Sqlite),
    ("datafusion", Dialect::DataFusion),
    ("duckdb", Dialect::DuckDb),
    ("snowflake", Dialect::Snowflake),
    ("bigquery", Dialect::BigQuery),
    ("generic", Dialect::Generic),
];

/// The statements of the facade's hostile corpus (`tests/security/attacks/<dialect>.sql`).
pub fn corpus(kind: &str, file: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/security")
        .join(kind)
        .join(format!("{file}.sql"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut cases: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("-- case:") {
            cases.push(String::new());
        } else if let Some(c) = cases.last_mut()
            && !line.starts_with("-- engine:")
        {
            c.push_str(line);
            c.push('\n');
        }
    }
    cases.retain(|c| !c.trim().is_empty());
    cases
}

/// One way of disguising or recombining refused statements.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip the case of the letters at these positions.
    Case(Vec<usize>),
    /// Insert a comment or whitespace at a position.
    Insert(usize, &'static str),
    /// Delete a byte range.
    Delete(usize, usize),
    /// Join with another refused statement.
    Join(usize, &'static str),
    /// Put it inside a query.
    Wrap(&'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        proptest::collection::vec(any::<usize>(), 1..8).prop_map(Mutation::Case),
        (
            any::<usize>(),
            prop::sample::select(vec![
                " ", "\n", "\t", "/**/", "/* x */", "-- c\n", "# c\n", "(", ")", ";", "'", "\"",
                "`", "$$", "\\", "\u{00a0}", "\u{feff}",
            ])
        )
            .prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<usize>(), 0usize..6).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop::sample::select(vec![";", ";\n", " UNION ALL ", "\n", " ", "/*;*/"])
        )
            .prop_map(|(i, s)| Mutation::Join(i, s)),
        prop::sample::select(vec![
            "SELECT * FROM ({}) AS t",
            "WITH x AS ({}) SELECT * FROM x",
            "SELECT 1; {}",
            "{}; SELECT 1",
            "EXPLAIN {}",
            "EXPLAIN ANALYZE {}",
            "SELECT ({})",
            "SELECT * FROM t WHERE a IN ({})",
            "```sql\n{}\n```",
        ])
        .prop_map(Mutation::Wrap),
    ]
}

fn boundary(s: &str, i: usize) -> usize {
    let mut i = i % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(sql: &str, m: &Mutation, others: &[String]) -> String {
    match m {
        Mutation::Case(at) => {
            let mut chars: Vec<char> = sql.chars().collect();
            for i in at {
                if chars.is_empty() {
                    break;
                }
                let k = i % chars.len();
                let c = chars[k];
                chars[k] = if c.is_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                };
            }
            chars.into_iter().collect()
        }
        Mutation::Insert(i, s) => {
            let i = boundary(sql, *i);
            format!("{}{s}{}", &sql[..i], &sql[i..])
        }
        Mutation::Delete(i, n) => {
            let a = boundary(sql, *i);
            let b = boundary(sql, a + n);
            format!("{}{}", &sql[..a], &sql[b.max(a)..])
        }
        Mutation::Join(i, sep) => {
            let other = &others[i % others.len()];
            format!("{}{sep}{}", sql.trim_end(), other.trim_end())
        }
        Mutation::Wrap(w) => w.replace("{}", sql.trim_end().trim_end_matches(';')),
    }
}

/// What an allowed statement must satisfy whatever the input: a read-only kind, and the text it
/// will run passes the guard again unchanged in kind (the rewrite never produces something the
/// guard itself would refuse or read differently).
fn check_allowed(guard: &SqlGuard, dialect: Dialect, input: &str) -> Result<(), TestCaseError> {
    let Ok(g) = guard.check(input, dialect) else {
        return Ok(());
    };
    prop_assert!(
        g.kind != StatementKind::Write,
        "allowed as a write without allow_writes: {input:?}"
    );
    let again = guard.check(&g.sql, dialect);
    prop_assert!(
        again.is_ok(),
        "the guard's own output is refused: {input:?} -> {:?}: {:?}",
        g.sql,
        again.err()
    );
    let again = again.unwrap();
    prop_assert_eq!(again.kind, g.kind);
    prop_assert_eq!(again.tables, g.tables);
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    /// Refused statements, mutated and recombined, never come out allowed as writes, and what
    /// the guard lets through is stable under a second check. (Whether a mutation that passes
    /// is really harmless is checked against a live SQLite in the facade's fuzz tests.)
    #[test]
    fn mutated_attacks_never_pass_as_writes(
        d in 0usize..DIALECTS.len(),
        pick in any::<usize>(),
        ms in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (file, dialect) = DIALECTS[d];
        let attacks = corpus("attacks", file);
        let mut sql = attacks[pick % attacks.len()].clone();
        for m in &ms {
            sql = apply(&sql, m, &attacks);
        }
        let guard = SqlGuard::new(GuardConfig::default());
        check_allowed(&guard, dialect, &sql)?;
    }

    /// Arbitrary text: a typed answer, never a panic.
    #[test]
    fn guard_never_panics(d in 0usize..DIALECTS.len(), text in "(\\PC|[;'\"`$\\\\\n])*") {
        let guard = SqlGuard::new(GuardConfig::default());
        let _ = guard.check(&text, DIALECTS[d].1);
    }

    /// The benign corpus keeps passing, with its kind and tables, under meaning-preserving
    /// noise (comments and whitespace between tokens, a fence, a trailing semicolon).
    #[test]
    fn benign_queries_pass_under_noise(
        d in 0usize..DIALECTS.len(),
        pick in any::<usize>(),
        noise in prop::sample::select(vec!["  ", "\n", "\t", " /* note */ "]),
        fenced in any::<bool>(),
    ) {
        let (file, dialect) = DIALECTS[d];
        let benign = corpus("benign", file);
        let sql = benign[pick % benign.len()].trim().trim_end_matches(';').to_string();
        let guard = SqlGuard::new(GuardConfig::default());
        let plain = guard.check(&sql, dialect);
        prop_assert!(plain.is_ok(), "benign refused: {sql:?}: {:?}", plain.err());
        let plain = plain.unwrap();
        let noisy = sql.replacen(' ', noise, 1);
        let noisy = if fenced { format!("```sql\n{noisy};\n```") } else { noisy };
        if let Ok(n) = guard.check(&noisy, dialect) {
            prop_assert_eq!(n.kind, plain.kind);
            prop_assert_eq!(n.tables, plain.tables);
        } else if !sql.contains('\'') && !sql.contains('"') && !sql.contains("--") {
            prop_assert!(false, "noise made a benign query refused: {noisy:?}");
        }
        check_allowed(&guard, dialect, &sql)?;
    }
}

// ------------------------------------------------------------------ knowledge parsers

fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/knowledge")
            .join(path),
    )
    .unwrap()
}

/// `text` with a byte range removed, another duplicated, and a cut at the end: the edits a
/// truncated download or a bad merge makes.
fn damage(text: &str, del: (usize, usize), dup: (usize, usize), cut: usize) -> String {
    let b = |i: usize| boundary(text, i);
    let (d0, d1) = (b(del.0), b(del.0 + del.1 % 64));
    let mut s = format!("{}{}", &text[..d0], &text[d1.max(d0)..]);
    let bs = |i: usize, s: &str| boundary(s, i);
    let (u0, u1) = (bs(dup.0, &s), bs(dup.0 + dup.1 % 64, &s));
    let piece = s[u0..u1.max(u0)].to_string();
    s.insert_str(u1.max(u0), &piece);
    let c = bs(s.len() - cut % (s.len() / 4 + 1), &s);
    s.truncate(c);
    s
}

proptest! {
    #![proptest_config(config(48))]

    /// Damaged real files: each parser answers with resources or a typed error, never panics.
    #[test]
    fn knowledge_parsers_survive_damaged_files(
        del in (any::<usize>(), any::<usize>()),
        dup in (any::<usize>(), any::<usize>()),
        cut in any::<usize>(),
    ) {
        let manifest = fixture("dbt/manifest.json");
        let catalog = fixture("dbt/catalog.json");
        let _ = dbt::parse_manifest(&damage(&manifest, del, dup, cut), Some(&catalog));
        let _ = dbt::parse_manifest(&manifest, Some(&damage(&catalog, del, dup, cut)));
        for f in ["lookml/views/orders.view.lkml", "lookml/ecommerce.model.lkml",
                  "lookml/views/order_facts.view.lkml"] {
            if let Err(e) = lookml::parse(&damage(&fixture(f), del, dup, cut), f) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
        for f in ["tableau/jaffle_orders.tds", "tableau/sales_dashboard.twb"] {
            if let Err(e) = tableau::parse(&damage(&fixture(f), del, dup, cut), f) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// Token soup in each format's alphabet: never a panic.
    #[test]
    fn knowledge_parsers_survive_token_soup(
        lkml in "(view|explore|dimension|measure|sql|type|:|\\{|\\}|;;|\\$\\{|\"|#|\n| |[a-z_]{1,6}|\\\\|\u{00e9})*",
        xml in "(<|>|/|=|\"|datasource|column|caption|name|<\\?xml|<!--|-->|&amp;|&|[a-z]{1,5}| |\n)*",
        js in "(\\{|\\}|\\[|\\]|\"nodes\"|\"sources\"|\"metrics\"|\"columns\"|:|,|\"[a-z.]{0,8}\"|null|1|\\\\u0000)*",
    ) {
        let _ = lookml::parse(&lkml, "soup.view.lkml");
        let _ = tableau::parse(&xml, "soup.tds");
        let _ = dbt::parse_manifest(&js, None);
        let _ = dbt::parse_manifest("{\"nodes\": {}}", Some(&js));
    }

    /// Generated LookML views: every dimension and measure written comes back, by name.
    #[test]
    fn lookml_views_round_trip(
        view in "[a-z][a-z_]{0,10}",
        dims in proptest::collection::btree_set("[a-l][a-z_]{0,10}", 1..6),
        measures in proptest::collection::btree_set("m_[a-z_]{1,10}", 0..4),
        label in "[A-Za-z0-9 ,.'-]{0,20}",
    ) {
        let mut text = format!("view: {view} {{\n  sql_table_name: public.{view} ;;\n");
        for d in &dims {
            text.push_str(&format!(
                "  dimension: {d} {{\n    type: string\n    label: \"{label}\"\n    sql: ${{TABLE}}.{d} ;;\n  }}\n"
            ));
        }
        for m in &measures {
            text.push_str(&format!("  measure: {m} {{\n    type: count\n  }}\n"));
        }
        text.push_str("}\n");
        let all = lookml::parse(&text, "gen.view.lkml").unwrap();
        let r = all.iter().find(|r| r.name == view);
        prop_assert!(r.is_some(), "view {view} missing from {all:?}");
        let r = r.unwrap();
        for f in dims.iter().chain(measures.iter()) {
            prop_assert!(r.field(f).is_some(), "field {f} missing");
        }
    }
}

// ------------------------------------------------------------------ regressions

/// Inputs the fuzzers found, kept as plain tests.
mod regressions {}
