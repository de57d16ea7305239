#!/usr/bin/env bash
# Every test of the project: the Rust workspace, then the Python package (wheel + pytest), then
# the Node package. Services: PostgreSQL/MariaDB tests read MC_TEST_POSTGRES_URL /
# MC_TEST_MYSQL_URL and say SKIPPED loudly without them (.ci/run sets both).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "== rust: cargo test --workspace --features metricchat/full (every feature but duckdb)"
cargo test --workspace --features metricchat/full

bash bindings-python/scripts/test.sh

echo "== node: addon + node:test (against mc-fake-llm)"
cargo build --quiet -p metricchat-testkit --bin mc-fake-llm
(cd bindings-node && npm ci --no-audit --no-fund --loglevel=error && node scripts/build.mjs && npm test)
