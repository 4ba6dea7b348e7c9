#!/usr/bin/env bash
# The deal conflict check's matching core (issue 9): builds the in-memory index over 1,000,000
# synthetic accounts (size as an argument), prints build time, resident memory, p50/p95 latency of
# `find` and recall/precision per kind of labelled query; with TRELLIS_TEST_POSTGRES_URL set, the
# same names and queries through a pg_trgm GIN index in a scratch schema, and the ratio of the
# p95s. Targets are printed beside the figures. A benchmark, not a test: it never fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trellis-testkit --example conflicts_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/conflicts_bench"
"$bin" "$@"
