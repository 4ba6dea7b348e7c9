#!/usr/bin/env bash
# The console partner list as the workspace grows (issue 8): one distributor with 1,000, 10,000 and
# 50,000 resellers; times the list sorted by name (first page and from the middle), newest first
# from the middle, and the tier and compliance filters matching nothing, against the first page
# newest first in the same run, and prints the ratios. SQLite, then PostgreSQL when
# TRELLIS_TEST_POSTGRES_URL is set. Sizes can be given as arguments. A benchmark, not a test: it
# never fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trellis-testkit --example partner_list_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/partner_list_bench"
echo "== SQLite"
env -u TRELLIS_TEST_POSTGRES_URL "$bin" "$@"
if [ -n "${TRELLIS_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL"
  "$bin" "$@"
fi
