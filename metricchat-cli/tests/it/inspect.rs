//! `tables`, `describe`, `explain`, `--help`.

use serde_json::Value;

use crate::common::Workdir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_and_describe_on_the_bundled_sample() {
    let w = Workdir::new();
    let out = w.run(&["tables"]).await;
    out.expect_code(0);
    let mut names: Vec<&str> = out.stdout.lines().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["airlines", "airports", "flights", "planes", "weather"]
    );
    let json: Value = serde_json::from_str(&w.run(&["tables", "--json"]).await.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5);
    assert_eq!(json[0]["connection"], "flights");

    let out = w.run(&["describe", "flights"]).await;
    out.expect_code(0);
    assert!(
        out.stdout.starts_with("flights (flights)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  dep_delay "), "{}", out.stdout);
    let json: Value =
        serde_json::from_str(&w.run(&["describe", "airlines", "--json"]).await.stdout).unwrap();
    let cols: Vec<&str> = json["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["carrier", "name"]);
    let out = w.run(&["describe", "no_such_table"]).await;
    out.expect_code(5);
    assert!(out.stderr.contains("no_such_table"), "{}", out.stderr);
    // Another connection by URL: a directory of files.
    let data = w.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(
        data.join("sales.csv"),
        "region,amount\nnorth,10\nsouth,20\n",
    )
    .unwrap();
    let out = w
        .run(&["--connection", data.to_str().unwrap(), "tables"])
        .await;
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), "sales");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_context_plan_without_a_model() {
    let w = Workdir::new();
    let out = w
        .run(&["explain", "average departure delay by carrier"])
        .await;
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("Context for: average departure delay by carrier")
    );
    assert!(out.stdout.contains("Sections"), "{}", out.stdout);
    assert!(out.stdout.contains("flights"), "{}", out.stdout);
    let out = w.run(&["explain", "--prompt", "delay by carrier"]).await;
    assert!(out.stdout.contains("System prompt:"), "{}", out.stdout);
    let plan: Value = serde_json::from_str(
        &w.run(&["explain", "--json", "delay by carrier"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(plan["question"], "delay by carrier");
    assert!(
        plan["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["table"]["name"] == "flights"),
        "{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_everywhere_with_examples() {
    let w = Workdir::new();
    let out = w.run(&["--help"]).await;
    out.expect_code(0);
    for text in [
        "Examples:",
        "Exit codes:",
        "130",
        "metricchat.toml",
        "ask",
        "mcp",
        "eval",
        "dashboard",
    ] {
        assert!(out.stdout.contains(text), "{text}:\n{}", out.stdout);
    }
    for cmd in [
        vec!["ask", "--help"],
        vec!["query", "--help"],
        vec!["tables", "--help"],
        vec!["describe", "--help"],
        vec!["explain", "--help"],
        vec!["runs", "list", "--help"],
        vec!["runs", "show", "--help"],
        vec!["mcp", "--help"],
        vec!["eval", "--help"],
        vec!["dashboard", "--help"],
        vec!["dashboard", "from-run", "--help"],
        vec!["dashboard", "list", "--help"],
        vec!["dashboard", "show", "--help"],
        vec!["dashboard", "refresh", "--help"],
        vec!["dashboard", "html", "--help"],
    ] {
        let out = w.run(&cmd).await;
        out.expect_code(0);
        assert!(out.stdout.contains("Examples:"), "{cmd:?}:\n{}", out.stdout);
    }
    let out = w.run(&["--version"]).await;
    out.expect_code(0);
    assert!(out.stdout.starts_with("metricchat "));
    // A bad flag is a usage error.
    let out = w.run(&["query", "--format", "xml", "SELECT 1"]).await;
    out.expect_code(2);
    let out = w.run(&["frobnicate"]).await;
    out.expect_code(2);
}
