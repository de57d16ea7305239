//! `metricchat dashboard`: from a stored run (asked of the scripted model), listed, shown,
//! refreshed (a block on a missing table and one on a missing connection fail alone, exit 1)
//! and rendered as one self-contained page.

use metricchat_testkit::FakeLlmServer;
use serde_json::{Value, json};

use crate::common::{Workdir, ask_script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_from_a_run_list_show_refresh_html() {
    let server = FakeLlmServer::start(ask_script()).await;
    let w = Workdir::with_model(&server);
    let out = w
        .run(&["ask", "Which airport had the most departures?"])
        .await;
    out.expect_code(0);
    let run_id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Run: "))
        .expect("run id")
        .to_string();
    server.verify().unwrap();

    // Built without a model (none is asked from here on), stored, its id on stdout.
    let out = w
        .run(&[
            "dashboard",
            "from-run",
            &run_id,
            "--title",
            "Departures",
            "--save",
        ])
        .await;
    out.expect_code(0);
    let id = out.stdout.trim().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{}", out.stdout);
    assert!(out.stderr.contains("version 1"), "{}", out.stderr);

    let out = w.run(&["dashboard", "list"]).await;
    out.expect_code(0);
    assert!(
        out.stdout.contains(&id) && out.stdout.contains("Departures"),
        "{}",
        out.stdout
    );
    let listed: Value =
        serde_json::from_str(&w.run(&["dashboard", "list", "--json"]).await.stdout).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["version"], 1);

    let out = w.run(&["dashboard", "show", &id]).await;
    out.expect_code(0);
    let shown: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(shown["title"], "Departures");
    assert_eq!(shown["run_id"], run_id.as_str());
    let blocks = shown["blocks"].as_array().unwrap();
    let data_blocks: Vec<&Value> = blocks
        .iter()
        .filter(|b| b["content"]["query"].is_object())
        .collect();
    assert!(!data_blocks.is_empty(), "{shown}");
    assert!(
        data_blocks.iter().all(|b| b["result"].is_null()),
        "not refreshed yet"
    );

    // Refresh and save: every block ok, a second version with results.
    let out = w.run(&["dashboard", "refresh", &id, "--save"]).await;
    out.expect_code(0);
    assert!(
        out.stderr.contains(&format!(
            "refreshed {} block(s), 0 failed",
            data_blocks.len()
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("✓ ") && out.stderr.contains("version 2"));
    assert!(out.stdout.is_empty(), "saved, so nothing on stdout");
    let v2: Value = serde_json::from_str(&w.run(&["dashboard", "show", &id]).await.stdout).unwrap();
    assert_eq!(v2["version"], 2);
    let refreshed = v2["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["result"].is_object())
        .count();
    assert_eq!(refreshed, data_blocks.len());
    let v1: Value = serde_json::from_str(
        &w.run(&["dashboard", "show", &id, "--version", "1"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(v1["version"], 1);

    // A file with two broken blocks: they fail alone, the output is still written, exit 1.
    let mut broken = v2.clone();
    let list = broken["blocks"].as_array_mut().unwrap();
    list.push(json!({"id": "gone", "title": "Dropped table",
        "content": {"type": "table", "query": {"sql": "SELECT * FROM dropped_table"}}}));
    list.push(json!({"id": "elsewhere", "title": "Missing connection",
        "content": {"type": "table", "query": {"connection": "warehouse", "sql": "SELECT 1"}}}));
    std::fs::write(w.path().join("broken.json"), broken.to_string()).unwrap();
    let out = w
        .run(&[
            "dashboard",
            "refresh",
            "broken.json",
            "--output",
            "out.json",
        ])
        .await;
    out.expect_code(1);
    assert!(out.stderr.contains("✗ gone"), "{}", out.stderr);
    assert!(
        out.stderr.contains("✗ elsewhere") && out.stderr.contains("warehouse"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(", 2 failed"), "{}", out.stderr);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("out.json")).unwrap()).unwrap();
    for b in written["blocks"].as_array().unwrap() {
        let Some(result) = b["result"].as_object() else {
            continue;
        };
        if b["id"] == "gone" || b["id"] == "elsewhere" {
            assert!(result["error"].is_string(), "{b}");
        } else {
            assert!(result.get("error").is_none(), "{b}");
            assert!(result["row_count"].as_u64().unwrap() > 0, "{b}");
        }
    }

    // One self-contained page with every block's title.
    let out = w
        .run(&["dashboard", "html", &id, "--output", "page.html"])
        .await;
    out.expect_code(0);
    let page = std::fs::read_to_string(w.path().join("page.html")).unwrap();
    assert!(page.contains("Departures"));
    for b in v2["blocks"].as_array().unwrap() {
        if let Some(t) = b["title"].as_str() {
            assert!(page.contains(t), "{t} in the page");
        }
    }
    assert!(!page.contains("<script src"), "no external script");
    for scheme in ["src=\"http://", "src=\"https://", "src='http"] {
        assert!(!page.contains(scheme), "{scheme}");
    }
    // From the broken file, refreshed on the way: the page is written, exit 1.
    let out = w
        .run(&[
            "dashboard",
            "html",
            "broken.json",
            "--refresh",
            "-o",
            "broken.html",
            "-q",
        ])
        .await;
    out.expect_code(1);
    assert!(
        std::fs::read_to_string(w.path().join("broken.html"))
            .unwrap()
            .contains("Dropped table")
    );
    server.verify().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_bad_input() {
    let w = Workdir::new();
    let missing = "00000000-0000-0000-0000-000000000000";
    let out = w.run(&["dashboard", "show", missing]).await;
    out.expect_code(5);
    assert!(out.stderr.contains("dashboard not found"), "{}", out.stderr);
    let out = w.run(&["dashboard", "from-run", missing]).await;
    out.expect_code(5);
    let out = w.run(&["dashboard", "refresh", "nope.json"]).await;
    out.expect_code(5);
    assert!(out.stderr.contains("nope.json"), "{}", out.stderr);
    // An unknown field names its block: a usage error.
    std::fs::write(
        w.path().join("bad.json"),
        r#"{"title": "T", "blocks": [{"id": "b1", "content": {"type": "text", "markdown": "hi"}, "colour": "red"}]}"#,
    )
    .unwrap();
    let out = w.run(&["dashboard", "html", "bad.json"]).await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("b1") && out.stderr.contains("colour"),
        "{}",
        out.stderr
    );
    // A parameter the dashboard does not have.
    std::fs::write(
        w.path().join("ok.json"),
        r#"{"title": "T", "blocks": [{"id": "n", "content": {"type": "kpi", "query": {"sql": "SELECT COUNT(*) AS n FROM airlines"}}}]}"#,
    )
    .unwrap();
    let out = w
        .run(&["dashboard", "refresh", "ok.json", "--param", "carrier=UA"])
        .await;
    out.expect_code(5);
    assert!(out.stderr.contains("carrier"), "{}", out.stderr);
    let out = w.run(&["dashboard", "refresh", "ok.json"]).await;
    out.expect_code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["blocks"][0]["result"]["kpi"]["value"], 16.0);
}
