#!/usr/bin/env bash
# The application form's honeypot against real submissions (issue 6): starts the app on a fresh
# database (SQLite, or PostgreSQL when TRELLIS_TEST_POSTGRES_URL is set), alternates real and
# honeypot submissions through the page and the API, and prints the median and p90 of each kind
# and their ratio measured in the same run (1.0 = indistinguishable). Optional argument: samples
# per kind (default 400). A benchmark, not a test: it never fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -p trellis-testkit --example honeypot_bench "$@"
