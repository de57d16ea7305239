//! `metricchat query`: every output format written and read back, the guard's refusal.

use std::fs::File;

use arrow::array::{Array, StringArray};
use serde_json::Value;

use crate::common::Workdir;

const AIRLINES: &str = "SELECT carrier, name FROM airlines ORDER BY carrier";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_and_csv_on_stdout() {
    let w = Workdir::new();
    let out = w.run(&["query", AIRLINES]).await;
    out.expect_code(0);
    assert!(out.stdout.contains("| carrier | name"), "{}", out.stdout);
    assert!(
        out.stdout.contains("| 9E      | Endeavor Air Inc."),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("16 row(s)"), "{}", out.stderr);

    let csv = w.run(&["query", AIRLINES, "--format", "csv"]).await;
    csv.expect_code(0);
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.len(), 17, "header + 16 rows:\n{}", csv.stdout);
    assert_eq!(lines[0], "carrier,name");
    assert_eq!(lines[1], "9E,Endeavor Air Inc.");
    // SQL from stdin.
    let mut cmd = w.command(&["query", "-", "--format", "jsonl"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"SELECT COUNT(*) AS n FROM flights")
            .unwrap();
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success());
    let row: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row["n"], 336_776);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_format_reads_back() {
    let w = Workdir::new();
    // Format from the extension.
    for (file, explicit) in [
        ("a.csv", None),
        ("a.jsonl", None),
        ("a.parquet", None),
        ("a.arrow", None),
        ("b.out", Some("parquet")),
    ] {
        let path = w.path().join(file);
        let path_s = path.to_str().unwrap();
        let mut args = vec!["query", AIRLINES, "--output", path_s];
        if let Some(f) = explicit {
            args.extend(["--format", f]);
        }
        let out = w.run(&args).await;
        out.expect_code(0);
        assert!(out.stderr.contains("16 row(s) written"), "{}", out.stderr);
        let format = explicit.unwrap_or_else(|| file.rsplit('.').next().unwrap());
        let (rows, first_name) = match format {
            "csv" => {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut lines = text.lines();
                assert_eq!(lines.next(), Some("carrier,name"));
                let first = lines.next().unwrap().split(',').nth(1).unwrap().to_string();
                (1 + lines.count(), first)
            }
            "jsonl" => {
                let text = std::fs::read_to_string(&path).unwrap();
                let rows: Vec<Value> = text
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                (rows.len(), rows[0]["name"].as_str().unwrap().to_string())
            }
            "parquet" => {
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                        File::open(&path).unwrap(),
                    )
                    .unwrap()
                    .build()
                    .unwrap();
                let batches: Vec<_> = reader.map(Result::unwrap).collect();
                first_and_count(&batches)
            }
            "arrow" => {
                let reader =
                    arrow::ipc::reader::FileReader::try_new(File::open(&path).unwrap(), None)
                        .unwrap();
                let batches: Vec<_> = reader.map(Result::unwrap).collect();
                first_and_count(&batches)
            }
            other => panic!("{other}"),
        };
        assert_eq!(rows, 16, "{file}");
        assert_eq!(first_name, "Endeavor Air Inc.", "{file}");
    }
}

fn first_and_count(batches: &[arrow::array::RecordBatch]) -> (usize, String) {
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    let names = batches[0]
        .column_by_name("name")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .map(|a| a.value(0).to_string())
        .or_else(|| {
            let col = batches[0].column_by_name("name").unwrap();
            let cast = arrow::compute::cast(col, &arrow::datatypes::DataType::Utf8).ok()?;
            let a = cast.as_any().downcast_ref::<StringArray>()?;
            (!a.is_null(0)).then(|| a.value(0).to_string())
        })
        .unwrap();
    (rows, names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_writes_and_caps_rows() {
    let w = Workdir::new();
    let out = w.run(&["query", "DROP TABLE flights"]).await;
    out.expect_code(4);
    assert!(out.stderr.contains("SQL refused"), "{}", out.stderr);
    let out = w.run(&["query", "SELECT 1; SELECT 2"]).await;
    out.expect_code(4);
    // The table is still there.
    let out = w
        .run(&[
            "query",
            "SELECT COUNT(*) AS n FROM airlines",
            "--format",
            "csv",
        ])
        .await;
    out.expect_code(0);
    assert!(out.stdout.contains("\n16"), "{}", out.stdout);
    // The row cap.
    let out = w
        .run(&[
            "query",
            "SELECT * FROM flights",
            "--max-rows",
            "5",
            "--format",
            "jsonl",
        ])
        .await;
    out.expect_code(0);
    assert_eq!(out.stdout.lines().count(), 5);
    assert!(
        out.stderr.contains("row cap (5) was reached"),
        "{}",
        out.stderr
    );
    // A query the database rejects: exit 1.
    let out = w
        .run(&["query", "SELECT no_such_column FROM flights"])
        .await;
    out.expect_code(1);
    // Binary to a terminal is refused only on a terminal; piped it is written.
    let out = w
        .run(&["query", "SELECT 1 AS x", "--format", "arrow"])
        .await;
    out.expect_code(0);
}
