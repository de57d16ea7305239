#!/usr/bin/env bash
# Performance, side by side in one run (issue 18). Nothing here asserts a time: it prints
# figures and ratios measured in the same run, so a loaded machine changes both sides.
#
#   scripts/bench.sh            everything below
#   scripts/bench.sh agent      the agent loop: overhead per iteration, time to first event
#   scripts/bench.sh load       1,000 concurrent runs: memory per run, tasks and sockets after;
#                               then 100 through the Python binding (asyncio) and through Node
#   scripts/bench.sh read       PostgreSQL / SQLite / MariaDB -> Arrow (-> pandas): metricchat
#                               against ConnectorX, ADBC and pandas.read_sql, each in a fresh
#                               process, time and peak RSS, MC_BENCH_REPS runs each (default 3,
#                               the median is reported)
#
# Release builds (cargo bench): the first one compiles DataFusion optimised, ~25 min on two
# cores. The peers install into a virtualenv ($MC_BENCH_VENV, default /tmp/mc-bench-venv) from
# PyPI: connectorx, adbc-driver-postgresql, adbc-driver-sqlite, pandas, psycopg, pyarrow,
# pymysql, sqlalchemy. Services: MC_TEST_POSTGRES_URL and MC_TEST_MYSQL_URL (the .ci/run
# defaults); a source whose URL is unset is skipped loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
what="${1:-all}"
PG="${MC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
MY="${MC_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}"
SQLITE="${MC_BENCH_SQLITE:-/tmp/mc_bench.db}"
VENV="${MC_BENCH_VENV:-/tmp/mc-bench-venv}"
REPS="${MC_BENCH_REPS:-3}"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$what" = all ] || [ "$what" = agent ]; then
  echo "== agent loop (cargo bench --bench agent)"
  cargo bench --workspace --features metricchat/all-but-duckdb --bench agent
fi

if [ "$what" = all ] || [ "$what" = load ]; then
  echo "== concurrency (cargo bench --bench concurrency)"
  cargo bench --workspace --features metricchat/all-but-duckdb --bench concurrency
  # The same through the bindings, 100 runs each (MC_BENCH_BINDING_RUNS): Python's asyncio and
  # Node's promises, with whatever build of each package is installed (say which in the table).
  cargo build --quiet --release --workspace --features metricchat/all-but-duckdb --bin mc-fake-llm
  export MC_FAKE_LLM_BIN="$CARGO_TARGET_DIR/release/mc-fake-llm" MC_FAKE_LLM="$CARGO_TARGET_DIR/release/mc-fake-llm"
  py="${MC_BENCH_PYTHON:-$VENV/bin/python}"
  if "$py" -c "import metricchat" 2>/dev/null; then
    echo "== concurrency through Python ($py)"
    "$py" bindings-python/bench/concurrency.py --runs "${MC_BENCH_BINDING_RUNS:-100}"
  else
    echo "!! SKIPPED Python concurrency: no metricchat package for $py (set MC_BENCH_PYTHON)"
  fi
  if [ -f bindings-node/metricchat.node ]; then
    echo "== concurrency through Node"
    node --expose-gc bindings-node/bench/concurrency.mjs --runs "${MC_BENCH_BINDING_RUNS:-100}"
  else
    echo "!! SKIPPED Node concurrency: bindings-node/metricchat.node is not built (npm run build)"
  fi
fi

if [ "$what" = all ] || [ "$what" = read ]; then
  echo "== readers: peers into $VENV"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check connectorx adbc-driver-postgresql \
    adbc-driver-sqlite adbc-driver-manager pandas "psycopg[binary]" pyarrow pymysql sqlalchemy
  "$VENV/bin/python" benches/peers/prepare.py "$PG" "$MY" "$SQLITE" data/nycflights13/flights.parquet
  cargo bench --workspace --features metricchat/all-but-duckdb --bench read_arrow --no-run 2>&1 | tail -n 1
  median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  one() { # tool source url sql -> "seconds rss"
    local tool=$1 src=$2 url=$3 sql=$4 out
    if [ "$tool" = metricchat ]; then
      out=$(MC_BENCH_URL="$url" MC_BENCH_SQL="$sql" cargo bench --quiet --workspace --features metricchat/all-but-duckdb --bench read_arrow 2>/dev/null | grep '^{')
    else
      out=$("$VENV/bin/python" benches/peers/read.py "$tool" "$src" "$url" "$sql")
    fi
    echo "$out" | "$VENV/bin/python" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d.get("seconds", "nan"), d.get("delta_rss_mib", "nan"), d.get("peak_rss_mib", "nan"), d.get("rows", 0))'
  }
  # The Python package's to_pandas, when a (release) wheel is installed in the virtualenv.
  py_mc=""
  if "$VENV/bin/python" -c "import metricchat" 2>/dev/null; then
    py_mc="metricchat-pandas"
  else
    echo "!! SKIPPED metricchat-pandas: no metricchat wheel in $VENV (build a release wheel as in bindings-python/bench/to_pandas.py and pip install it there)"
  fi
  sep='?'; case "$PG" in *\?*) sep='&';; esac
  PG_MC="$PG${sep}allow_privileged_login=true"
  sep='?'; case "$MY" in *\?*) sep='&';; esac
  MY_MC="${MY%/*}/mc_bench${sep}allow_privileged_login=true"
  printf '\n| source | table | tool | seconds (median of %s) | time / metricchat | read MiB (peak - after imports) | process peak MiB | rows |\n|---|---|---|---|---|---|---|---|\n' "$REPS"
  for src in postgres sqlite mysql; do
    case $src in
      postgres) mc_url=$PG_MC; peer_url=$PG; prefix="mc_bench." ;;
      sqlite) mc_url="sqlite://$SQLITE"; peer_url="sqlite://$SQLITE"; prefix="" ;;
      mysql) mc_url=$MY_MC; peer_url="${MY%/*}/mc_bench"; prefix="mc_bench." ;;
    esac
    for table in wide flights; do
      sql="SELECT * FROM ${prefix}${table}"
      base=""
      for tool in metricchat $py_mc connectorx-arrow connectorx-pandas adbc-arrow adbc-pandas pandas-read_sql; do
        if [ "$src" = mysql ] && [[ $tool == adbc* ]]; then continue; fi
        secs=(); rss=(); tot=(); rows=0
        for _ in $(seq 1 "$REPS"); do
          url=$peer_url; [[ $tool == metricchat* ]] && url=$mc_url
          read -r s r t n < <(one "$tool" "$src" "$url" "$sql")
          secs+=("$s"); rss+=("$r"); tot+=("$t"); rows=$n
        done
        ms=$(printf '%s\n' "${secs[@]}" | median); mr=$(printf '%s\n' "${rss[@]}" | median)
        mt=$(printf '%s\n' "${tot[@]}" | median)
        [ "$tool" = metricchat ] && base=$ms
        ratio=$(awk -v a="$ms" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$src" "$table" "$tool" "$ms" "$ratio" "$mr" "$mt" "$rows"
      done
    done
  done
fi
