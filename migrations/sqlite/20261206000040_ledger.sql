-- The double-entry ledger (issue 10, ADR 0016). See crates/trellis-incentives (`ledger`).

-- Append-only postings: one row per line of a journal entry. A line's amount is signed, debit
-- positive and credit negative, never zero; the lines of an entry sum to zero (one currency per
-- entry). Every line names the partner whose sub-ledger it moves, the vendor's side of a
-- commission too (its expense for that partner), so no row is shared by every posting.
CREATE TABLE ledger_postings (
    workspace_id TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    line INTEGER NOT NULL CHECK (line >= 1),
    -- What the entry records (`commission.accrued`, …), the same on every line of it.
    kind TEXT NOT NULL,
    account TEXT NOT NULL CHECK (account IN ('commission_pending', 'commission_payable', 'commission_paid',
        'clawback_receivable', 'payout_clearing', 'vendor_expense')),
    partner_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor <> 0),
    reference_type TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, entry_id, line),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
-- Recomputing one balance, and a partner's statement.
CREATE INDEX ledger_postings_by_balance ON ledger_postings (workspace_id, partner_id, account, currency, entry_id);
-- One entry of a kind per reference: a retried posting is refused, not doubled.
CREATE UNIQUE INDEX ledger_postings_once_per_reference ON ledger_postings (workspace_id, kind, reference_type, reference_id)
    WHERE line = 1;

CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger postings are append-only'); END;
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger postings are append-only'); END;

-- Running balances, updated in the transaction that posts (debit positive). `trellis ledger
-- verify` recomputes them from the postings.
CREATE TABLE ledger_balances (
    workspace_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    account TEXT NOT NULL CHECK (account IN ('commission_pending', 'commission_payable', 'commission_paid',
        'clawback_receivable', 'payout_clearing', 'vendor_expense')),
    currency TEXT NOT NULL,
    balance_minor INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, account, currency),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
