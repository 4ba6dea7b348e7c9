#!/usr/bin/env bash
# SCIM 2.0 provisioning (/scim/v2, ADR 0024) against a conformance tool nobody here wrote:
# scim2-tester (PyPI) discovers the server's schemas and runs its checks of discovery, create,
# read (with attributes/excludedAttributes), replace, patch add/replace/remove and delete of Users
# with a partner organisation's SCIM token, and this fails when any check fails.
#
#   bench/scim-conformance.sh                          SQLite in a temporary file
#   DATABASE_URL=postgres://… bench/scim-conformance.sh   PostgreSQL (use a scratch database)
#   TRELLIS_BIN=path/to/trellis bench/scim-conformance.sh   an already built binary
#   CONFORMANCE_VENV=dir bench/scim-conformance.sh     the Python environment with scim2-tester
#
# bench/scim_tester.py is the runner: scim2-tester makes up userName and password values at
# random, and Trellis refuses a userName that is not an email address and a weak password, so
# the runner has it make up an address and a strong password instead (nothing else is changed).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

venv="${CONFORMANCE_VENV:-.venv-conformance}"
if ! "$venv/bin/python" -c 'import scim2_tester, httpx' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet scim2-tester httpx
fi

bin="${TRELLIS_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet -p trellis-server --bin trellis
  bin="${CARGO_TARGET_DIR:-target}/release/trellis"
fi
export DATABASE_URL="${DATABASE_URL:-sqlite://$work/scim.db}"
export TRELLIS_DATA_DIR="$work/data" TRELLIS_LOG=error
port="${PORT:-18081}"
base="http://127.0.0.1:$port"

owner_key="$("$bin" bootstrap --workspace "SCIM conformance" --owner-email owner@scim-conformance.example \
  --owner-password "provisioned by strangers" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
"$bin" serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

partner_id="$(curl -fsS -X POST "$base/api/v1/partners" -H "authorization: Bearer $owner_key" \
  -H 'content-type: application/json' \
  -d '{"name":"SCIM Partner","contact_email":"it@scim-partner.example","types":["reseller"]}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
reply="$(curl -fsS -X POST "$base/api/v1/partners/$partner_id/scim-tokens" -H "authorization: Bearer $owner_key" \
  -H 'content-type: application/json' -d '{"name":"scim2-tester"}')"
token="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$reply")"
scim_url="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["scim_url"])' "$reply")"
case "$scim_url" in */scim/v2) ;; *) echo "unexpected scim_url: $scim_url"; exit 1 ;; esac

status=0
"$venv/bin/python" bench/scim_tester.py "$base/scim/v2" "$token" -v || status=1
if [ "$status" -ne 0 ]; then
  echo "== server log"; tail -n 50 "$work/server.log"
fi
exit "$status"
