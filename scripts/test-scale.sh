#!/usr/bin/env bash
# The scale tier of the connector tests (200k SQLite rows, 10,000 PostgreSQL tables, 1,000
# MySQL tables): `#[ignore]`d in the default run, run here in release. The feature set leaves
# DataFusion out, so this needs no release build of DataFusion.
# Services: MC_TEST_POSTGRES_URL / MC_TEST_MYSQL_URL (a test without its URL says SKIPPED; with
# CI=true it fails).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${MC_SCALE_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}}"

echo "== scale tier: cargo test --release -p metricchat-connectors (sqlite, postgres, mysql)"
cargo test --release -p metricchat-connectors --no-default-features \
  --features sqlite,postgres,mysql --test it -- --ignored --test-threads=1 "$@"
