#!/usr/bin/env bash
# Load the Chinook sample into PostgreSQL database `chinook` if it is not there yet (idempotent).
#   scripts/evals/load_chinook_pg.sh [--force]
# Connection: PGHOST/PGPORT/PGUSER (default 127.0.0.1:5432, user postgres).
# Script: CHINOOK_PG_SQL (default data/chinook/chinook_postgres.sql.gz); the script
# itself drops and creates database `chinook`.
set -euo pipefail
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
SQL_GZ="${CHINOOK_PG_SQL:-$(dirname "$0")/../../data/chinook/chinook_postgres.sql.gz}"
force=0
[[ "${1:-}" == "--force" ]] && force=1

loaded() {
  # Present and complete: the database exists and invoice_line has its 2,240 rows.
  local n
  n=$(psql -X -qtA -d chinook -c "SELECT count(*) FROM invoice_line" 2>/dev/null || true)
  [[ "$n" == "2240" ]]
}

if [[ $force -eq 0 ]] && loaded; then
  echo "chinook: already loaded in PostgreSQL ($PGHOST:$PGPORT)"
  exit 0
fi
[[ -f "$SQL_GZ" ]] || { echo "chinook: $SQL_GZ not found" >&2; exit 1; }
echo "chinook: loading $SQL_GZ into PostgreSQL ($PGHOST:$PGPORT)"
gzip -dc "$SQL_GZ" | PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null
loaded || { echo "chinook: load finished but invoice_line is not complete" >&2; exit 1; }
echo "chinook: loaded"
