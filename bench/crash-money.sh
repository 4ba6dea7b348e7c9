#!/usr/bin/env bash
# Crash test of money (issue 10): kills the Trellis server — never the database — with SIGKILL at
# random moments while clients post conversions (sales with a 20% commission and a 5% distributor
# override, payable at once), restarts it, retries every request that got no answer, and then
# checks that nothing was lost or doubled: every invoice answered is recorded exactly once with the
# id of its first answer, every conversion has its two commissions, the reseller's payable balance
# is the sum of its commissions, and `trellis ledger verify` exits 0.
#
#   bench/crash-money.sh                          SQLite in a temporary file, 5 kills (CI)
#   KILLS=100 bench/crash-money.sh                the long run
#   DATABASE_URL=postgres://…/scratch bench/crash-money.sh   PostgreSQL (a scratch database)
#   TRELLIS_BIN=path/to/trellis bench/crash-money.sh          an already built binary
#   WORKERS=8 bench/crash-money.sh                concurrent clients (default 4)
#
# Payout runs join this script when they exist (issue 10).
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
port="${PORT:-18090}"
owner_key="$("$bin" bootstrap --workspace "Crash $$" --owner-email "owner$$@crash.example" \
  --owner-password crash-password-1 --default-currency EUR | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"

BIN="$bin" PORT="$port" KEY="$owner_key" WORK="$work" KILLS="${KILLS:-5}" WORKERS="${WORKERS:-4}" python3 - <<'PY'
import json, os, random, subprocess, sys, threading, time, urllib.error, urllib.request

BIN, PORT, KEY, WORK = os.environ["BIN"], os.environ["PORT"], os.environ["KEY"], os.environ["WORK"]
KILLS, WORKERS = int(os.environ["KILLS"]), int(os.environ["WORKERS"])
BASE = f"http://127.0.0.1:{PORT}"
rng = random.Random(int(os.environ.get("SEED", "20261206")))

def call(method, path, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method,
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
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

lock = threading.Lock()
bodies = {}        # invoice -> the request
answered = {}      # invoice -> the conversion id of its first answer
to_retry = []      # invoices sent without an answer
next_n = [0]
stop = threading.Event()
problems = []

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

threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
for t in threads:
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
status, balance = call("GET", f"/api/v1/partners/{reseller}/balance")
payable = sum(b["payable_minor"] for b in balance["balances"])
earned = sum(c["amount"]["amount_minor"] for c in commissions if c["partner_id"] == reseller)
kill()
print(f"FIGURE crash_money kills={KILLS} conversions={len(stored)} answered={len(answered)} commissions={len(commissions)} "
      f"lost={len(lost)} unanswered_but_stored={len(unanswered)} doubled={sum('doubled' in p for p in problems)} "
      f"wrong_commission_counts={len(wrong_commissions)} payable={payable} earned={earned}")
failed = problems or lost or unanswered or wrong_commissions or payable != earned or len(stored) == 0
for p in (problems + [f"lost {i}" for i in lost] + [f"stored without an answer {i}" for i in unanswered])[:20]:
    print(p)
sys.exit(1 if failed else 0)
PY
echo "== trellis ledger verify"
"$bin" ledger verify
