#!/usr/bin/env bash
# Benchmark B1 (issue 11): the referral redirect `GET /r/{code}` (served from memory, clicks
# written in batches) against a bare axum handler answering a constant 302 on the same runtime,
# under wrk with Zipf-skewed codes over 100k links, alternating, with the median ratios of
# throughput and p99; then the click writer is flushed and every counted click must be in the
# database. SQLite, then PostgreSQL when TRELLIS_TEST_POSTGRES_URL is set. Finally the real binary
# is killed with SIGKILL in the middle of a run (SQLite) and the clicks it lost are counted.
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

# The clicks a crash loses: the real binary on SQLite with 10,000 links, wrk for 6 s, SIGKILL
# after 3 s. Lost = redirects answered (wrk's completed requests before the kill) − clicks in the
# database (each request from its own address with a browser's agent: none is a bot or a repeat).
cargo build --release --quiet -p trellis-server --bin trellis
trellis="${CARGO_TARGET_DIR:-target}/release/trellis"
work="$(mktemp -d)"
trap 'kill -9 "$(cat "$work/pid" 2>/dev/null || echo 0)" 2>/dev/null || true; rm -rf "$work"' EXIT
export DATABASE_URL="sqlite://$work/kill.db" TRELLIS_DATA_DIR="$work/data" TRELLIS_LOG=error
"$trellis" bootstrap --workspace "Kill bench" --owner-email owner@kill.example --owner-password "a long bench password" > "$work/boot.json"
python3 - "$work/kill.db" "$work/boot.json" <<'PY'
import json, sqlite3, sys, uuid
db = sqlite3.connect(sys.argv[1]); ws = json.load(open(sys.argv[2]))["workspace_id"]
alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
def new_id(prefix):
    v = uuid.uuid1().int >> 2
    return prefix + "_" + "".join(alphabet[(v >> (5 * (25 - i))) & 31] for i in range(26))
partner = new_id("ptn")
db.execute("INSERT INTO partners (workspace_id, id, name, contact_email, types, status, created_at, updated_at) VALUES (?, ?, 'Kill partner', 'p@kill.example', '[\"referral\"]', 'active', 0, 0)", (ws, partner))
db.executemany("INSERT INTO referral_links (workspace_id, id, partner_id, code, destination_url, utm, change_seq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, '{}', 1, 0, 0)",
               [(ws, new_id("lnk"), partner, f"k{i}", f"https://www.example.com/{i}") for i in range(10000)])
db.commit()
PY
cat > "$work/kill.lua" <<'LUA'
request = function()
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(0, 255))
  return wrk.format("GET", "/r/k" .. math.random(0, 9999), {["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", ["X-Forwarded-For"] = ip})
end
LUA
port=$((20000 + RANDOM % 20000))
"$trellis" serve --bind "127.0.0.1:$port" --trust-forwarded-for true > "$work/server.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
wrk -t1 -c64 -d6s -s "$work/kill.lua" "http://127.0.0.1:$port" > "$work/wrk.txt" 2>&1 &
wrk_pid=$!
sleep 3
kill -9 "$(cat "$work/pid")"
wait "$wrk_pid" || true
answered=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
persisted=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM clicks').fetchone()[0])" "$work/kill.db")
echo "FIGURE redirect_sigkill backend=sqlite answered=$answered persisted=$persisted lost=$((answered - persisted))"

# A graceful shutdown loses nothing: the same, with SIGTERM instead (the server flushes the writer
# before it exits); every redirect answered must be in the database.
before=$persisted
"$trellis" serve --bind "127.0.0.1:$port" --trust-forwarded-for true > "$work/server.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
wrk -t1 -c64 -d6s -s "$work/kill.lua" "http://127.0.0.1:$port" > "$work/wrk.txt" 2>&1 &
wrk_pid=$!
sleep 3
kill -TERM "$(cat "$work/pid")"
wait "$(cat "$work/pid")" || true
wait "$wrk_pid" || true
answered=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
persisted=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM clicks').fetchone()[0])" "$work/kill.db")
echo "FIGURE redirect_sigterm backend=sqlite answered=$answered persisted=$((persisted - before)) lost=$((answered - persisted + before))"
[ $((answered - persisted + before)) -le 0 ] || { echo "a graceful shutdown lost clicks"; exit 1; }
