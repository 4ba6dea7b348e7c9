#!/usr/bin/env bash
# The public partner locator at 10,000 partners: seeds a fresh database (SQLite, or PostgreSQL when
# TRELLIS_TEST_POSTGRES_URL is set), then times the JSON endpoint with typical filters against
# GET /healthz measured in the same run and prints the ratios. A benchmark, not a test: it never
# fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -p trellis-testkit --example locator_bench "$@"
