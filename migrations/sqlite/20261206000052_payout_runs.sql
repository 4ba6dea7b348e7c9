-- Payout runs (issue 10, ADR 0017). See crates/trellis-incentives (`payouts`).

-- A run pays, in one currency, the payable balances gathered when it was created.
CREATE TABLE payout_runs (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'paid', 'cancelled')),
    total_minor INTEGER NOT NULL,
    item_count INTEGER NOT NULL,
    created_by_user_id TEXT,
    approved_by_user_id TEXT,
    paid_by_user_id TEXT,
    cancelled_by_user_id TEXT,
    created_at INTEGER NOT NULL,
    approved_at INTEGER,
    paid_at INTEGER,
    cancelled_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) STRICT;

-- What a run pays one partner: the sum of its payable commissions in the run's currency.
CREATE TABLE payout_items (
    workspace_id TEXT NOT NULL,
    payout_run_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    commission_count INTEGER NOT NULL,
    -- The run's status and times, copied as the run moves: a partner's statement reads its own
    -- items only (row security keeps runs, with every partner's totals, to staff).
    run_status TEXT NOT NULL CHECK (run_status IN ('draft', 'approved', 'paid', 'cancelled')),
    approved_at INTEGER,
    paid_at INTEGER,
    PRIMARY KEY (workspace_id, payout_run_id, partner_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE INDEX payout_items_by_partner ON payout_items (workspace_id, partner_id, payout_run_id);

-- Who a run left out, and why.
CREATE TABLE payout_skips (
    workspace_id TEXT NOT NULL,
    payout_run_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('no_payout_method', 'negative_balance', 'cooling_off', 'below_minimum')),
    balance_minor INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, payout_run_id, partner_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;

-- One row per workspace and currency, taken by a run while it gathers and claims: two runs
-- started at once claim one after the other, so a commission is paid once.
CREATE TABLE payout_claims (
    workspace_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, currency)
) STRICT;
-- A run's commissions.
CREATE INDEX commissions_by_payout_run ON commissions (workspace_id, payout_run_id) WHERE payout_run_id IS NOT NULL;
-- Gathering a run: the payable commissions of a currency, by partner.
CREATE INDEX commissions_payable ON commissions (workspace_id, currency, partner_id) WHERE status = 'payable';
