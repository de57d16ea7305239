#!/usr/bin/env bash
# Regenerates the bindings' declarations of the JSON that crosses into JavaScript and Python from
# the Rust types (schemars JSON Schemas): bindings-node/types.d.ts and
# bindings-python/python/metricchat/types.py. The test `typegen::` (part of `cargo test`, so of CI)
# fails when the committed files differ from what this writes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/metricchat-target}"
MC_UPDATE_TYPES=1 cargo test --workspace --features metricchat/all-but-duckdb --test it -- typegen::
