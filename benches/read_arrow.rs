//! One read of a warehouse table into Arrow through a metricchat connector, in a process of its
//! own, for the side-by-side table of `scripts/bench.sh` (issue 18, item 3). Prints one JSON
//! line: the tool, rows, columns, seconds from connecting to the last batch, and the process's
//! peak resident memory (VmHWM).
//!
//! `MC_BENCH_URL=postgres://…?allow_privileged_login=true MC_BENCH_SQL='SELECT * FROM t'
//! cargo bench --bench read_arrow`. Under `cargo test --benches` (no URL) it prints a skip line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::time::Instant;

use metricchat::connector::{QueryOptions, collect_stream};

/// A `/proc/self/status` memory field (`VmHWM:` the peak, `VmRSS:` now) in MiB.
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let (Ok(url), Ok(sql)) = (std::env::var("MC_BENCH_URL"), std::env::var("MC_BENCH_SQL")) else {
        println!("read_arrow: SKIPPED (set MC_BENCH_URL and MC_BENCH_SQL)");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = status_mib("VmRSS:");
    let start = Instant::now();
    let (rows, cols) = rt.block_on(async {
        let conn = metricchat::connect(&url).unwrap();
        let opts = QueryOptions::default()
            .with_max_rows(None)
            .with_timeout(None);
        let stream = conn.query(&sql, opts).await.unwrap();
        let data = collect_stream(stream).await.unwrap();
        let rows: usize = data.batches.iter().map(|b| b.num_rows()).sum();
        let cols = data.batches.first().map_or(0, |b| b.num_columns());
        (rows, cols)
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"tool\": \"metricchat (Rust, Arrow)\", \"rows\": {rows}, \"cols\": {cols}, \"seconds\": {secs:.3}, \"peak_rss_mib\": {:.1}, \"delta_rss_mib\": {:.1}}}",
        status_mib("VmHWM:"),
        status_mib("VmHWM:") - base
    );
}
