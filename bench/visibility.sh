#!/usr/bin/env bash
# Partner visibility at distributor scale (issue 7): one distributor with 100, 1,000, 10,000 and
# 50,000 resellers; times the partner list and its neighbours as the distributor, one of its
# resellers and a restricted channel manager against the vendor owner in the same run, prints the
# ratios, and times re-parenting the whole subtree. SQLite, then PostgreSQL when
# TRELLIS_TEST_POSTGRES_URL is set. Sizes can be given as arguments. A benchmark, not a test: it
# never fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trellis-testkit --example visibility_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/visibility_bench"
echo "== SQLite"
env -u TRELLIS_TEST_POSTGRES_URL "$bin" "$@"
if [ -n "${TRELLIS_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL"
  "$bin" "$@"
fi
