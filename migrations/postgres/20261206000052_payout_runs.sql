-- Payout runs (issue 10, ADR 0017). See crates/trellis-incentives (`payouts`).

-- A run pays, in one currency, the payable balances gathered when it was created.
CREATE TABLE payout_runs (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'paid', 'cancelled')),
    total_minor BIGINT NOT NULL,
    item_count BIGINT NOT NULL,
    created_by_user_id TEXT COLLATE "C",
    approved_by_user_id TEXT COLLATE "C",
    paid_by_user_id TEXT COLLATE "C",
    cancelled_by_user_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    approved_at BIGINT,
    paid_at BIGINT,
    cancelled_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- What a run pays one partner: the sum of its payable commissions in the run's currency.
CREATE TABLE payout_items (
    workspace_id TEXT COLLATE "C" NOT NULL,
    payout_run_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    commission_count BIGINT NOT NULL,
    -- The run's status and times, copied as the run moves: a partner's statement reads its own
    -- items only (row security keeps runs, with every partner's totals, to staff).
    run_status TEXT NOT NULL CHECK (run_status IN ('draft', 'approved', 'paid', 'cancelled')),
    approved_at BIGINT,
    paid_at BIGINT,
    PRIMARY KEY (workspace_id, payout_run_id, partner_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX payout_items_by_partner ON payout_items (workspace_id, partner_id, payout_run_id);

-- Who a run left out, and why.
CREATE TABLE payout_skips (
    workspace_id TEXT COLLATE "C" NOT NULL,
    payout_run_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('no_payout_method', 'negative_balance', 'cooling_off', 'below_minimum')),
    balance_minor BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, payout_run_id, partner_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);

-- One row per workspace and currency, taken by a run while it gathers and claims: two runs
-- started at once claim one after the other, so a commission is paid once.
CREATE TABLE payout_claims (
    workspace_id TEXT COLLATE "C" NOT NULL,
    currency TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, currency)
);
-- A run's commissions.
CREATE INDEX commissions_by_payout_run ON commissions (workspace_id, payout_run_id) WHERE payout_run_id IS NOT NULL;
-- Gathering a run: the payable commissions of a currency, by partner.
CREATE INDEX commissions_payable ON commissions (workspace_id, currency, partner_id) WHERE status = 'payable';

-- Row security (docs/ARCHITECTURE.md "The second wall"): a partner sees its own items and skips,
-- never another's (money is private to each organisation). Runs and claims are the vendor's
-- records, like programs: partners' statements read their items, never the runs.
DO $$
DECLARE
    owned TEXT;
BEGIN
    FOREACH owned IN ARRAY ARRAY['payout_items', 'payout_skips']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', owned);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', owned);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (current_user <> ''trellis_app''
               OR %I.partner_id = current_setting(''trellis.acting_partner_id'', true)
               OR EXISTS (
                 SELECT 1 FROM partner_ancestry pa
                  WHERE pa.workspace_id = %I.workspace_id AND pa.descendant_id = %I.partner_id
                    AND pa.ancestor_manager_user_id = current_setting(''trellis.acting_manager_id'', true)
                  OFFSET 0))',
            owned || '_visible', owned, owned, owned, owned);
    END LOOP;
END;
$$;
