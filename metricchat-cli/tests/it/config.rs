//! Configuration mistakes name their line and key (exit 2); failing connections exit 3; secrets
//! are never printed.

use crate::common::Workdir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_and_bad_values_name_line_and_key() {
    let w = Workdir::new();
    w.write_config(
        "llm = \"openai:gpt-4.1-mini\"\nconnections = [\"sample:flights\"]\nmax_row = 5\n",
    );
    let out = w.run(&["tables"]).await;
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("metricchat.toml:3: `max_row`: unknown field `max_row`"),
        "{}",
        out.stderr
    );
    w.write_config("llm = \"openai:gpt-4.1-mini\"\n\n[guard]\nmax_rows = 10\ntimeout = \"soon\"\n");
    let out = w.run(&["tables"]).await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("metricchat.toml:5: `guard.timeout`"),
        "{}",
        out.stderr
    );
    w.write_config("[llm]\nprovider = \"openai\"\nmodle = \"gpt\"\n");
    let out = w.run(&["tables"]).await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("metricchat.toml:3: `llm.modle`"),
        "{}",
        out.stderr
    );
    w.write_config("connections = [\"sample:flights\",\n  \"nosuch://host/db\"]\n");
    let out = w.run(&["tables"]).await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("metricchat.toml:2: `connections[1]`"),
        "{}",
        out.stderr
    );
    // A TOML syntax error.
    w.write_config("llm = \"openai:x\"\nconnections = [\n");
    let out = w.run(&["tables"]).await;
    out.expect_code(2);
    assert!(out.stderr.contains("metricchat.toml:"), "{}", out.stderr);
    // --config names another file.
    let other = w.path().join("other.toml");
    std::fs::write(&other, "max_iterations = \"lots\"\n").unwrap();
    let out = w
        .run(&["--config", other.to_str().unwrap(), "tables"])
        .await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("other.toml:1: `max_iterations`"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_come_from_the_environment_or_a_file_and_are_never_printed() {
    let w = Workdir::new();
    w.write_config("[llm]\nprovider = \"openai\"\napi_key = \"sk-literal-secret\"\n");
    let out = w.run(&["tables"]).await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("metricchat.toml:3: `llm.api_key`"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("sk-literal-secret"));
    w.write_config("connections = [\"postgres://analyst:hunter2-pw@127.0.0.1:1/db\"]\n");
    let out = w.run(&["tables"]).await;
    out.expect_code(2);
    assert!(!out.stderr.contains("hunter2-pw"), "{}", out.stderr);
    // From the environment: the password reaches the connection, never the output.
    w.write_config("connections = [\"postgres://analyst:${MC_TEST_PW}@127.0.0.1:1/db\"]\n");
    let mut cmd = w.command(&["tables"]);
    cmd.env("MC_TEST_PW", "hunter2-pw");
    let out = crate::common::Run::from(
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap(),
    );
    out.expect_code(3);
    assert!(!out.stderr.contains("hunter2-pw"), "{}", out.stderr);
    // An unset variable names its key.
    let out = w.run(&["tables"]).await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("MC_TEST_PW is not set"),
        "{}",
        out.stderr
    );
    // A key file.
    std::fs::write(w.path().join("key.txt"), "sk-from-a-file\n").unwrap();
    w.write_config("[llm]\nprovider = \"openai\"\napi_key_file = \"key.txt\"\n");
    let out = w.run(&["tables"]).await;
    out.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_connection_at_start_exits_3() {
    let w = Workdir::new();
    let out = w
        .run(&["--connection", "postgres://nobody@127.0.0.1:1/db", "tables"])
        .await;
    out.expect_code(3);
    assert!(out.stderr.contains("127.0.0.1:1"), "{}", out.stderr);
    let out = w
        .run(&[
            "--connection",
            "/no/such/dir/flights.parquet",
            "query",
            "SELECT 1",
        ])
        .await;
    out.expect_code(3);
    assert!(
        out.stderr.contains("cannot open connection"),
        "{}",
        out.stderr
    );
    let out = w.run(&["--connection", "nosuch://x", "tables"]).await;
    out.expect_code(2);
    // An unknown store kind is a configuration error too.
    let out = w.run(&["--store", "mysql://x/y", "tables"]).await;
    out.expect_code(2);
    assert!(out.stderr.contains("store"), "{}", out.stderr);
}
