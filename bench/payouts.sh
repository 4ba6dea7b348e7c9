#!/usr/bin/env bash
# Benchmark B4 (issue 10): a payout run (`payouts::create`, then approve and mark paid) over N
# payable commissions — each with its two ledger postings — and P partners, against a plain
# `GROUP BY partner_id, currency` over the same rows in the same database, alternating, with the
# median ratio and rows/s; the seeded and paid ledger must verify. SQLite, then PostgreSQL when
# TRELLIS_TEST_POSTGRES_URL is set. Arguments: [commissions] [partners] [pairs] (defaults 2000000
# 50000 3; e.g. `bench/payouts.sh 200000 5000` for a quick run). A benchmark: it fails only when
# the ledger does not verify, never on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trellis-testkit --example payouts_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/payouts_bench"
echo "== SQLite"
env -u TRELLIS_TEST_POSTGRES_URL "$bin" "$@"
if [ -n "${TRELLIS_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL"
  "$bin" "$@"
fi
