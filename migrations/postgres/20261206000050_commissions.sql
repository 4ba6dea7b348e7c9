-- Commission plans, conversions and commissions (issue 10, ADR 0017). See crates/trellis-incentives
-- (`plans`, `conversions`, `commissions`). Money moves only through the ledger (ADR 0016); a
-- commission row says which ledger account its money sits in, so `trellis ledger verify` can
-- hold the two together.

-- Every version of a program's commission plan: a change adds a version, so the plan in force
-- when a conversion happened stays readable. The document is the plan as the API shows it.
CREATE TABLE commission_plans (
    workspace_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1),
    document TEXT NOT NULL,
    effective_from BIGINT NOT NULL,
    created_by_user_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, program_id, version),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
);

-- Who brought a customer: its first attributed conversion decides, and later sales of the same
-- customer (recurring invoices) earn for the same partner in the same program.
CREATE TABLE commission_customers (
    workspace_id TEXT COLLATE "C" NOT NULL,
    customer_external_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    -- A customer won through a deal earns for the deal's credited partners.
    deal_id TEXT COLLATE "C",
    first_conversion_id TEXT COLLATE "C" NOT NULL,
    -- When the customer's first sale happened (null while it has only a lead): recurring plans
    -- count their months from it.
    first_sale_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, customer_external_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);

-- Leads, sales and refunds reported by the vendor's systems: one per (kind, invoice id).
CREATE TABLE conversions (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('lead', 'sale', 'refund')),
    invoice_id TEXT COLLATE "C" NOT NULL,
    customer_external_id TEXT COLLATE "C" NOT NULL,
    -- null: nothing attributed the conversion to a partner (it earns nothing).
    partner_id TEXT COLLATE "C",
    program_id TEXT COLLATE "C",
    plan_version BIGINT,
    attribution TEXT NOT NULL CHECK (attribution IN ('customer', 'partner', 'deal', 'none')),
    deal_id TEXT COLLATE "C",
    click_id TEXT COLLATE "C",
    amount_minor BIGINT CHECK (amount_minor IS NULL OR amount_minor >= 0),
    currency TEXT,
    invoice_status TEXT CHECK (invoice_status IS NULL OR invoice_status IN ('open', 'paid')),
    invoice_paid_at BIGINT,
    refunds_invoice_id TEXT COLLATE "C",
    customer_email TEXT,
    customer_ip TEXT,
    occurred_at BIGINT NOT NULL,
    -- The request as it was understood, so a retry with another body is told apart (409).
    request_digest TEXT NOT NULL,
    -- The first answer, returned again to a retry.
    answer TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE UNIQUE INDEX conversions_once_per_invoice ON conversions (workspace_id, kind, invoice_id);
CREATE INDEX conversions_by_partner ON conversions (workspace_id, partner_id, id);
CREATE INDEX conversions_newest ON conversions (workspace_id, id);

-- What a partner earns. Amounts are signed: a reversal or a clawback is negative. `account` is
-- the ledger account the commission's money sits in now; every change of it is a posting.
CREATE TABLE commissions (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C",
    conversion_id TEXT COLLATE "C",
    kind TEXT NOT NULL CHECK (kind IN ('lead', 'sale', 'override', 'bonus', 'reversal', 'clawback')),
    amount_minor BIGINT NOT NULL CHECK (amount_minor <> 0),
    currency TEXT NOT NULL,
    basis_minor BIGINT,
    rate_bps BIGINT,
    -- The partner's share of the sale (a deal's credit split); 10000 when it is alone.
    share_bps BIGINT,
    plan_version BIGINT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'payable', 'in_payout', 'paid', 'on_hold', 'reversed')),
    hold_reason TEXT CHECK (hold_reason IS NULL OR hold_reason IN ('licence_expired', 'fraud_review', 'manual')),
    reason_code TEXT,
    note TEXT,
    account TEXT NOT NULL CHECK (account IN ('commission_pending', 'commission_payable', 'payout_clearing', 'commission_paid')),
    invoice_id TEXT COLLATE "C",
    invoice_paid_at BIGINT,
    -- When the hold period ends (null while the invoice is unpaid).
    payable_at BIGINT,
    adjusts_commission_id TEXT COLLATE "C",
    payout_run_id TEXT COLLATE "C",
    created_by_user_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX commissions_by_partner ON commissions (workspace_id, partner_id, id);
CREATE INDEX commissions_by_conversion ON commissions (workspace_id, conversion_id);
-- An invoice paid makes its commissions (and their reversals) payable after the hold.
CREATE INDEX commissions_by_invoice ON commissions (workspace_id, invoice_id) WHERE invoice_id IS NOT NULL;
CREATE INDEX commissions_adjusting ON commissions (workspace_id, adjusts_commission_id) WHERE adjusts_commission_id IS NOT NULL;
-- The release clock: pending commissions whose hold has ended.
CREATE INDEX commissions_due ON commissions (workspace_id, payable_at) WHERE status = 'pending';
CREATE INDEX commissions_by_status ON commissions (workspace_id, status, id);

-- Row security (docs/ARCHITECTURE.md "The second wall"): money is private to each organisation.
-- A partner sees its own rows, never a descendant's; a restricted manager those of the partners
-- they manage; conversions nobody attributed, staff only.
DO $$
DECLARE
    owned TEXT;
BEGIN
    FOREACH owned IN ARRAY ARRAY['commission_customers', 'conversions', 'commissions']
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
