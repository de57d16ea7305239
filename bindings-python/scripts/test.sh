#!/usr/bin/env bash
# Builds the Python wheel with maturin, installs it in a clean virtualenv and runs the pytest
# suite (fake provider server over HTTP; DataFusion, SQLite, and PostgreSQL when
# MC_TEST_POSTGRES_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
HERE="$PWD"
ROOT="$(cd .. && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="${MC_PY_VENV:-$CARGO_TARGET_DIR/py-venv}"
PYTHON="${PYTHON:-python3}"

echo "== python: fake provider server"
cargo build --quiet -p metricchat-testkit --bin mc-fake-llm
export MC_FAKE_LLM_BIN="$CARGO_TARGET_DIR/debug/mc-fake-llm"

echo "== python: clean virtualenv ($VENV)"
"$PYTHON" -m venv --clear "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  "maturin>=1.9,<2" "pyarrow>=14" pandas polars pytest "psycopg[binary]>=3.1"

echo "== python: wheel (maturin, dev profile)"
# The bundled sample data ships inside the wheel (mc.sample_url()).
rm -rf python/metricchat/data && mkdir -p python/metricchat/data/nycflights13
cp "$ROOT"/data/nycflights13/*.parquet "$ROOT"/data/nycflights13/README.md python/metricchat/data/nycflights13/
rm -rf dist
"$VENV/bin/maturin" build --quiet --profile dev --auditwheel skip -i "$VENV/bin/python" -o dist
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps dist/metricchat-*.whl

echo "== python: pytest"
# Run from the tests folder so `import metricchat` is the installed wheel, not the source tree.
cd "$HERE/tests"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
