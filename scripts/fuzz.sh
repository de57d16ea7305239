#!/usr/bin/env bash
# Property-based fuzzing (issue 18, item 9), for minutes instead of CI's bounded run.
#
#   scripts/fuzz.sh                 rounds of MC_FUZZ_CASES (default 2000) cases per property,
#                                   new random seeds each round, until MC_FUZZ_SECONDS (default
#                                   300) have passed
#
# The targets (each also runs in plain `cargo test`, 48-128 cases): the streamed JSON decision
# parser, SSE framing through the real HTTP client, the SQL guard (mutated attacks: never a
# write; allowed mutations run on a raw SQLite and change nothing; benign queries keep their
# results on SQLite and DataFusion), the dbt / LookML / Tableau parsers (metricchat-core
# tests/it/fuzz.rs, the facade's tests/it/fuzz.rs), and the Snowflake and BigQuery decoders
# (metricchat-connectors src/{snowflake,bigquery}/fuzz.rs). A failure prints the shrunk input;
# make it a regression test next to the property that found it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export MC_FUZZ_CASES="${MC_FUZZ_CASES:-2000}"
budget="${MC_FUZZ_SECONDS:-300}"
features=(--workspace --features metricchat/all-but-duckdb)

cargo test "${features[@]}" --no-run --quiet
round=0
start=$SECONDS
while [ $((SECONDS - start)) -lt "$budget" ]; do
  round=$((round + 1))
  echo "== fuzz round $round (${MC_FUZZ_CASES} cases per property, $((SECONDS - start))s of ${budget}s)"
  cargo test "${features[@]}" --quiet --lib -- fuzz::
  cargo test "${features[@]}" --quiet --test it -- fuzz::
done
echo "== fuzz: $round rounds in $((SECONDS - start))s, no failure"
