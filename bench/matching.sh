#!/usr/bin/env bash
# Lead matching (issue 13): 20,000 synthetic leads over a simulated year, offered to synthetic
# partners whose hidden chance to win depends on territory, product, skill and load, by random
# choice, round-robin, Trellis's matching (default weights, and weights refit monthly to the
# outcomes) and an oracle that knows the hidden chances. Prints each win rate and the median
# hours a lead waits for acceptance; Trellis against round-robin (target >= 1.5x) and as a share
# of the oracle (target >= 80%); exits 1 when a target is missed.
#
#   bench/matching.sh [leads] [partners] [seed]      defaults 20000 600 20261207
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --locked -p trellis-leads --example matching_bench -- "$@"
