#!/usr/bin/env bash
# Crash test of money (issue 10): kills the Trellis server — never the database — with SIGKILL at
# random moments while clients post conversions (sales with a 20% commission and a 5% distributor
# override, payable at once) and one client runs payouts (creates a run as the owner, approves it as
# a second staff member — four eyes —, marks it paid, sometimes cancels it instead), restarts it,
# retries every request that got no answer, and then checks that nothing was lost or doubled: every
# invoice answered is recorded exactly once with the id of its first answer, every conversion has its
# two commissions, every run is paid or cancelled with the times and people of its steps, the money
# of the paid runs' items is the money of the paid commissions (and the reseller's paid balance), no
# commission is in two runs, each partner's pending + payable + in payout + paid is the sum of its
# commissions, the distributor (no payout method) is skipped and never paid, and `trellis ledger
# verify` and `trellis audit verify` exit 0.
#
#   bench/crash-money.sh                          SQLite in a temporary file, 5 kills (CI)
#   KILLS=100 bench/crash-money.sh                the long run
#   DATABASE_URL=postgres://…/scratch bench/crash-money.sh   PostgreSQL (a scratch database)
#   TRELLIS_BIN=path/to/trellis bench/crash-money.sh          an already built binary
#   WORKERS=8 bench/crash-money.sh                concurrent clients (default 4)
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'kill -9 "$(cat "$work/server.pid" 2>/dev/null || echo 0)" 2>/dev/null || true; rm -rf "$work"' EXIT

bin="${TRELLIS_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet -p trellis-server --bin trellis
  bin="${CARGO_TARGET_DIR:-target}/release/trellis"
fi
export DATABASE_URL="${DATABASE_URL:-sqlite://$work/crash.db}"
export TRELLIS_DATA_DIR="$work/data" TRELLIS_LOG=error
# Payout methods are sealed with the server's key (64 hexadecimal characters).
export TRELLIS_SECRET_KEY="${TRELLIS_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_hex(32))')}"
port="${PORT:-18090}"
"$bin" bootstrap --workspace "Crash $$" --owner-email "owner$$@crash.example" \
  --owner-password "money must never be lost" --default-currency EUR >"$work/bootstrap.json"
owner_key="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$work/bootstrap.json")"
workspace="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["workspace_id"])' "$work/bootstrap.json")"
start=$SECONDS

BIN="$bin" PORT="$port" KEY="$owner_key" WORKSPACE="$workspace" WORK="$work" KILLS="${KILLS:-5}" WORKERS="${WORKERS:-4}" python3 - <<'PY'
import json, os, random, subprocess, sys, threading, time, urllib.error, urllib.request, zlib

BIN, PORT, KEY, WORK = os.environ["BIN"], os.environ["PORT"], os.environ["KEY"], os.environ["WORK"]
KILLS, WORKERS = int(os.environ["KILLS"]), int(os.environ["WORKERS"])
BASE = f"http://127.0.0.1:{PORT}"
rng = random.Random(int(os.environ.get("SEED", "20261206")))
started = time.monotonic()

def call(method, path, body=None, timeout=10, key=KEY, auth=True):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = f"Bearer {key}"
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")

server = None
def start():
    global server
    log = open(f"{WORK}/server.log", "a")
    server = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{PORT}"], stdout=log, stderr=log)
    open(f"{WORK}/server.pid", "w").write(str(server.pid))
    for _ in range(300):
        try:
            if call("GET", "/healthz", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("the server did not come up")

def kill():
    server.kill()  # SIGKILL
    server.wait()

start()
def ok(reply, what):
    if reply[0] not in (200, 201):
        sys.exit(f"setting up {what}: {reply}")
    return reply[1]
program = ok(call("POST", "/api/v1/programs", {"name": "Crash", "slug": f"crash-{os.getpid()}"}), "a program")["id"]
distributor = ok(call("POST", "/api/v1/partners", {"name": "Crash Distribution", "contact_email": "d@crash.example", "types": ["distributor"]}), "a distributor")["id"]
reseller = ok(call("POST", "/api/v1/partners", {"name": "Crash Reseller", "contact_email": "r@crash.example", "types": ["reseller"], "parent_id": distributor}), "a reseller")["id"]
ok(call("POST", f"/api/v1/partners/{reseller}/enrollments", {"program_id": program}), "the enrollment")
ok(call("PUT", f"/api/v1/programs/{program}/commission-plan", {"sale": {"percent_bps": 2000}, "hold_days": 0, "parent_override_bps": 500}), "the plan")
# The reseller's first payout method: no cooling-off (that follows only a replacement). The
# distributor has none, so runs skip it and its override commissions stay payable.
method = ok(call("PUT", f"/api/v1/partners/{reseller}/payout-method",
                 {"type": "sepa", "account_holder": "Crash Reseller GmbH", "iban": "DE89 3704 0044 0532 0130 00"}), "the payout method")
if method.get("cooling_off_until") is not None:
    sys.exit(f"a first payout method cools off: {method}")
# A second staff member (an admin, invited and accepting), with a key of their own: the four eyes.
invitation = ok(call("POST", "/api/v1/members", {"email": f"approver{os.getpid()}@crash.example", "role": "admin"}), "the invitation")
token = invitation["invitation_url"].rstrip("/").rsplit("/", 1)[1]
ok(call("POST", f"/api/v1/invitations/{token}/accept", {"password": "a second pair of eyes"}, auth=False), "the acceptance")
APPROVER = json.loads(subprocess.run([BIN, "api-key", "create", "--workspace", os.environ["WORKSPACE"], "--user-email",
                                      f"approver{os.getpid()}@crash.example", "--name", "crash approver"],
                                     check=True, capture_output=True, text=True).stdout)["api_key"]

lock = threading.Lock()
bodies = {}        # invoice -> the request
answered = {}      # invoice -> the conversion id of its first answer
to_retry = []      # invoices sent without an answer
next_n = [0]
stop = threading.Event()
problems = []
payout_steps = {"created": 0, "approved": 0, "paid": 0, "cancelled": 0, "no_answer": 0, "conflicts": 0}

def send(invoice):
    try:
        status, body = call("POST", "/api/v1/conversions", bodies[invoice])
    except OSError:
        with lock:
            to_retry.append(invoice)
        time.sleep(0.05)
        return
    with lock:
        if status not in (200, 201):
            problems.append(f"{invoice}: {status} {body}")
        elif invoice in answered and answered[invoice] != body["id"]:
            problems.append(f"{invoice} answered as {answered[invoice]} and as {body['id']}: doubled")
        else:
            answered.setdefault(invoice, body["id"])

def worker():
    while not stop.is_set():
        with lock:
            if to_retry:
                invoice = to_retry.pop()
            else:
                next_n[0] += 1
                invoice = f"CRASH-{os.getpid()}-{next_n[0]}"
                bodies[invoice] = {"kind": "sale", "invoice_id": invoice, "customer_external_id": f"c-{invoice}",
                                   "partner_id": reseller, "amount": {"amount_minor": 1000 + next_n[0] % 9000, "currency": "EUR"}}
        send(invoice)

def cancels(run_id):
    """One run in five is cancelled: as a draft or, for half of them, once approved (the same
    answer for the same run, whatever the kills)."""
    h = zlib.crc32(run_id.encode())
    return None if h % 5 else ("draft" if h % 2 else "approved")

def payout_step():
    """Moves the open run (draft or approved) one step on, or creates one when none is open. The
    state comes from the server each time: a kill may have cut any answer off."""
    status, page = call("GET", "/api/v1/payout-runs?limit=5")
    if status != 200:
        problems.append(f"listing runs: {status} {page}")
        return False
    open_runs = [r for r in page["data"] if r["status"] in ("draft", "approved")]
    if len(open_runs) > 1:
        problems.append(f"two runs open at once: {[r['id'] for r in open_runs]}")
    if not open_runs:
        if stop.is_set():
            return False
        status, body = call("POST", "/api/v1/payout-runs", {"currency": "EUR"})
        step = "created"
    else:
        run = open_runs[0]
        if cancels(run["id"]) == run["status"]:
            status, body = call("POST", f"/api/v1/payout-runs/{run['id']}/cancel")
            step = "cancelled"
        elif run["status"] == "draft":
            status, body = call("POST", f"/api/v1/payout-runs/{run['id']}/approve", key=APPROVER)
            step = "approved"
        else:
            status, body = call("POST", f"/api/v1/payout-runs/{run['id']}/mark-paid")
            step = "paid"
    if status in (200, 201):
        payout_steps[step] += 1
    elif status == 409:  # the step was taken by a request whose answer a kill cut off
        payout_steps["conflicts"] += 1
    else:
        problems.append(f"payout run {step}: {status} {body}")
    return True

def payouts():
    while True:
        try:
            if not payout_step():
                return
        except OSError:
            payout_steps["no_answer"] += 1
            time.sleep(0.05)
        time.sleep(0.02)

threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
payout_thread = threading.Thread(target=payouts)
for t in threads + [payout_thread]:
    t.start()
for k in range(KILLS):
    time.sleep(rng.uniform(0.2, 1.5))
    kill()
    time.sleep(rng.uniform(0.0, 0.3))
    start()
time.sleep(0.5)
stop.set()
for t in threads:
    t.join()
# Every request that got no answer is sent again until it has one.
while to_retry:
    send(to_retry.pop())
payout_thread.join()  # it takes the open run to its end (paid or cancelled) after the stop
# One last run pays what the last conversions earned.
stop.clear()
payout_step()
stop.set()
payouts()

# What the server holds.
def all_pages(path):
    items, cursor = [], None
    while True:
        status, page = call("GET", path + ("&" if "?" in path else "?") + "limit=500" + (f"&cursor={cursor}" if cursor else ""))
        if status != 200:
            sys.exit(f"GET {path}: {status} {page}")
        items += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return items
conversions = all_pages(f"/api/v1/conversions?partner_id={reseller}")
commissions = all_pages("/api/v1/commissions?kind=sale") + all_pages("/api/v1/commissions?kind=override")
stored = {c["invoice_id"]: c["id"] for c in conversions}
lost = [i for i in answered if stored.get(i) != answered[i]]
unanswered = [i for i in stored if i not in answered]
per_conversion = {}
for c in commissions:
    per_conversion[c["conversion_id"]] = per_conversion.get(c["conversion_id"], 0) + 1
wrong_commissions = [cid for cid in stored.values() if per_conversion.get(cid) != 2]

# The runs: each at an end, coherent, its items the money of its commissions.
runs = []
for r in all_pages("/api/v1/payout-runs"):
    status, detail = call("GET", f"/api/v1/payout-runs/{r['id']}")
    if status != 200:
        sys.exit(f"GET run {r['id']}: {status} {detail}")
    runs.append(detail)
incoherent = []
for run in runs:
    items_total = sum(i["amount"]["amount_minor"] for i in run["items"])
    if run["status"] not in ("paid", "cancelled"):
        incoherent.append(f"{run['id']} left {run['status']}")
    if items_total != run["total"]["amount_minor"] or len(run["items"]) != run["item_count"]:
        incoherent.append(f"{run['id']}: total {run['total']['amount_minor']} but items {items_total}")
    if run["status"] == "paid" and not (run["approved_at"] and run["paid_at"] and run["approved_by_user_id"]
                                        and run["approved_by_user_id"] != run["created_by_user_id"]):
        incoherent.append(f"{run['id']} paid without a second person's approval: {run}")
    if run["status"] == "cancelled" and (run["paid_at"] or not run["cancelled_at"]):
        incoherent.append(f"{run['id']} cancelled with paid_at or without cancelled_at")
    if any(i["partner_id"] != reseller for i in run["items"]):
        incoherent.append(f"{run['id']} pays someone without a payout method")
paid_runs = {r["id"]: r for r in runs if r["status"] == "paid"}
paid_out = sum(r["total"]["amount_minor"] for r in paid_runs.values())
paid_commissions = [c for c in commissions if c["status"] == "paid"]
paid_commission_money = sum(c["amount"]["amount_minor"] for c in paid_commissions)
wrongly_paid = [c["id"] for c in paid_commissions if c["payout_run_id"] not in paid_runs or c["partner_id"] != reseller]
unpaid_in_run = [c["id"] for c in commissions if c["status"] != "paid" and c["payout_run_id"] in paid_runs]
per_run = {}
for c in paid_commissions:
    per_run.setdefault(c["payout_run_id"], []).append(c)
run_mismatch = [rid for rid, r in paid_runs.items()
                if sum(c["amount"]["amount_minor"] for c in per_run.get(rid, [])) != r["total"]["amount_minor"]
                or len(per_run.get(rid, [])) != sum(i["commission_count"] for i in r["items"])]
commission_ids = [c["id"] for c in commissions]
twice = len(commission_ids) - len(set(commission_ids))

balances_wrong = []
earned_by = {}
for c in commissions:
    earned_by[c["partner_id"]] = earned_by.get(c["partner_id"], 0) + c["amount"]["amount_minor"]
balance_of = {}
for partner in (reseller, distributor):
    status, balance = call("GET", f"/api/v1/partners/{partner}/balance")
    b = next((b for b in balance["balances"] if b["currency"] == "EUR"), None) or {
        "pending_minor": 0, "payable_minor": 0, "in_payout_minor": 0, "paid_minor": 0}
    balance_of[partner] = b
    total = b["pending_minor"] + b["payable_minor"] + b["in_payout_minor"] + b["paid_minor"]
    if total != earned_by.get(partner, 0):
        balances_wrong.append(f"{partner}: balance {b} sums to {total}, commissions to {earned_by.get(partner, 0)}")
if balance_of[reseller]["paid_minor"] != paid_out:
    balances_wrong.append(f"the reseller's paid balance {balance_of[reseller]['paid_minor']} is not the paid runs' {paid_out}")
if balance_of[distributor]["paid_minor"] != 0 or balance_of[distributor]["in_payout_minor"] != 0:
    balances_wrong.append(f"the distributor, without a payout method, has money paid or in payout: {balance_of[distributor]}")
kill()
elapsed = time.monotonic() - started
print(f"FIGURE crash_money kills={KILLS} conversions={len(stored)} answered={len(answered)} commissions={len(commissions)} "
      f"lost={len(lost)} unanswered_but_stored={len(unanswered)} doubled={sum('doubled' in p for p in problems)} "
      f"wrong_commission_counts={len(wrong_commissions)} runs={len(runs)} paid_runs={len(paid_runs)} "
      f"cancelled_runs={sum(r['status'] == 'cancelled' for r in runs)} payout_steps={payout_steps} "
      f"paid_out={paid_out} paid_commissions={paid_commission_money} commission_in_two_runs={twice} "
      f"incoherent_runs={len(incoherent)} seconds={elapsed:.1f}")
failures = (problems + [f"lost {i}" for i in lost] + [f"stored without an answer {i}" for i in unanswered]
            + [f"conversion {c} without its two commissions" for c in wrong_commissions] + incoherent
            + [f"commission {c} paid outside a paid run" for c in wrongly_paid]
            + [f"commission {c} in a paid run but not paid" for c in unpaid_in_run]
            + [f"paid run {r}: its commissions do not add up to it" for r in run_mismatch] + balances_wrong)
if paid_out != paid_commission_money:
    failures.append(f"paid out {paid_out}, paid commissions {paid_commission_money}")
if twice:
    failures.append(f"{twice} commissions listed twice")
if not stored or not paid_runs:
    failures.append(f"nothing to check: {len(stored)} conversions, {len(paid_runs)} paid runs")
for p in failures[:20]:
    print(p)
sys.exit(1 if failures else 0)
PY
echo "== trellis ledger verify"
"$bin" ledger verify
echo "== trellis audit verify"
"$bin" audit verify
echo "FIGURE crash_money_total_seconds=$((SECONDS - start))"
