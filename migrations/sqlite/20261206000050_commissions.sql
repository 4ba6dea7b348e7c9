-- Commission plans, conversions and commissions (issue 10, ADR 0017). See crates/trellis-incentives
-- (`plans`, `conversions`, `commissions`). Money moves only through the ledger (ADR 0016); a
-- commission row says which ledger account its money sits in, so `trellis ledger verify` can
-- hold the two together.

-- Every version of a program's commission plan: a change adds a version, so the plan in force
-- when a conversion happened stays readable. The document is the plan as the API shows it.
CREATE TABLE commission_plans (
    workspace_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    document TEXT NOT NULL,
    effective_from INTEGER NOT NULL,
    created_by_user_id TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, program_id, version),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;

-- Who brought a customer: its first attributed conversion decides, and later sales of the same
-- customer (recurring invoices) earn for the same partner in the same program.
CREATE TABLE commission_customers (
    workspace_id TEXT NOT NULL,
    customer_external_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    -- A customer won through a deal earns for the deal's credited partners.
    deal_id TEXT,
    first_conversion_id TEXT NOT NULL,
    -- When the customer's first sale happened (null while it has only a lead): recurring plans
    -- count their months from it.
    first_sale_at INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, customer_external_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;

-- Leads, sales and refunds reported by the vendor's systems: one per (kind, invoice id).
CREATE TABLE conversions (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('lead', 'sale', 'refund')),
    invoice_id TEXT NOT NULL,
    customer_external_id TEXT NOT NULL,
    -- null: nothing attributed the conversion to a partner (it earns nothing).
    partner_id TEXT,
    program_id TEXT,
    plan_version INTEGER,
    attribution TEXT NOT NULL CHECK (attribution IN ('customer', 'partner', 'deal', 'none')),
    deal_id TEXT,
    click_id TEXT,
    amount_minor INTEGER CHECK (amount_minor IS NULL OR amount_minor >= 0),
    currency TEXT,
    invoice_status TEXT CHECK (invoice_status IS NULL OR invoice_status IN ('open', 'paid')),
    invoice_paid_at INTEGER,
    refunds_invoice_id TEXT,
    customer_email TEXT,
    customer_ip TEXT,
    occurred_at INTEGER NOT NULL,
    -- The request as it was understood, so a retry with another body is told apart (409).
    request_digest TEXT NOT NULL,
    -- The first answer, returned again to a retry.
    answer TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE UNIQUE INDEX conversions_once_per_invoice ON conversions (workspace_id, kind, invoice_id);
CREATE INDEX conversions_by_partner ON conversions (workspace_id, partner_id, id);
CREATE INDEX conversions_newest ON conversions (workspace_id, id);

-- What a partner earns. Amounts are signed: a reversal or a clawback is negative. `account` is
-- the ledger account the commission's money sits in now; every change of it is a posting.
CREATE TABLE commissions (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    program_id TEXT,
    conversion_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('lead', 'sale', 'override', 'bonus', 'reversal', 'clawback')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor <> 0),
    currency TEXT NOT NULL,
    basis_minor INTEGER,
    rate_bps INTEGER,
    -- The partner's share of the sale (a deal's credit split); 10000 when it is alone.
    share_bps INTEGER,
    plan_version INTEGER,
    status TEXT NOT NULL CHECK (status IN ('pending', 'payable', 'in_payout', 'paid', 'on_hold', 'reversed')),
    hold_reason TEXT CHECK (hold_reason IS NULL OR hold_reason IN ('licence_expired', 'fraud_review', 'manual')),
    reason_code TEXT,
    note TEXT,
    account TEXT NOT NULL CHECK (account IN ('commission_pending', 'commission_payable', 'payout_clearing', 'commission_paid')),
    invoice_id TEXT,
    invoice_paid_at INTEGER,
    -- When the hold period ends (null while the invoice is unpaid).
    payable_at INTEGER,
    adjusts_commission_id TEXT,
    payout_run_id TEXT,
    created_by_user_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE INDEX commissions_by_partner ON commissions (workspace_id, partner_id, id);
CREATE INDEX commissions_by_conversion ON commissions (workspace_id, conversion_id);
-- An invoice paid makes its commissions (and their reversals) payable after the hold.
CREATE INDEX commissions_by_invoice ON commissions (workspace_id, invoice_id) WHERE invoice_id IS NOT NULL;
CREATE INDEX commissions_adjusting ON commissions (workspace_id, adjusts_commission_id) WHERE adjusts_commission_id IS NOT NULL;
-- The release clock: pending commissions whose hold has ended.
CREATE INDEX commissions_due ON commissions (workspace_id, payable_at) WHERE status = 'pending';
CREATE INDEX commissions_by_status ON commissions (workspace_id, status, id);
