#!/usr/bin/env bash
# Lead matching at distributor scale (issue 13): N partners serving the lead's country and N more
# serving another; times a lead's ranked candidates against reading the lead in the same run and
# prints the ratio and the cost per candidate. SQLite, then PostgreSQL when
# TRELLIS_TEST_POSTGRES_URL is set. Sizes can be given as arguments. A benchmark, not a test: it
# never fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trellis-testkit --example lead_match_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/lead_match_bench"
echo "== SQLite"
env -u TRELLIS_TEST_POSTGRES_URL "$bin" "$@"
if [ -n "${TRELLIS_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL"
  "$bin" "$@"
fi
