//! `metricchat eval`: a two-case suite (one passes, one fails) through the scripted model, the
//! exit codes CI gates on, the reports read back, `--compare` finding a regression, bad suites.

use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::{Value, json};

use crate::common::{ORIGIN_ANSWER, ORIGIN_SQL, Workdir};

const SUITE: &str = r#"
name: tiny
description: One case the scripted model gets right, one it gets wrong.
defaults:
  timeout: 2m
cases:
  - id: busiest-origin
    question: Which airport had the most departures?
    expect:
      sql: SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin ORDER BY flights DESC
      answer_contains: ["EWR"]
  - id: jfk-count
    question: How many flights departed from JFK?
    expect:
      sql: SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'
      answer_contains: ["111,279"]
"#;

/// The model's answers to one case each: right for `busiest-origin`, wrong (LGA counted)
/// for `jfk-count`.
fn busiest_origin() -> Vec<Exchange> {
    let q = || Matcher::body_contains("had the most departures");
    vec![
        Exchange::when(
            q(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Departures by origin", "sql": ORIGIN_SQL}),
            ),
        ),
        Exchange::when(q(), Reply::text(ORIGIN_ANSWER)),
    ]
}

fn jfk_count() -> Vec<Exchange> {
    let q = || Matcher::body_contains("departed from JFK");
    vec![
        Exchange::when(
            q(),
            Reply::tool_call(
                "create_data",
                json!({"title": "JFK departures",
                       "sql": "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'LGA'"}),
            ),
        ),
        Exchange::when(q(), Reply::text("104662 flights departed from JFK.")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_gates_on_failures_writes_reports_and_finds_regressions() {
    let mut script = Vec::new();
    for _ in 0..3 {
        script.extend(busiest_origin());
        script.extend(jfk_count());
    }
    script.extend(busiest_origin());
    let server = FakeLlmServer::start(script).await;
    let w = Workdir::with_model(&server);
    std::fs::write(w.path().join("tiny.yaml"), SUITE).unwrap();

    // One case fails: exit 6, a line per case on stderr, reports written.
    let out = w
        .run(&[
            "eval",
            "tiny.yaml",
            "--out",
            "tiny.json",
            "--md",
            "tiny.md",
            "--html",
            "tiny.html",
        ])
        .await;
    out.expect_code(6);
    let pass = out
        .stderr
        .find("[tiny 1/2] pass  busiest-origin")
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let fail = out
        .stderr
        .find("[tiny 2/2] FAIL ")
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        pass < fail && out.stderr.contains("jfk-count"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("tiny: 1/2 passed (50.0%)"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("# Eval `tiny`"), "{}", out.stdout);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("tiny.json")).unwrap())
            .unwrap();
    assert_eq!(report["suite"], "tiny");
    assert_eq!(report["summary"]["total"], 2);
    assert_eq!(report["summary"]["passed"], 1);
    assert_eq!(report["cases"][0]["id"], "busiest-origin");
    assert_eq!(report["cases"][0]["passed"], true);
    assert_eq!(report["cases"][1]["passed"], false);
    let class = report["cases"][1]["failure"].as_str().unwrap();
    assert!(
        out.stderr.contains(&format!("FAIL {class}  jfk-count")),
        "{class}: {}",
        out.stderr
    );
    let md = std::fs::read_to_string(w.path().join("tiny.md")).unwrap();
    assert!(
        md.contains("busiest-origin") && md.contains("jfk-count"),
        "{md}"
    );
    let html = std::fs::read_to_string(w.path().join("tiny.html")).unwrap();
    assert!(html.contains("<html") && html.contains("jfk-count"));

    // A baseline where `jfk-count` passed: now it regressed, exit 6, named on stdout.
    let mut before = report.clone();
    before["cases"][1]["passed"] = json!(true);
    before["cases"][1]["failure"] = Value::Null;
    before["summary"]["passed"] = json!(2);
    std::fs::write(w.path().join("before.json"), before.to_string()).unwrap();
    let out = w
        .run(&["eval", "tiny.yaml", "--compare", "before.json"])
        .await;
    out.expect_code(6);
    assert!(
        out.stdout.contains("REGRESSION `jfk-count`"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("1 regression(s)"), "{}", out.stderr);

    // Against the previous stored run (same verdicts): no regression, exit 0 though a case
    // fails; --json is one object per suite.
    let out = w
        .run(&["eval", "tiny.yaml", "--compare", "last", "--json", "-q"])
        .await;
    out.expect_code(0);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["report"]["summary"]["passed"], 1);
    assert_eq!(v["comparison"]["regressions"], json!([]));
    assert_eq!(v["comparison"]["before"], 1);

    // Only the passing case: exit 0.
    let out = w
        .run(&["eval", "tiny.yaml", "--only", "busiest-origin", "--json"])
        .await;
    out.expect_code(0);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["report"]["summary"]["total"], 1);
    server.verify().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_gates_on_a_minimum_pass_rate() {
    let mut script = busiest_origin();
    script.extend(jfk_count());
    script.extend(busiest_origin());
    script.extend(jfk_count());
    let server = FakeLlmServer::start(script).await;
    let w = Workdir::with_model(&server);
    std::fs::write(w.path().join("tiny.yaml"), SUITE).unwrap();
    w.run(&["eval", "tiny.yaml", "--min-pass-rate", "50%", "-q"])
        .await
        .expect_code(0);
    w.run(&["eval", "tiny.yaml", "--min-pass-rate", "0.9", "-q"])
        .await
        .expect_code(6);
    server.verify().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_bad_suites_are_usage_errors_naming_the_problem() {
    // No model is configured: suites are read (and refused) before anything is opened.
    let w = Workdir::new();
    let out = w.run(&["eval", "missing.yaml"]).await;
    out.expect_code(2);
    assert!(out.stderr.contains("missing.yaml"), "{}", out.stderr);

    std::fs::write(
        w.path().join("bad.yaml"),
        "name: bad\ncases:\n  - id: one\n    question: How many flights?\n    expect:\n      sqll: SELECT 1\n",
    )
    .unwrap();
    let out = w.run(&["eval", "bad.yaml"]).await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("bad.yaml") && out.stderr.contains("sqll"),
        "{}",
        out.stderr
    );

    std::fs::write(w.path().join("tiny.yaml"), SUITE).unwrap();
    let out = w.run(&["eval", "tiny.yaml", "--only", "nope"]).await;
    out.expect_code(2);
    assert!(out.stderr.contains("`nope`"), "{}", out.stderr);
    std::fs::write(
        w.path().join("other.yaml"),
        SUITE.replace("name: tiny", "name: other"),
    )
    .unwrap();
    let out = w
        .run(&["eval", "tiny.yaml", "other.yaml", "--out", "r.json"])
        .await;
    out.expect_code(2);
    assert!(out.stderr.contains("{suite}"), "{}", out.stderr);
    let out = w
        .run(&["eval", "tiny.yaml", "--min-pass-rate", "150%"])
        .await;
    out.expect_code(2);
    // A good suite without a model: the usual configuration error.
    let out = w.run(&["eval", "tiny.yaml"]).await;
    out.expect_code(2);
    assert!(out.stderr.contains("no model"), "{}", out.stderr);
}
