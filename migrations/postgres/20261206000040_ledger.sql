-- The double-entry ledger (issue 10, ADR 0016). See crates/trellis-incentives (`ledger`).

-- Append-only postings: one row per line of a journal entry. A line's amount is signed, debit
-- positive and credit negative, never zero; the lines of an entry sum to zero (one currency per
-- entry). Every line names the partner whose sub-ledger it moves, the vendor's side of a
-- commission too (its expense for that partner), so no row is shared by every posting.
CREATE TABLE ledger_postings (
    workspace_id TEXT COLLATE "C" NOT NULL,
    entry_id TEXT COLLATE "C" NOT NULL,
    line BIGINT NOT NULL CHECK (line >= 1),
    -- What the entry records (`commission.accrued`, …), the same on every line of it.
    kind TEXT NOT NULL,
    account TEXT NOT NULL CHECK (account IN ('commission_pending', 'commission_payable', 'commission_paid',
        'clawback_receivable', 'payout_clearing', 'vendor_expense')),
    partner_id TEXT COLLATE "C" NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor <> 0),
    reference_type TEXT NOT NULL,
    reference_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, entry_id, line),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
-- Recomputing one balance, and a partner's statement.
CREATE INDEX ledger_postings_by_balance ON ledger_postings (workspace_id, partner_id, account, currency, entry_id);
-- One entry of a kind per reference: a retried posting is refused, not doubled.
CREATE UNIQUE INDEX ledger_postings_once_per_reference ON ledger_postings (workspace_id, kind, reference_type, reference_id)
    WHERE line = 1;

CREATE FUNCTION ledger_postings_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger postings are append-only';
END;
$$;
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_postings_append_only();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_append_only();

-- Running balances, updated in the transaction that posts (debit positive). `trellis ledger
-- verify` recomputes them from the postings.
CREATE TABLE ledger_balances (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    account TEXT NOT NULL CHECK (account IN ('commission_pending', 'commission_payable', 'commission_paid',
        'clawback_receivable', 'payout_clearing', 'vendor_expense')),
    currency TEXT NOT NULL,
    balance_minor BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, account, currency),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);

-- The runtime role partner requests run as may read and add postings, never change them.
DO $$
BEGIN
    EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON ledger_postings FROM trellis_app';
END;
$$;

-- Row security (docs/ARCHITECTURE.md "The second wall"). Money is private to each organisation:
-- a partner reads the rows of its own organisation only, never a reseller's (unlike deals), and
-- of those only its partner-facing accounts (the vendor's side of its entries stays the
-- vendor's); a restricted channel manager reads the money of the partners they manage.
DO $$
DECLARE
    owned TEXT;
BEGIN
    FOREACH owned IN ARRAY ARRAY['ledger_postings', 'ledger_balances']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', owned);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', owned);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (current_user <> ''trellis_app''
               OR (%I.partner_id = current_setting(''trellis.acting_partner_id'', true)
                   AND %I.account IN (''commission_pending'', ''commission_payable'', ''commission_paid'', ''clawback_receivable''))
               OR EXISTS (
                 SELECT 1 FROM partner_ancestry pa
                  WHERE pa.workspace_id = %I.workspace_id AND pa.descendant_id = %I.partner_id
                    AND pa.ancestor_manager_user_id = current_setting(''trellis.acting_manager_id'', true)
                  OFFSET 0))',
            owned || '_visible', owned, owned, owned, owned, owned);
    END LOOP;
END;
$$;
