#!/usr/bin/env bash
# The API document against tools nobody here wrote: openapi-spec-validator checks
# /api/openapi.json, then schemathesis sends generated requests to every operation as the
# workspace owner's key and as a partner admin's key, and fails on any 5xx, any response that
# does not match its schema, and any undocumented status code.
#
#   bench/api-conformance.sh                      SQLite in a temporary file
#   DATABASE_URL=postgres://… bench/api-conformance.sh   PostgreSQL (use a scratch database)
#   MAX_EXAMPLES=200 bench/api-conformance.sh     more examples per operation (default 30)
#   CHECKS=all bench/api-conformance.sh           every schemathesis check (default: no 5xx,
#                                                 schemas, status codes and content types conform)
#   SEED=1 bench/api-conformance.sh               the same generated requests every run (CI)
#   TRELLIS_BIN=path/to/trellis bench/api-conformance.sh   an already built binary
#   CONFORMANCE_REPORTS=dir bench/api-conformance.sh      keep schemathesis's full reports there
#
# bench/schemathesis.toml lists, with the reason for each, the operations whose valid-looking
# input may still be refused with 422 because the answer depends on stored data (ids that name
# nothing, uniqueness) or on the credential; every check runs on every operation.
#
# Needs python3 with venv; installs schemathesis and openapi-spec-validator into .venv-conformance
# (PyPI). .ci/run runs it bounded (10 examples per operation, a fixed seed) on the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

venv="${CONFORMANCE_VENV:-.venv-conformance}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet schemathesis openapi-spec-validator
fi

# TRELLIS_BIN runs an already built binary (e.g. the debug one) instead of building the release.
bin="${TRELLIS_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet -p trellis-server --bin trellis
  bin="${CARGO_TARGET_DIR:-target}/release/trellis"
fi
export DATABASE_URL="${DATABASE_URL:-sqlite://$work/conformance.db}"
export TRELLIS_DATA_DIR="$work/data" TRELLIS_LOG=error
# A key of its own, so that payout methods can be set (ADR 0017).
export TRELLIS_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
port="${PORT:-18080}"
base="http://127.0.0.1:$port"

owner_key="$("$bin" bootstrap --workspace Conformance --owner-email owner@conformance.example \
  --owner-password "schemas checked by strangers" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
"$bin" serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

# A partner with an admin whose key the second run uses.
partner_id="$(curl -fsS -X POST "$base/api/v1/partners" -H "authorization: Bearer $owner_key" \
  -H 'content-type: application/json' \
  -d '{"name":"Conformance Partner","contact_email":"partner@conformance.example","types":["reseller"]}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
partner_key="$(curl -fsS -X POST "$base/api/v1/partners/$partner_id/api-keys" -H "authorization: Bearer $owner_key" \
  -H 'content-type: application/json' -d '{"name":"conformance","role":"admin"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"

curl -fsS "$base/api/openapi.json" >"$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

reports="${CONFORMANCE_REPORTS:-$work}"
mkdir -p "$reports"
status=0
for who in owner partner; do
  key="$owner_key"; [ "$who" = partner ] && key="$partner_key"
  echo "== schemathesis as the $who"
  "$venv/bin/schemathesis" --config-file bench/schemathesis.toml run "$base/api/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer $key" \
    --checks "${CHECKS:-not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance}" \
    --max-examples "${MAX_EXAMPLES:-30}" \
    ${SEED:+--seed "$SEED"} \
    --exclude-path-regex '/auth/logout|/api-keys/\{id\}$|/members/\{user_id\}$' \
    --no-color >"$reports/schemathesis-$who.txt" 2>&1 || status=1
  grep -E "^(=+ |  [❌✅])" "$reports/schemathesis-$who.txt" || true
  # What failed, so that a CI log alone says which operation and request (the report is gone).
  if grep -q "^=* FAILURES =*$" "$reports/schemathesis-$who.txt"; then
    sed -n '/^=* FAILURES =*$/,/^=* WARNINGS =*$/p' "$reports/schemathesis-$who.txt" | cut -c1-400 | head -n 150
  fi
done
if grep -q " 5[0-9][0-9] " "$work/server.log" 2>/dev/null; then
  echo "the server logged 5xx answers:"; grep " 5[0-9][0-9] " "$work/server.log" | head
fi
exit "$status"
