#!/usr/bin/env bash
# Benchmark B1 (issue 11): the referral redirect `GET /r/{code}` (served from memory, clicks
# written in batches) against a bare axum handler answering a constant 302 on the same runtime,
# under wrk with Zipf-skewed codes over 100k links, alternating, with the median ratios of
# throughput and p99; then the click writer is flushed and every counted click must be in the
# database. SQLite, then PostgreSQL when TRELLIS_TEST_POSTGRES_URL is set. Finally the real binary
# is killed with SIGKILL in the middle of a run and the clicks it lost are counted, and stopped
# with SIGTERM, which must lose none.
# Arguments: [links] [seconds per round] [pairs] [connections] (defaults 100000 5 3 64).
# A benchmark: it fails only when a counted click is missing after a flush, never on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed (Debian: apt-get install wrk)"; exit 1; }
cargo build --release --quiet -p trellis-testkit --example redirect_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/redirect_bench"
echo "== SQLite"
env -u TRELLIS_TEST_POSTGRES_URL "$bin" "$@"
if [ -n "${TRELLIS_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL"
  "$bin" "$@"
fi

# The clicks a crash loses: the real binary with 10,000 links, wrk for 6 s, SIGKILL after 3 s.
# Lost = redirects answered (wrk's completed requests before the kill) − clicks in the database
# (each request from its own address with a browser's agent: none is a bot or a repeat). Then the
# same with SIGTERM: a graceful shutdown flushes the writer, so it must lose none. SQLite, then
# PostgreSQL (a scratch database) when TRELLIS_TEST_POSTGRES_URL is set.
cargo build --release --quiet -p trellis-server --bin trellis
trellis="${CARGO_TARGET_DIR:-target}/release/trellis"
work="$(mktemp -d)"
scratch="trellis_redirect_kill_$$"
pg_admin="${TRELLIS_TEST_POSTGRES_URL:-}"
cleanup() {
  kill -9 "$(cat "$work/pid" 2>/dev/null || echo 0)" 2>/dev/null || true
  rm -rf "$work"
  [ -z "$pg_admin" ] || psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true
}
trap cleanup EXIT
export TRELLIS_DATA_DIR="$work/data" TRELLIS_LOG=error
cat > "$work/kill.lua" <<'LUA'
request = function()
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(0, 255))
  return wrk.format("GET", "/r/k" .. math.random(0, 9999), {["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", ["X-Forwarded-For"] = ip})
end
LUA

# The SQL that gives the bootstrapped workspace a referral partner (types: the referral bit) with
# 10,000 links.
links_sql() {
  python3 - "$1" <<'PY'
import json, sys, uuid
ws = json.load(open(sys.argv[1]))["workspace_id"]
alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
def new_id(prefix):
    v = uuid.uuid4().int >> 2
    return prefix + "_" + "".join(alphabet[(v >> (5 * (25 - i))) & 31] for i in range(26))
partner = new_id("ptn")
print(f"INSERT INTO partners (workspace_id, id, name, contact_email, types, status, created_at, updated_at) VALUES ('{ws}', '{partner}', 'Kill partner', 'p@kill.example', 16, 'active', 0, 0);")
rows = ", ".join(f"('{ws}', '{new_id('lnk')}', '{partner}', 'k{i}', 'https://www.example.com/{i}', '{{}}', 1, 0, 0)" for i in range(10000))
print(f"INSERT INTO referral_links (workspace_id, id, partner_id, code, destination_url, utm, change_seq, created_at, updated_at) VALUES {rows};")
PY
}

clicks_in_database() {
  case "$DATABASE_URL" in
    sqlite://*) python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM clicks').fetchone()[0])" "${DATABASE_URL#sqlite://}" ;;
    *) psql -qtA "$DATABASE_URL" -c "SELECT COUNT(*) FROM clicks" ;;
  esac
}

# Serves under wrk for 6 s and sends the server `signal` after 3; sets `answered` and `persisted`
# (the clicks this run added).
run_and_signal() {
  local signal=$1 before port
  before=$(clicks_in_database)
  port=$((20000 + RANDOM % 20000))
  "$trellis" serve --bind "127.0.0.1:$port" --trust-forwarded-for true > "$work/server.log" 2>&1 &
  echo $! > "$work/pid"
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  wrk -t1 -c64 -d6s -s "$work/kill.lua" "http://127.0.0.1:$port" > "$work/wrk.txt" 2>&1 &
  local wrk_pid=$!
  sleep 3
  kill "-$signal" "$(cat "$work/pid")"
  wait "$(cat "$work/pid")" || true
  wait "$wrk_pid" || true
  answered=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  persisted=$(( $(clicks_in_database) - before ))
}

# Both phases on the database in DATABASE_URL, named `backend` in the figures.
crash_and_shutdown() {
  local backend=$1
  "$trellis" bootstrap --workspace "Kill bench" --owner-email owner@kill.example --owner-password "a long bench password" > "$work/boot.json"
  case "$DATABASE_URL" in
    sqlite://*) links_sql "$work/boot.json" | python3 -c "import sqlite3,sys; db = sqlite3.connect(sys.argv[1]); db.executescript(sys.stdin.read()); db.commit()" "${DATABASE_URL#sqlite://}" ;;
    *) links_sql "$work/boot.json" | psql -q "$DATABASE_URL" >/dev/null ;;
  esac
  run_and_signal KILL
  echo "FIGURE redirect_sigkill backend=$backend answered=$answered persisted=$persisted lost=$((answered - persisted))"
  run_and_signal TERM
  echo "FIGURE redirect_sigterm backend=$backend answered=$answered persisted=$persisted lost=$((answered - persisted))"
  [ $((answered - persisted)) -le 0 ] || { echo "a graceful shutdown lost clicks on $backend"; exit 1; }
}

DATABASE_URL="sqlite://$work/kill.db" crash_and_shutdown sqlite
if [ -n "$pg_admin" ]; then
  psql -q "$pg_admin" -c "CREATE DATABASE $scratch" >/dev/null
  DATABASE_URL="${pg_admin%/*}/$scratch" crash_and_shutdown postgres
fi
