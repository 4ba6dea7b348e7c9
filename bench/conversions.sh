#!/usr/bin/env bash
# Benchmark B2 (issue 10): conversion ingestion (`POST /api/v1/conversions` over HTTP from
# concurrent clients, durable before 201) against the raw single-row insert rate of the same row at
# the same durability on the same database, alternating, with the median ratio; then every request
# again, asserting that duplicates create zero rows. SQLite, then PostgreSQL when
# TRELLIS_TEST_POSTGRES_URL is set. Arguments: [requests per round] [clients] [pairs] (defaults
# 2000 8 5). A benchmark: it fails only when a duplicate creates a row, never on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trellis-testkit --example conversions_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/conversions_bench"
echo "== SQLite"
env -u TRELLIS_TEST_POSTGRES_URL "$bin" "$@"
if [ -n "${TRELLIS_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL"
  "$bin" "$@"
fi
