#!/usr/bin/env bash
# The console partner page as the audit trail grows (issue 7 §6): one workspace of 1,000
# partners whose trail grows to 10,000, 100,000 and 500,000 events; times a partner's page against
# the partner list in the same run and prints the ratio, with the lifecycle timeline's query and
# the text-matching query it replaced. SQLite, then PostgreSQL when TRELLIS_TEST_POSTGRES_URL is
# set. Sizes can be given as arguments. A benchmark, not a test: it never fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trellis-testkit --example partner_page_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/partner_page_bench"
echo "== SQLite"
env -u TRELLIS_TEST_POSTGRES_URL "$bin" "$@"
if [ -n "${TRELLIS_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL"
  "$bin" "$@"
fi
