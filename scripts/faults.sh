#!/usr/bin/env bash
# Faults with the real components (issue 18, items 5-8), with more repetitions than CI.
#
#   scripts/faults.sh      MC_FAULT_KILLS (default 200) SIGKILLs of an agent process mid-run,
#                          plus every other fault test once: PostgreSQL backends terminated and
#                          MariaDB connections killed mid-query, the LLM server process killed
#                          before and during its answer and restarted, the PostgreSQL store
#                          lost mid-run
#
# Needs MC_TEST_POSTGRES_URL and MC_TEST_MYSQL_URL (the .ci/run defaults are used when unset);
# `MC_FAULT_SEED=N` replays the random kill points of an earlier run (each run prints its seed).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export MC_TEST_POSTGRES_URL="${MC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export MC_TEST_MYSQL_URL="${MC_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}"
export MC_FAULT_KILLS="${MC_FAULT_KILLS:-200}"
cargo test --workspace --features metricchat/all-but-duckdb --test it -- faults:: --nocapture
