#!/usr/bin/env bash
# Deal visibility at distributor scale (issue 9): one distributor with 1,000, 10,000 and 50,000
# resellers, two deals each; times the deal list and its neighbours as the distributor, one of its
# resellers and a restricted channel manager against the vendor owner in the same run, and prints
# the ratios. SQLite, then PostgreSQL when TRELLIS_TEST_POSTGRES_URL is set. Sizes can be given as
# arguments. A benchmark, not a test: it never fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trellis-testkit --example deal_list_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/deal_list_bench"
echo "== SQLite"
env -u TRELLIS_TEST_POSTGRES_URL "$bin" "$@"
if [ -n "${TRELLIS_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL"
  "$bin" "$@"
fi
